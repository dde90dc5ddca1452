#!/usr/bin/env bash
# snapshot_bench.sh: times portwatch's full snapshot (every socket with its owner) against
# `ss -tanp`, `ss -tan`, `lsof -nP -i` and a bare /proc fd scan, with N established loopback
# connections held open by conn_farm. See tests/bench/README.md for what is measured and why.
#
# Usage: tests/bench/snapshot_bench.sh [--portwatch PATH] [--conns "10000 50000"] [--runs 5]
#                                      [--out FILE] [--timeout SECONDS] [--slow SECONDS]
#                                      [--farm PATH] [--fd-scan PATH]
#
# Prints a markdown report on stdout (progress goes to stderr) and writes it to --out if given.
# Needs root to see every process's fds, as the tools being compared do.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and awk must agree on the decimal point

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_dir="$repo_root/tests/bench"

portwatch="$repo_root/build/portwatch"
conns="10000 50000"
runs=5
out=""
timeout_s=120
slow_s=20
farm=""
fd_scan=""

usage() {
  sed -n '6,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

  --portwatch PATH   portwatch binary (default: build/portwatch under the repository root)
  --conns "N ..."    connection counts to measure, ascending (default: "10000 50000")
  --runs R           measured runs per command and count; the median is reported (default: 5)
  --out FILE         also write the markdown report to FILE (tests/bench/RESULTS.md is the
                     recorded one; it is only written when named here)
  --timeout S        per-command time limit; a command over it is reported as "timeout >S s"
                     (default: 120)
  --slow S           a command that takes longer than S seconds is not run again
                     (default: 20)
  --farm PATH        conn_farm binary (default: build/tests/bench/conn_farm, else compiled)
  --fd-scan PATH     fd_scan binary (default: build/tests/bench/fd_scan, else compiled)
EOF
}

die() {
  echo "snapshot_bench: $*" >&2
  exit 1
}
say() { echo "snapshot_bench: $*" >&2; }

original_args=("$@")
while (($# > 0)); do
  case "$1" in
    --portwatch) portwatch="${2:?--portwatch needs a path}"; shift 2 ;;
    --conns) conns="${2:?--conns needs a list}"; shift 2 ;;
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    --out) out="${2:?--out needs a file}"; shift 2 ;;
    --timeout) timeout_s="${2:?--timeout needs seconds}"; shift 2 ;;
    --slow) slow_s="${2:?--slow needs seconds}"; shift 2 ;;
    --farm) farm="${2:?--farm needs a path}"; shift 2 ;;
    --fd-scan) fd_scan="${2:?--fd-scan needs a path}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$runs'"
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be whole seconds, got '$timeout_s'"
[[ "$slow_s" =~ ^[0-9]+$ ]] || die "--slow must be whole seconds, got '$slow_s'"
read -r -a sizes <<<"$conns"
((${#sizes[@]} > 0)) || die "--conns is empty"
for n in "${sizes[@]}"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "--conns must list positive integers, got '$n'"
done

[[ -x "$portwatch" ]] || die "portwatch not found at $portwatch (build it, or pass --portwatch)"
for tool in ss lsof timeout awk; do
  command -v "$tool" >/dev/null || die "$tool is missing; run packaging/install-deps.sh"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is missing; run packaging/install-deps.sh"
((EUID == 0)) || say "warning: not root; owners of other users' sockets will be invisible"

workdir="$(mktemp -d -t snapshot_bench.XXXXXX)"
farm_pid=""
farm_in="" # our end of the farm's stdin

stop_farm() {
  [[ -n "$farm_pid" ]] || return 0
  # EOF on its stdin is the farm's polite stop; SIGTERM covers a farm that is not reading.
  if [[ -n "$farm_in" ]]; then exec {farm_in}>&-; fi
  farm_in=""
  kill -TERM "$farm_pid" 2>/dev/null || true
  wait "$farm_pid" 2>/dev/null || true
  farm_pid=""
}
cleanup() {
  stop_farm
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Uses the CMake-built helper when it is newer than its source, otherwise compiles one, so the
# benchmark also runs from a tree where only portwatch was built.
helper() {
  local name="$1" given="$2"
  if [[ -n "$given" ]]; then
    [[ -x "$given" ]] || die "$name not found at $given"
    echo "$given"
    return
  fi
  local built="$repo_root/build/tests/bench/$name"
  if [[ -x "$built" && "$built" -nt "$bench_dir/$name.cpp" ]]; then
    echo "$built"
    return
  fi
  say "compiling $name into $workdir"
  "${CXX:-c++}" -std=c++20 -O2 -Wall -Wextra -o "$workdir/$name" "$bench_dir/$name.cpp" >&2 ||
    die "could not compile $bench_dir/$name.cpp"
  echo "$workdir/$name"
}
farm="$(helper conn_farm "$farm")"
fd_scan="$(helper fd_scan "$fd_scan")"

# The commands compared, in the report's order.
command_ids=(pw_table pw_json ss_tanp ss_tan lsof fd_scan)
declare -A label=(
  [pw_table]="portwatch snapshot"
  [pw_json]="portwatch snapshot --json"
  [ss_tanp]="ss -tanp"
  [ss_tan]="ss -tan"
  [lsof]="lsof -nP -i"
  [fd_scan]="fd_scan (bare readlinkat scan)"
)
set_argv() {
  case "$1" in
    pw_table) argv=("$portwatch" snapshot) ;;
    pw_json) argv=("$portwatch" snapshot --json) ;;
    ss_tanp) argv=(ss -tanp) ;;
    ss_tan) argv=(ss -tan) ;;
    lsof) argv=(lsof -nP -i) ;;
    fd_scan) argv=("$fd_scan") ;;
  esac
}

