# Developer entry points. `make test` is the project's test command (CI runs it).
VENV ?= .venv
PY := $(VENV)/bin/python
SHELL := /bin/bash

.PHONY: install test-deps lint-deps test test-fast test-airflow test-e2e test-faults lint lock pipeline bench help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

install: $(VENV)/.installed  ## venv with the locked dev requirements + carprice (editable)

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

test-deps:  ## check the system packages the tests need (as root with apt-get: install them)
	scripts/test-deps.sh

test: test-deps install  ## everything: lint, unit + integration, DAG tests in Airflow, full-stack e2e
	$(MAKE) lint test-fast test-airflow test-e2e

test-fast: install  ## unit + integration (real mlflow server process, Chromium if present)
	$(PY) -m pytest -m "not e2e" tests

test-airflow:  ## DAG import/structure tests in a venv from the Airflow image's lock
	tests/unit/run_airflow_tests.sh

test-e2e: install  ## the whole Compose stack, started once: DAG runs, browser, API, drift, rollback, faults, stop/start, reset
	PYTHON=$(abspath $(PY)) tests/e2e/run.sh

test-faults: install  ## the fault suite alone on its own stack (worker kill, MLflow/Postgres down, backup/restore)
	PYTHON=$(abspath $(PY)) tests/e2e/run.sh tests/e2e/test_stack.py tests/e2e/test_faults.py

lint-deps:
	scripts/test-deps.sh shellcheck

lint: lint-deps install  ## ruff, import-linter (the package layers), mypy (src/carprice), shellcheck
	$(VENV)/bin/ruff check src tests app bench airflow scripts monitoring
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	shellcheck docker-*-full.sh scripts/*.sh tests/e2e/*.sh tests/unit/*.sh airflow/*.sh mlflow/*.sh proxy/*.sh \
	  monitoring/*.sh monitoring/prometheus/*.sh

# One resolution of every image's requirements (the dev extra is the union of the carprice
# extras, plus airflow/requirements.in), then each image's lock constrained to it: a package
# has one version in all the locks (tests/unit/test_locks.py). Existing pins are preferred;
# `make lock UV_FLAGS=--upgrade` moves everything to the newest allowed versions.
UV_COMPILE = uv pip compile --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  -q --no-header --annotation-style line $(UV_FLAGS)
lock:  ## re-resolve requirements/*.txt from pyproject.toml and airflow/requirements.in (needs uv)
	$(UV_COMPILE) pyproject.toml airflow/requirements.in --extra dev -o requirements/constraints.txt
	for e in data ml monitor app api server dev; do \
	  $(UV_COMPILE) pyproject.toml --extra $$e -c requirements/constraints.txt \
	    -o requirements/$$e.txt || exit 1; done
	$(UV_COMPILE) airflow/requirements.in -c requirements/constraints.txt -o requirements/airflow.txt
	@# every line would say "via -c requirements/constraints.txt": keep the real reasons
	sed -i -E 's/(, )?-c requirements\/constraints\.txt(, )?/\1/; s/, *$$//; s/# via $$/# via/' \
	  requirements/{data,ml,monitor,app,api,server,dev,airflow}.txt

pipeline: install  ## the whole pipeline locally with DVC (local MLflow store: ./mlflow.db)
	PATH=$(abspath $(VENV))/bin:$$PATH dvc repro

bench: install  ## figures: local pipeline (carprice run, dvc repro), training at 100k/1M rows
	$(PY) bench/bench_pipeline.py --dvc
	$(PY) bench/bench_training.py
