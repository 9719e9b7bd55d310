# Two entry points, both self-installing: `make demo` and `make test` (see README).
# Stamps make the set-up idempotent: a second run is offline and instant.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
JARS_DIR := .cache/jars
VENV_STAMP := $(VENV)/.installed
JARS_STAMP := $(JARS_DIR)/.fetched
LOCKS := locks/build.txt locks/tools.txt locks/dev.txt locks/inputs.sha256
# The report test renders the page in Debian's headless Chromium (installed once; needs root/apt).
BROWSER_STAMP := .cache/.chromium
DEMO_RUN_DATE := 2026-01-01

.PHONY: setup demo test lint clean report env-pack lock

setup: $(VENV_STAMP) $(JARS_STAMP)

# Installs only what locks/ names, each file checked against its SHA-256 (--require-hashes): first the
# installer and build backend (locks/build.txt) and the pack/lock tools (locks/tools.txt), then every
# dependency (locks/dev.txt, --no-deps: nothing resolved at install time), then skuplan itself, built with
# those tools (--no-build-isolation: no build step fetches an unhashed setuptools). check_lock.py stops first,
# with the fix, if pyproject.toml's dependencies changed since `make lock`.
$(VENV_STAMP): pyproject.toml $(LOCKS) scripts/check_lock.py
	$(PYTHON) scripts/check_lock.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes -r locks/build.txt
	$(VENV)/bin/pip install -q --require-hashes -r locks/tools.txt
	$(VENV)/bin/pip install -q --require-hashes --no-deps --no-build-isolation -r locks/dev.txt
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	$(VENV)/bin/pip check
	touch $@

# Re-resolve and hash locks/ after a dependency change in pyproject.toml (needs the package index); commit
# locks/ with it. UPGRADE=1 make lock moves every pin to the newest allowed version.
lock:
	bash scripts/lock.sh $(PYTHON)

$(JARS_STAMP): $(VENV_STAMP) scripts/fetch_jars.sh scripts/jars.sha256
	bash scripts/fetch_jars.sh $(PY) $(JARS_DIR)
	touch $@

$(BROWSER_STAMP):
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	mkdir -p .cache && touch $@

demo: setup
	$(VENV)/bin/skuplan demo --run-date $(DEMO_RUN_DATE)
	$(VENV)/bin/skuplan report --run-date $(DEMO_RUN_DATE) --out output/report.html

report: setup
	$(VENV)/bin/skuplan report --run-date $(DEMO_RUN_DATE) --out output/report.html

env-pack: setup
	bash deploy/build_env.sh

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check lib tests bench jobs notebooks

# pytest-xdist workers, each with its own local[2] Spark session; each module stays on one worker (tests/conftest.py
# groups them) and the golden-run modules share one. Measured on this 2-core kind of machine, quiet: 2 workers
# 1264 s (658 tests), one process 1268 s (639 tests): the Spark tests are CPU-bound here, so CI gains little; more
# cores should (TEST_WORKERS=4; not measured). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
test: setup $(BROWSER_STAMP) lint
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup

clean:
	rm -rf output sample_data spark-warehouse

# `skuplan stream` against a real Apache Kafka broker (KRaft, from Maven Central; opt-in, see
# tests/test_stream_kafka.py): the broker's JARs are cached once in .cache/kafka.
KAFKA_STAMP := .cache/kafka/.fetched
.PHONY: test-kafka
$(KAFKA_STAMP): scripts/fetch_kafka.sh
	bash scripts/fetch_kafka.sh .cache/kafka
test-kafka: setup $(KAFKA_STAMP)
	SKUPLAN_KAFKA_TESTS=1 $(VENV)/bin/pytest tests/test_stream_kafka.py -q
