#!/usr/bin/python3
"""Golden-fixture generator for kerasrun.

Writes one folder per case under --out (default: fixtures/ next to this tools/ dir):

    <case>/model.h5        Keras full-model HDF5 file (Keras 2.2.4 `model.save()` layout
                           unless the case says otherwise)
    <case>/input_<k>.npy   one per model input (float32; int32 token ids for Embedding)
    <case>/expected_<k>.npy one per model output (float32)
    <case>/case.json       metadata (same keys as ../shared/keras-real/MANIFEST.json
                           entries, plus "seed" and per-output "tensor_index")

plus <out>/MANIFEST.json (the list of all case.json objects, usable with
../shared/keras-real/check_candidate.py).

Keras itself is NOT used. Expected outputs come from independent references:
  * small float64 numpy implementations of each layer written from the Keras math;
  * torch.nn.LSTM (float64) for every CuDNNLSTM, fed the cuDNN-canonical weights.

Run:  /usr/bin/python3 tools/gen_fixtures.py [--out fixtures] [--only REGEX] [--check-corpus DIR]
"""
import argparse
import importlib
import copy
import json
import math
import os
import re
import shutil
import sys
import zlib

import h5py
import numpy as np

try:
    import torch
except ImportError:  # torch is required for the CuDNN cases
    torch = None

ATOL = 1e-5
RTOL = 1e-4

# --------------------------------------------------------------------------------------
# Activations (Keras 2 semantics), float64
# --------------------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


ACT = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0),
    "tanh": np.tanh,
    "softmax": _softmax,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "exponential": np.exp,
    "swish": lambda x: x * _sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
}

# --------------------------------------------------------------------------------------
# Keras 2.2.4 config fragments
# --------------------------------------------------------------------------------------


def GLOROT():
    return {"class_name": "VarianceScaling",
            "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}}


def ORTHO():
    return {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}}


def ZEROS():
    return {"class_name": "Zeros", "config": {}}


def RUNIFORM():
    return {"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05, "seed": None}}


# tf.keras 2.4 flavour
def TF_GLOROT():
    return {"class_name": "GlorotUniform", "config": {"seed": None}}


def base_cfg(name, bis=None, dtype="float32", tf_dtype=False):
    """Layer.get_config() head: name, trainable[, dtype (tf.keras)][, batch_input_shape, dtype]."""
    d = {"name": name, "trainable": True}
    if tf_dtype:
        if bis is not None:
            d["batch_input_shape"] = list(bis)
        d["dtype"] = dtype
        return d
    if bis is not None:
        d["batch_input_shape"] = list(bis)
        d["dtype"] = dtype
    return d


# --------------------------------------------------------------------------------------
# Layer objects: Keras class name, config, weights, float64 numpy/torch forward
# --------------------------------------------------------------------------------------


class Layer(object):
    def __init__(self, cls, name, config, weights=(), fn=None, inner=(), n_out=1):
        self.cls = cls            # Keras class_name
        self.name = name          # layer name
        self.config = config      # get_config() dict
        self.weights = list(weights)  # [(weight_name, stored ndarray)] in Keras order
        self.fn = fn              # f(list of float64 inputs) -> list of float64 outputs
        self.inner = list(inner)  # wrapped layer class names (for layer_classes)
        self.n_out = n_out


def rnd(rng, shape, scale=0.5, wdt=np.float32):
    """Random weight, stored in dtype wdt."""
    return (rng.standard_normal(shape) * scale).astype(np.float32).astype(wdt)


def f64(a):
    return np.asarray(a).astype(np.float64)


def input_layer(name, bis, dtype="float32", tf=False):
    cfg = {"batch_input_shape": list(bis), "dtype": dtype, "sparse": False}
    if tf:
        cfg["ragged"] = False
    cfg["name"] = name
    return Layer("InputLayer", name, cfg, fn=lambda xs: [xs[0]])


def dense(rng, name, in_dim, units, activation="linear", use_bias=True, bis=None, wdt=np.float32,
          tf=False):
    cfg = base_cfg(name, bis, tf_dtype=tf)
    cfg.update({"units": units, "activation": activation, "use_bias": use_bias,
                "kernel_initializer": TF_GLOROT() if tf else GLOROT(),
                "bias_initializer": ZEROS(),
                "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
                "kernel_constraint": None, "bias_constraint": None})
    k = rnd(rng, (in_dim, units), wdt=wdt)
    ws = [("%s/kernel:0" % name, k)]
    b = None
    if use_bias:
        b = rnd(rng, (units,), wdt=wdt)
        ws.append(("%s/bias:0" % name, b))

    def fn(xs):
        y = np.matmul(xs[0], f64(k))
        if b is not None:
            y = y + f64(b)
        return [ACT[activation](y)]
    return Layer("Dense", name, cfg, ws, fn)


def activation_layer(name, act, bis=None):
    cfg = base_cfg(name, bis)
    cfg["activation"] = act
    return Layer("Activation", name, cfg, fn=lambda xs: [ACT[act](xs[0])])


def dropout(name, rate, cls="Dropout"):
    cfg = base_cfg(name)
    cfg.update({"rate": rate, "noise_shape": None, "seed": None})
    return Layer(cls, name, cfg, fn=lambda xs: [xs[0]])


def flatten(name):
    cfg = base_cfg(name)
    cfg["data_format"] = "channels_last"
    return Layer("Flatten", name, cfg, fn=lambda xs: [xs[0].reshape(xs[0].shape[0], -1)])


def embedding(rng, name, input_dim, output_dim, input_length, bis):
    cfg = base_cfg(name, bis)
    cfg.update({"input_dim": input_dim, "output_dim": output_dim,
                "embeddings_initializer": RUNIFORM(), "embeddings_regularizer": None,
                "activity_regularizer": None, "embeddings_constraint": None,
                "mask_zero": False, "input_length": input_length})
    e = rnd(rng, (input_dim, output_dim))

    def fn(xs):
        ids = np.asarray(xs[0]).astype(np.int64)
        return [f64(e)[ids]]
    return Layer("Embedding", name, cfg, [("%s/embeddings:0" % name, e)], fn)


def conv1d_ref(x, k, b, stride, padding, dil, data_format, activation):
    """Keras Conv1D, float64. x [B,L,C] (channels_last) or [B,C,L] (channels_first)."""
    x = f64(x)
    if data_format == "channels_first":
        x = x.transpose(0, 2, 1)
    ksz = k.shape[0]
    L = x.shape[1]
    if padding == "causal":
        x = np.pad(x, ((0, 0), ((ksz - 1) * dil, 0), (0, 0)))
    elif padding == "same":
        out_len = -(-L // stride)
        total = max((out_len - 1) * stride + (ksz - 1) * dil + 1 - L, 0)
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    Lp = x.shape[1]
    n = (Lp - (ksz - 1) * dil - 1) // stride + 1
    y = np.zeros((x.shape[0], n, k.shape[2]))
    kk = f64(k)
    for t in range(n):
        for j in range(ksz):
            y[:, t, :] += x[:, t * stride + j * dil, :] @ kk[j]
    if b is not None:
        y = y + f64(b)
    y = ACT[activation](y)
    if data_format == "channels_first":
        y = y.transpose(0, 2, 1)
    return y


def conv1d(rng, name, in_ch, filters, ksize, strides=1, padding="valid", dilation=1,
           activation="linear", use_bias=True, data_format="channels_last", bis=None):
    cfg = base_cfg(name, bis)
    cfg.update({"filters": filters, "kernel_size": [ksize], "strides": [strides],
                "padding": padding, "data_format": data_format, "dilation_rate": [dilation],
                "activation": activation, "use_bias": use_bias,
                "kernel_initializer": GLOROT(), "bias_initializer": ZEROS(),
                "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
                "kernel_constraint": None, "bias_constraint": None})
    k = rnd(rng, (ksize, in_ch, filters))
    ws = [("%s/kernel:0" % name, k)]
    b = None
    if use_bias:
        b = rnd(rng, (filters,))
        ws.append(("%s/bias:0" % name, b))

    def fn(xs):
        if strides > 1 and dilation > 1:
            raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1")
        return [conv1d_ref(xs[0], k, b, strides, padding, dilation, data_format, activation)]
    return Layer("Conv1D", name, cfg, ws, fn)


# ---- recurrent cores -----------------------------------------------------------------


def lstm_ref(x, kernel, rkernel, bias, act="tanh", ract="hard_sigmoid", go_backwards=False):
    """Keras 2 LSTM in float64. Returns (outputs in processing order [B,T,u], h, c)."""
    x = f64(x)
    K, R = f64(kernel), f64(rkernel)
    u = R.shape[0]
    B, T, _ = x.shape
    h = np.zeros((B, u))
    c = np.zeros((B, u))
    a, ra = ACT[act], ACT[ract]
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    outs = []
    for t in order:
        z = x[:, t, :] @ K + h @ R
        if bias is not None:
            z = z + f64(bias)
        i = ra(z[:, :u])
        f = ra(z[:, u:2 * u])
        cc = a(z[:, 2 * u:3 * u])
        o = ra(z[:, 3 * u:])
        c = f * c + i * cc
        h = o * a(c)
        outs.append(h)
    return np.stack(outs, axis=1), h, c


def cudnn_lstm_torch(x, kernel, rkernel, bias, go_backwards=False):
    """CuDNNLSTM reference: torch.nn.LSTM (float64) fed cuDNN-canonical weights.

    Per gate g (i, f, c, o): the stored kernel's column block kernel[:, g*u:(g+1)*u] is
    flattened row-major and that buffer is read as a row-major [u, in] matrix (what cuDNN
    does); the recurrent block is read the same way (row-major buffer as [u, u], i.e. the
    block itself); bias[:4u] is the input-side bias and bias[4u:] the recurrent-side bias.
    """
    if torch is None:
        raise RuntimeError("torch is required for CuDNNLSTM references")
    kernel, rkernel, bias = f64(kernel), f64(rkernel), f64(bias)
    n_in = kernel.shape[0]
    u = rkernel.shape[0]
    w_ih = np.concatenate([kernel[:, g * u:(g + 1) * u].flatten().reshape(u, n_in)
                           for g in range(4)], axis=0)
    # The recurrent block is read by cuDNN the same way: its row-major buffer as a row-major
    # [u, u] matrix, which is the block itself (NOT its transpose). Verified against the
    # oracle outputs of ../shared/keras-real syn_v2_* CuDNNLSTM cases (--check-corpus).
    w_hh = np.concatenate([rkernel[:, g * u:(g + 1) * u].flatten().reshape(u, u)
                           for g in range(4)], axis=0)
    m = torch.nn.LSTM(n_in, u, num_layers=1, batch_first=True).double()
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(w_ih)))
        m.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(w_hh)))
        m.bias_ih_l0.copy_(torch.from_numpy(bias[:4 * u].copy()))
        m.bias_hh_l0.copy_(torch.from_numpy(bias[4 * u:].copy()))
        xx = f64(x)
        if go_backwards:
            xx = xx[:, ::-1, :]
        out, (h, c) = m(torch.from_numpy(xx.copy()))
    return out.numpy().astype(np.float64), h[0].numpy().astype(np.float64), c[0].numpy().astype(np.float64)


