#!/usr/bin/env bash
# Busy-machine check for issue 4: the 2-thread latency of `kerasrun bench`
# on the ../shared/perf workloads, quiet and with one core kept busy by
# another process (`yes > /dev/null`), side by side.
#
#   scripts/busycore.sh          # or: make busycore
#   BUSY_BASE=/tmp/old/kerasrun scripts/busycore.sh   # and another build, alternating
#
# For each workload and batch it alternates quiet and busy runs
# BUSY_ROUNDS times (default 3; each a fresh process timing Predict for
# BUSY_BUDGET seconds, default 1) and prints the median of each and their
# ratio. The target is a ratio of at most 2. With BUSY_BASE set to another
# kerasrun binary (an older commit's, say), each round runs that binary
# right before this one, quiet and busy, and the base's columns are printed
# too: the two builds then meet the same moments of a noisy machine.
# BUSY_FLAGS and BUSY_BASE_FLAGS add flags to this build's and the base's
# bench runs: BUSY_BASE=bin/kerasrun BUSY_FLAGS=--pin-threads compares
# thread pinning (the opt-in) with the default in one build. It
# needs the harness's models: run ../shared/perf/run_peers.sh once, or set
# PERF_WORK to where its build/ folder is (default /tmp/kerasrun-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${PERF_WORK:-/tmp/kerasrun-perf}
rounds=${BUSY_ROUNDS:-3}
budget=${BUSY_BUDGET:-1}
base=${BUSY_BASE:-}
[ -f "$work/build/W1.h5" ] || { echo "busycore: no $work/build/W1.h5; run ../shared/perf/run_peers.sh first (or set PERF_WORK)" >&2; exit 1; }
[ -z "$base" ] || [ -x "$base" ] || { echo "busycore: BUSY_BASE=$base is not an executable" >&2; exit 1; }
go build -o bin/kerasrun ./cmd/kerasrun
hog=
trap '[ -n "$hog" ] && kill $hog 2>/dev/null || true' EXIT
flags=${BUSY_FLAGS:-}
bflags=${BUSY_BASE_FLAGS:-}
run() { # binary flags workload batch -> median ms
  # shellcheck disable=SC2086 # the flags are words
  GOMAXPROCS=2 "$1" bench $2 --model "$work/build/$3.h5" --batch "$4" --threads 2 \
    --input "$work/build/$3.b$4.input.bin" --budget "$budget" |
    sed -n 's/.*"median_ms":\([0-9.e+-]*\).*/\1/p'
}
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
if [ -n "$base" ]; then
  printf '%-4s %5s %10s %10s %6s %10s %10s %6s\n' workload batch quiet_ms busy_ms ratio base_quiet base_busy ratio
else
  printf '%-4s %5s %10s %10s %6s\n' workload batch quiet_ms busy_ms ratio
fi
for w in W1 W2 W3; do
  for b in 1 32; do
    quiet=() busy=() bquiet=() bbusy=()
    for ((r = 0; r < rounds; r++)); do
      [ -z "$base" ] || bquiet+=("$(run "$base" "$bflags" $w $b)")
      quiet+=("$(run bin/kerasrun "$flags" $w $b)")
      yes > /dev/null & hog=$!
      sleep 0.3
      [ -z "$base" ] || bbusy+=("$(run "$base" "$bflags" $w $b)")
      busy+=("$(run bin/kerasrun "$flags" $w $b)")
      kill $hog; wait $hog 2>/dev/null || true; hog=
    done
    q=$(med "${quiet[@]}") s=$(med "${busy[@]}")
    if [ -n "$base" ]; then
      bq=$(med "${bquiet[@]}") bs=$(med "${bbusy[@]}")
      awk -v w=$w -v b=$b -v q=$q -v s=$s -v bq=$bq -v bs=$bs 'BEGIN {printf "%-8s %5d %10.3f %10.3f %6.2f %10.3f %10.3f %6.2f\n", w, b, q, s, s/q, bq, bs, bs/bq}'
    else
      awk -v w=$w -v b=$b -v q=$q -v s=$s 'BEGIN {printf "%-8s %5d %10.3f %10.3f %6.2f\n", w, b, q, s, s/q}'
    fi
  done
done
