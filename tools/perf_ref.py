#!/usr/bin/python3
"""Independent reference outputs for the perf harness workloads W1, W2, W3.

What: reads a harness model file (`Wn.h5`, written by ../shared/perf/peers/gen.py)
directly with h5py and computes its output in float64 with numpy and PyTorch. It
knows only the layer classes those three models use (InputLayer, Conv1D,
Bidirectional(CuDNNLSTM|LSTM) with merge_mode concat, CuDNNLSTM, LSTM, Embedding,
MaxPooling1D, Dense) and refuses anything else with an error. It never runs the Go
code.

Why: the harness's numpy reference (`np_lstm` in peers/workloads.py) feeds
CuDNNLSTM weights to its LSTM as if they were native LSTM weights. Keras does not:
when it runs CuDNNLSTM weights as a plain LSTM it converts them
(keras/engine/saving.py, `_convert_rnn_weights`; ../shared/KERAS_H5.md, "CuDNN
layers"). Per gate block (order i, f, c, o; u columns each):
  - input kernel block k [in, u]  ->  k.T.reshape(k.shape, order='F')
  - recurrent kernel block        ->  its transpose
  - bias                          ->  sum of the two 4u halves of the 8u bias.
So the harness's `Wn.bB.ref.bin` is wrong for W1 and W3 (the workloads with
CuDNNLSTM) and right for W2 (no CuDNN layer). This script gives the Keras answer.

How (Debian's /usr/bin/python3 has numpy, h5py and torch):

  # write the output for DIR/W1.b32.input.bin (float32, little-endian, row-major)
  /usr/bin/python3 tools/perf_ref.py --build /tmp/kerasrun-perf/build --workload W1 --batch 32 --out w1.bin

  # compare a candidate output with the reference; exit status 1 on FAIL
  /usr/bin/python3 tools/perf_ref.py --build /tmp/kerasrun-perf/build --workload W1 --batch 32 \\
      --check w1.bin [--tol 1e-4]

  # self-test against the harness's own references (see selftest())
  /usr/bin/python3 tools/perf_ref.py --build /tmp/kerasrun-perf/build --selftest

`--as-native` skips the CuDNN conversion (only the bias halves are summed), which
reproduces the harness's convention; the self-test uses it to show that the model
reader agrees with the harness everywhere except in that conversion.
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

DTYPE = torch.float64


class Unsupported(Exception):
    """The model uses something this reference does not implement."""


# --------------------------------------------------------------------------
# Reading the .h5 file
# --------------------------------------------------------------------------
def _str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def read_model(path):
    """Return (layers, weights, input_shape).

    layers: [(class_name, config)] of the Sequential model, in order.
    weights: {layer name: [np.float64 array, ...]} in the order of the layer
    group's weight_names attribute.
    input_shape: per-sample input shape from the first batch_input_shape.
    """
    with h5py.File(path, "r") as f:
        mc = json.loads(_str(f.attrs["model_config"]))
        if mc.get("class_name") != "Sequential":
            raise Unsupported("model class %r (only Sequential)" % mc.get("class_name"))
        cfg = mc["config"]
        raw = cfg["layers"] if isinstance(cfg, dict) else cfg  # Keras 2.2 dict, older list
        layers = [(L["class_name"], L["config"]) for L in raw]
        g = f["model_weights"]
        weights = {}
        for _, c in layers:
            lg = g[c["name"]]
            weights[c["name"]] = [np.asarray(lg[_str(n)], dtype=np.float64)
                                  for n in lg.attrs["weight_names"]]
    shapes = [c["batch_input_shape"] for _, c in layers if "batch_input_shape" in c]
    if not shapes or any(d is None for d in shapes[0][1:]):
        raise Unsupported("the model has no fixed batch_input_shape")
    return layers, weights, tuple(shapes[0][1:])


# --------------------------------------------------------------------------
# LSTM weights
# --------------------------------------------------------------------------
def cudnn_to_native(k, r, b):
    """CuDNNLSTM weights -> native Keras LSTM weights, as Keras's loader does."""
    u = r.shape[0]
    # Each input block's row-major buffer is what cuDNN reads as W [u, in];
    # the native kernel block [in, u] is W.T. Keras writes it like this:
    kernel = np.hstack([blk.T.reshape(blk.shape, order="F") for blk in np.hsplit(k, 4)])
    recurrent = np.hstack([blk.T for blk in np.hsplit(r, 4)])
    return kernel, recurrent, b[:4 * u] + b[4 * u:]