def cudnn_to_native_keras(kernel, rkernel, bias):
    """Keras's own CuDNNLSTM -> LSTM conversion. Used ONLY as a self-check of the torch path."""
    u = rkernel.shape[0]
    k = np.hstack([blk.T.reshape(blk.shape, order="F") for blk in np.hsplit(f64(kernel), 4)])
    r = np.hstack([blk.T for blk in np.hsplit(f64(rkernel), 4)])
    b = f64(bias)[:4 * u] + f64(bias)[4 * u:]
    return k, r, b


class RNNCore(object):
    """An LSTM or CuDNNLSTM (config + arrays + forward), without naming scope."""

    def __init__(self, rng, cls, layer_name, in_dim, units, activation="tanh",
                 recurrent_activation="hard_sigmoid", use_bias=True, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, bis=None,
                 omit_recurrent_activation=False, wdt=np.float32, tf=False):
        self.cls, self.name, self.units = cls, layer_name, units
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards = go_backwards
        self.activation, self.recurrent_activation = activation, recurrent_activation
        cfg = base_cfg(layer_name, bis, tf_dtype=tf)
        cfg.update({"return_sequences": return_sequences, "return_state": return_state,
                    "go_backwards": go_backwards, "stateful": stateful})
        if cls == "LSTM":
            cfg["unroll"] = False
            if tf:
                cfg["time_major"] = False
            cfg["units"] = units
            cfg["activation"] = activation
            if not omit_recurrent_activation:
                cfg["recurrent_activation"] = recurrent_activation
            cfg.update({"use_bias": use_bias,
                        "kernel_initializer": TF_GLOROT() if tf else GLOROT(),
                        "recurrent_initializer": ORTHO(), "bias_initializer": ZEROS(),
                        "unit_forget_bias": True,
                        "kernel_regularizer": None, "recurrent_regularizer": None,
                        "bias_regularizer": None, "activity_regularizer": None,
                        "kernel_constraint": None, "recurrent_constraint": None,
                        "bias_constraint": None, "dropout": 0.0, "recurrent_dropout": 0.0,
                        "implementation": 2 if tf else 1})
            self.kernel = rnd(rng, (in_dim, 4 * units), wdt=wdt)
            self.rkernel = rnd(rng, (units, 4 * units), wdt=wdt)
            self.bias = rnd(rng, (4 * units,), wdt=wdt) if use_bias else None
        elif cls == "CuDNNLSTM":
            cfg.update({"units": units, "kernel_initializer": GLOROT(),
                        "recurrent_initializer": ORTHO(), "bias_initializer": ZEROS(),
                        "unit_forget_bias": True,
                        "kernel_regularizer": None, "recurrent_regularizer": None,
                        "bias_regularizer": None, "activity_regularizer": None,
                        "kernel_constraint": None, "recurrent_constraint": None,
                        "bias_constraint": None})
            assert in_dim != units, "CuDNN cases must use in != units"
            self.kernel = rnd(rng, (in_dim, 4 * units), wdt=wdt)
            self.rkernel = rnd(rng, (units, 4 * units), wdt=wdt)
            self.bias = rnd(rng, (8 * units,), wdt=wdt)
        else:
            raise ValueError(cls)
        self.config = cfg

    def arrays(self):
        a = [("kernel", self.kernel), ("recurrent_kernel", self.rkernel)]
        if self.bias is not None:
            a.append(("bias", self.bias))
        return a

    def run(self, x, go_backwards):
        """-> (outputs in processing order [B,T,u], h, c)"""
        if self.cls == "LSTM":
            return lstm_ref(x, self.kernel, self.rkernel, self.bias, self.activation,
                            self.recurrent_activation, go_backwards)
        seq, h, c = cudnn_lstm_torch(x, self.kernel, self.rkernel, self.bias, go_backwards)
        # self-check: numpy LSTM on Keras-converted weights must agree with torch
        k, r, b = cudnn_to_native_keras(self.kernel, self.rkernel, self.bias)
        seq2, h2, c2 = lstm_ref(x, k, r, b, "tanh", "sigmoid", go_backwards)
        err = max(np.abs(seq - seq2).max(), np.abs(c - c2).max())
        assert err < 1e-10, "torch CuDNN reference disagrees with Keras conversion: %g" % err
        return seq, h, c


def rnn_layer(core, weight_scope=None):
    """A standalone LSTM / CuDNNLSTM layer. weight_scope: e.g. 'lstm/lstm_cell' for tf.keras."""
    scope = weight_scope or core.name
    ws = [("%s/%s:0" % (scope, n), a) for n, a in core.arrays()]

    def fn(xs):
        seq, h, c = core.run(xs[0], core.go_backwards)
        y = seq if core.return_sequences else h
        return [y, h, c] if core.return_state else [y]
    return Layer(core.cls, core.name, core.config, ws, fn, n_out=3 if core.return_state else 1)


