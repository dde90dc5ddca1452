#!/bin/sh
# The dashboard benchmark (dashboard_bench.mjs) in a network namespace of its own, so the agent
# monitors exactly the connection farm's sockets. Usage, as root from the repository root:
#   tests/bench/dashboard_bench.sh [--conns=25000] [--runs=5] [--farm=PATH] [--out=FILE]
# PORTWATCH_BINARY picks the agent (default build/dev/portwatch).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "dashboard_bench.sh: run as root: it creates a network namespace (unshare --net)" >&2
  exit 1
fi
if [ ! -d "$here/../e2e/node_modules/playwright-core" ]; then
  echo "dashboard_bench.sh: run 'npm ci' in tests/e2e first (playwright-core)" >&2
  exit 1
fi
exec unshare --net -- sh -c 'ip link set lo up && exec node "$0/dashboard_bench.mjs" "$@"' "$here" "$@"
