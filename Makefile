# Two entry points, both self-installing: `make demo` and `make test` (see README).
# Stamps make the set-up idempotent: a second run is offline and instant.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
JARS_DIR := .cache/jars
VENV_STAMP := $(VENV)/.installed
JARS_STAMP := $(JARS_DIR)/.fetched
DEMO_RUN_DATE := 2026-01-01

.PHONY: setup demo test lint clean

setup: $(VENV_STAMP) $(JARS_STAMP)

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

$(JARS_STAMP): $(VENV_STAMP) scripts/fetch_jars.sh
	bash scripts/fetch_jars.sh $(PY) $(JARS_DIR)
	touch $@

demo: setup
	$(VENV)/bin/skuplan demo --run-date $(DEMO_RUN_DATE)

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check lib tests bench jobs

test: setup lint
	$(VENV)/bin/pytest

clean:
	rm -rf output sample_data spark-warehouse
