#!/usr/bin/env bash
# Copies the Delta Lake JARs that match the installed pyspark + delta-spark into a local cache folder,
# so that every later Spark start is offline (spark.jars points at the folder; no Ivy at run time).
# Maven's default repository is used; no registry host is named here on purpose.
#
# Verified twice: Maven checks each download against the repository's checksum and fails on a mismatch
# (-C; without it Maven only warns), then every JAR in the folder must match the SHA-256 pinned in
# scripts/jars.sha256 (sha256sum -c). The pins are what a download said once, checked against the
# repository's own checksums; a JAR with no pin (a new version or connector) or a changed one stops the set-up.
# Adding or upgrading a JAR: fetch it, check it, then add `sha256sum <jar>` to scripts/jars.sha256.
set -euo pipefail
python_bin=${1:?usage: fetch_jars.sh PYTHON JAR_DIR}
jar_dir=${2:?usage: fetch_jars.sh PYTHON JAR_DIR}
here=$(cd "$(dirname "$0")" && pwd)

read -r spark_mm delta_version spark_version < <("$python_bin" - <<'PY'
import importlib.metadata as md
spark = md.version("pyspark")
print(".".join(spark.split(".")[:2]), md.version("delta-spark"), spark)
PY
)
# Spark ships Scala 2.13 since 4.0; delta-spark is published per Spark minor version.
artifacts=(
  "io.delta:delta-spark_${spark_mm}_2.13:${delta_version}"
  "io.delta:delta-storage:${delta_version}"
  # Kafka source for `skuplan stream`: the connector at the installed Spark version and the runtime
  # dependencies its pom declares for Spark 4.2.x (kafka-clients 3.9.2, commons-pool2 2.13.1).
  "org.apache.spark:spark-sql-kafka-0-10_2.13:${spark_version}"
  "org.apache.spark:spark-token-provider-kafka-0-10_2.13:${spark_version}"
  "org.apache.kafka:kafka-clients:3.9.2"
  "org.apache.commons:commons-pool2:2.13.1"
)
mkdir -p "$jar_dir"
for artifact in "${artifacts[@]}"; do
  IFS=: read -r _group name version <<< "$artifact"
  # Already in the folder: not fetched again (the check below still reads it).
  if [ -f "$jar_dir/$name-$version.jar" ]; then continue; fi
  # Transitive dependencies are left out: Spark itself provides Scala, Hadoop, Parquet and Jackson,
  # and a second copy of them on the class path breaks the driver.
  mvn -q -B -C org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="$artifact" -DoutputDirectory="$jar_dir" -Dmdep.overWriteReleases=false
done
bash "$here/verify_jars.sh" "$jar_dir"
echo "delta and kafka jars for spark ${spark_version}, delta ${delta_version} in ${jar_dir} (SHA-256 verified)"