# Results, keyed "N|id": space-separated seconds per run, peak RSS in KiB, and a state that is
# empty while the command is still being repeated.
declare -A times=() peak_kib=() state=() finished=()

seconds_since() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.4f", e - s }'; }

# Runs argv once under GNU time (peak RSS, which wait4 reports as the maximum over the command
# and the `timeout` wrapper) and timeout; sets run_seconds, run_kib and run_status.
time_once() {
  local start
  start="$EPOCHREALTIME"
  run_status=0
  /usr/bin/time -f '%M' -o "$workdir/time.txt" timeout -k 5 "$timeout_s" "${argv[@]}" \
    >/dev/null 2>"$workdir/stderr.txt" || run_status=$?
  run_seconds="$(seconds_since "$start")"
  run_kib="$(tail -n 1 "$workdir/time.txt")"
}

# Prints "median min max" of the numbers given as arguments.
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%.4f %.4f %.4f\n", m, v[1], v[NR] }'
}
median_of() {
  local -a values
  read -r -a values <<<"${times[$1]:-}"
  ((${#values[@]} > 0)) || return 1
  stats "${values[@]}" | cut -d' ' -f1
}

# The fixed cost of the time + timeout wrappers, included in every figure.
argv=(true)
overheads=()
for _ in 1 2 3 4 5; do
  time_once
  overheads+=("$run_seconds")
done
overhead="$(stats "${overheads[@]}" | cut -d' ' -f1)"

baseline_sockets="$(ss -Htan | wc -l)"
# Another connection-heavy process on the host would be counted in every figure.
baseline_note=""
if ((baseline_sockets > 1000)); then
  baseline_note=" **Warning: that many sockets skew every figure; measure on a quiet host.**"
  say "warning: $baseline_sockets TCP sockets already exist on this host"
fi
declare -A farm_workers=() pw_lines=() fd_line=()

measure_size() {
  local n="$1"
  say "starting conn_farm with $n connections"
  coproc FARM { exec "$farm" "$n" 2>"$workdir/farm.err"; }
  # shellcheck disable=SC2153 # FARM_PID is set by coproc
  farm_pid="$FARM_PID"
  farm_in="${FARM[1]}"
  local ready=""
  if ! read -r -t 600 -u "${FARM[0]}" ready || [[ "$ready" != "ready $n" ]]; then
    cat "$workdir/farm.err" >&2
    die "conn_farm did not become ready for $n connections"
  fi
  farm_workers[$n]="$(grep -o 'over [0-9]*' "$workdir/farm.err" | cut -d' ' -f2)"

  # Both ends of every connection are in the table, hence 2N established sockets. This first
  # pass over the table and /proc also warms the caches every command then shares.
  local established
  established="$(ss -Htan state established | wc -l)"
  ((established >= 2 * n)) || die "only $established established sockets for $n connections"
  fd_line[$n]="$("$fd_scan")"
  pw_lines[$n]="$(timeout "$timeout_s" "$portwatch" snapshot | wc -l)" || pw_lines[$n]="?"

  local round k id key
  for ((round = 0; round < runs; round++)); do
    say "$n connections: round $((round + 1))/$runs"
    # Rotating the start spreads any after-effect of one command over all the others.
    for ((k = 0; k < ${#command_ids[@]}; k++)); do
      id="${command_ids[(k + round) % ${#command_ids[@]}]}"
      key="$n|$id"
      [[ -z "${finished[$key]:-}" ]] || continue
      set_argv "$id"
      time_once
      if ((run_status == 124 || run_status == 137)); then
        state[$key]="timeout >${timeout_s}s"
        finished[$key]=1
        say "  ${label[$id]}: timeout after ${timeout_s}s"
        continue
      elif ((run_status != 0)); then
        state[$key]="failed (exit $run_status)"
        finished[$key]=1
        say "  ${label[$id]}: exit $run_status: $(head -c 300 "$workdir/stderr.txt")"
        continue
      fi
      times[$key]+="$run_seconds "
      if ((run_kib > ${peak_kib[$key]:-0})); then peak_kib[$key]="$run_kib"; fi
      say "  ${label[$id]}: ${run_seconds}s, ${run_kib} KiB"
      if awk -v t="$run_seconds" -v s="$slow_s" 'BEGIN { exit !(t > s) }'; then
        finished[$key]=1 # too slow to repeat; one run is the figure
      fi
    done
  done
  established="$(ss -Htan state established | wc -l)"
  ((established >= 2 * n)) || die "connections were lost during the measurement ($established left)"
  stop_farm
}

for n in "${sizes[@]}"; do measure_size "$n"; done

# ---- report ----------------------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { awk -v v="$1" -v l="$2" 'BEGIN { print (v + 0 <= l + 0) ? "PASS" : "FAIL" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

reproduce="tests/bench/snapshot_bench.sh"
for arg in "${original_args[@]}"; do
  if [[ "$arg" =~ ^[A-Za-z0-9_./=:+-]+$ ]]; then reproduce+=" $arg"; else reproduce+=" \"$arg\""; fi
done

report() {
  local pw_version commit
  pw_version="$("$portwatch" --version 2>/dev/null | head -n 1)" || pw_version="unknown"
  commit="$(git -C "$repo_root" describe --always --dirty 2>/dev/null)" || commit="unknown"
  echo "# portwatch snapshot benchmark"
  echo
  echo "- Reproduce (as root, from the repository root): \`$reproduce\`"
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $commit; portwatch: ${pw_version:-unknown}"
  echo "- Host: Linux $(uname -r), $(nproc) × $(grep -m 1 'model name' /proc/cpuinfo |
    cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' \
    /proc/meminfo) RAM, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "- Medians of $runs interleaved runs (a command slower than ${slow_s}s is not run again; limit" \
    "${timeout_s}s), output to /dev/null. Every figure includes ${overhead}s of time/timeout" \
    "wrapper start-up. TCP sockets on the host besides the farm: $baseline_sockets.$baseline_note"

  local n id key median mn mx count rss tanp ref
  for n in "${sizes[@]}"; do
    echo
    echo "## $n connections"
    echo
    echo "$((2 * n)) established loopback sockets in ${farm_workers[$n]:-?} conn_farm worker processes;" \
      "fd_scan saw: ${fd_line[$n]}; \`portwatch snapshot\` printed ${pw_lines[$n]} lines$(
        [[ "${pw_lines[$n]}" != "?" ]] && ((pw_lines[$n] >= 2 * n)) ||
          echo " (**fewer than the sockets: check its output**)")."
    echo
    echo "| command | median (s) | min (s) | max (s) | runs | peak RSS (MiB, max) | vs ss -tanp |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    tanp="$(median_of "$n|ss_tanp")" || tanp=""
    for id in "${command_ids[@]}"; do
      key="$n|$id"
      if median="$(median_of "$key")"; then
        read -r -a run_list <<<"${times[$key]}"
        read -r median mn mx <<<"$(stats "${run_list[@]}")"
        count="${#run_list[@]}"
        rss="$(mib "${peak_kib[$key]}")"
        echo "| \`${label[$id]}\` | $median | $mn | $mx | $count | $rss |" \
          "$([[ -n "$tanp" ]] && ratio "$median" "$tanp" || echo n/a) |"
      else
        echo "| \`${label[$id]}\` | ${state[$key]:-not run} | | | 0 | | |"
      fi
    done

    echo
    local fd ss_tan pw
    ss_tan="$(median_of "$n|ss_tan")" || ss_tan=""
    fd="$(median_of "$n|fd_scan")" || fd=""
    if [[ -n "$ss_tan" && -n "$fd" ]]; then
      ref="$(awk -v a="$ss_tan" -v b="$fd" 'BEGIN { printf "%.4f", a + b }')"
      echo "Reference \`ss -tan\` + bare fd scan: ${ref}s."
    else
      ref=""
    fi
    echo
    echo "| check | value | target | result |"
    echo "|---|---:|---:|---|"
    for id in pw_table pw_json; do
      if pw="$(median_of "$n|$id")" && [[ -n "$ref" ]]; then
        local r
        r="$(ratio "$pw" "$ref")"
        echo "| \`${label[$id]}\` / (\`ss -tan\` + fd scan) | ${r}× | ≤ 1.30× | $(verdict "$r" 1.30) |"
      else
        echo "| \`${label[$id]}\` / (\`ss -tan\` + fd scan) | n/a | ≤ 1.30× | n/a |"
      fi
    done
    if pw="$(median_of "$n|pw_table")" && [[ -n "$tanp" ]]; then
      echo "| \`ss -tanp\` / \`portwatch snapshot\` (speed-up) | $(ratio "$tanp" "$pw")× | ≈ 6× at 50k" \
        "| info |"
    fi
    if [[ -n "${peak_kib[$n|pw_table]:-}" && -n "${peak_kib[$n|ss_tanp]:-}" ]]; then
      local m
      m="$(ratio "${peak_kib[$n|pw_table]}" "${peak_kib[$n|ss_tanp]}")"
      echo "| peak RSS \`portwatch snapshot\` / \`ss -tanp\` | ${m}× | ≤ 1.00× | $(verdict "$m" 1) |"
    fi
  done

  ((${#sizes[@]} > 1)) || return 0
  # Growth exponent between consecutive sizes: log(t2/t1) / log(N2/N1); 1 is linear, 2 quadratic.
  echo
  echo "## Growth"
  echo
  local header="| command |" rule="|---|" i
  for ((i = 1; i < ${#sizes[@]}; i++)); do
    header+=" exponent ${sizes[i - 1]}→${sizes[i]} |"
    rule+="---:|"
  done
  echo "$header"
  echo "$rule"
  for id in "${command_ids[@]}"; do
    local row="| \`${label[$id]}\` |" t1 t2
    for ((i = 1; i < ${#sizes[@]}; i++)); do
      if t1="$(median_of "${sizes[i - 1]}|$id")" && t2="$(median_of "${sizes[i]}|$id")"; then
        row+=" $(awk -v a="$t1" -v b="$t2" -v n1="${sizes[i - 1]}" -v n2="${sizes[i]}" \
          'BEGIN { printf "%.2f", log(b / a) / log(n2 / n1) }') |"
      else
        row+=" n/a |"
      fi
    done
    echo "$row"
  done
  local last="${sizes[-1]}" prev="${sizes[-2]}" t1 t2 e
  if t1="$(median_of "$prev|pw_table")" && t2="$(median_of "$last|pw_table")"; then
    e="$(awk -v a="$t1" -v b="$t2" -v n1="$prev" -v n2="$last" \
      'BEGIN { printf "%.2f", log(b / a) / log(n2 / n1) }')"
    echo
    echo "Linear growth of \`portwatch snapshot\` from $prev to $last connections: exponent $e" \
      "(target ≤ 1.20): **$(verdict "$e" 1.20)**."
  fi
}

report >"$workdir/report.md"
cat "$workdir/report.md"
if [[ -n "$out" ]]; then
  cp "$workdir/report.md" "$out"
  say "report written to $out"
fi
