#!/usr/bin/env bash
# Make sure redis-server is on PATH, for the Celery integration tests (tests/integration/).
# Installs Debian's redis-server package when it is missing; does nothing when it is there.
# Needs root (or sudo) and apt-get, as on a fresh Debian 12 CI machine.
#
#   bash scripts/ensure-redis.sh     # exit 0: redis-server is usable
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi

fail() {
    echo "ensure-redis: $*" >&2
    echo "ensure-redis: install redis-server yourself (e.g. apt-get install redis-server)" \
        "or put it on PATH; the Celery integration tests need it" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "redis-server is not on PATH and apt-get is not available"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "redis-server is not on PATH and we are not root"
    SUDO="sudo -n"
fi

echo "== installing redis-server (apt-get)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && \
       $SUDO apt-get install -y -qq --no-install-recommends redis-server; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get could not install redis-server"
fi

# The package starts a system-wide service where an init system runs; the tests start their
# own server on a free port and need none. Nothing to stop in a container without one.
command -v redis-server >/dev/null 2>&1 || fail "redis-server is still not on PATH after install"
