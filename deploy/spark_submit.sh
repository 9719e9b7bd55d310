#!/usr/bin/env bash
# Submit the nightly job with spark-submit. Usage: deploy/spark_submit.sh RUN_DATE [MASTER] [CONF_DIR]
# On a cluster without Delta, the Delta package is resolved by spark-submit itself (--packages);
# locally, the JARs cached by `make setup` are used so no network is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
run_date=${1:?usage: deploy/spark_submit.sh RUN_DATE [MASTER] [CONF_DIR]}
master=${2:-local[2]}
conf_dir=${3:-conf}
venv=${VENV:-.venv}
jars=$(ls .cache/jars/*.jar 2>/dev/null | paste -sd, -)
if [ -n "$jars" ]; then delta=(--jars "$jars"); else delta=(--packages io.delta:delta-spark_4.2_2.13:4.4.0); fi
export PYSPARK_PYTHON="$venv/bin/python"
exec "$venv/bin/spark-submit" --master "$master" "${delta[@]}" \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  jobs/plan.py --conf "$conf_dir" --run-date "$run_date"
