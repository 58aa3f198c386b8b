#!/usr/bin/env bash
# MobileNetV2 224x224 latency: kerasrun beside onnxruntime-node on the same
# model and weights, batch 1 and 32, 1 and 2 threads (BENCHMARKS.md,
# "MobileNetV2 224x224 (image models)").
#
#   scripts/mobilenet_bench.sh [MODEL.h5]
#     default MODEL: ../shared/keras-real-3/tm_mobilenetv2_963n/model.h5
#     (Teachable Machine's MobileNetV2 alpha 0.35 with a Dense head)
#   env: MN_ROUNDS (default 3), MN_BUDGET (timed seconds per process, default 2),
#        MN_SEED (input seed, default 0), MN_QUIET_WAIT (seconds, default 5),
#        MN_JSON (write every sample there), PEERS_DIR (default /opt/peers)
#
# tools/mobilenet_onnx.py writes the ONNX copy of the model (from the .h5's own
# config and weights; NHWC input, the Transpose to NCHW inside the graph, so
# both runtimes take the same bytes and the transposition is timed) and the
# seeded inputs, uniform in [-1, 1), into a temporary folder. When the model's
# folder has input_0.npy and expected_0.npy, the ONNX model and kerasrun are
# first checked against that reference (max abs error <= 1e-4).
#
# Timing: every run is its own process with GOMAXPROCS, OMP_NUM_THREADS and
# OPENBLAS_NUM_THREADS set to its thread count. kerasrun is `bin/kerasrun
# bench`; ORT is ../shared/perf/peers/peer_ort.js unchanged (intraOpNumThreads
# = threads, sequential, all graph optimizations). Both follow the harness's
# policy: load, warm up (at least 1 call; up to 3 or 20 % of the budget), then
# time single calls until MN_BUDGET seconds are spent with at least 3 samples
# (at most 200). The two runtimes alternate within each case and round (the
# order flips every round), so both meet the same machine noise; samples of
# all rounds are pooled into median and p10-p90. "other" is the most CPU, in
# cores, that other processes used during any run of the case (from
# /proc/stat, as the harness's driver measures it); above 0.25 the case is
# marked "~" (contended). Needs ../shared/perf/setup_peers.sh to have run (or
# at least onnxruntime-node in $PEERS_DIR/ort and Debian's python3-onnx).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
perf=$(cd ../shared/perf && pwd)
model=$(realpath "${1:-../shared/keras-real-3/tm_mobilenetv2_963n/model.h5}")
peers=${PEERS_DIR:-/opt/peers}
[ -d "$peers/ort/node_modules/onnxruntime-node" ] ||
  { echo "mobilenet_bench: no onnxruntime-node in $peers/ort; run ../shared/perf/setup_peers.sh" >&2; exit 1; }