def bidirectional(name, fwd, bwd, merge_mode="concat", bis=None):
    """Keras 2.2.4 Bidirectional. fwd/bwd: RNNCore (same config; independent weights)."""
    cfg = base_cfg(name, bis)
    cfg["layer"] = {"class_name": fwd.cls, "config": copy.deepcopy(fwd.config)}
    cfg["merge_mode"] = merge_mode
    ws = [("%s/forward_%s/%s:0" % (name, fwd.name, n), a) for n, a in fwd.arrays()]
    ws += [("%s/backward_%s/%s:0" % (name, fwd.name, n), a) for n, a in bwd.arrays()]
    rs, rst = fwd.return_sequences, fwd.return_state

    def fn(xs):
        fs, fh, fc = fwd.run(xs[0], fwd.go_backwards)
        bs, bh, bc = bwd.run(xs[0], not fwd.go_backwards)
        y = fs if rs else fh
        yr = bs[:, ::-1, :] if rs else bh
        if merge_mode == "concat":
            out = [np.concatenate([y, yr], axis=-1)]
        elif merge_mode == "sum":
            out = [y + yr]
        elif merge_mode == "mul":
            out = [y * yr]
        elif merge_mode == "ave":
            out = [(y + yr) / 2.0]
        elif merge_mode is None:
            out = [y, yr]
        else:
            raise ValueError(merge_mode)
        if rst:
            out += [fh, fc, bh, bc]
        return out
    n_out = (2 if merge_mode is None else 1) + (4 if rst else 0)
    return Layer("Bidirectional", name, cfg, ws, fn, inner=[fwd.cls], n_out=n_out)


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------


class Model(object):
    """A model: its config, its layers (model.layers order), input specs, forward."""

    def __init__(self, model_class, config, layers, inputs, outputs, forward):
        self.model_class = model_class
        self.config = config          # the full {"class_name", "config"} dict
        self.layers = layers          # list of Layer, model.layers order (layer_names)
        self.inputs = inputs          # [(name, shape-without-batch, dtype)]
        self.outputs = outputs        # [(layer_name, tensor_index)]
        self.forward = forward        # f(list of float64 inputs) -> list of outputs

    def layer_classes(self, all_layers=None):
        seen = []
        for l in (all_layers or self.all_layers):
            for c in [l.cls] + l.inner:
                if c not in seen:
                    seen.append(c)
        return seen


def sequential(layers, name="sequential_1", list_form=False, input_layer_cfg=None,
               class_name="Sequential"):
    """Keras Sequential. The first layer must carry batch_input_shape (or pass an explicit
    InputLayer config via input_layer_cfg, tf.keras style)."""
    lconfs = [{"class_name": l.cls, "config": l.config} for l in layers]
    all_layers = list(layers)
    if input_layer_cfg is not None:
        lconfs.insert(0, {"class_name": "InputLayer", "config": input_layer_cfg.config})
        all_layers.insert(0, input_layer_cfg)
        in_name = input_layer_cfg.name
        bis = input_layer_cfg.config["batch_input_shape"]
    else:
        in_name = layers[0].name + "_input"
        bis = layers[0].config["batch_input_shape"]
    conf = lconfs if list_form else {"name": name, "layers": lconfs}

    def forward(xs):
        y = [xs[0]]
        for l in layers:
            y = l.fn([y[0]])
        return y
    last = layers[-1]
    m = Model(class_name, {"class_name": class_name, "config": conf}, list(layers),
              [(in_name, bis[1:], "float32")], [(last.name, k) for k in range(last.n_out)],
              forward)
    m.all_layers = all_layers
    return m


def functional(nodes, input_names, output_refs, name="model_1", class_name="Model", tf=False):
    """nodes: list of (Layer, inbound) where inbound is a list of (layer, node, tensor) refs
    (empty for an InputLayer). output_refs: [(layer, node, tensor)]."""
    lconfs = []
    for l, inbound in nodes:
        ib = [[[r[0], r[1], r[2], {}] for r in inbound]] if inbound else []
        if tf:
            lconfs.append({"class_name": l.cls, "config": l.config, "name": l.name,
                           "inbound_nodes": ib})
        else:
            lconfs.append({"name": l.name, "class_name": l.cls, "config": l.config,
                           "inbound_nodes": ib})
    conf = {"name": name, "layers": lconfs,
            "input_layers": [[n, 0, 0] for n in input_names],
            "output_layers": [list(r) for r in output_refs]}
    by_name = {l.name: (l, ib) for l, ib in nodes}

    def forward(xs):
        tensors = {}
        for k, n in enumerate(input_names):
            tensors[(n, 0, 0)] = xs[k]
        for l, inbound in nodes:
            if not inbound:
                continue
            outs = l.fn([tensors[tuple(r)] for r in inbound])
            for t, o in enumerate(outs):
                tensors[(l.name, 0, t)] = o
        return [tensors[tuple(r)] for r in output_refs]
    inputs = []
    for n in input_names:
        l = by_name[n][0]
        inputs.append((n, l.config["batch_input_shape"][1:], l.config["dtype"]))
    m = Model(class_name, {"class_name": class_name, "config": conf}, [l for l, _ in nodes],
              inputs, [(r[0], r[2]) for r in output_refs], forward)
    m.all_layers = [l for l, _ in nodes]
    return m


# --------------------------------------------------------------------------------------
# HDF5 writer
# --------------------------------------------------------------------------------------


def str_attr(obj, key, s, mode):
    """mode: fixed (numpy np.bytes_, fixed-length), vlen_utf8, vlen_ascii."""
    if isinstance(s, str):
        b = s.encode("utf8")
    else:
        b = s
    if mode == "fixed":
        obj.attrs.create(key, np.bytes_(b))
    elif mode == "vlen_utf8":
        obj.attrs.create(key, b.decode("utf8"), dtype=h5py.string_dtype("utf-8"))
    elif mode == "vlen_ascii":
        obj.attrs.create(key, b, dtype=h5py.string_dtype("ascii"))
    else:
        raise ValueError(mode)


def names_attr(obj, key, names, mode, split=0):
    if mode == "fixed":
        if not names:
            arr = np.array([], dtype=np.float64)   # what Keras (np.asarray([])) writes
        else:
            arr = np.array([n.encode("utf8") for n in names])  # dtype S<maxlen>
    else:
        arr = np.array(list(names), dtype=h5py.string_dtype("utf-8"))
    if split > 1:
        for i, chunk in enumerate(np.array_split(arr, split)):
            obj.attrs.create("%s%d" % (key, i), chunk)
    else:
        obj.attrs.create(key, arr)


def write_h5(path, model, keras_version="2.2.4", backend="tensorflow", str_mode="fixed",
             names_mode="fixed", split_layer_names=0, model_config=None, no_model_config=False,
             mutate=None):
    """Write the Keras 2.2.4 `model.save()` layout (no training_config)."""
    with h5py.File(path, "w") as f:
        if keras_version is not None:
            str_attr(f, "keras_version", keras_version, str_mode)
        if backend is not None:
            str_attr(f, "backend", backend, str_mode)
        if not no_model_config:
            mc = model_config if model_config is not None else json.dumps(model.config).encode("utf8")
            str_attr(f, "model_config", mc, str_mode)
        g = f.create_group("model_weights")
        names_attr(g, "layer_names", [l.name for l in model.layers], names_mode,
                   split=split_layer_names)
        if backend is not None:
            str_attr(g, "backend", backend, str_mode)
        if keras_version is not None:
            str_attr(g, "keras_version", keras_version, str_mode)
        for l in model.layers:
            lg = g.create_group(l.name)
            names_attr(lg, "weight_names", [n for n, _ in l.weights], names_mode)
            for n, a in l.weights:
                lg.create_dataset(n, data=a)
        if mutate is not None:
            mutate(f)


