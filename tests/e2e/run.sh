#!/bin/sh
# Runs the dashboard's browser tests in a network namespace of their own, so the agent sees only
# the tests' sockets and nothing leaves the namespace's loopback. Needs root (unshare), the npm
# packages (`npm ci` here; tests/run.sh does it), Debian's chromium and a built portwatch.
# Usage: tests/e2e/run.sh [PORTWATCH_BINARY [ARTIFACTS_DIR]]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] && export PORTWATCH_BINARY="$(realpath -m "$1")"
[ $# -ge 2 ] && export PORTWATCH_E2E_ARTIFACTS="$(realpath -m "$2")"
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "tests/e2e: playwright-core is not installed: run 'npm ci' in tests/e2e (tests/run.sh does)" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "tests/e2e: /usr/bin/chromium is missing: run 'packaging/install-deps.sh test'" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "tests/e2e: run as root: the tests create a network namespace (unshare --net)" >&2
  exit 1
fi
cd "$here"
exec unshare --net -- sh -c 'ip link set lo up && exec node --test --test-concurrency=1 static.test.mjs dashboard.test.mjs'