def lstm_weights(cls, cfg, ws, as_native):
    """Native-layout (kernel [in, 4u], recurrent [u, 4u], bias [4u]) for an
    LSTM or CuDNNLSTM layer; checks the config for what torch.nn.LSTM can run."""
    for key in ("return_state", "go_backwards", "stateful"):
        if cfg.get(key):
            raise Unsupported("%s %s: %s=True" % (cls, cfg["name"], key))
    if len(ws) != 3:
        raise Unsupported("%s %s: %d weights (expected kernel, recurrent_kernel, bias)"
                          % (cls, cfg["name"], len(ws)))
    k, r, b = ws
    u = cfg["units"]
    nb = 8 * u if cls == "CuDNNLSTM" else 4 * u
    if k.shape[1] != 4 * u or r.shape != (u, 4 * u) or b.shape != (nb,):
        raise Unsupported("%s %s: weight shapes %s %s %s do not fit units=%d"
                          % (cls, cfg["name"], k.shape, r.shape, b.shape, u))
    if cls == "LSTM":
        acts = (cfg.get("activation"), cfg.get("recurrent_activation"), cfg.get("use_bias"))
        if acts != ("tanh", "sigmoid", True):
            raise Unsupported("LSTM %s: activation/recurrent_activation/use_bias %s "
                              "(only tanh/sigmoid/True)" % (cfg["name"], acts))
        return k, r, b
    if as_native:
        return k, r, b[:4 * u] + b[4 * u:]
    return cudnn_to_native(k, r, b)