# --------------------------------------------------------------------------------------
# Case registry and emission
# --------------------------------------------------------------------------------------

CASES = []


def case(fn):
    CASES.append((fn.__name__.replace("case_", "", 1), fn))
    return fn


def seed_of(cid):
    return zlib.crc32(cid.encode("utf8")) & 0x7FFFFFFF


def make_inputs(rng, model, batch=2, token_range=None):
    xs = []
    for name, shape, dtype in model.inputs:
        shp = [batch] + [int(s) for s in shape]
        if token_range is not None:
            xs.append(rng.randint(0, token_range, size=shp).astype(np.int32))
        else:
            xs.append(rng.standard_normal(shp).astype(np.float32))
    return xs



def unique_output_names(layer_names):
    """Output names as tf.keras gives them: a layer name used again gets
    _1, _2, ... (Functional._set_output_names)."""
    used, count, out = set(), {}, []
    for name in layer_names:
        p = name
        while p in used:
            n = count.get(name, 1)
            p = "%s_%d" % (name, n)
            count[name] = n + 1
        used.add(p)
        out.append(p)
    return out

def emit(out_root, cid, seed, model=None, xs=None, expect="ok", why=None, notes="",
         keras_version="2.2.4", backend="tensorflow", write=None, atol=ATOL, rtol=RTOL,
         gold=None, write_kwargs=None, extra_files=None, error_outputs=True,
         opaque=False):
    """opaque: the file does not describe a readable model (model_class null, no classes)."""
    d = os.path.join(out_root, cid)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    files = ["model.h5"]
    mpath = os.path.join(d, "model.h5")
    if write is not None:
        write(mpath)
    else:
        write_h5(mpath, model, keras_version=keras_version, backend=backend,
                 **(write_kwargs or {}))
    inputs, outputs = [], []
    out_names = unique_output_names([l for l, _ in model.outputs]) if model is not None else []
    if model is not None and xs is not None:
        for k, ((name, shape, _), x) in enumerate(zip(model.inputs, xs)):
            fn = "input_%d.npy" % k
            np.save(os.path.join(d, fn), x)
            files.append(fn)
            inputs.append({"name": name, "file": fn, "dtype": str(x.dtype), "shape": list(x.shape)})
    if model is not None and expect == "ok":
        ys = model.forward([x if x.dtype.kind == "i" else f64(x) for x in xs])
        assert len(ys) == len(model.outputs), (cid, len(ys), len(model.outputs))
        for k, ((lname, t), y) in enumerate(zip(model.outputs, ys)):
            y = np.asarray(y, dtype=np.float64)
            assert np.all(np.isfinite(y)), cid
            fn = "expected_%d.npy" % k
            np.save(os.path.join(d, fn), y.astype(np.float32))
            files.append(fn)
            outputs.append({"name": out_names[k], "layer": lname, "file": fn, "shape": list(y.shape), "tensor_index": t})
    elif model is not None and error_outputs and not opaque:
        for k, (lname, t) in enumerate(model.outputs):
            outputs.append({"name": out_names[k], "layer": lname, "file": None, "shape": None, "tensor_index": t})
    for fn, data in (extra_files or {}).items():
        np.save(os.path.join(d, fn), data)
        files.append(fn)
    if gold is None and expect == "ok":
        gold = "torch" if model is not None and "CuDNNLSTM" in model.layer_classes() else "numpy"
    meta = {
        "id": cid,
        "family": "fixture",
        "files": files,
        "keras_version": keras_version,
        "backend": backend,
        "model_class": model.model_class if model is not None and not opaque else None,
        "layer_classes": model.layer_classes() if model is not None and not opaque else [],
        "source": None,
        "expect": expect,
        "why": why,
        "gold": gold if expect == "ok" else None,
        "inputs": inputs,
        "outputs": outputs,
        "atol": atol,
        "rtol": rtol,
        "seed": seed,
        "notes": notes,
    }
    files.append("case.json")
    with open(os.path.join(d, "case.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
        fh.write("\n")
    return meta


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------
# Each case function gets (out_root, cid, seed, rng) and returns the metadata dict.
# Defaults: batch 2, T 6, features 4.

T, F = 6, 4


# ---- 1. Dense -------------------------------------------------------------------------

@case
def case_dense_rank2(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", 5, 3, "relu", bis=[None, 5])])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="Dense on rank-2 input, relu")


@case
def case_dense_rank3(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", F, 3, "tanh", bis=[None, T, F])])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Dense on rank-3 input acts on the last axis, tanh")


@case
def case_dense_nobias(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", F, 3, "linear", use_bias=False, bis=[None, T, F]),
                    dense(rng, "dense_2", 3, 2, "sigmoid", use_bias=False)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Dense use_bias=false: weight_names lists only the kernel")


# ---- 2. Activations -------------------------------------------------------------------

def _act_case(act, version="2.2.4", extra=""):
    def fn(o, cid, seed, rng):
        m = sequential([dense(rng, "dense_1", F, 5, "linear", bis=[None, T, F]),
                        activation_layer("activation_1", act)])
        return emit(o, cid, seed, m, make_inputs(rng, m), keras_version=version,
                    notes="Dense(linear) then Activation('%s') on rank-3 input%s" % (act, extra))
    fn.__name__ = "case_act_" + act
    return fn


for _a in ["linear", "relu", "sigmoid", "hard_sigmoid", "tanh", "softmax", "elu", "selu",
           "softplus", "softsign", "exponential"]:
    case(_act_case(_a))
for _a in ["swish", "gelu"]:
    case(_act_case(_a, "2.4.0", "; keras_version 2.4.0 because Keras 2.2.4 has no %s (gelu is "
                                "the exact erf form), file still in the 2.2.4 fixed-length layout"
                   % _a))


# ---- 3. Dropout / Flatten / Embedding ---------------------------------------------------

@case
def case_dropout_identity(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", F, 6, "relu", bis=[None, T, F]),
                    dropout("dropout_1", 0.5),
                    dropout("spatial_dropout1d_1", 0.3, cls="SpatialDropout1D"),
                    dense(rng, "dense_2", 6, 3, "linear")])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Dropout and SpatialDropout1D are the identity at inference; "
                      "their weight_names are empty float64 arrays")


@case
def case_flatten(o, cid, seed, rng):
    m = sequential([conv1d(rng, "conv1d_1", F, 3, 3, bis=[None, T, F]),
                    flatten("flatten_1"),
                    dense(rng, "dense_1", (T - 2) * 3, 2, "linear")])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Conv1D -> Flatten (row-major, batch kept) -> Dense")


@case
def case_embedding(o, cid, seed, rng):
    L, V, E = 6, 10, 4
    m = sequential([embedding(rng, "embedding_1", V, E, L, bis=[None, L]),
                    flatten("flatten_1"),
                    dense(rng, "dense_1", L * E, 3, "linear")])
    return emit(o, cid, seed, m, make_inputs(rng, m, token_range=V),
                notes="Embedding (int32 token ids in [0,10)) -> Flatten -> Dense")


# ---- 4. Conv1D -------------------------------------------------------------------------

def _conv_case(name, ksize=3, strides=1, padding="valid", dilation=1, use_bias=True,
               activation="linear", data_format="channels_last", L=7, note=""):
    def fn(o, cid, seed, rng):
        bis = [None, F, L] if data_format == "channels_first" else [None, L, F]
        m = sequential([conv1d(rng, "conv1d_1", F, 5, ksize, strides, padding, dilation,
                               activation, use_bias, data_format, bis=bis)])
        return emit(o, cid, seed, m, make_inputs(rng, m),
                    notes="Conv1D k=%d strides=%d padding=%s dilation=%d use_bias=%s "
                          "activation=%s %s, L=%d%s" % (ksize, strides, padding, dilation,
                                                        use_bias, activation, data_format, L, note))
    fn.__name__ = "case_" + name
    return fn


case(_conv_case("conv1d_valid"))
case(_conv_case("conv1d_same", ksize=4, padding="same", note=" (even kernel: same pads 1 left, 2 right)"))
case(_conv_case("conv1d_causal"))
case(_conv_case("conv1d_strides2_valid", strides=2, L=8))
case(_conv_case("conv1d_strides2_same", ksize=4, strides=2, padding="same", L=7))
case(_conv_case("conv1d_dilation2_causal", dilation=2, padding="causal", L=8))
case(_conv_case("conv1d_dilation2_same", dilation=2, padding="same", L=8))
case(_conv_case("conv1d_nobias", use_bias=False))
case(_conv_case("conv1d_relu", activation="relu", padding="same"))
case(_conv_case("conv1d_channels_first_valid", data_format="channels_first"))
case(_conv_case("conv1d_channels_first_same", ksize=4, padding="same",
                data_format="channels_first"))


@case
def case_conv1d_stride_and_dilation(o, cid, seed, rng):
    m = sequential([conv1d(rng, "conv1d_1", F, 5, 3, strides=2, dilation=2,
                           bis=[None, 9, F])])
    return emit(o, cid, seed, m, make_inputs(rng, m), expect="error", why="dilation",
                notes="Conv1D strides=2 with dilation_rate=2: TensorFlow refuses this "
                      "combination; the runner must refuse it too")


# ---- 5. LSTM -----------------------------------------------------------------------------

def _lstm_seq(rng, **kw):
    core = RNNCore(rng, "LSTM", "lstm_1", F, 5, bis=[None, T, F], **kw)
    return sequential([rnn_layer(core)])


@case
def case_lstm_seq(o, cid, seed, rng):
    m = _lstm_seq(rng, return_sequences=True)
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="LSTM(5) return_sequences, tanh/hard_sigmoid, in=4")


@case
def case_lstm_last(o, cid, seed, rng):
    m = _lstm_seq(rng, recurrent_activation="sigmoid")
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="LSTM(5) last output only, recurrent_activation sigmoid")


