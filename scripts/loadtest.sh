#!/usr/bin/env bash
# Load test of `kerasrun serve` on loopback (127.0.0.1 only), outside the
# default test run.
#
#   scripts/loadtest.sh              # or: make loadtest
#
# It serves W1 of ../shared/perf (the seq-tagger: Conv1D, two Bidirectional
# CuDNNLSTMs, Dense; input [N,100,32]), once with dynamic batching and once
# without, and drives each with the Go load generator
# (serve/internal/loadgen): LOADTEST_CONCURRENCY clients in a closed loop,
# each sending one sample per request with the binary tensor extension,
# for LOADTEST_DURATION after a 1 s warm-up. Every response is checked
# against kerasrun's own Predict of the same samples (a serial batch-32
# run, to 1e-5), so wrong rows count as errors. It prints throughput, p50,
# p90, p99 and errors for each run and exits 1 if any request failed.
#
# Environment:
#   LOADTEST_DURATION     measured time per run (default 10s)
#   LOADTEST_CONCURRENCY  concurrent clients (default 32)
#   LOADTEST_WORK         scratch folder (default /tmp/kerasrun-loadtest)
#   LOADTEST_BATCH_FLAGS  serve flags of the batching run
#                         (default "--max-batch 32 --max-delay 2ms")
#   LOADTEST_NOBATCH_FLAGS serve flags of the run without batching
#                         (default "--max-batch 1")
#   PERF_DIR              ../shared/perf
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PERF=${PERF_DIR:-$ROOT/../shared/perf}
WORK=${LOADTEST_WORK:-/tmp/kerasrun-loadtest}
DURATION=${LOADTEST_DURATION:-10s}
CONC=${LOADTEST_CONCURRENCY:-32}
BATCH_FLAGS=${LOADTEST_BATCH_FLAGS:---max-batch 32 --max-delay 2ms}
NOBATCH_FLAGS=${LOADTEST_NOBATCH_FLAGS:---max-batch 1}

mkdir -p "$WORK"
cd "$ROOT"

# The workload: W1.h5 and 32 input samples, made by ../shared/perf.
if [ ! -f "$WORK/W1.h5" ] || [ ! -f "$WORK/W1.b32.input.bin" ]; then
	if [ ! -f "$PERF/peers/gen.py" ]; then
		echo "loadtest: $PERF/peers/gen.py not found (set PERF_DIR)" >&2
		exit 1
	fi
	echo "loadtest: generating the perf workloads into $WORK" >&2
	/usr/bin/python3 "$PERF/peers/gen.py" "$WORK" >/dev/null
fi

go build -o "$WORK/kerasrun" ./cmd/kerasrun
go build -o "$WORK/loadgen" ./serve/internal/loadgen

# The reference: kerasrun's own Predict on the 32 samples as one batch.
"$WORK/kerasrun" bench --model "$WORK/W1.h5" --batch 32 --input "$WORK/W1.b32.input.bin" \
	--out "$WORK/W1.b32.kerasrun.bin" --budget 0.1 --json >/dev/null

SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT

# run LABEL SERVE-FLAGS...: serve W1 on a free loopback port, load it, stop
# it with SIGTERM; prints the loadgen's JSON line.
run() {
	local label=$1
	shift
	local log="$WORK/server-$label.log"
	"$WORK/kerasrun" serve --model "W1=$WORK/W1.h5" --addr 127.0.0.1:0 --log-level info "$@" >"$log" 2>&1 &
	SERVER_PID=$!
	local addr=
	for _ in $(seq 1 200); do
		addr=$(sed -n 's/.*"msg":"listening","addr":"\([0-9.:]*\)".*/\1/p' "$log" | head -n1)
		[ -n "$addr" ] && break
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			cat "$log" >&2
			return 1
		fi
		sleep 0.05
	done
	if [ -z "$addr" ]; then
		echo "loadtest: the server did not start" >&2
		cat "$log" >&2
		return 1
	fi
	local rc=0
	"$WORK/loadgen" --url "http://$addr" --model W1 --input "$WORK/W1.b32.input.bin" \
		--ref "$WORK/W1.b32.kerasrun.bin" --atol 1e-5 --rows 32 \
		--concurrency "$CONC" --duration "$DURATION" --label "$label" >"$WORK/result-$label.json" || rc=$?
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || rc=1
	SERVER_PID=
	cat "$WORK/result-$label.json"
	return $rc
}

status=0
echo "kerasrun serve load test: W1, $CONC clients, $DURATION per run, $(nproc) CPUs shared by server and clients"
# shellcheck disable=SC2086
run batching $BATCH_FLAGS || status=1
# shellcheck disable=SC2086
run no-batching $NOBATCH_FLAGS || status=1

# A table from the two JSON lines.
/usr/bin/python3 - "$WORK/result-batching.json" "$WORK/result-no-batching.json" "$BATCH_FLAGS" "$NOBATCH_FLAGS" <<'EOF' || true
import json, sys
rows = []
for path, flags in ((sys.argv[1], sys.argv[3]), (sys.argv[2], sys.argv[4])):
    try:
        r = json.load(open(path))
    except Exception:
        continue
    rows.append((r["label"], flags, r["throughput_rps"], r["p50_ms"], r["p90_ms"], r["p99_ms"], r["errors"], r["requests"], r.get("mean_batch", 0)))
print()
print("| run | serve flags | req/s | p50 ms | p90 ms | p99 ms | errors | requests | mean batch |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| %s | `%s` | %.0f | %.1f | %.1f | %.1f | %d | %d | %.1f |" % r)
EOF
exit $status