def run_lstm(x, weights, return_sequences, reverse=False):
    """One LSTM direction on x [B, T, in]. Keras gate order i,f,c,o equals
    torch's i,f,g,o; torch takes weight_ih [4u, in] = kernel.T, weight_hh =
    recurrent.T. A reverse direction reads x from the last step to the first;
    its sequence output is flipped back so that step t lines up with x_t, and its
    last state is the one after x_0 (what Keras's Bidirectional returns)."""
    k, r, b = weights
    u = r.shape[0]
    lstm = torch.nn.LSTM(k.shape[0], u, batch_first=True).to(DTYPE)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(k.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(r.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
        y, (h_last, _) = lstm(x.flip(1) if reverse else x)
    if return_sequences:
        return y.flip(1) if reverse else y
    return h_last[0]


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------
def _activation(name, h, where):
    if name == "linear":
        return h
    if name == "relu":
        return torch.relu(h)
    if name == "sigmoid":
        return torch.sigmoid(h)
    if name == "softmax":
        return torch.softmax(h, dim=-1)
    raise Unsupported("%s: activation %r" % (where, name))


def conv1d(cfg, ws, h):
    name = cfg["name"]
    if (list(cfg["strides"]) != [1] or list(cfg["dilation_rate"]) != [1]
            or cfg["data_format"] != "channels_last" or not cfg["use_bias"]):
        raise Unsupported("Conv1D %s: only strides 1, dilation 1, channels_last, with bias" % name)
    k, b = ws  # k [K, in, out]
    K = k.shape[0]
    x = h.transpose(1, 2)  # [B, in, T]
    if cfg["padding"] == "causal":
        x = F.pad(x, (K - 1, 0))
    elif cfg["padding"] != "valid":
        raise Unsupported("Conv1D %s: padding %r" % (name, cfg["padding"]))
    w = torch.from_numpy(np.ascontiguousarray(k.transpose(2, 1, 0)))  # [out, in, K]
    y = F.conv1d(x, w, torch.from_numpy(b)).transpose(1, 2)
    return _activation(cfg["activation"], y, "Conv1D " + name)


def max_pooling1d(cfg, h):
    if cfg["padding"] != "valid" or cfg.get("data_format", "channels_last") != "channels_last":
        raise Unsupported("MaxPooling1D %s: only padding valid, channels_last" % cfg["name"])
    pool, stride = cfg["pool_size"][0], cfg["strides"][0]
    return F.max_pool1d(h.transpose(1, 2), pool, stride).transpose(1, 2)


def embedding(cfg, ws, h):
    if cfg.get("mask_zero"):
        raise Unsupported("Embedding %s: mask_zero=True" % cfg["name"])
    (e,) = ws
    if h.min() < 0 or h.max() >= e.shape[0]:
        raise ValueError("Embedding %s: token out of [0, %d)" % (cfg["name"], e.shape[0]))
    return torch.from_numpy(e)[h]


def dense(cfg, ws, h):
    if not cfg["use_bias"]:
        raise Unsupported("Dense %s: use_bias=False" % cfg["name"])
    k, b = ws
    y = h @ torch.from_numpy(k) + torch.from_numpy(b)
    return _activation(cfg["activation"], y, "Dense " + cfg["name"])


def bidirectional(cfg, ws, h, as_native):
    name = cfg["name"]
    if cfg.get("merge_mode") != "concat":
        raise Unsupported("Bidirectional %s: merge_mode %r (only concat)" % (name, cfg.get("merge_mode")))
    inner_cls, inner = cfg["layer"]["class_name"], cfg["layer"]["config"]
    if inner_cls not in ("LSTM", "CuDNNLSTM"):
        raise Unsupported("Bidirectional %s: inner layer %s" % (name, inner_cls))
    if len(ws) != 6:
        raise Unsupported("Bidirectional %s: %d weights (expected 3 forward + 3 backward)" % (name, len(ws)))
    rs = inner["return_sequences"]
    fwd = run_lstm(h, lstm_weights(inner_cls, inner, ws[:3], as_native), rs)
    bwd = run_lstm(h, lstm_weights(inner_cls, inner, ws[3:], as_native), rs, reverse=True)
    return torch.cat([fwd, bwd], dim=-1)


def forward(layers, weights, x, as_native=False):
    """Run the model on x (np array [B, ...input_shape]); returns float64 numpy."""
    h = torch.from_numpy(x.astype(np.int64) if x.dtype.kind == "i" else x.astype(np.float64))
    for cls, cfg in layers:
        ws = weights[cfg["name"]]
        if cls == "InputLayer":
            continue
        elif cls == "Conv1D":
            h = conv1d(cfg, ws, h)
        elif cls == "MaxPooling1D":
            h = max_pooling1d(cfg, h)
        elif cls == "Embedding":
            h = embedding(cfg, ws, h)
        elif cls == "Dense":
            h = dense(cfg, ws, h)
        elif cls in ("LSTM", "CuDNNLSTM"):
            h = run_lstm(h, lstm_weights(cls, cfg, ws, as_native), cfg["return_sequences"])
        elif cls == "Bidirectional":
            h = bidirectional(cfg, ws, h, as_native)
        else:
            raise Unsupported("layer class %s (%s)" % (cls, cfg["name"]))
    return h.numpy()


# --------------------------------------------------------------------------
# Files and modes
# --------------------------------------------------------------------------
def reference(build, workload, batch, as_native=False):
    """Model output for build/<workload>.b<batch>.input.bin, float64."""
    layers, weights, shape = read_model(os.path.join(build, workload + ".h5"))
    # The harness writes int32 token ids for an Embedding-first model, else float32.
    first = next(cls for cls, _ in layers if cls != "InputLayer")
    dtype = "<i4" if first == "Embedding" else "<f4"
    x = np.fromfile(os.path.join(build, "%s.b%d.input.bin" % (workload, batch)), dtype=dtype)
    return forward(layers, weights, x.reshape((batch,) + shape), as_native)


def max_abs_err(ref, path):
    got = np.fromfile(path, dtype="<f4").astype(np.float64)
    if got.size != ref.size:
        raise ValueError("%s: %d values, the reference has %d" % (path, got.size, ref.size))
    return float(np.max(np.abs(got - ref.ravel())))


def selftest(build):
    """W2 (no CuDNN layer) must equal the harness reference within 1e-6. W1 and
    W3 computed with --as-native must equal it within 1e-5: then the reader is
    right, and the Keras conversion is the only difference. The last column shows
    how far the harness reference is from the Keras answer."""
    ok = True
    print("workload batch  mode       tol    max|ref-harness|  result   keras-vs-harness")
    for workload in ("W1", "W2", "W3"):
        for batch in (1, 32):
            harness = os.path.join(build, "%s.b%d.ref.bin" % (workload, batch))
            native = workload != "W2"
            tol = 1e-5 if native else 1e-6
            err = max_abs_err(reference(build, workload, batch, as_native=native), harness)
            diff = max_abs_err(reference(build, workload, batch), harness) if native else err
            passed = err <= tol
            ok &= passed
            print("%-8s %5d  %-9s %6.0e  %16.3e  %-6s   %.3e" % (
                workload, batch, "as-native" if native else "keras", tol, err,
                "PASS" if passed else "FAIL", diff))
    print("selftest", "PASS" if ok else "FAIL")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True, help="harness build dir (Wn.h5, Wn.bB.input.bin, ...)")
    ap.add_argument("--workload", help="W1, W2 or W3")
    ap.add_argument("--batch", type=int, help="batch size of the input file (1 or 32)")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", help="write the reference output here (float32 LE)")
    mode.add_argument("--check", help="compare this float32 LE output with the reference")
    mode.add_argument("--selftest", action="store_true", help="check against the harness references")
    ap.add_argument("--tol", type=float, default=1e-4, help="max abs error for --check (default 1e-4)")
    ap.add_argument("--as-native", action="store_true",
                    help="do not convert CuDNN weights (the harness's convention, not Keras's)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.selftest:
        return 0 if selftest(a.build) else 1
    if not a.workload or not a.batch:
        ap.error("--out and --check need --workload and --batch")
    ref = reference(a.build, a.workload, a.batch, a.as_native)
    if a.out:
        ref.astype("<f4").tofile(a.out)
        print("wrote %s %s" % (a.out, ref.shape))
        return 0
    err = max_abs_err(ref, a.check)
    passed = err <= a.tol
    print("%s b%d: max abs err %.3e (tol %.0e) %s" % (a.workload, a.batch, err, a.tol,
                                                      "PASS" if passed else "FAIL"))
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Unsupported as e:
        sys.exit("perf_ref.py: unsupported: %s" % e)