@case
def case_lstm_hard_sigmoid(o, cid, seed, rng):
    m = _lstm_seq(rng, activation="tanh", recurrent_activation="hard_sigmoid",
                  return_sequences=True)
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="LSTM recurrent_activation hard_sigmoid = clip(0.2x+0.5,0,1), activation tanh")


@case
def case_lstm_relu_activation(o, cid, seed, rng):
    m = _lstm_seq(rng, activation="relu", recurrent_activation="sigmoid", return_sequences=True)
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="LSTM activation relu (cell and output), recurrent_activation sigmoid")


@case
def case_lstm_nobias(o, cid, seed, rng):
    m = _lstm_seq(rng, use_bias=False, return_sequences=True)
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="LSTM use_bias=false: only kernel and recurrent_kernel stored")


@case
def case_lstm_go_backwards(o, cid, seed, rng):
    m = _lstm_seq(rng, go_backwards=True, return_sequences=True)
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="LSTM go_backwards with return_sequences: output is in processing "
                      "(reversed) order, not reversed back")


@case
def case_lstm_return_state(o, cid, seed, rng):
    core = RNNCore(rng, "LSTM", "lstm_1", F, 5, return_sequences=True, return_state=True)
    lstm = rnn_layer(core)
    m = functional([(input_layer("input_1", [None, T, F]), []),
                    (lstm, [("input_1", 0, 0)])],
                   ["input_1"], [("lstm_1", 0, 0), ("lstm_1", 0, 1), ("lstm_1", 0, 2)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="functional LSTM return_sequences+return_state: outputs [seq, h, c] "
                      "(tensor_index 0,1,2 of lstm_1)")


@case
def case_lstm_default_ra_keras224(o, cid, seed, rng):
    m = _lstm_seq(rng, recurrent_activation="hard_sigmoid", omit_recurrent_activation=True,
                  return_sequences=True)
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="LSTM config without recurrent_activation in a keras_version 2.2.4 "
                      "file: the default is hard_sigmoid")


@case
def case_lstm_default_ra_tfkeras(o, cid, seed, rng):
    m = _lstm_seq(rng, recurrent_activation="sigmoid", omit_recurrent_activation=True,
                  return_sequences=True)
    # sanity: the two defaults must give visibly different results on these weights
    x = make_inputs(np.random.RandomState(seed + 1), m)
    layer = m.layers[0]
    core_out = layer.fn([f64(x[0])])[0]
    alt = lstm_ref(x[0], *[a for _, a in layer.weights], act="tanh", ract="hard_sigmoid")[0]
    assert np.abs(core_out - alt).max() > 1e-2
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                notes="same LSTM config without recurrent_activation, keras_version 2.4.0 "
                      "(tf.keras): the default is sigmoid")


# ---- 6. CuDNNLSTM ----------------------------------------------------------------------------

def _cudnn_seq(rng, **kw):
    core = RNNCore(rng, "CuDNNLSTM", "cu_dnnlstm_1", 3, 5, bis=[None, T, 3], **kw)
    return sequential([rnn_layer(core)])


@case
def case_cudnnlstm_seq(o, cid, seed, rng):
    m = _cudnn_seq(rng, return_sequences=True)
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="CuDNNLSTM(5) in=3 return_sequences; torch.nn.LSTM reference on "
                      "cuDNN-canonical weights")


@case
def case_cudnnlstm_last(o, cid, seed, rng):
    core = RNNCore(rng, "CuDNNLSTM", "cu_dnnlstm_1", 7, 4, bis=[None, 5, 7])
    m = sequential([rnn_layer(core)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="CuDNNLSTM(4) in=7 last output")


@case
def case_cudnnlstm_go_backwards(o, cid, seed, rng):
    m = _cudnn_seq(rng, return_sequences=True, go_backwards=True)
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="CuDNNLSTM go_backwards with return_sequences: output in processing "
                      "(reversed) order")


