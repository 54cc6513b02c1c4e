#!/usr/bin/env bash
# Set up everything the test suite needs and run it: the one test command of README.rst,
# and what .ci/run calls. Needs only python3 (with venv) on the machine.
#
#   bash scripts/test.sh            # every check and the whole suite
#   bash scripts/test.sh -k legacy  # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
echo "== installing fcm-client with its dev extra into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[dev]"

echo "== ruff"
"$VENV/bin/ruff" check fcmclient tests
"$VENV/bin/ruff" format --check fcmclient tests
echo "== mypy --strict"
"$VENV/bin/mypy" --strict fcmclient
echo "== sphinx-build -W"
"$VENV/bin/sphinx-build" -W -q -b html docs docs/_build/html
echo "== redis-server (for the Celery integration tests)"
if ! bash scripts/ensure-redis.sh; then
    # CI must run every test; elsewhere the Celery integration tests skip without redis-server.
    if [ "${CI:-}" = true ]; then exit 1; fi
    echo "== no redis-server: the Celery integration tests will be skipped"
fi
echo "== pytest"
"$VENV/bin/python" -m pytest "$@"
