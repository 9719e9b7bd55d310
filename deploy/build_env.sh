#!/usr/bin/env bash
# Build what `deploy/spark_submit.sh --packed` ships to a cluster:
#   dist/skuplan-<version>-py3-none-any.whl   the package alone (pip wheel --no-deps)
#   dist/skuplan_env.tar.gz                    a packed virtual environment: the wheel plus every dependency,
#                                              including the `local` extra (pyspark, delta-spark)
#
# Why the `local` extra here (the Databricks bundle installs the wheel without it): the client-mode driver
# runs jobs/plan.py with the packed environment's python, and the Python side of pyspark and Delta must
# match the Spark that spark-submit starts (the project venv's pyspark, pinned with delta-spark in
# pyproject.toml), whatever Python packages the cluster nodes have.
#
# Why a packed venv: skuplan's dependencies carry native code (numpy, scipy, pyarrow, statsforecast/numba,
# prophet's cmdstan), which --py-files cannot ship; spark-submit unpacks the archive on every node
# (--archives dist/skuplan_env.tar.gz#environment) and the Python workers run ./environment/bin/python.
#
# venv-pack does not copy the interpreter: the nodes need the same Python (same version, same absolute path
# as the one printed below) or pass VENV_PACK_PYTHON_PREFIX=/path/of/python/on/the/nodes.
# Usage: deploy/build_env.sh        (VENV=.venv by default; takes minutes: the environment is installed fresh)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
build_venv=build/skuplan_env
archive=dist/skuplan_env.tar.gz
started=$(date +%s)

if [ ! -x "$venv/bin/python" ]; then
  echo "build_env: no virtual environment at $venv; run 'make setup' first (or set VENV=...)" >&2
  exit 2
fi
# The packed environment uses the project venv's own base interpreter, so it matches what the tests ran on.
base_python=$("$venv/bin/python" -c 'import sys; print(sys._base_executable)')
echo "build_env: base interpreter $base_python ($("$base_python" -V 2>&1))"

"$base_python" scripts/check_lock.py  # locks/ must match pyproject.toml (else: make lock)
mkdir -p dist
rm -f dist/skuplan-*.whl
# --no-build-isolation: built with the project venv's setuptools (locks/build.txt), nothing fetched.
"$venv/bin/pip" wheel -q --no-deps --no-build-isolation --wheel-dir dist .
wheel=$(ls dist/skuplan-*.whl)
echo "build_env: built $wheel"

# A fresh venv holding the wheel (not the project venv: it has skuplan installed in editable mode, which
# venv-pack refuses, plus dev tools that a cluster does not need). Everything comes from the hashed lock files:
# pinned pip/setuptools/wheel (locks/build.txt), then skuplan[local]'s dependencies (locks/local.txt, --no-deps:
# nothing resolved here), then the wheel alone; pip check fails the build if the lock misses a dependency.
rm -rf "$build_venv"
"$base_python" -m venv "$build_venv"
"$build_venv/bin/pip" install -q --require-hashes -r locks/build.txt
"$build_venv/bin/pip" install -q --require-hashes --no-deps --no-build-isolation -r locks/local.txt
"$build_venv/bin/pip" install -q --no-deps "$wheel"
"$build_venv/bin/pip" check

# venv-pack is a build tool only (locks/tools.txt, installed into the project venv by `make setup`).
if [ ! -x "$venv/bin/venv-pack" ]; then "$venv/bin/pip" install -q --require-hashes -r locks/tools.txt; fi
pack_args=(-p "$build_venv" -o "$archive" --force --quiet)
if [ -n "${VENV_PACK_PYTHON_PREFIX:-}" ]; then pack_args+=(--python-prefix "$VENV_PACK_PYTHON_PREFIX"); fi
"$venv/bin/venv-pack" "${pack_args[@]}"
rm -rf "$build_venv"  # 1 GB unpacked; the archive is the product

echo "build_env: $archive $(du -h "$archive" | cut -f1) in $(($(date +%s) - started))s"