@case
def case_cudnnlstm_return_state(o, cid, seed, rng):
    core = RNNCore(rng, "CuDNNLSTM", "cu_dnnlstm_1", 6, 4, return_sequences=False,
                   return_state=True)
    m = functional([(input_layer("input_1", [None, T, 6]), []),
                    (rnn_layer(core), [("input_1", 0, 0)])],
                   ["input_1"], [("cu_dnnlstm_1", 0, 0), ("cu_dnnlstm_1", 0, 1),
                                 ("cu_dnnlstm_1", 0, 2)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="functional CuDNNLSTM(4) in=6 return_state: outputs [last h, h, c]")


# ---- 7. Bidirectional ------------------------------------------------------------------------

def _bidi(rng, cls, merge_mode, rs, units=4, in_dim=F, rst=False, bis=(None, T, F),
          name="bidirectional_1", inner="lstm_1", **kw):
    fwd = RNNCore(rng, cls, inner, in_dim, units, return_sequences=rs, return_state=rst, **kw)
    bwd = RNNCore(rng, cls, inner, in_dim, units, return_sequences=rs, return_state=rst,
                  go_backwards=True, **kw)
    return bidirectional(name, fwd, bwd, merge_mode, bis=list(bis) if bis else None)


def _bidi_case(merge, rs):
    def fn(o, cid, seed, rng):
        m = sequential([_bidi(rng, "LSTM", merge, rs, recurrent_activation="sigmoid")])
        return emit(o, cid, seed, m, make_inputs(rng, m),
                    notes="Bidirectional(LSTM(4)) merge_mode=%s return_sequences=%s" % (merge, rs))
    fn.__name__ = "case_bidi_lstm_" + merge
    return fn


case(_bidi_case("concat", True))
case(_bidi_case("sum", False))
case(_bidi_case("mul", True))
case(_bidi_case("ave", False))


@case
def case_bidi_lstm_none(o, cid, seed, rng):
    b = _bidi(rng, "LSTM", None, True, bis=None)
    m = functional([(input_layer("input_1", [None, T, F]), []),
                    (b, [("input_1", 0, 0)])],
                   ["input_1"], [("bidirectional_1", 0, 0), ("bidirectional_1", 0, 1)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="functional Bidirectional(LSTM(4), merge_mode=None, return_sequences): "
                      "two outputs, forward then backward (backward reversed back)")


@case
def case_bidi_lstm_return_state(o, cid, seed, rng):
    b = _bidi(rng, "LSTM", "concat", True, rst=True, bis=None)
    m = functional([(input_layer("input_1", [None, T, F]), []),
                    (b, [("input_1", 0, 0)])],
                   ["input_1"], [("bidirectional_1", 0, t) for t in range(5)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="functional Bidirectional(LSTM(4, return_sequences, return_state)) "
                      "concat: outputs [merged seq, fwd_h, fwd_c, bwd_h, bwd_c]")


@case
def case_bidi_cudnnlstm_concat_seq(o, cid, seed, rng):
    m = sequential([_bidi(rng, "CuDNNLSTM", "concat", True, units=5, in_dim=3,
                          bis=(None, T, 3), inner="cu_dnnlstm_1")])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Bidirectional(CuDNNLSTM(5)) in=3 concat return_sequences")


@case
def case_bidi_cudnnlstm_sum_last(o, cid, seed, rng):
    m = sequential([_bidi(rng, "CuDNNLSTM", "sum", False, units=3, in_dim=6,
                          bis=(None, 5, 6), inner="cu_dnnlstm_1")])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Bidirectional(CuDNNLSTM(3)) in=6 sum, last output")


# ---- 8. The README example ---------------------------------------------------------------------

def _seed_example(rng, cls):
    inner1 = "lstm_1" if cls == "LSTM" else "cu_dnnlstm_1"
    inner2 = "lstm_2" if cls == "LSTM" else "cu_dnnlstm_2"
    kw = {} if cls == "CuDNNLSTM" else {"recurrent_activation": "hard_sigmoid"}
    if cls == "CuDNNLSTM":
        # in != units for every CuDNN layer: first layer 10 -> 10 would violate it, so the
        # cuDNN variant uses 8 units (layer 2 then reads 16 features).
        u = 8
    else:
        u = 10
    b1 = _bidi(rng, cls, "concat", True, units=u, in_dim=10, bis=(None, 5, 10), inner=inner1, **kw)
    b2 = _bidi(rng, cls, "concat", False, units=u, in_dim=2 * u, bis=None,
               name="bidirectional_2", inner=inner2, **kw)
    return sequential([b1, b2, dense(rng, "dense_1", 2 * u, 5, "linear"),
                       activation_layer("activation_1", "softmax")])


@case
def case_example(o, cid, seed, rng):
    m = _seed_example(rng, "LSTM")
    xs = make_inputs(rng, m)
    return emit(o, cid, seed, m, xs, extra_files={"input.npy": xs[0]},
                notes="README demo (Keras Bidirectional docstring model): "
                      "Bi(LSTM(10, return_sequences)) -> Bi(LSTM(10)) -> Dense(5) -> softmax; "
                      "input.npy is a copy of input_0.npy")


@case
def case_seed_example_cudnn(o, cid, seed, rng):
    m = _seed_example(rng, "CuDNNLSTM")
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="the README demo with CuDNNLSTM(8) (8 not 10 units so in != units in "
                      "both Bidirectional layers)")


# ---- 9. Tagger ----------------------------------------------------------------------------------

@case
def case_tagger(o, cid, seed, rng):
    c = conv1d(rng, "conv1d_1", 5, 8, 3, padding="same", activation="relu", bis=[None, 7, 5])
    b = _bidi(rng, "CuDNNLSTM", "concat", True, units=6, in_dim=8, bis=None, inner="cu_dnnlstm_1")
    m = sequential([c, b, dense(rng, "dense_1", 12, 4, "softmax")])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="sequence tagger: Conv1D(8,3,same,relu) -> Bi(CuDNNLSTM(6, "
                      "return_sequences)) -> Dense(4, softmax) on rank-3")


# ---- 10. Functional multi-input/multi-output -----------------------------------------------------

@case
def case_functional_multi_io(o, cid, seed, rng):
    i1 = input_layer("input_1", [None, T, F])
    i2 = input_layer("input_2", [None, 3])
    core = RNNCore(rng, "LSTM", "lstm_1", F, 5, recurrent_activation="sigmoid")
    lstm = rnn_layer(core)
    d1 = dense(rng, "dense_1", 3, 4, "relu")
    d2 = dense(rng, "dense_2", 5, 2, "linear")
    m = functional([(i1, []), (i2, []), (d1, [("input_2", 0, 0)]),
                    (lstm, [("input_1", 0, 0)]), (d2, [("lstm_1", 0, 0)])],
                   ["input_1", "input_2"], [("dense_2", 0, 0), ("dense_1", 0, 0)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="functional Model, 2 inputs (input_1 [T,4] -> LSTM -> dense_2; input_2 "
                      "[3] -> dense_1), outputs [dense_2, dense_1] (output order differs "
                      "from layer order)")


# ---- 11. Keras 2.0/2.1 list-form Sequential --------------------------------------------------------

@case
def case_seq_list_form(o, cid, seed, rng):
    core = RNNCore(rng, "LSTM", "lstm_1", 6, 5, recurrent_activation="hard_sigmoid")
    m = sequential([dense(rng, "dense_1", F, 6, "tanh", bis=[None, T, F]), rnn_layer(core),
                    dense(rng, "dense_2", 5, 3, "linear")], list_form=True)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.1.6",
                notes="Sequential whose model_config 'config' is the plain list of layers "
                      "(Keras 2.0/2.1 form), keras_version 2.1.6")


# ---- 12. tf.keras variable-length strings -------------------------------------------------------------

@case
def case_tfkeras_vlen_attrs(o, cid, seed, rng):
    inp = input_layer("dense_input", [None, T, F], tf=True)
    d = dense(rng, "dense", F, 6, "relu", bis=[None, T, F], tf=True)
    core = RNNCore(rng, "LSTM", "lstm", 6, 5, recurrent_activation="sigmoid", tf=True)
    lstm = rnn_layer(core, weight_scope="lstm/lstm_cell")
    drop = dropout("dropout", 0.1)
    drop.config = {"name": "dropout", "trainable": True, "dtype": "float32", "rate": 0.1,
                   "noise_shape": None, "seed": None}
    m = sequential([d, drop, lstm], name="sequential", input_layer_cfg=inp)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                write_kwargs={"str_mode": "vlen_utf8", "names_mode": "vlen_utf8"},
                notes="tf.keras 2.4 style: root attrs, layer_names and weight_names are "
                      "variable-length UTF-8 strings (dropout's weight_names is an empty vlen "
                      "array); explicit InputLayer in the Sequential config; cell-scoped weight "
                      "names lstm/lstm_cell/kernel:0")


@case
def case_tfkeras_functional_vlen(o, cid, seed, rng):
    inp = input_layer("input_1", [None, T, F], tf=True)
    core = RNNCore(rng, "LSTM", "lstm", F, 5, recurrent_activation="sigmoid",
                   return_sequences=True, tf=True)
    lstm = rnn_layer(core, weight_scope="lstm/lstm_cell")
    d = dense(rng, "dense", 5, 3, "softmax", tf=True)
    m = functional([(inp, []), (lstm, [("input_1", 0, 0)]), (d, [("lstm", 0, 0)])],
                   ["input_1"], [("dense", 0, 0)], name="model", class_name="Functional", tf=True)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                write_kwargs={"str_mode": "vlen_utf8", "names_mode": "vlen_utf8"},
                notes="tf.keras 2.4 'Functional' model_config class, variable-length UTF-8 "
                      "strings, cell-scoped LSTM weight names")


