#!/usr/bin/env bash
# Copies the Delta Lake JARs that match the installed pyspark + delta-spark into a local cache folder,
# so that every later Spark start is offline (spark.jars points at the folder; no Ivy at run time).
# Maven's default repository is used; no registry host is named here on purpose.
set -euo pipefail
python_bin=${1:?usage: fetch_jars.sh PYTHON JAR_DIR}
jar_dir=${2:?usage: fetch_jars.sh PYTHON JAR_DIR}

read -r spark_mm delta_version < <("$python_bin" - <<'PY'
import importlib.metadata as md
spark = md.version("pyspark")
print(".".join(spark.split(".")[:2]), md.version("delta-spark"))
PY
)
# Spark ships Scala 2.13 since 4.0; delta-spark is published per Spark minor version.
artifacts=(
  "io.delta:delta-spark_${spark_mm}_2.13:${delta_version}"
  "io.delta:delta-storage:${delta_version}"
)
mkdir -p "$jar_dir"
for artifact in "${artifacts[@]}"; do
  # Transitive dependencies are left out: Spark itself provides Scala, Hadoop, Parquet and Jackson,
  # and a second copy of them on the class path breaks the driver.
  mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="$artifact" -DoutputDirectory="$jar_dir" -Dmdep.overWriteReleases=false
done
ls "$jar_dir"/*.jar > /dev/null
echo "delta jars for spark ${spark_mm}, delta ${delta_version} in ${jar_dir}"
