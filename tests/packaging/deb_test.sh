#!/bin/sh
# The Debian package end to end. Builds it with CPack from the build directory, checks its control
# fields, file list, conffiles, maintainer scripts and man page, then installs it with a real
# `dpkg -i` into a throwaway copy of this machine's root — an overlay on / in a private mount
# namespace, discarded at the end, so no user, file or dpkg record is left behind and a second run
# starts clean — and there checks the service user and state directory, the unit (enabled,
# `systemd-analyze verify`, its exposure score), the installed `portwatch --version`, `snapshot`,
# the agent as the unit runs it with `portwatch token` finding its token, then `dpkg -r` (history
# and config kept) and `dpkg --purge` (gone).
#
# Usage (as root): deb_test.sh BUILD_DIR PROJECT_VERSION
set -eu

if [ "${1:-}" = --in-throwaway-root ]; then
  mode=inside
  shift
else
  mode=outside
fi

fail() {
  echo "deb_test: FAIL: $*" >&2
  exit 1
}
pass() { echo "deb_test: ok: $*"; }

# Runs inside the private mount namespace: makes the throwaway root and does the install there.
inside() {
  work=$1
  deb=$2
  expected_version=$3
  mount -t tmpfs portwatch-deb-test "$work/overlay"
  mkdir "$work/overlay/upper" "$work/overlay/work" "$work/overlay/root"
  mount -t overlay overlay \
    -o "lowerdir=/,upperdir=$work/overlay/upper,workdir=$work/overlay/work" "$work/overlay/root"
  root=$work/overlay/root
  for fs in proc sys dev; do mount --rbind "/$fs" "$root/$fs"; done
  cp "$deb" "$root/tmp/portwatch.deb"
  in_root() { chroot "$root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

  # A host that already has the package would turn this into an upgrade: start from none.
  in_root dpkg --purge portwatch >/dev/null 2>&1 || true
  in_root dpkg -i /tmp/portwatch.deb >"$work/dpkg-i.log" 2>&1 ||
    { cat "$work/dpkg-i.log"; fail "dpkg -i failed"; }
  pass "dpkg -i installs it"
  in_root dpkg -i /tmp/portwatch.deb >"$work/dpkg-i2.log" 2>&1 ||
    { cat "$work/dpkg-i2.log"; fail "dpkg -i a second time (reinstall) failed"; }
  pass "installing it again works (the maintainer scripts are idempotent)"

  entry=$(in_root getent passwd portwatch) || fail "no portwatch user after install"
  uid=$(echo "$entry" | cut -d: -f3)
  [ "$uid" -lt 1000 ] || fail "portwatch is not a system user: $entry"
  [ "$(echo "$entry" | cut -d: -f6)" = /var/lib/portwatch ] || fail "portwatch's home: $entry"
  case "$(echo "$entry" | cut -d: -f7)" in
    */nologin | */false) ;;
    *) fail "portwatch can log in: $entry" ;;
  esac
  in_root getent group portwatch >/dev/null || fail "no portwatch group"
  pass "system user portwatch, home /var/lib/portwatch, no login"
  [ "$(in_root stat -c '%U:%G %a' /var/lib/portwatch)" = "portwatch:portwatch 750" ] ||
    fail "/var/lib/portwatch is $(in_root stat -c '%U:%G %a' /var/lib/portwatch)"
  pass "/var/lib/portwatch belongs to portwatch, mode 750"
  [ "$(in_root readlink /etc/systemd/system/multi-user.target.wants/portwatch.service)" = \
    /lib/systemd/system/portwatch.service ] || fail "the service is not enabled"
  pass "the service is enabled (multi-user.target.wants)"

  in_root systemd-analyze verify /lib/systemd/system/portwatch.service >"$work/verify.log" 2>&1 ||
    { cat "$work/verify.log"; fail "systemd-analyze verify rejects the unit"; }
  if grep portwatch "$work/verify.log"; then fail "systemd-analyze verify warns about the unit"; fi
  pass "systemd-analyze verify accepts the installed unit"
  in_root systemd-analyze security --offline=yes /lib/systemd/system/portwatch.service \
    >"$work/security.log" 2>&1 || true
  exposure=$(sed -n 's/.*Overall exposure level for portwatch.service: \([0-9.]*\).*/\1/p' \
    "$work/security.log")
  [ -n "$exposure" ] || { cat "$work/security.log"; fail "no exposure score from systemd-analyze"; }
  awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' ||
    { cat "$work/security.log"; fail "exposure $exposure is above 2.0"; }
  pass "systemd-analyze security: exposure $exposure (at most 2.0)"

  version=$(in_root portwatch --version)
  [ "$version" = "$expected_version" ] ||
    fail "installed portwatch --version says '$version', the build says '$expected_version'"
  pass "installed portwatch --version: $version"
  in_root portwatch snapshot >"$work/snapshot.txt" 2>&1 ||
    { cat "$work/snapshot.txt"; fail "installed portwatch snapshot failed"; }
  in_root portwatch snapshot --json | in_root python3 -c \
    'import json, sys; rows = json.load(sys.stdin); assert isinstance(rows, list), rows' ||
    fail "installed portwatch snapshot --json is not a JSON array"
  pass "installed portwatch snapshot runs ($(wc -l <"$work/snapshot.txt") lines)"
  in_root portwatch rules check /etc/portwatch/rules.d >"$work/rules.log" 2>&1 ||
    { cat "$work/rules.log"; fail "the installed rules do not check"; }

  # The agent as the unit runs it: its user, its two capabilities, its config, $STATE_DIRECTORY;
  # on a free port, beside whatever this machine runs on 7678.
  caps=-all,+dac_read_search,+sys_ptrace
  chroot "$root" env -i PATH=/usr/bin:/bin STATE_DIRECTORY=/var/lib/portwatch \
    setpriv --reuid=portwatch --regid=portwatch --init-groups --inh-caps=$caps \
    --ambient-caps=$caps --bounding-set=$caps --no-new-privs \
    portwatch agent --config /etc/portwatch/portwatch.yaml --listen 127.0.0.1:0 \
    2>"$work/agent.log" &
  agent=$!
  trap 'kill "$agent" 2>/dev/null || true' EXIT
  trap 'exit 1' INT TERM
  tries=0
  until [ -s "$root/var/lib/portwatch/api.address" ] && grep -q "agent started" "$work/agent.log"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 300 ] || ! kill -0 "$agent" 2>/dev/null; then
      cat "$work/agent.log"
      fail "the installed agent did not start as the service"
    fi
    sleep 0.1
  done
  grep -q "config from /etc/portwatch/portwatch.yaml" "$work/agent.log" ||
    { cat "$work/agent.log"; fail "the agent did not read /etc/portwatch/portwatch.yaml"; }
  token=$(in_root portwatch token) || fail "portwatch token (as root) does not find the token"
  [ "$(in_root stat -c '%U %a' /var/lib/portwatch/api.token)" = "portwatch 600" ] ||
    fail "api.token is $(in_root stat -c '%U %a' /var/lib/portwatch/api.token)"
  url=$(cat "$root/var/lib/portwatch/api.address")
  in_root python3 - "$url" "$token" <<'PY' || fail "the API does not answer with the token"