@case
def case_keras224_vlen_ascii_root_attrs(o, cid, seed, rng):
    core = RNNCore(rng, "LSTM", "lstm_1", F, 5, return_sequences=True, bis=[None, T, F])
    m = sequential([rnn_layer(core), dense(rng, "dense_1", 5, 2, "linear")])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                write_kwargs={"str_mode": "vlen_ascii"},
                notes="what real Keras 2.2.4 + h5py writes: root keras_version/backend/"
                      "model_config as variable-length ASCII strings, layer_names/weight_names "
                      "fixed-length")


# ---- 13. Split layer_names ---------------------------------------------------------------------

@case
def case_split_layer_names(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", F, 6, "relu", bis=[None, T, F]),
                    dropout("dropout_1", 0.2),
                    dense(rng, "dense_2", 6, 3, "linear")])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                write_kwargs={"split_layer_names": 2},
                notes="model_weights layer_names stored split as layer_names0 (2 names) and "
                      "layer_names1 (1 name), as Keras does above 64512 bytes")


# ---- 14. float16 / float64 weights --------------------------------------------------------------

def _dtype_case(wdt, label):
    def fn(o, cid, seed, rng):
        core = RNNCore(rng, "LSTM", "lstm_1", 6, 5, recurrent_activation="sigmoid",
                       return_sequences=True, wdt=wdt)
        m = sequential([dense(rng, "dense_1", F, 6, "tanh", bis=[None, T, F], wdt=wdt),
                        rnn_layer(core)])
        return emit(o, cid, seed, m, make_inputs(rng, m),
                    notes="Dense -> LSTM with %s weight datasets (reference from the stored "
                          "values cast to float32)" % label)
    fn.__name__ = "case_weights_" + label
    return fn


case(_dtype_case(np.float16, "float16"))
case(_dtype_case(np.float64, "float64"))


# ---- 15. Error cases --------------------------------------------------------------------------

