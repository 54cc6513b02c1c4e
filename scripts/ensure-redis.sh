#!/usr/bin/env bash
# Make sure redis-server is on PATH, for the Celery integration tests (tests/celery/).
# Installs Debian's redis-server package when it is missing (as root, or with sudo -n) and
# does nothing when it is there. scripts/test.sh calls it, so README's test command and CI
# (.ci/run, root on Debian) bring Redis themselves.
#
#   bash scripts/ensure-redis.sh
#
# Exit status: 0 when redis-server is usable. When it cannot be installed: 1 under CI=true
# (where the integration tests must run); elsewhere 0 with a warning, and those tests skip.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi

fail() {
    echo "ensure-redis: $*" >&2
    echo "ensure-redis: install redis-server yourself (e.g. apt-get install redis-server)" \
        "or put it on PATH; the Celery integration tests need it" >&2
    if [ "${CI:-}" = "true" ]; then
        exit 1
    fi
    echo "ensure-redis: not CI, so carrying on: the Celery integration tests will skip" >&2
    exit 0
}

command -v apt-get >/dev/null 2>&1 || fail "redis-server is not on PATH and apt-get is not available"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "redis-server is not on PATH and we are not root"
    SUDO=(sudo -n)
fi

echo "== installing redis-server (apt-get)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { ${SUDO[@]+"${SUDO[@]}"} apt-get update -qq && \
       ${SUDO[@]+"${SUDO[@]}"} apt-get install -y -qq --no-install-recommends redis-server; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get could not install redis-server"
fi

# The package starts a system-wide service where an init system runs; the tests start their
# own server on a free port and need none. Nothing to stop in a container without one.
command -v redis-server >/dev/null 2>&1 || fail "redis-server is still not on PATH after install"
