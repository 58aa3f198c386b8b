"""Fixture cases for Keras 3 quantization and the config-key catalogue (ids prefixed q4_).

Keras 3 int8 layers (keras/src/layers/core/dense.py, einsum_dense.py, embedding.py,
keras/src/quantizers/quantizers.py), as model.quantize("int8") leaves them:
  * the dtype policy {"class_name": "QuantizedDTypePolicy", "config": {"mode": "int8",
    "source_name": "float32"}} (keras/src/dtype_policies/dtype_policy.py get_config);
  * Dense / EinsumDense: an int8 kernel and a float32 kernel_scale, one per output column
    (abs-max over the contracted axes: scale = 127 / (max|w| + 1e-7), q = round(w * scale)),
    stored in the order of variable_serialization_spec["int8"]: kernel, bias, kernel_scale.
    At call time the input is quantized the same way over its contracted axes, the int8
    product is exact, and the result is divided by inputs_scale * kernel_scale
    (_int8_call);
  * Embedding: int8 embeddings and one float32 scale per row; a lookup divides the row by
    its scale.

The int8 references compute the input quantization in float32, as Keras does (a float64
quantizer would round some values to the neighbouring int8), then the integer product
exactly (int64), then the float32 division; bias and activation follow in float64.
EinsumDense references use np.einsum on the equation itself, in float64.

Quantized models are written as Keras 3 .keras archives (keras/src/saving/saving_lib.py:
metadata.json, config.json, model.weights.h5 with layers/<snake_case class>/vars/<i>),
since kerasrun reads integer weights from those; the key-catalogue cases are Keras 3
legacy .h5 files (keras/src/legacy/saving/legacy_h5_format.py), like cases_formats.py's.
"""
import io
import json
import os
import re
import zipfile

import h5py
import numpy as np

from gen_fixtures import ACT, case, emit, f64, names_attr, rnd, str_attr
from cases_formats import (POLICY, k3_init, model_of, inputs_for, write_full, lstm_gates_ref,
                           split_gates, ACT3)

QPOLICY = {"module": "keras", "class_name": "QuantizedDTypePolicy",
           "config": {"mode": "int8", "source_name": "float32"}, "registered_name": None}

KERAS_VERSION = "3.13.2"


# --------------------------------------------------------------------------------------
# Keras int8 quantization, float32 as Keras computes it
# --------------------------------------------------------------------------------------


def abs_max_quantize(x, axis):
    """keras.quantizers.abs_max_quantize in float32: (int8 values, float32 scale with the
    reduced axes kept)."""
    x = np.asarray(x, dtype=np.float32)
    amax = np.max(np.abs(x), axis=axis, keepdims=True).astype(np.float32)
    scale = (np.float32(127) / (amax + np.float32(1e-7))).astype(np.float32)
    q = np.clip(np.round((x * scale).astype(np.float32)), -127, 127).astype(np.int8)
    return q, scale


def quantized_kernel(rng, shape, reduced_axes, scale=0.5):
    """A float kernel quantized as Layer.quantize("int8") does: (q int8, scale float32
    with the reduced axes kept as 1)."""
    w = rnd(rng, shape, scale)
    return abs_max_quantize(w, tuple(reduced_axes))


def int8_matmul_out(q_in, s_in, q_k, s_k, equation):
    """einsum of the int8 values, exact, then / (s_in * s_k) in float32. s_in and s_k
    are given as arrays over the output's labels (broadcastable)."""
    acc = np.einsum(equation, q_in.astype(np.int64), q_k.astype(np.int64))
    den = (s_in.astype(np.float64) * s_k.astype(np.float64)).astype(np.float32)
    return (acc.astype(np.float32) / den).astype(np.float32)


# --------------------------------------------------------------------------------------
# Keras 3 config fragments and writers
# --------------------------------------------------------------------------------------


def k3_entry(cls, name, cfg, build=None, policy=POLICY):
    d = {"module": "keras.layers", "class_name": cls,
         "config": dict({"name": name, "trainable": True, "dtype": policy}, **cfg),
         "registered_name": None}
    if build is not None:
        d["build_config"] = {"input_shape": build}
    return d