import json, sys, urllib.request
url, token = sys.argv[1], sys.argv[2]
request = urllib.request.Request(url + "/api/v1/listeners", headers={"Authorization": "Bearer " + token})
with urllib.request.urlopen(request, timeout=10) as response:
    assert response.status == 200 and isinstance(json.load(response), (list, dict))
PY
  kill -TERM "$agent"
  wait "$agent" || { cat "$work/agent.log"; fail "the agent did not stop cleanly on SIGTERM"; }
  trap - EXIT
  pass "the agent runs as portwatch with its config; root's portwatch token opens its API"

  in_root dpkg -r portwatch >"$work/dpkg-r.log" 2>&1 || { cat "$work/dpkg-r.log"; fail "dpkg -r"; }
  [ ! -e "$root/usr/bin/portwatch" ] || fail "dpkg -r left /usr/bin/portwatch"
  [ -f "$root/etc/portwatch/portwatch.yaml" ] || fail "dpkg -r deleted the config"
  [ -f "$root/var/lib/portwatch/history.db" ] || fail "dpkg -r deleted the history"
  pass "dpkg -r removes the program and keeps the config and the history"
  in_root dpkg --purge portwatch >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "purge"; }
  for gone in /etc/portwatch /var/lib/portwatch /lib/systemd/system/portwatch.service \
    /etc/systemd/system/multi-user.target.wants/portwatch.service; do
    [ ! -e "$root$gone" ] && [ ! -L "$root$gone" ] || fail "dpkg --purge left $gone"
  done
  if in_root dpkg -s portwatch >/dev/null 2>&1; then fail "dpkg still knows portwatch"; fi
  pass "dpkg --purge deletes the config, the history and the unit"
}

if [ "$mode" = inside ]; then
  inside "$@"
  exit 0
fi