@case
def case_unknown_class(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", F, 3, "relu", bis=[None, T, F])])
    foo = Layer("FooBar", "foo_bar_1", {"name": "foo_bar_1", "trainable": True, "alpha": 0.5},
                fn=None)
    m2 = sequential([m.layers[0], foo])
    return emit(o, cid, seed, m2, make_inputs(rng, m2), expect="error", why="FooBar",
                notes="a layer of unknown class FooBar (no weights)")


@case
def case_stateful_lstm(o, cid, seed, rng):
    core = RNNCore(rng, "LSTM", "lstm_1", F, 5, stateful=True, bis=[2, T, F])
    m = sequential([rnn_layer(core)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="LSTM stateful=true (batch_input_shape [2,T,F]): loads, and "
                      "Predict starts from zero states")


@case
def case_wrong_weight_shape(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", F, 3, "relu", bis=[None, T, F])])
    l = m.layers[0]
    l.weights[0] = (l.weights[0][0], np.ascontiguousarray(l.weights[0][1].T))
    return emit(o, cid, seed, m, make_inputs(rng, m), expect="error", why="dense_1 | shape",
                notes="Dense(3) on 4 features with its kernel stored transposed [3,4] "
                      "instead of [4,3]")


@case
def case_missing_weight(o, cid, seed, rng):
    core = RNNCore(rng, "LSTM", "lstm_1", F, 5, bis=[None, T, F])
    m = sequential([rnn_layer(core)])
    m.layers[0].weights = m.layers[0].weights[:2]
    return emit(o, cid, seed, m, make_inputs(rng, m), expect="error", why="lstm_1 | weight",
                notes="LSTM (use_bias true) whose group has no bias dataset and weight_names "
                      "lists only kernel and recurrent_kernel")


@case
def case_extra_weight(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", F, 3, "relu", bis=[None, T, F])])
    m.layers[0].weights.append(("dense_1/extra:0", rnd(rng, (3,))))
    return emit(o, cid, seed, m, make_inputs(rng, m), expect="error", why="dense_1 | weight",
                notes="Dense whose weight_names lists a third dataset dense_1/extra:0")


@case
def case_not_json(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", F, 3, "relu", bis=[None, T, F])])
    bad = json.dumps(m.config).encode("utf8")[:60] + b" <<this is not JSON>>"
    return emit(o, cid, seed, m, make_inputs(rng, m), expect="error", why="model_config",
                write_kwargs={"model_config": bad}, opaque=True,
                notes="model_config attribute is truncated JSON followed by garbage")


@case
def case_no_model_config(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", F, 3, "relu", bis=[None, T, F])])
    return emit(o, cid, seed, m, make_inputs(rng, m), expect="error", why="model_config",
                write_kwargs={"no_model_config": True}, opaque=True,
                notes="HDF5 file with keras_version, backend and model_weights but no "
                      "model_config attribute (and no arch.json)")


@case
def case_not_hdf5(o, cid, seed, rng):
    def w(path):
        with open(path, "w") as fh:
            fh.write("this is a plain text file, not an HDF5 model\n")
    m = sequential([dense(rng, "dense_1", F, 3, "relu", bis=[None, T, F])])
    meta = emit(o, cid, seed, m, make_inputs(rng, m), expect="error", why="hdf5", write=w, opaque=True,
                keras_version=None, backend=None,
                notes="model.h5 is a plain text file")
    return meta


# --------------------------------------------------------------------------------------
# Self-test: the numpy Conv1D / LSTM references against torch (run on every generation)
# --------------------------------------------------------------------------------------


def selftest():
    if torch is None:
        print("selftest: torch missing, skipped")
        return
    import torch.nn.functional as TF
    rng = np.random.RandomState(12345)
    worst = 0.0
    for (k, s, d, pad, L) in [(3, 1, 1, "valid", 7), (4, 1, 1, "same", 7), (3, 1, 2, "causal", 8),
                              (4, 2, 1, "same", 7), (3, 2, 1, "valid", 8), (3, 1, 2, "same", 8),
                              (2, 3, 1, "same", 10), (5, 1, 3, "same", 9)]:
        x = rng.standard_normal((2, L, 3))
        w = rng.standard_normal((k, 3, 4))
        b = rng.standard_normal(4)
        ref = conv1d_ref(x, w, b, s, pad, d, "channels_last", "linear")
        xt = torch.from_numpy(x.transpose(0, 2, 1).copy())
        if pad == "causal":
            xt = TF.pad(xt, ((k - 1) * d, 0))
        elif pad == "same":
            n = -(-L // s)
            tot = max((n - 1) * s + (k - 1) * d + 1 - L, 0)
            xt = TF.pad(xt, (tot // 2, tot - tot // 2))
        y = TF.conv1d(xt, torch.from_numpy(w.transpose(2, 1, 0).copy()), torch.from_numpy(b),
                      stride=s, dilation=d).numpy().transpose(0, 2, 1)
        worst = max(worst, np.abs(y - ref).max())
        # channels_first path
        ref_cf = conv1d_ref(x.transpose(0, 2, 1), w, b, s, pad if pad != "causal" else "valid",
                            d, "channels_first", "linear")
        ref_cl = conv1d_ref(x, w, b, s, pad if pad != "causal" else "valid", d,
                            "channels_last", "linear")
        worst = max(worst, np.abs(ref_cf - ref_cl.transpose(0, 2, 1)).max())
    # native LSTM (sigmoid) against torch.nn.LSTM with plain transposed weights
    n_in, u = 3, 5
    x = rng.standard_normal((2, 6, n_in))
    K = rng.standard_normal((n_in, 4 * u)) * 0.5
    R = rng.standard_normal((u, 4 * u)) * 0.5
    B = rng.standard_normal(4 * u) * 0.5
    m = torch.nn.LSTM(n_in, u, batch_first=True).double()
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(K.T.copy()))
        m.weight_hh_l0.copy_(torch.from_numpy(R.T.copy()))
        m.bias_ih_l0.copy_(torch.from_numpy(B))
        m.bias_hh_l0.zero_()
        out, (h, c) = m(torch.from_numpy(x))
    seq, h2, c2 = lstm_ref(x, K, R, B, "tanh", "sigmoid")
    worst = max(worst, np.abs(out.numpy() - seq).max(), np.abs(c[0].numpy() - c2).max())
    assert worst < 1e-10, "selftest failed: %g" % worst
    print("selftest: numpy Conv1D/LSTM agree with torch (max |diff| %.2g)" % worst)


# --------------------------------------------------------------------------------------
# Optional: check the CuDNN reference against the shared dev corpus
# --------------------------------------------------------------------------------------


def check_corpus(corpus):
    """Run the torch CuDNNLSTM reference on keras-real synthetic CuDNNLSTM cases whose
    expected outputs come from other implementations."""
    ids = ["syn_v2_cudnnlstm_in3_u7_seq", "syn_v2_bi_cudnnlstm_concat_last",
           "syn_v2_bi_cudnnlstm_mul_t1"]
    for cid in ids:
        d = os.path.join(corpus, cid)
        if not os.path.isdir(d):
            print("check-corpus: %s missing, skipped" % cid)
            continue
        f = h5py.File(os.path.join(d, "model.h5"), "r")
        mc = f.attrs["model_config"]
        mc = json.loads(mc.decode() if isinstance(mc, bytes) else mc)
        lay = mc["config"]["layers"][0]
        g = f["model_weights"][lay["config"]["name"]]
        wn = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
        ws = [g[n][()] for n in wn]
        x = np.load(os.path.join(d, "input_0.npy"))
        exp = np.load(os.path.join(d, "expected_0.npy"))
        if lay["class_name"] == "CuDNNLSTM":
            cfg = lay["config"]
            seq, h, c = cudnn_lstm_torch(x, *ws, go_backwards=cfg.get("go_backwards", False))
            y = seq if cfg["return_sequences"] else h
        else:
            cfg = lay["config"]["layer"]["config"]
            mm = lay["config"]["merge_mode"]
            fs, fh, _ = cudnn_lstm_torch(x, *ws[:3])
            bs, bh, _ = cudnn_lstm_torch(x, *ws[3:], go_backwards=True)
            yf = fs if cfg["return_sequences"] else fh
            yb = bs[:, ::-1] if cfg["return_sequences"] else bh
            y = {"concat": lambda: np.concatenate([yf, yb], -1), "sum": lambda: yf + yb,
                 "mul": lambda: yf * yb, "ave": lambda: (yf + yb) / 2}[mm]()
        err = np.abs(y - exp).max()
        print("check-corpus: %-36s max|diff| = %.3g %s" % (cid, err, "OK" if err < 1e-4 else "MISMATCH"))
        if err >= 1e-4:
            sys.exit(1)
    check_corpus_native(corpus)


def check_corpus_native(corpus):
    """Run the numpy Dense/Conv1D/LSTM/Bidirectional references on every keras-real case
    (Keras 2, one input, one output) built only from those layers, against its outputs."""
    supported = {"InputLayer", "Dense", "LSTM", "Bidirectional", "Conv1D", "Activation",
                 "Dropout", "Flatten"}
    n_ok = n_bad = 0
    for e in json.load(open(os.path.join(corpus, "MANIFEST.json"))):
        kv = e.get("keras_version") or ""
        if (e["expect"] != "ok" or not kv.startswith("2") or len(e["inputs"]) != 1
                or len(e["outputs"]) != 1 or not set(e["layer_classes"]) <= supported):
            continue
        d = os.path.join(corpus, e["id"])
        with h5py.File(os.path.join(d, "model.h5"), "r") as f:
            if "model_config" not in f.attrs:
                continue
            mc = f.attrs["model_config"]
            mc = json.loads(mc.decode() if isinstance(mc, bytes) else mc)
            g = f["model_weights"]

            def W(name):
                lg = g[name]
                return [lg[n.decode() if isinstance(n, bytes) else n][()].astype(np.float64)
                        for n in lg.attrs["weight_names"]]
            layers = mc["config"]["layers"] if isinstance(mc["config"], dict) else mc["config"]
            x = f64(np.load(os.path.join(d, e["inputs"][0]["file"])))
            for l in layers:
                c, cn = l["config"], l["class_name"]
                if cn == "Dense":
                    w = W(c["name"])
                    x = ACT[c["activation"]](x @ w[0] + (w[1] if c["use_bias"] else 0.0))
                elif cn == "Conv1D":
                    w = W(c["name"])
                    x = conv1d_ref(x, w[0], w[1] if c["use_bias"] else None, c["strides"][0],
                                   c["padding"], c["dilation_rate"][0],
                                   c.get("data_format", "channels_last"), c["activation"])
                elif cn == "LSTM":
                    w = W(c["name"])
                    sq, h, _ = lstm_ref(x, w[0], w[1], w[2] if c["use_bias"] else None,
                                        c["activation"], c["recurrent_activation"],
                                        c["go_backwards"])
                    x = sq if c["return_sequences"] else h
                elif cn == "Bidirectional":
                    w = W(c["name"])
                    ic = c["layer"]["config"]
                    a, ra = ic["activation"], ic["recurrent_activation"]
                    fs, fh, _ = lstm_ref(x, *w[:3], act=a, ract=ra)
                    bs, bh, _ = lstm_ref(x, *w[3:], act=a, ract=ra, go_backwards=True)
                    rs = ic["return_sequences"]
                    y, yr = (fs, bs[:, ::-1]) if rs else (fh, bh)
                    x = {"concat": lambda: np.concatenate([y, yr], -1), "sum": lambda: y + yr,
                         "mul": lambda: y * yr, "ave": lambda: (y + yr) / 2}[c["merge_mode"]]()
                elif cn == "Activation":
                    x = ACT[c["activation"]](x)
                elif cn == "Flatten":
                    x = x.reshape(x.shape[0], -1)
        exp = np.load(os.path.join(d, e["outputs"][0]["file"]))
        err = np.abs(x.reshape(exp.shape) - exp).max()
        if err < 1e-4:
            n_ok += 1
        else:
            n_bad += 1
            print("check-corpus: %-50s max|diff| = %.3g MISMATCH" % (e["id"], err))
    print("check-corpus: numpy references match %d keras-real cases (gold keras/oracle), "
          "%d mismatches" % (n_ok, n_bad))
    if n_bad:
        sys.exit(1)


# --------------------------------------------------------------------------------------


def load_case_modules(here):
    """Imports tools/cases_*.py: each adds its cases with @case, using the
    helpers of this module (imported as gen_fixtures)."""
    sys.modules.setdefault("gen_fixtures", sys.modules[__name__])
    sys.path.insert(0, here)
    for fn in sorted(os.listdir(here)):
        if fn.startswith("cases_") and fn.endswith(".py"):
            importlib.import_module(fn[:-3])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    load_case_modules(here)
    ap = argparse.ArgumentParser(description="Generate kerasrun golden fixtures.")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(here), "fixtures"))
    ap.add_argument("--only", help="regex: only regenerate matching case ids")
    ap.add_argument("--check-corpus", metavar="DIR",
                    help="also verify the torch CuDNNLSTM reference on keras-real cases")
    a = ap.parse_args()
    if torch is not None:
        torch.set_num_threads(1)
    selftest()
    if a.check_corpus:
        check_corpus(a.check_corpus)
    os.makedirs(a.out, exist_ok=True)
    ids = [cid for cid, _ in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    metas = []
    for cid, fn in CASES:
        if a.only and not re.search(a.only, cid):
            mp = os.path.join(a.out, cid, "case.json")
            if os.path.isfile(mp):
                metas.append(json.load(open(mp)))
            continue
        seed = seed_of(cid)
        meta = fn(a.out, cid, seed, np.random.RandomState(seed))
        metas.append(meta)
        print("%-36s %-5s %s" % (cid, meta["expect"], ",".join(
            "x".join(map(str, oo["shape"])) for oo in meta["outputs"] if oo["shape"])))
    with open(os.path.join(a.out, "MANIFEST.json"), "w") as fh:
        json.dump(metas, fh, indent=1)
        fh.write("\n")
    print("%d cases written to %s" % (len(metas), a.out))


if __name__ == "__main__":
    main()
