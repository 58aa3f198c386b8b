#!/usr/bin/env bash
# Busy-machine check for issue 4: the 2-thread latency of `kerasrun bench`
# on the ../shared/perf workloads, quiet and with one core kept busy by
# another process (`yes > /dev/null`), side by side.
#
#   scripts/busycore.sh          # or: make busycore
#
# For each workload and batch it alternates quiet and busy runs
# BUSY_ROUNDS times (default 3; each a fresh process timing Predict for
# BUSY_BUDGET seconds, default 1) and prints the median of each and their
# ratio. The target is a ratio of at most 2. It needs the harness's
# models: run ../shared/perf/run_peers.sh once, or set PERF_WORK to where
# its build/ folder is (default /tmp/kerasrun-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${PERF_WORK:-/tmp/kerasrun-perf}
rounds=${BUSY_ROUNDS:-3}
budget=${BUSY_BUDGET:-1}
[ -f "$work/build/W1.h5" ] || { echo "busycore: no $work/build/W1.h5; run ../shared/perf/run_peers.sh first (or set PERF_WORK)" >&2; exit 1; }
go build -o bin/kerasrun ./cmd/kerasrun
hog=
trap '[ -n "$hog" ] && kill $hog 2>/dev/null || true' EXIT
run() { # workload batch -> median ms
  GOMAXPROCS=2 bin/kerasrun bench --model "$work/build/$1.h5" --batch "$2" --threads 2 \
    --input "$work/build/$1.b$2.input.bin" --budget "$budget" |
    sed -n 's/.*"median_ms":\([0-9.e+-]*\).*/\1/p'
}
printf '%-4s %5s %10s %10s %6s\n' workload batch quiet_ms busy_ms ratio
for w in W1 W2 W3; do
  for b in 1 32; do
    quiet=() busy=()
    for ((r = 0; r < rounds; r++)); do
      quiet+=("$(run $w $b)")
      yes > /dev/null & hog=$!
      sleep 0.3
      busy+=("$(run $w $b)")
      kill $hog; wait $hog 2>/dev/null || true; hog=
    done
    med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
    q=$(med "${quiet[@]}") s=$(med "${busy[@]}")
    awk -v w=$w -v b=$b -v q=$q -v s=$s 'BEGIN {printf "%-8s %5d %10.3f %10.3f %6.2f\n", w, b, q, s, s/q}'
  done
done
