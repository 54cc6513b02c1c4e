#!/usr/bin/env bash
# Set up everything the test suite needs and run it: the one test command of README.rst,
# and what .ci/run calls. Needs only python3 (with venv) on the machine.
#
#   bash scripts/test.sh            # every check and the whole suite, twice: on the newest
#                                   # release of every dependency, then on the lowest one
#                                   # each declared range allows (on Python 3.10 if present)
#   bash scripts/test.sh -k legacy  # extra arguments go to pytest (both runs)
#   LOWEST=0 bash scripts/test.sh   # skip the run on the lowest versions
#   (the guarantees and API suites, or the tests named in the arguments, run a second time
#   with FCMCLIENT_ENGINE=off: the requests path)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
LOWEST_VENV=${LOWEST_VENV:-.venv-lowest}
PIP_FLAGS=(-q --disable-pip-version-check)

# The oldest Python fcm-client supports, when the machine has it (pyenv's included).
oldest_python() {
    local candidate
    for candidate in python3.10 "$HOME"/.pyenv/versions/3.10*/bin/python3.10; do
        if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "$PYTHON"
}

make_venv() {  # make_venv DIR PYTHON
    if [ ! -x "$1/bin/python" ]; then
        echo "== creating $1"
        "$2" -m venv "$1"
    fi
    "$1/bin/python" -m pip install "${PIP_FLAGS[@]}" --upgrade pip
}

make_venv "$VENV" "$PYTHON"
echo "== installing fcm-client with its dev extra, every dependency at its newest release, into $VENV"
"$VENV/bin/python" -m pip install "${PIP_FLAGS[@]}" --upgrade --upgrade-strategy eager -e ".[dev]"

echo "== ruff"
"$VENV/bin/ruff" check fcmclient tests docs/examples scripts conftest.py
"$VENV/bin/ruff" format --check fcmclient tests docs/examples scripts conftest.py
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
echo "== pytest (newest releases)"
"$VENV/bin/python" -m pytest "$@"
# The fan-out has two ways (docs/architecture.rst): the engine, and requests' path that test
# doubles, proxies and gevent get. The guarantees and the API suites run on requests' path too.
echo "== pytest (newest releases, requests' path: FCMCLIENT_ENGINE=off)"
if [ "$#" -eq 0 ]; then
    FCMCLIENT_ENGINE=off "$VENV/bin/python" -m pytest tests/guarantees tests/api
else
    FCMCLIENT_ENGINE=off "$VENV/bin/python" -m pytest "$@"
fi

if [ "${LOWEST:-1}" != 0 ]; then
    make_venv "$LOWEST_VENV" "$(oldest_python)"
    constraints=$(mktemp)
    trap 'rm -f "$constraints"' EXIT
    "$LOWEST_VENV/bin/python" scripts/lowest-requirements.py >"$constraints"
    echo "== installing the lowest declared versions into $LOWEST_VENV ($("$LOWEST_VENV/bin/python" -V)):" \
        $(tr '\n' ' ' <"$constraints")
    "$LOWEST_VENV/bin/python" -m pip install "${PIP_FLAGS[@]}" -c "$constraints" -e ".[test,celery,docs]"
    echo "== sphinx-build -W (lowest versions)"
    "$LOWEST_VENV/bin/sphinx-build" -W -q -b html docs "$(mktemp -d)"
    echo "== pytest (lowest versions)"
    "$LOWEST_VENV/bin/python" -m pytest "$@"
fi