build=$(cd "$1" && pwd)
project_version=$2
[ "$(id -u)" -eq 0 ] || fail "run as root: the test installs the package into a throwaway root"
work=$(mktemp -d "${TMPDIR:-/tmp}/portwatch-deb-test-XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log"; fail "cpack -G DEB failed"; }
arch=$(dpkg --print-architecture)
deb=$work/out/portwatch_${project_version}-1_${arch}.deb
[ -f "$deb" ] || { ls "$work/out"; fail "no $deb"; }
pass "cpack -G DEB writes $(basename "$deb") ($(stat -c %s "$deb") bytes)"

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = portwatch ] || fail "Package: $(field Package)"
[ "$(field Version)" = "${project_version}-1" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
[ "$(field Section)" = net ] || fail "Section: $(field Section)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
field Description | grep -q "socket" || fail "Description: $(field Description)"
depends=$(field Depends)
depends_names=$(echo "$depends" | tr ',' '\n' | sed 's/^ *//; s/ .*//')
# Debian 12's names of the libraries the binary links, found by dpkg-shlibdeps.
for package in adduser libc6 libstdc++6 libgcc-s1 libmnl0 libsqlite3-0 libssl3 libyaml-cpp0.7 \
  libspdlog1.10-fmt9 libfmt9 libcpp-httplib0.11; do
  echo "$depends_names" | grep -qxF "$package" || fail "Depends lacks $package: $depends"
done
if echo "$depends" | grep -q -- "-dev"; then fail "Depends names a -dev package: $depends"; fi
pass "control fields (Depends: $depends)"

dpkg-deb -e "$deb" "$work/control"
printf '/etc/portwatch/portwatch.yaml\n/etc/portwatch/rules.d/default.yaml\n' >"$work/conffiles"
cmp -s "$work/conffiles" "$work/control/conffiles" ||
  fail "conffiles: $(cat "$work/control/conffiles")"
for script in postinst prerm postrm; do
  [ -x "$work/control/$script" ] || fail "no executable $script"
  sh -n "$work/control/$script" || fail "$script is not valid sh"
done
pass "conffiles and maintainer scripts"

dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }' | sort -k3 >"$work/contents"
cat >"$work/expected" <<'LIST'
drwxr-xr-x root/root ./etc/
drwxr-xr-x root/root ./etc/portwatch/
-rw-r--r-- root/root ./etc/portwatch/portwatch.yaml
drwxr-xr-x root/root ./etc/portwatch/rules.d/
-rw-r--r-- root/root ./etc/portwatch/rules.d/default.yaml
drwxr-xr-x root/root ./lib/
drwxr-xr-x root/root ./lib/systemd/
drwxr-xr-x root/root ./lib/systemd/system/
-rw-r--r-- root/root ./lib/systemd/system/portwatch.service
drwxr-xr-x root/root ./usr/
drwxr-xr-x root/root ./usr/bin/
-rwxr-xr-x root/root ./usr/bin/portwatch
drwxr-xr-x root/root ./usr/share/
drwxr-xr-x root/root ./usr/share/doc/
drwxr-xr-x root/root ./usr/share/doc/portwatch/
-rw-r--r-- root/root ./usr/share/doc/portwatch/README.md
drwxr-xr-x root/root ./usr/share/doc/portwatch/examples/
drwxr-xr-x root/root ./usr/share/doc/portwatch/examples/rules.d/
-rw-r--r-- root/root ./usr/share/doc/portwatch/examples/rules.d/example.yaml
drwxr-xr-x root/root ./usr/share/man/
drwxr-xr-x root/root ./usr/share/man/man1/
-rw-r--r-- root/root ./usr/share/man/man1/portwatch.1.gz
LIST
sort -k3 "$work/expected" >"$work/expected.sorted"
diff "$work/expected.sorted" "$work/contents" || fail "the file list differs (- expected, + built)"
pass "file list, owners and modes"

dpkg-deb -x "$deb" "$work/files"
awk '/^rules:$/ { getline; if ($0 == "  - /etc/portwatch/rules.d") found = 1 } END { exit !found }' \
    "$work/files/etc/portwatch/portwatch.yaml" ||
  fail "the installed config does not read /etc/portwatch/rules.d"
man_page=$(zcat "$work/files/usr/share/man/man1/portwatch.1.gz")
commands=$("$build/portwatch" --help |
  awk 'tolower($0) == "subcommands:" { on = 1; next } on && !NF { on = 0 } on { print $1 }')
[ -n "$commands" ] || fail "no commands in portwatch --help"
for command in $commands; do
  echo "$man_page" | grep -q "portwatch $command" || fail "the man page lacks portwatch $command"
done
pass "the man page covers every command ($(echo $commands | wc -w))"

expected_version=$("$build/portwatch" --version)
mkdir "$work/overlay"
unshare --mount --propagation private sh "$0" --in-throwaway-root "$work" "$deb" "$expected_version"
echo "deb_test: all checks passed"
