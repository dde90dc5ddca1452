#!/bin/sh
# Sets up portwatch and runs its main job: installs the build dependencies, builds, and starts the
# agent in the foreground (history, rules and alerts; Ctrl-C stops it). Extra arguments go to
# `portwatch agent` (for example --config packaging/portwatch.yaml).
set -eu

cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "packaging/run.sh: run as root (sudo packaging/run.sh) to install dependencies and see every socket's owner" >&2
  exit 1
fi
packaging/install-deps.sh build
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPORTWATCH_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target portwatch >/dev/null
exec build/release/portwatch agent "$@"
