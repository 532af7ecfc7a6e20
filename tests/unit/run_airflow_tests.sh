#!/usr/bin/env bash
# Run the Airflow-dependent unit tests (tests/unit/test_dag*.py) in their own venv built
# from requirements/airflow.txt, the Airflow image's lock. The dev venv has no Airflow,
# so there these tests skip; here a missing Airflow fails them.
#   tests/unit/run_airflow_tests.sh [pytest args...]
# Env: AIRFLOW_TEST_VENV (default: $TMPDIR/carprice-airflow-venv, reused while the lock
# is unchanged), PYTHON (default: python3.11, else python3).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${AIRFLOW_TEST_VENV:-${TMPDIR:-/tmp}/carprice-airflow-venv}"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
LOCK="$REPO/requirements/airflow.txt"
stamp="$(sha256sum < "$LOCK" | cut -c1-16)"

if [ "$(cat "$VENV/.carprice-lock" 2>/dev/null)" != "$stamp" ]; then
  echo "[airflow-tests] creating $VENV from requirements/airflow.txt"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$LOCK" "pytest>=8"
  echo "$stamp" > "$VENV/.carprice-lock"
fi

AIRFLOW_HOME="$(mktemp -d)"
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
cd "$REPO"
AIRFLOW_HOME="$AIRFLOW_HOME" AIRFLOW__CORE__LOAD_EXAMPLES=false CARPRICE_REQUIRE_AIRFLOW=1 \
  CARPRICE_PARAMS_FILE="$REPO/params.yaml" PYTHONPATH="$REPO/src:$REPO/airflow/dags" \
  "$VENV/bin/python" -m pytest -p no:cacheprovider tests/unit/test_dag.py \
  tests/unit/test_dag_candidates.py tests/unit/test_dag_maintenance.py "$@"