def k3_input_entry(name, shape, dtype="float32"):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": shape, "dtype": dtype, "sparse": False, "ragged": False,
                       "name": name, "optional": False},
            "registered_name": None}


def dense_cfg(units, activation="linear", use_bias=True):
    return {"units": units, "activation": activation, "use_bias": use_bias,
            "kernel_initializer": k3_init("GlorotUniform", {"seed": None}),
            "bias_initializer": k3_init("Zeros"), "kernel_regularizer": None,
            "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
            "quantization_config": None}


def einsum_cfg(equation, output_shape, bias_axes, activation="linear"):
    return {"equation": equation, "output_shape": output_shape, "activation": activation,
            "bias_axes": bias_axes,
            "kernel_initializer": k3_init("GlorotUniform", {"seed": None}),
            "bias_initializer": k3_init("Zeros"), "kernel_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None, "quantization_config": None}


def embedding_cfg(input_dim, output_dim, mask_zero=False):
    return {"input_dim": input_dim, "output_dim": output_dim,
            "embeddings_initializer": k3_init("RandomUniform",
                                              {"seed": None, "minval": -0.05, "maxval": 0.05}),
            "embeddings_regularizer": None, "activity_regularizer": None,
            "embeddings_constraint": None, "mask_zero": mask_zero, "quantization_config": None}


def sequential_config(entries, name="sequential"):
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": name, "trainable": True, "dtype": POLICY, "layers": entries},
            "registered_name": None,
            "build_config": {"input_shape": entries[0]["config"]["batch_shape"]}}