go build -o bin/kerasrun ./cmd/kerasrun
tmp=$(mktemp -d /tmp/mobilenet-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dir=$(dirname "$model")
/usr/bin/python3 tools/mobilenet_onnx.py "$model" --build "$tmp" --name MN --batches 1,32 --seed "${MN_SEED:-0}"
if [ -f "$dir/input_0.npy" ] && [ -f "$dir/expected_0.npy" ]; then
  /usr/bin/python3 tools/mobilenet_onnx.py "$model" --build "$tmp/check" --name MN --batches "" \
    --check-input "$dir/input_0.npy"
  b=$(/usr/bin/python3 -c "import numpy as np,sys; print(np.load(sys.argv[1], mmap_mode='r').shape[0])" "$dir/input_0.npy")
  (cd "$perf" && PEERS_DIR=$peers node peers/peer_ort.js --workload MN --batch "$b" --threads 1 \
    --build "$tmp/check" --out "$tmp/check.ort.bin" --budget 0 >/dev/null)
  bin/kerasrun bench --model "$model" --batch "$b" --input "$dir/input_0.npy" --out "$tmp/check.kr.bin" \
    --budget 0 >/dev/null
  printf 'check against %s: ORT ' "$dir/expected_0.npy"
  /usr/bin/python3 tools/mobilenet_onnx.py --compare "$tmp/check.ort.bin" "$dir/expected_0.npy"
  printf 'check against %s: kerasrun ' "$dir/expected_0.npy"
  /usr/bin/python3 tools/mobilenet_onnx.py --compare "$tmp/check.kr.bin" "$dir/expected_0.npy"
fi

PEERS_DIR=$peers /usr/bin/python3 - "$root" "$perf" "$tmp" "$model" <<'EOF'
import json, os, subprocess, sys, time
import numpy as np

root, perf, tmp, model = sys.argv[1:5]
rounds = int(os.environ.get("MN_ROUNDS", "3"))
budget = os.environ.get("MN_BUDGET", "2")
quiet_wait = float(os.environ.get("MN_QUIET_WAIT", "5"))
HZ = os.sysconf("SC_CLK_TCK")


def busy():
    """Busy CPU seconds of the whole machine so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / HZ


def wait_quiet():
    """Wait (bounded by MN_QUIET_WAIT) until other processes use under 0.25 cores."""
    t0 = time.time()
    while time.time() - t0 < quiet_wait:
        b0 = busy(); time.sleep(0.5)
        if (busy() - b0) / 0.5 < 0.25:
            return


def children_cpu():
    t = os.times()
    return t.children_user + t.children_system


def run(who, b, t):
    out = os.path.join(tmp, "%s.b%d.t%d.out" % (who, b, t))
    if who == "kerasrun":
        cmd = [os.path.join(root, "bin/kerasrun"), "bench", "--model", model, "--batch", str(b),
               "--threads", str(t), "--input", os.path.join(tmp, "MN.b%d.input.bin" % b),
               "--out", out, "--budget", budget, "--json"]
        cwd = root
    else:
        cmd = ["node", "peers/peer_ort.js", "--workload", "MN", "--batch", str(b), "--threads", str(t),
               "--build", tmp, "--out", out, "--budget", budget]
        cwd = perf
    env = dict(os.environ, GOMAXPROCS=str(t), OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))
    wait_quiet()
    b0, c0, w0 = busy(), children_cpu(), time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=300)
    wall = time.perf_counter() - w0
    other = max(0.0, (busy() - b0 - (children_cpu() - c0)) / wall)
    if p.returncode != 0:
        sys.exit("mobilenet_bench: %s failed:\n%s" % (" ".join(cmd), p.stderr.decode()[-2000:]))
    r = json.loads(p.stdout.decode().strip().splitlines()[-1])
    return r["times_ms"], other, np.fromfile(out, dtype="<f4")


cases = [(1, 1), (1, 2), (32, 1), (32, 2)]
res = {c: {"kerasrun": [], "ort": [], "other": 0.0, "diff": 0.0} for c in cases}
t_start = time.time()
for rnd in range(rounds):
    for c in cases:
        outs = {}
        for who in (["kerasrun", "ort"] if rnd % 2 == 0 else ["ort", "kerasrun"]):
            times, other, outs[who] = run(who, *c)
            res[c][who] += times
            res[c]["other"] = max(res[c]["other"], other)
        d = outs["kerasrun"].astype(np.float64) - outs["ort"]
        res[c]["diff"] = max(res[c]["diff"], float(np.max(np.abs(d))) if d.size else 0.0)


def fmt(v):
    return "%.0f" % v if v >= 100 else "%.3g" % v


def stat(v):
    p10, med, p90 = np.percentile(v, [10, 50, 90])
    return med, "%s (%s-%s)" % (fmt(med), fmt(p10), fmt(p90))


print("\nMobileNetV2 224x224, %s: %d rounds, %s s timed per process, runs took %.0f s"
      % (os.path.relpath(model, root), rounds, budget, time.time() - t_start))
print("| case | kerasrun ms (p10-p90) | ort-node ms (p10-p90) | ratio | samples kr / ort | other cores | max abs diff |")
print("|---|---|---|---|---|---|---|")
bad = False
for b, t in cases:
    r = res[(b, t)]
    km, ks = stat(r["kerasrun"])
    om, os_ = stat(r["ort"])
    mark = "~" if r["other"] > 0.25 else ""
    bad |= not (r["diff"] <= 1e-4)
    print("| b%d %dt%s | %s | %s | %.2f | %d / %d | %.2f | %.1e |" % (
        b, t, mark, ks, os_, km / om, len(r["kerasrun"]), len(r["ort"]), r["other"], r["diff"]))
print("ratio = kerasrun median / ort-node median; ~ = other processes used over 0.25 cores during a run")
out = os.environ.get("MN_JSON")
if out:
    with open(out, "w") as f:
        json.dump({"model": model, "rounds": rounds, "budget_s": float(budget),
                   "cases": [dict(batch=b, threads=t, kerasrun_ms=res[(b, t)]["kerasrun"],
                                  ort_ms=res[(b, t)]["ort"], other_cores=res[(b, t)]["other"],
                                  max_abs_diff=res[(b, t)]["diff"]) for b, t in cases]}, f)
if bad:
    sys.exit("mobilenet_bench: kerasrun and ORT outputs differ by more than 1e-4")
EOF
