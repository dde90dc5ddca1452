#!/bin/sh
# Installs the Debian 12 packages portwatch needs to build, test and run.
# Idempotent: packages already present are left alone; apt runs only when something is missing.
# Usage: packaging/install-deps.sh [build|test]   (default: test, which includes build)
set -eu

want="${1:-test}"

# help2man makes the man page from --help; dpkg-dev's dpkg-shlibdeps fills the .deb's Depends.
build_pkgs="build-essential cmake pkg-config git
  libmnl-dev libsqlite3-dev libcpp-httplib-dev libssl-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev help2man dpkg-dev"
# The packaging tests install the .deb (adduser, init-system-helpers for its maintainer scripts)
# and check the unit with systemd-analyze (systemd; man-db, which it asks for the unit's man page);
# setpriv is in util-linux.
test_pkgs="libgtest-dev libgmock-dev libbenchmark-dev iproute2 lsof net-tools procps
  util-linux python3 clang-format time openssl wrk adduser init-system-helpers systemd man-db chromium"
# The dashboard's browser tests run on Node.js and npm: a machine that has them already (from
# NodeSource, say) keeps its own; any other gets Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  test_pkgs="$test_pkgs nodejs npm"
fi

case "$want" in
  build) pkgs="$build_pkgs" ;;
  test) pkgs="$build_pkgs $test_pkgs" ;;
  *) echo "install-deps.sh: unknown set '$want'; use 'build' or 'test'" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: missing packages:$missing; run this script as root (or with sudo)" >&2
  exit 1
fi

echo "install-deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
