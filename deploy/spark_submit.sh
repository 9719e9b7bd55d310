#!/usr/bin/env bash
# Submit the nightly job (jobs/plan.py) with spark-submit.
#
#   deploy/spark_submit.sh [--packed] RUN_DATE [MASTER] [CONF_DIR]
#
# Plain mode (default): driver and Python workers use the project venv ($VENV, default .venv); right for
# local[N] and for a cluster whose nodes already have skuplan installed.
# --packed: ships dist/skuplan_env.tar.gz (built by deploy/build_env.sh) with --archives; Spark unpacks it
# as ./environment in every executor's working directory and the Python workers run
# ./environment/bin/python, so the nodes need no pip install. The client-mode driver runs a local unpack
# of the same archive (build/skuplan_env_unpacked); DEPLOY_MODE=cluster runs the driver on the cluster too.
#
# Delta: the JARs cached by `make setup` (.cache/jars) are shipped with --jars, after their SHA-256 is checked
# against scripts/jars.sha256 (scripts/verify_jars.sh). Without the cache (a cluster gateway) they are fetched
# and checked first (scripts/fetch_jars.sh, needs mvn). There is no --packages path: Ivy would resolve and load
# JARs that nothing here verifies. On a cluster that provides Delta (Databricks), use the bundle in
# deploy/databricks.yml instead of this script.
#
# spark-submit itself comes from pyspark in the project venv: the `local` extra (pip install -e ".[local]";
# `make setup` installs ".[dev]", which includes it). The JAR versions follow the pyspark and delta-spark
# installed there (scripts/fetch_jars.sh derives them; tests/test_deploy.py checks they are pinned).
set -euo pipefail
cd "$(dirname "$0")/.."

packed=0
if [ "${1:-}" = "--packed" ]; then packed=1; shift; fi
usage="usage: deploy/spark_submit.sh [--packed] RUN_DATE [MASTER] [CONF_DIR]"
run_date=${1:?$usage}
master=${2:-local[2]}
conf_dir=${3:-conf}
venv=${VENV:-.venv}
archive=${SKUPLAN_ENV_ARCHIVE:-dist/skuplan_env.tar.gz}
jar_dir=.cache/jars

if [ ! -x "$venv/bin/spark-submit" ]; then
  echo "spark_submit: $venv/bin/spark-submit not found: install skuplan[local] into $venv" \
    "(make setup, or $venv/bin/pip install -e '.[local]') or set VENV=..." >&2
  exit 2
fi

if ! ls "$jar_dir"/*.jar > /dev/null 2>&1; then
  echo "spark_submit: no JARs in $jar_dir: fetching and verifying them (scripts/fetch_jars.sh, needs mvn)" >&2
  bash scripts/fetch_jars.sh "$venv/bin/python" "$jar_dir"
fi
bash scripts/verify_jars.sh "$jar_dir"  # a JAR changed or added since `make setup` stops the submit here
delta=(--jars "$(ls "$jar_dir"/*.jar | paste -sd, -)")
# spark-submit already puts Delta on the class path, and the master given here must win over the one in
# config: skuplan's session builder reads both from config (SKUPLAN__ env overrides, see config.py).
export SKUPLAN__SPARK__JARS_DIR=null
export SKUPLAN__SPARK__MASTER="$master"

python_conf=()
deploy_mode=${DEPLOY_MODE:-client}
case "$master" in local*) deploy_mode=client ;; esac  # a local master has no cluster to put the driver on
if [ "$packed" = 1 ]; then
  if [ ! -f "$archive" ]; then
    echo "spark_submit: $archive not found; build it with deploy/build_env.sh" >&2
    exit 2
  fi
  # A local unpack of the same archive runs the client-mode driver (and, with a local master, the
  # workers): driver and workers then run one snapshot of the code, not the working tree's edits.
  unpacked=$PWD/build/skuplan_env_unpacked
  if [ "$deploy_mode" = client ] && { [ ! -f "$unpacked/.unpacked" ] || [ "$archive" -nt "$unpacked/.unpacked" ]; }; then
    rm -rf "$unpacked" && mkdir -p "$unpacked"
    tar -xzf "$archive" -C "$unpacked"
    touch "$unpacked/.unpacked"
  fi
  case "$master" in
    local*)
      # Local mode unpacks --archives under the SparkFiles root, but the Python workers start in the
      # JVM's working directory, where ./environment does not exist: they run the local unpack instead.
      worker_python=$unpacked/bin/python
      ;;
    *)
      # '#environment' names the folder the archive is unpacked into in every executor's working dir.
      python_conf=(--archives "$archive#environment" --deploy-mode "$deploy_mode")
      if [ "$deploy_mode" = cluster ]; then
        # A driver on the cluster does not inherit this shell's environment: pass the overrides along
        # (YARN and Kubernetes spellings; the other one is ignored). CONF_DIR must be a local folder on the
        # driver's node (config is read from the local file system), e.g. baked into the node image.
        for kv in "SKUPLAN__SPARK__JARS_DIR=null" "SKUPLAN__SPARK__MASTER=$master"; do
          python_conf+=(--conf "spark.yarn.appMasterEnv.$kv" --conf "spark.kubernetes.driverEnv.$kv")
        done
      fi
      worker_python=./environment/bin/python
      ;;
  esac
  if [ "$deploy_mode" = client ]; then driver_python=$unpacked/bin/python; else driver_python=$worker_python; fi
  python_conf+=(--conf spark.pyspark.python="$worker_python" --conf spark.pyspark.driver.python="$driver_python")
  export PYSPARK_DRIVER_PYTHON="$driver_python"
  export PYSPARK_PYTHON="$worker_python"
else
  export PYSPARK_PYTHON="$venv/bin/python"
fi

# The driver JVM starts before any config is read, so its heap is set here (the local-mode default of
# `skuplan run` is 4g as well; the 1g spark-submit default runs out on a 100k-series history).
exec "$venv/bin/spark-submit" --master "$master" --driver-memory "${DRIVER_MEMORY:-4g}" "${delta[@]}" "${python_conf[@]}" \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  jobs/plan.py --conf "$conf_dir" --run-date "$run_date"
