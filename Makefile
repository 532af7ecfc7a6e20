# Developer entry points. `make test` is the project's test command (CI runs it).
VENV ?= .venv
PY := $(VENV)/bin/python
SHELL := /bin/bash

.PHONY: install test test-fast test-airflow test-e2e test-faults lint lock pipeline bench help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

install: $(VENV)/.installed  ## venv with the locked dev requirements + carprice (editable)

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

test: install  ## everything: lint, unit + integration, DAG tests in Airflow, full-stack e2e
	$(MAKE) lint test-fast test-airflow test-e2e

test-fast: install  ## unit + integration (real mlflow server process, Chromium if present)
	$(PY) -m pytest -m "not e2e" tests

test-airflow:  ## DAG import/structure tests in a venv from the Airflow image's lock
	tests/unit/run_airflow_tests.sh

test-e2e: install  ## the whole Compose stack, started once: DAG runs, browser, API, drift, rollback, faults, stop/start, reset
	PYTHON=$(abspath $(PY)) tests/e2e/run.sh

test-faults: install  ## the fault suite alone on its own stack (worker kill, MLflow/Postgres down, backup/restore)
	PYTHON=$(abspath $(PY)) tests/e2e/run.sh tests/e2e/test_stack.py tests/e2e/test_faults.py

lint: install  ## ruff + shellcheck
	$(VENV)/bin/ruff check src tests app bench airflow scripts
	shellcheck docker-*-full.sh scripts/*.sh tests/e2e/*.sh tests/unit/*.sh airflow/*.sh mlflow/*.sh

lock:  ## re-resolve requirements/*.txt from pyproject.toml (needs uv)
	for e in data ml monitor app api server dev; do \
	  uv pip compile pyproject.toml --extra $$e --python-version 3.11 \
	    --python-platform x86_64-manylinux_2_28 -q --no-header --annotation-style line \
	    -o requirements/$$e.txt; done

pipeline: install  ## the whole pipeline locally with DVC (local MLflow store: ./mlflow.db)
	PATH=$(abspath $(VENV))/bin:$$PATH dvc repro

bench: install  ## figures: local pipeline (carprice run, dvc repro), training at 100k/1M rows
	$(PY) bench/bench_pipeline.py --dvc
	$(PY) bench/bench_training.py
