# Two entry points, both self-installing: `make demo` and `make test` (see README).
# Stamps make the set-up idempotent: a second run is offline and instant.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
JARS_DIR := .cache/jars
VENV_STAMP := $(VENV)/.installed
JARS_STAMP := $(JARS_DIR)/.fetched
# The report test renders the page in Debian's headless Chromium (installed once; needs root/apt).
BROWSER_STAMP := .cache/.chromium
DEMO_RUN_DATE := 2026-01-01

.PHONY: setup demo test lint clean report env-pack

setup: $(VENV_STAMP) $(JARS_STAMP)

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

$(JARS_STAMP): $(VENV_STAMP) scripts/fetch_jars.sh
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

test: setup $(BROWSER_STAMP) lint
	$(VENV)/bin/pytest

clean:
	rm -rf output sample_data spark-warehouse
