#!/bin/sh
# Sets up everything and runs the whole test suite: dependencies, a warnings-as-errors build with
# every test, the same tests under AddressSanitizer + UndefinedBehaviorSanitizer, and the format
# check. Run as root on Debian 12 (the integration tests open raw and packet sockets and create
# network namespaces). Usage: tests/run.sh [--quick]   (--quick skips the sanitizer pass)
set -eu

cd "$(dirname "$0")/.."
root=$(pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

if [ "$(id -u)" -ne 0 ]; then
  echo "tests/run.sh: run as root (sudo tests/run.sh): the tests need raw sockets and netns" >&2
  exit 1
fi

packaging/install-deps.sh test
echo "== browser test packages (npm ci in tests/e2e: playwright-core, no browser download)"
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

jobs=$(nproc)

echo "== format check (clang-format, .clang-format)"
files=$(git ls-files '*.cpp' '*.h' 2>/dev/null || find agent collectors tests -name '*.cpp' -o -name '*.h')
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files

run_suite() {
  name=$1
  shift
  echo "== $name build"
  cmake -S "$root" -B "$root/build/$name" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTWATCH_WERROR=ON "$@" >/dev/null
  cmake --build "$root/build/$name" -j "$jobs"
  echo "== $name tests"
  (cd "$root/build/$name" && ctest --output-on-failure -j "$jobs" --timeout 300)
}

run_suite ci
if [ "$quick" -eq 0 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite ci-sanitize -DPORTWATCH_SANITIZE=ON -DPORTWATCH_BUILD_BENCH=OFF
fi
echo "== all tests passed"
