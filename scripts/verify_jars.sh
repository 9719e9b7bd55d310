#!/usr/bin/env bash
# Every JAR in JAR_DIR must have its SHA-256 pinned in scripts/jars.sha256 and match it. Spark loads every
# *.jar of the folder (spark.jars_dir), so an extra JAR without a pin fails too.
#   scripts/verify_jars.sh JAR_DIR      exit 0 if all match; 1 with the names of the others
set -euo pipefail
jar_dir=${1:?usage: verify_jars.sh JAR_DIR}
pins=$(cd "$(dirname "$0")" && pwd)/jars.sha256
fail() {
  echo "verify_jars: $1" >&2
  echo "verify_jars: delete the JAR(s) named above and run 'make setup' again; if a new version or connector" \
    "is meant, check it and add its 'sha256sum' line to scripts/jars.sha256" >&2
  exit 1
}
shopt -s nullglob
jars=("$jar_dir"/*.jar)
[ ${#jars[@]} -gt 0 ] || fail "no JAR in $jar_dir"
for jar in "${jars[@]}"; do
  name=$(basename "$jar")
  grep -q "  $name\$" "$pins" || fail "$jar has no SHA-256 pinned in scripts/jars.sha256"
done
# Only the pins of the JARs present are checked: the same file serves other Spark/Delta versions' names.
if ! report=$(cd "$jar_dir" && grep -E "  ($(printf '%s|' "${jars[@]##*/}" | sed 's/[.]/\\./g; s/|$//'))\$" "$pins" \
  | sha256sum -c --strict 2>&1); then
  fail "SHA-256 mismatch (the file differs from the pinned one):"$'\n'"$(grep -v ': OK$' <<< "$report")"
fi
