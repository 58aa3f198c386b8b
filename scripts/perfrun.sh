#!/usr/bin/env bash
# One run of the peer harness (../shared/perf) with kerasrun as two more
# columns (1 and 2 threads), as BENCHMARKS.md records it, then a check of
# every kerasrun output of that run against tools/perf_ref.py.
#
#   scripts/perfrun.sh [run_peers.sh options]    e.g. --quick, or
#   scripts/perfrun.sh --only ort-node,kerasrun --quick
#
# The harness's own output check marks W1 and W3 WRONG for kerasrun: its
# reference runs CuDNNLSTM weights as native LSTM weights, which Keras does
# not (see BENCHMARKS.md). perf_ref.py computes the Keras answer
# independently (numpy/PyTorch, never our Go code); this script keeps each
# kerasrun output and checks it against that, to the harness's 1e-4.
#
# Needs ../shared/perf/setup_peers.sh to have run once. Results go to
# PERF_WORK (default /tmp/kerasrun-perf): results-peers.json, the generated
# models in build/, the kept outputs in kerasrun-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
perf=$(cd ../shared/perf && pwd)
work=${PERF_WORK:-/tmp/kerasrun-perf}
keep=$work/kerasrun-out
go build -o bin/kerasrun ./cmd/kerasrun
# The CPU goes beside every figure: BENCHMARKS.md keeps one table per CPU.
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|avx512(f|bw|dq|vl)' | sort | tr '\n' ' ')
echo "== CPU: ${cpu:-unknown} ($(nproc) CPUs); flags: ${flags:-none of avx2/fma/avx512}" >&2
echo "== kerasrun $(bin/kerasrun version | grep '^kernels:')" >&2
echo "== OPENBLAS_CORETYPE for the floor: ${OPENBLAS_CORETYPE:-unset} (the harness keeps the faster correct of it and unset)" >&2
mkdir -p "$keep"
rm -f "$keep"/*.bin
conf=$work/peers-kerasrun.conf
# Every peer of peers.conf except tfjs-cpu (100-300x slower than the rest)
# and tfjs-node (it cannot install offline), with kerasrun's columns right
# after ort-node's: the harness runs the columns of a case one after the
# other, and this VM's speed drifts over minutes, so the two columns
# compared are measured next to each other.
kr=$work/kerasrun-columns.conf
: >"$kr"
for t in 1 2; do
	echo "kerasrun $t sh -c '$root/bin/kerasrun bench --model {h5} --batch {batch} --threads {threads} --input {input} --out {out} --budget {budget} --json && cp {out} $keep/{workload}.b{batch}.t{threads}.bin'" >>"$kr"
done
grep -v '^tfjs-cpu\|^tfjs-node\|^# *kerasrun' "$perf/peers.conf" |
	awk -v kr="$kr" '{print} /^ort-node +2 / {while ((getline l < kr) > 0) print l}' >"$conf"
grep -q '^kerasrun' "$conf" || cat "$kr" >>"$conf"
(cd "$perf" && PERF_WORK="$work" bash run_peers.sh --conf "$conf" "$@")

echo
echo "kerasrun outputs of this run against tools/perf_ref.py (Keras-correct, tolerance 1e-4):"
fail=0
for f in "$keep"/*.bin; do
	[ -e "$f" ] || continue
	name=$(basename "$f" .bin) # W1.b32.t2
	w=${name%%.*}
	b=${name#*.b}
	b=${b%%.*}
	printf '%-12s ' "$name"
	/usr/bin/python3 tools/perf_ref.py --build "$work/build" --workload "$w" --batch "$b" --check "$f" || fail=1
done
exit $fail
