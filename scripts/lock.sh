#!/usr/bin/env bash
# Re-resolve and hash every lock file in locks/ (`make lock`). Run after changing a dependency in
# pyproject.toml or a tool in locks/*.in, then commit locks/ with that change.
#
#   locks/build.txt    pip, setuptools, wheel: the installer and build backend (make setup, build_env.sh)
#   locks/tools.txt    venv-pack, uv: the pack and lock tools (project venv only)
#   locks/dev.txt      skuplan[dev] (core + local + test tools): `make setup`, CI
#   locks/local.txt    skuplan[local] (core + pyspark + delta-spark): deploy/build_env.sh's packed environment
#   locks/runtime.txt  skuplan's core dependencies: the Databricks job (the runtime brings Spark and Delta)
#
# Every file is universal (one resolution for Linux, macOS, Windows and Python 3.11+, forked by markers where
# a package needs it; Databricks runtimes run 3.12). The other files are resolved with dev.txt as a
# constraint, so a package has one version in all of them. Pins already in a file are kept unless
# UPGRADE=1 is set (then everything moves to the newest allowed versions).
#
# uv resolves and hashes; it comes from locks/tools.txt itself (hash-checked) in a tool venv under .cache/.
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin=${1:-python3.11}
tool_venv=.cache/lock-tools

if [ ! -x "$tool_venv/bin/uv" ]; then
  "$python_bin" -m venv "$tool_venv"
  "$tool_venv/bin/pip" install -q --require-hashes -r locks/tools.txt
fi
upgrade=()
if [ -n "${UPGRADE:-}" ]; then upgrade=(--upgrade); fi
compile() {
  "$tool_venv/bin/uv" pip compile -q --generate-hashes --universal --python-version 3.11 \
    --custom-compile-command "make lock" "${upgrade[@]}" "$@"
}
compile pyproject.toml --extra dev -o locks/dev.txt
compile locks/build.in -c locks/dev.txt -o locks/build.txt
compile locks/tools.in -c locks/dev.txt -o locks/tools.txt
compile pyproject.toml --extra local -c locks/dev.txt -o locks/local.txt
compile pyproject.toml -c locks/dev.txt -o locks/runtime.txt
"$tool_venv/bin/python" scripts/check_lock.py --write
# The tool venv follows tools.txt: a changed pin there is installed on the next `make lock`.
"$tool_venv/bin/pip" install -q --require-hashes -r locks/tools.txt
echo "lock: locks/*.txt resolved and hashed; review 'git diff locks/' and commit it with pyproject.toml"