def snake_case(name):
    """keras.src.utils.naming.to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def write_keras_archive(path, config, layer_vars):
    """A .keras archive as saving_lib.save_model writes it. layer_vars: [(class_name,
    layer name, [arrays in save_own_variables order])] in model.layers order; the
    weights group of each layer is layers/<snake_case class>[_<n>]."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        layers = f.create_group("layers")
        seen = {}
        for cls, lname, arrays in layer_vars:
            key = snake_case(cls)
            n = seen.get(key, 0)
            seen[key] = n + 1
            if n:
                key = "%s_%d" % (key, n)
            v = layers.create_group(key).create_group("vars")
            v.attrs["name"] = lname
            for i, a in enumerate(arrays):
                v.create_dataset(str(i), data=a)
        f.create_group("vars").attrs["name"] = config["config"]["name"]
    meta = {"keras_version": KERAS_VERSION, "date_saved": "2026-01-01@00:00:00"}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in (("metadata.json", json.dumps(meta).encode()),
                           ("config.json", json.dumps(config).encode()),
                           ("model.weights.h5", buf.getvalue())):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def emit_keras(o, cid, seed, m, xs, config, layer_vars, **kw):
    """emit() with the model written as model.keras."""
    def w(path):
        write_keras_archive(path, config, layer_vars)
    meta = emit(o, cid, seed, m, xs, write=w, keras_version=KERAS_VERSION, backend=None, **kw)
    d = os.path.join(o, cid)
    os.replace(os.path.join(d, "model.h5"), os.path.join(d, "model.keras"))
    meta["files"][0] = "model.keras"
    with open(os.path.join(d, "case.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
        fh.write("\n")
    return meta


def named_case(cid, fn):
    """Registers a generated case function under its id."""
    fn.__name__ = "case_" + cid
    return case(fn)


# --------------------------------------------------------------------------------------
# int8 Dense and Embedding
# --------------------------------------------------------------------------------------


def int8_dense_ref(x, q, ks, b, act):
    """Dense._int8_call: x [..., k], q [k, n] int8, ks [n]."""
    x = np.asarray(x, dtype=np.float32)
    qx, sx = abs_max_quantize(x, -1)
    y = int8_matmul_out(qx, sx, q, ks, "...k,kn->...n")
    y = f64(y)
    if b is not None:
        y = y + f64(b)
    return ACT[act](y)


@case
def case_q4_dense_int8(o, cid, seed, rng):
    k_in, u1, u2 = 9, 6, 3
    q1, s1 = quantized_kernel(rng, (k_in, u1), [0])
    s1 = s1.reshape(u1)
    b1 = rnd(rng, (u1,))
    k2, b2 = rnd(rng, (u1, u2)), rnd(rng, (u2,))
    cfg = sequential_config([
        k3_input_entry("input_layer", [None, k_in]),
        k3_entry("Dense", "dense", dense_cfg(u1, "relu"), [None, k_in], QPOLICY),
        k3_entry("Dense", "dense_1", dense_cfg(u2, "linear"), [None, u1])])

    def fwd(xs):
        h = int8_dense_ref(xs[0], q1, s1, b1, "relu")
        return [h @ f64(k2) + f64(b2)]
    m = model_of("Sequential", cfg, ["InputLayer", "Dense"], [("input_layer", [k_in], "float32")],
                 [("dense_1", 0)], fwd)
    xs = inputs_for(rng, [[k_in]], batch=4)
    xs[0][1] *= 40  # a row of large values: its own scale
    return emit_keras(o, cid, seed, m, xs, cfg,
                      [("Dense", "dense", [q1, b1, s1]), ("Dense", "dense_1", [k2, b2])],
                      notes="int8 Dense (QuantizedDTypePolicy int8_from_float32) then a float "
                            "Dense; variables kernel (int8), bias, kernel_scale")


@case
def case_q4_dense_int8_seq_nobias(o, cid, seed, rng):
    t, k_in, u = 5, 7, 4
    q, s = quantized_kernel(rng, (k_in, u), [0])
    s = s.reshape(u)
    cfg = sequential_config([
        k3_input_entry("input_layer", [None, t, k_in]),
        k3_entry("Dense", "dense", dense_cfg(u, "tanh", use_bias=False), [None, t, k_in], QPOLICY)])

    def fwd(xs):
        return [int8_dense_ref(xs[0], q, s, None, "tanh")]
    m = model_of("Sequential", cfg, ["InputLayer", "Dense"],
                 [("input_layer", [t, k_in], "float32")], [("dense", 0)], fwd)
    xs = inputs_for(rng, [[t, k_in]], batch=2)
    xs[0][0, 2] = 0.0  # an all-zero row: scale 127 / 1e-7
    return emit_keras(o, cid, seed, m, xs, cfg, [("Dense", "dense", [q, s])],
                      notes="int8 Dense without bias on a rank-3 input (each time step's row "
                            "quantized on its own), one all-zero row")


@case
def case_q4_embedding_int8(o, cid, seed, rng):
    t, vocab, dim, u = 6, 20, 8, 3
    e = rnd(rng, (vocab, dim))
    qe, se = abs_max_quantize(e, -1)
    se = se.reshape(vocab)
    qd, sd = quantized_kernel(rng, (dim, u), [0])
    sd = sd.reshape(u)
    bd = rnd(rng, (u,))
    cfg = sequential_config([
        k3_input_entry("input_layer", [None, t], dtype="int32"),
        k3_entry("Embedding", "embedding", embedding_cfg(vocab, dim), [None, t], QPOLICY),
        k3_entry("Dense", "dense", dense_cfg(u, "sigmoid"), [None, t, dim], QPOLICY)])

    def fwd(xs):
        ids = np.asarray(xs[0]).astype(np.int64)
        rows = (qe.astype(np.float32) / se[:, None]).astype(np.float32)[ids]
        return [int8_dense_ref(rows, qd, sd, bd, "sigmoid")]
    m = model_of("Sequential", cfg, ["InputLayer", "Embedding", "Dense"],
                 [("input_layer", [t], "int32")], [("dense", 0)], fwd)
    xs = inputs_for(rng, [[t]], batch=3, tokens=vocab)
    return emit_keras(o, cid, seed, m, xs, cfg,
                      [("Embedding", "embedding", [qe, se]), ("Dense", "dense", [qd, bd, sd])],
                      notes="int8 Embedding (embeddings int8, embeddings_scale per row) into an "
                            "int8 Dense")


# --------------------------------------------------------------------------------------
# EinsumDense
# --------------------------------------------------------------------------------------


def bias_shape(out_spec, full_out, bias_axes):
    """_analyze_split_string's bias shape: the output axes from the first bias label on,
    each its size if a bias label, else 1."""
    first = min(out_spec.find(c) for c in bias_axes)
    off = len(full_out) - len(out_spec)
    return [full_out[off + i] if c in bias_axes else 1
            for i, c in enumerate(out_spec) if i >= first]


def kernel_scale_layout(equation, scale):
    """EinsumDense._adjust_scale_for_quant(scale, "kernel") for an equation without an
    ellipsis (_analyze_quantization_info): transpose, expand_dims, squeeze."""
    ins, rest = equation.split(",")
    ws, outs = rest.split("->")
    reduced = [i for i, c in enumerate(ws) if c not in outs]
    expand = [i for i, c in enumerate(outs) if c not in ws]
    transpose = [ws.find(c) for c in outs if c in ws]
    squeeze = []
    for ori in reduced:
        if expand:
            idx = expand.pop(0)
        else:
            squeeze.append(ori)
        transpose.insert(idx, ori)
    s = np.transpose(scale, transpose)
    if expand:
        s = np.expand_dims(s, tuple(expand))
    if squeeze:
        s = np.squeeze(s, tuple(squeeze))
    return s


def einsum_case(equation, in_shape, output_shape, bias_axes, activation, quantized, notes):
    def fn(o, cid, seed, rng):
        ins, rest = equation.split(",")
        ws, outs = rest.split("->")
        dims = {}
        for c, d in zip(ins, [None] + list(in_shape)):
            dims[c] = d
        for c, d in zip(outs[1:], output_shape):
            dims.setdefault(c, d)
        kshape = [dims[c] for c in ws]
        full_out = [None] + list(output_shape)
        bshape = bias_shape(outs, full_out, bias_axes) if bias_axes else None
        b = rnd(rng, bshape) if bshape else None
        reduced = [i for i, c in enumerate(ws) if c not in outs]
        if quantized:
            qk, sk = quantized_kernel(rng, kshape, reduced)
            sk_stored = kernel_scale_layout(equation, sk)
            kern_vars = [qk] + ([b] if b is not None else []) + [sk_stored]
        else:
            k = rnd(rng, kshape)
            kern_vars = [k] + ([b] if b is not None else [])
        cfg = sequential_config([
            k3_input_entry("input_layer", [None] + list(in_shape)),
            k3_entry("EinsumDense", "einsum_dense",
                     einsum_cfg(equation, list(output_shape), bias_axes, activation),
                     [None] + list(in_shape), QPOLICY if quantized else POLICY)])

        def fwd(xs):
            x = xs[0]
            if quantized:
                in_red = tuple(i for i, c in enumerate(ins) if c not in outs)
                qx, sx = abs_max_quantize(np.asarray(x, np.float32), in_red)
                # The scales over the output's labels: each operand's kept labels.
                sx_sq = np.squeeze(sx, in_red)
                sk_sq = np.squeeze(sk, tuple(reduced))
                kin = "".join(c for c in ins if c in outs)
                kw = "".join(c for c in ws if c in outs)
                den = np.einsum("%s,%s->%s" % (kin, kw, outs), f64(sx_sq), f64(sk_sq))
                acc = np.einsum(equation, qx.astype(np.int64), qk.astype(np.int64))
                y = f64((acc.astype(np.float32) / den.astype(np.float32)).astype(np.float32))
            else:
                y = np.einsum(equation, f64(x), f64(k))
            if b is not None:
                y = y + f64(b)
            return [ACT[activation](y)]
        m = model_of("Sequential", cfg, ["InputLayer", "EinsumDense"],
                     [("input_layer", list(in_shape), "float32")], [("einsum_dense", 0)], fwd)
        xs = inputs_for(rng, [list(in_shape)], batch=2)
        return emit_keras(o, cid, seed, m, xs, cfg, [("EinsumDense", "einsum_dense", kern_vars)],
                          notes=notes)
    return fn


named_case("q4_einsum_2d", einsum_case(
    "ab,bc->ac", [5], [4], "c", "relu", False, "EinsumDense ab,bc->ac with bias_axes c"))
named_case("q4_einsum_3d_bias_d", einsum_case(
    "abc,cde->abde", [3, 5], [3, 2, 4], "d", "linear", False,
    "EinsumDense abc,cde->abde, bias_axes d: a bias of shape [d, 1] broadcast over e"))
named_case("q4_einsum_seq_nobias", einsum_case(
    "abc,cd->abd", [4, 6], [4, 3], None, "tanh", False, "EinsumDense abc,cd->abd without bias"))
named_case("q4_einsum_int8_3d", einsum_case(
    "abc,cde->abde", [3, 6], [3, 2, 4], "de", "linear", True,
    "int8 EinsumDense abc,cde->abde, bias_axes de; kernel_scale stored as [1, 1, d, e]"))
named_case("q4_einsum_int8_2d", einsum_case(
    "ab,bc->ac", [7], [5], "c", "softmax", True,
    "int8 EinsumDense ab,bc->ac, kernel_scale stored as [1, c]"))


# --------------------------------------------------------------------------------------
# The key catalogue: a Keras 3.13 model with every new key at its off value, and keys at
# values kerasrun refuses
# --------------------------------------------------------------------------------------


def lstm_cfg(units, return_sequences):
    return {"return_sequences": return_sequences, "return_state": False, "go_backwards": False,
            "stateful": False, "unroll": False, "zero_output_for_mask": False, "units": units,
            "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
            "kernel_initializer": k3_init("GlorotUniform", {"seed": None}),
            "recurrent_initializer": k3_init("Orthogonal", {"seed": None, "gain": 1.0}),
            "bias_initializer": k3_init("Zeros"), "unit_forget_bias": True,
            "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None,
            "recurrent_constraint": None, "bias_constraint": None, "dropout": 0.0,
            "recurrent_dropout": 0.0, "seed": None, "use_cudnn": "auto"}


def bn_cfg():
    return {"axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True,
            "beta_initializer": k3_init("Zeros"), "gamma_initializer": k3_init("Ones"),
            "moving_mean_initializer": k3_init("Zeros"),
            "moving_variance_initializer": k3_init("Ones"), "beta_regularizer": None,
            "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None,
            "synchronized": False}


def k313_model(rng, tweak=None):
    """Embedding -> LSTM -> BatchNormalization -> Dropout -> Dense, every config as Keras 3.13
    writes it (quantization_config null, lora_rank null, seed, use_cudnn "auto",
    synchronized false). tweak(entries) may change the configs."""
    t, vocab, dim, u, n = 5, 12, 4, 3, 2
    e = rnd(rng, (vocab, dim))
    kl, rl, bl = rnd(rng, (dim, 4 * u)), rnd(rng, (u, 4 * u)), rnd(rng, (4 * u,))
    gamma, beta = 1.0 + rnd(rng, (u,), 0.1), rnd(rng, (u,))
    mean, var = rnd(rng, (u,)), (0.5 + np.abs(rnd(rng, (u,)))).astype(np.float32)
    kd, bd = rnd(rng, (u, n)), rnd(rng, (n,))
    emb = dict(embedding_cfg(vocab, dim), lora_rank=None)
    dense = dict(dense_cfg(n, "softmax"), lora_rank=None)
    entries = [
        k3_input_entry("input_layer", [None, t], dtype="int32"),
        k3_entry("Embedding", "embedding", emb, [None, t]),
        k3_entry("LSTM", "lstm", lstm_cfg(u, False), [None, t, dim]),
        k3_entry("BatchNormalization", "batch_normalization", bn_cfg(), [None, u]),
        k3_entry("Dropout", "dropout", {"rate": 0.25, "seed": 1337, "noise_shape": None}),
        k3_entry("Dense", "dense", dense, [None, u])]
    if tweak is not None:
        tweak(entries)
    mc = sequential_config(entries)
    mc["config"]["build_input_shape"] = [None, t]
    groups = [("batch_normalization", [("batch_normalization/gamma", gamma),
                                       ("batch_normalization/beta", beta),
                                       ("batch_normalization/moving_mean", mean),
                                       ("batch_normalization/moving_variance", var)]),
              ("dense", [("dense/kernel", kd), ("dense/bias", bd)]),
              ("dropout", []),
              ("embedding", [("embedding/embeddings", e)]),
              ("input_layer", []),
              ("lstm", [("lstm/lstm_cell/kernel", kl), ("lstm/lstm_cell/recurrent_kernel", rl),
                        ("lstm/lstm_cell/bias", bl)])]
    order = ["input_layer", "embedding", "lstm", "batch_normalization", "dropout", "dense"]
    groups = sorted(groups, key=lambda g: order.index(g[0]))

    def fwd(xs):
        ids = np.asarray(xs[0]).astype(np.int64)
        _, (h, _) = lstm_gates_ref(f64(e)[ids], split_gates(kl, rl, bl), u, "tanh", "sigmoid", ACT3)
        hn = (h - f64(mean)) / np.sqrt(f64(var) + 0.001) * f64(gamma) + f64(beta)
        return [ACT["softmax"](hn @ f64(kd) + f64(bd))]
    m = model_of("Sequential", mc, ["InputLayer", "Embedding", "LSTM", "BatchNormalization",
                                    "Dropout", "Dense"],
                 [("input_layer", [t], "int32")], [("dense", 0)], fwd)
    return m, mc, groups, inputs_for(rng, [[t]], batch=3, tokens=vocab)


def write_k3_h5(mc, groups):
    return lambda p: write_full(p, mc, groups, keras_version=KERAS_VERSION, backend="tensorflow",
                                str_mode="vlen_utf8", top_level=True)


@case
def case_q4_keras313_off_keys(o, cid, seed, rng):
    m, mc, groups, xs = k313_model(rng)
    return emit(o, cid, seed, m, xs, write=write_k3_h5(mc, groups), keras_version=KERAS_VERSION,
                notes="Keras 3.13 legacy .h5: quantization_config null, lora_rank null, "
                      "Dropout seed, LSTM seed and use_cudnn auto, BatchNormalization "
                      "synchronized false, InputLayer optional/ragged false")


def refused_case(tweak, why, notes):
    def fn(o, cid, seed, rng):
        m, mc, groups, xs = k313_model(rng, tweak)
        return emit(o, cid, seed, m, xs, expect="error", why=why,
                    write=write_k3_h5(mc, groups), keras_version=KERAS_VERSION, notes=notes)
    return fn


def set_key(layer, key, value):
    def tweak(entries):
        for e in entries:
            if e["config"]["name"] == layer:
                e["config"][key] = value
    return tweak


named_case("q4_refuse_dense_quantization_config", refused_case(
    set_key("dense", "quantization_config",
            {"module": "keras.quantizers", "class_name": "Int8QuantizationConfig",
             "config": {"weight_quantizer": None, "activation_quantizer": None},
             "registered_name": None}),
    "dense | quantization_config | unsupported",
    "Dense with a quantization_config (a custom int8 quantizer): refused"))
named_case("q4_refuse_dense_lora", refused_case(
    set_key("dense", "lora_rank", 4), "dense | lora_rank | 4",
    "Dense with lora_rank 4: refused"))
named_case("q4_refuse_embedding_lora", refused_case(
    set_key("embedding", "lora_rank", 2), "embedding | lora_rank | 2",
    "Embedding with lora_rank 2: refused"))
named_case("q4_refuse_lstm_time_major", refused_case(
    set_key("lstm", "time_major", True), "lstm | time_major",
    "LSTM with time_major true: refused"))
named_case("q4_refuse_dense_int4", refused_case(
    set_key("dense", "dtype", {"module": "keras", "class_name": "Int4DTypePolicy",
                               "config": {"mode": "int4", "source_name": "float32",
                                          "block_size": 128},
                               "registered_name": None}),
    "dense | int4",
    "Dense with an int4 dtype policy: refused, naming the mode"))
named_case("q4_refuse_dense_float8", refused_case(
    set_key("dense", "dtype", {"module": "keras", "class_name": "QuantizedFloat8DTypePolicy",
                               "config": {"mode": "float8", "source_name": "float32",
                                          "amax_history_length": 1024},
                               "registered_name": None}),
    "dense | float8",
    "Dense with a float8 dtype policy: refused, naming the mode"))
named_case("q4_refuse_lstm_int8", refused_case(
    set_key("lstm", "dtype", QPOLICY), "lstm | int8_from_float32",
    "an int8 policy on an LSTM, which Keras does not quantize: refused"))
named_case("q4_refuse_unknown_key", refused_case(
    set_key("batch_normalization", "frobnicate", 1), "batch_normalization | frobnicate",
    "an unknown key still fails"))
