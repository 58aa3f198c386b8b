"""Fixture cases for issue 3's file formats (ids prefixed f3_): Keras 1 files,
tf.keras nested models and shared layers, Keras 3 legacy .h5 files, and
weights-only files with their architecture JSON.

Each file is written the way that Keras version saved it:
  * Keras 1.2.2 (keras/engine/topology.py save_model / save_weights_to_hdf5_group):
    root keras_version (no backend), model_config with the Keras 1 layer options,
    model_weights/layer_names (no keras_version/backend there), per-gate recurrent
    weights (LSTM W_i, U_i, b_i, W_c, ..., gate order i, c, f, o; GRU z, r, h),
    Convolution1D kernels 4-D (filter_length, 1, input_dim, nb_filter) (Keras 1.1:
    (nb_filter, input_dim, filter_length, 1)), weight names "<layer>_<param>:0" with
    TensorFlow and "<layer>_<param>" with Theano. save_weights writes only layer_names
    at the root.
  * tf.keras 2.x: Functional class, nested models whose group holds all their weights
    named by the inner layers, cell scopes ("lstm/lstm_cell/kernel:0"),
    top_level_model_weights (2.7+), variable-length strings.
  * Keras 3 (keras/src/legacy/saving/legacy_h5_format.py): module/registered_name/
    build_config keys, InputLayer batch_shape, DTypePolicy objects, initializers with
    module, the {"args", "kwargs"} inbound nodes, weight paths without ":0",
    top_level_model_weights.
  * weights-only files (model.save_weights) plus arch.json (model.to_json()), whose layer
    names may differ from the file's: Keras binds them by position.

Expected outputs come from float64 numpy references written from the Keras math, using
the per-gate Keras 1 arrays directly (not the concatenated Keras 2 form the importer
builds), so the gate reordering is checked independently. Keras 1 Theano convolution
kernels are used as stored, as Keras 2 loads them (saving.py _need_convert_kernel(None)).
"""
import copy
import json
import os

import h5py
import numpy as np

from gen_fixtures import (ACT, Model, case, emit, f64, names_attr, rnd, str_attr)

T, F = 6, 4


def hsig1(x):
    """hard_sigmoid of Keras 1, Keras 2 and tf.keras."""
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def hsig3(x):
    """hard_sigmoid of Keras 3: relu6(x + 3) / 6."""
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


ACT1 = dict(ACT, hard_sigmoid=hsig1)
ACT3 = dict(ACT, hard_sigmoid=hsig3)


# --------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------


def write_groups(g, groups, names_mode, layer_names=None):
    names_attr(g, "layer_names", layer_names if layer_names is not None else [n for n, _ in groups],
               names_mode)
    for name, ws in groups:
        lg = g.create_group(name)
        names_attr(lg, "weight_names", [n for n, _ in ws], names_mode)
        for n, a in ws:
            lg.create_dataset(n, data=a)


def write_full(path, model_config, groups, keras_version=None, backend=None, str_mode="fixed",
               names_mode="fixed", group_attrs=True, top_level=False):
    """model.save(): root attrs, model_weights with layer_names and the groups."""
    with h5py.File(path, "w") as f:
        if keras_version is not None:
            str_attr(f, "keras_version", keras_version, str_mode)
        if backend is not None:
            str_attr(f, "backend", backend, str_mode)
        str_attr(f, "model_config", json.dumps(model_config).encode("utf8"), "fixed")
        g = f.create_group("model_weights")
        write_groups(g, groups, names_mode)
        if group_attrs:
            if backend is not None:
                str_attr(g, "backend", backend, str_mode)
            if keras_version is not None:
                str_attr(g, "keras_version", keras_version, str_mode)
        if top_level:
            tg = g.create_group("top_level_model_weights")
            names_attr(tg, "weight_names", [], names_mode)


def write_weights_only(path, groups, keras_version=None, backend=None, str_mode="fixed",
                       names_mode="fixed"):
    """model.save_weights(): layer_names (and, from Keras 2 on, backend and keras_version)
    at the root."""
    with h5py.File(path, "w") as f:
        write_groups(f, groups, names_mode)
        if backend is not None:
            str_attr(f, "backend", backend, str_mode)
        if keras_version is not None:
            str_attr(f, "keras_version", keras_version, str_mode)


def emit_files(o, cid, seed, model, xs, write, arch=None, **kw):
    """emit() plus an arch.json listed in the case's files."""
    def w(path):
        write(path)
        if arch is not None:
            with open(os.path.join(os.path.dirname(path), "arch.json"), "w") as fh:
                json.dump(arch, fh, indent=1)
                fh.write("\n")
    meta = emit(o, cid, seed, model, xs, write=w, **kw)
    if arch is not None:
        meta["files"].insert(1, "arch.json")
        with open(os.path.join(o, cid, "case.json"), "w") as fh:
            json.dump(meta, fh, indent=1)
            fh.write("\n")
    return meta


def model_of(model_class, config, classes, inputs, outputs, forward):
    """A gen_fixtures Model for emit(): inputs [(name, shape, dtype)], outputs
    [(name, tensor_index)]."""
    m = Model(model_class, config, [], inputs, outputs, forward)
    m.layer_classes = lambda all_layers=None: list(classes)
    return m


def inputs_for(rng, shapes, batch=2, tokens=None):
    xs = []
    for s in shapes:
        if tokens is not None:
            xs.append(rng.randint(0, tokens, size=[batch] + list(s)).astype(np.int32))
        else:
            xs.append(rng.standard_normal([batch] + list(s)).astype(np.float32))
    return xs


# --------------------------------------------------------------------------------------
# References, float64
# --------------------------------------------------------------------------------------


def dense_ref(x, k, b, act="linear", acts=ACT):
    y = f64(x) @ f64(k)
    if b is not None:
        y = y + f64(b)
    return acts[act](y)


def loop(step, x, states, go_backwards=False):
    x = f64(x)
    order = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    outs = []
    for t in order:
        states = step(x[:, t], states)
        outs.append(states[0])
    return np.stack(outs, 1), states


def lstm_gates_ref(x, g, units, act, ract, acts=ACT, go_backwards=False):
    """LSTM from per-gate arrays g = {"W_i": .., "U_i": .., "b_i": .., ...}."""
    a, ra = acts[act], acts[ract]
    W = {k: f64(v) for k, v in g.items()}

    def step(xt, st):
        h, c = st
        i = ra(xt @ W["W_i"] + h @ W["U_i"] + W["b_i"])
        f = ra(xt @ W["W_f"] + h @ W["U_f"] + W["b_f"])
        cc = a(xt @ W["W_c"] + h @ W["U_c"] + W["b_c"])
        o = ra(xt @ W["W_o"] + h @ W["U_o"] + W["b_o"])
        c = f * c + i * cc
        return [o * a(c), c]
    B = x.shape[0]
    return loop(step, x, [np.zeros((B, units)), np.zeros((B, units))], go_backwards)


def split_gates(k, r, b, names="ifco"):
    """Keras 2 kernel/recurrent/bias (gate order of names) to per-gate arrays."""
    u = r.shape[0]
    g = {}
    for j, n in enumerate(names):
        g["W_" + n] = k[:, j * u:(j + 1) * u]
        g["U_" + n] = r[:, j * u:(j + 1) * u]
        g["b_" + n] = b[j * u:(j + 1) * u]
    return g


def gru1_ref(x, g, units, act="tanh", ract="hard_sigmoid", acts=ACT1):
    """Keras 1 GRU (= Keras 2 GRU(reset_after=False)) from per-gate arrays."""
    a, ra = acts[act], acts[ract]
    W = {k: f64(v) for k, v in g.items()}

    def step(xt, st):
        h = st[0]
        z = ra(xt @ W["W_z"] + h @ W["U_z"] + W["b_z"])
        r = ra(xt @ W["W_r"] + h @ W["U_r"] + W["b_r"])
        hh = a(xt @ W["W_h"] + (r * h) @ W["U_h"] + W["b_h"])
        return [z * h + (1 - z) * hh]
    return loop(step, x, [np.zeros((x.shape[0], units))])


def simple_rnn_ref(x, W, U, b, act="tanh", acts=ACT):
    W, U, b = f64(W), f64(U), f64(b)

    def step(xt, st):
        return [acts[act](xt @ W + st[0] @ U + b)]
    return loop(step, x, [np.zeros((x.shape[0], U.shape[0]))])


def conv1d_valid_or_same(x, k, b, padding, act="linear"):
    """Keras Conv1D, stride 1, channels_last; k [ksize, in, out]."""
    x, k = f64(x), f64(k)
    ks = k.shape[0]
    if padding == "same":
        total = ks - 1
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    n = x.shape[1] - ks + 1
    y = np.zeros((x.shape[0], n, k.shape[2]))
    for t in range(n):
        for j in range(ks):
            y[:, t] += x[:, t + j] @ k[j]
    if b is not None:
        y = y + f64(b)
    return ACT[act](y)


# --------------------------------------------------------------------------------------
# Keras 1.2.2 configs
# --------------------------------------------------------------------------------------


def k1_dense(name, output_dim, activation="linear", bias=True, input_dim=None, bis=None):
    c = {"name": name, "trainable": True, "init": "glorot_uniform", "activation": activation,
         "W_regularizer": None, "b_regularizer": None, "activity_regularizer": None,
         "W_constraint": None, "b_constraint": None, "bias": bias, "input_dim": input_dim,
         "output_dim": output_dim}
    if bis is not None:
        c["batch_input_shape"] = bis
        c["input_dtype"] = "float32"
    return {"class_name": "Dense", "config": c}


def k1_recurrent(cls, name, output_dim, input_dim, bis=None, return_sequences=False,
                 consume_less="cpu", activation="tanh", inner_activation="hard_sigmoid",
                 go_backwards=False):
    c = {"name": name, "trainable": True, "return_sequences": return_sequences,
         "go_backwards": go_backwards, "stateful": False, "unroll": False,
         "consume_less": consume_less, "input_dim": input_dim, "input_length": None,
         "output_dim": output_dim, "init": "glorot_uniform", "inner_init": "orthogonal",
         "activation": activation, "W_regularizer": None, "U_regularizer": None,
         "b_regularizer": None, "dropout_W": 0.0, "dropout_U": 0.0}
    if cls == "LSTM":
        c["forget_bias_init"] = "one"
    if cls != "SimpleRNN":
        c["inner_activation"] = inner_activation
    if bis is not None:
        c["batch_input_shape"] = bis
        c["input_dtype"] = "float32"
    return {"class_name": cls, "config": c}


def k1_lstm_weights(rng, name, n_in, u, suffix=":0"):
    """12 per-gate arrays in Keras 1 stored order (i, c, f, o)."""
    ws, g = [], {}
    for gate in "icfo":
        for p, shape in (("W", (n_in, u)), ("U", (u, u)), ("b", (u,))):
            a = rnd(rng, shape)
            g["%s_%s" % (p, gate)] = a
            ws.append(("%s_%s_%s%s" % (name, p, gate, suffix), a))
    return ws, g


# --------------------------------------------------------------------------------------
# 1. Keras 1 files
# --------------------------------------------------------------------------------------


@case
def case_f3_k1_lstm_dense(o, cid, seed, rng):
    u = 5
    lws, g = k1_lstm_weights(rng, "lstm_1", F, u)
    dk, db = rnd(rng, (u, 3)), rnd(rng, (3,))
    mc = {"class_name": "Sequential", "config": [
        k1_recurrent("LSTM", "lstm_1", u, F, bis=[None, T, F]),
        k1_dense("dense_1", 3, "softmax", input_dim=u)]}
    groups = [("lstm_1", lws), ("dense_1", [("dense_1_W:0", dk), ("dense_1_b:0", db)])]

    def fwd(xs):
        _, (h, _) = lstm_gates_ref(xs[0], g, u, "tanh", "hard_sigmoid", ACT1)
        return [dense_ref(h, dk, db, "softmax")]
    m = model_of("Sequential", mc, ["LSTM", "Dense"], [("lstm_1_input", [T, F], "float32")],
                 [("dense_1", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_full(p, mc, groups, keras_version="1.2.2", group_attrs=False),
                      keras_version="1.2.2", backend=None,
                      notes="Keras 1.2.2 Sequential (list form), TensorFlow names: LSTM with 12 "
                            "per-gate arrays stored i, c, f, o (Keras 2 concatenates i, f, c, o), "
                            "output_dim/inner_activation/consume_less; Dense output_dim/bias/W_*")


@case
def case_f3_k1_gru_theano(o, cid, seed, rng):
    u = 4
    ws, g = [], {}
    for gate in "zrh":
        for p, shape in (("W", (F, u)), ("U", (u, u)), ("b", (u,))):
            a = rnd(rng, shape)
            g["%s_%s" % (p, gate)] = a
            ws.append(("gru_1_%s_%s" % (p, gate), a))
    mc = {"class_name": "Sequential", "config": [
        k1_recurrent("GRU", "gru_1", u, F, bis=[None, T, F], return_sequences=True,
                     consume_less="mem")]}

    def fwd(xs):
        seq, _ = gru1_ref(xs[0], g, u)
        return [seq]
    m = model_of("Sequential", mc, ["GRU"], [("gru_1_input", [T, F], "float32")],
                 [("gru_1", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_full(p, mc, [("gru_1", ws)], keras_version="1.2.2",
                                           group_attrs=False),
                      keras_version="1.2.2", backend=None,
                      notes="Keras 1.2.2 Theano-backend file (weight names without ':0'): GRU "
                            "with 9 per-gate arrays (z, r, h), return_sequences; the Keras 1 GRU "
                            "is Keras 2's GRU(reset_after=False)")


@case
def case_f3_k1_simplernn_timedistributed(o, cid, seed, rng):
    u = 4
    W, U, b = rnd(rng, (F, u)), rnd(rng, (u, u)), rnd(rng, (u,))
    dk, db = rnd(rng, (u, 3)), rnd(rng, (3,))
    td = {"class_name": "TimeDistributed", "config": {
        "name": "timedistributed_1", "trainable": True,
        "layer": k1_dense("dense_1", 3, "tanh", input_dim=None)}}
    mc = {"class_name": "Sequential", "config": [
        k1_recurrent("SimpleRNN", "simplernn_1", u, F, bis=[None, T, F], return_sequences=True),
        td]}
    groups = [("simplernn_1", [("simplernn_1_W:0", W), ("simplernn_1_U:0", U),
                               ("simplernn_1_b:0", b)]),
              ("timedistributed_1", [("dense_1_W:0", dk), ("dense_1_b:0", db)])]

    def fwd(xs):
        seq, _ = simple_rnn_ref(xs[0], W, U, b)
        return [dense_ref(seq, dk, db, "tanh")]
    m = model_of("Sequential", mc, ["SimpleRNN", "TimeDistributed", "Dense"],
                 [("simplernn_1_input", [T, F], "float32")], [("timedistributed_1", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_full(p, mc, groups, keras_version="1.2.2", group_attrs=False),
                      keras_version="1.2.2", backend=None,
                      notes="Keras 1.2.2: SimpleRNN (W, U, b) then TimeDistributed(Dense) whose "
                            "weights are named after the inner layer (dense_1_W:0)")


def _k1_conv_case(name, cid_notes, legacy, theano, border_mode):
    def fn(o, cid, seed, rng):
        L, V, E, nf, ks = 8, 7, 3, 4, 3
        emb = rnd(rng, (V, E))
        k = rnd(rng, (ks, E, nf))
        b = rnd(rng, (nf,))
        stored = k[:, None, :, :]                       # (k, 1, in, out)
        if legacy:
            stored = np.transpose(stored, (3, 2, 0, 1))  # (out, in, k, 1)
        sfx = "" if theano else ":0"
        mc = {"class_name": "Sequential", "config": [
            {"class_name": "Embedding", "config": {
                "name": "embedding_1", "trainable": True, "batch_input_shape": [None, L],
                "input_dtype": "int32", "input_dim": V, "output_dim": E, "init": "uniform",
                "input_length": L, "mask_zero": False, "activity_regularizer": None,
                "W_regularizer": None, "W_constraint": None, "dropout": 0.2}},
            {"class_name": "Convolution1D", "config": {
                "name": "convolution1d_1", "trainable": True, "nb_filter": nf,
                "filter_length": ks, "init": "glorot_uniform", "activation": "relu",
                "border_mode": border_mode, "subsample_length": 1, "W_regularizer": None,
                "b_regularizer": None, "activity_regularizer": None, "W_constraint": None,
                "b_constraint": None, "bias": True, "input_dim": None, "input_length": None}}]}
        groups = [("embedding_1", [("embedding_1_W" + sfx, emb)]),
                  ("convolution1d_1", [("convolution1d_1_W" + sfx, stored),
                                       ("convolution1d_1_b" + sfx, b)])]

        def fwd(xs):
            e = f64(emb)[np.asarray(xs[0]).astype(np.int64)]
            return [conv1d_valid_or_same(e, k, b, border_mode, "relu")]
        m = model_of("Sequential", mc, ["Embedding", "Convolution1D"],
                     [("embedding_1_input", [L], "int32")], [("convolution1d_1", 0)], fwd)
        expect = "ok" if border_mode in ("valid", "same") else "error"
        kv = "1.1.0" if legacy else "1.2.2"
        return emit_files(o, cid, seed, m, inputs_for(rng, [[L]], tokens=V),
                          lambda p: write_full(p, mc, groups, keras_version=kv, group_attrs=False),
                          keras_version=kv, backend=None, expect=expect,
                          why=None if expect == "ok" else "convolution1d_1 | padding | full | border_mode",
                          notes=cid_notes)
    fn.__name__ = "case_" + name
    return fn


case(_k1_conv_case(
    "f3_k1_conv1d_theano", "Keras 1.2.2 Theano file: Embedding(input_dtype int32, dropout) + Convolution1D "
    "(nb_filter, filter_length, border_mode same, subsample_length), 4-D kernel "
    "(k, 1, in, out); the kernel is used as stored, as Keras 2 loads a file without a "
    "backend attribute (no flip)", False, True, "same"))
case(_k1_conv_case(
    "f3_k11_conv1d_legacy_kernel", "Keras 1.1 TensorFlow file: Convolution1D kernel in the Keras 1.1 layout "
    "(nb_filter, input_dim, filter_length, 1), border_mode valid", True, False, "valid"))
case(_k1_conv_case(
    "f3_k1_conv1d_border_full", "Keras 1 Convolution1D border_mode 'full' (Theano only): Keras 2 refuses it as padding, "
    "so must the runner, naming the option", False, False, "full"))


@case
def case_f3_k1_bidirectional_gpu_sum(o, cid, seed, rng):
    u = 3
    dirs = {}
    ws = []
    for d in ("forward", "backward"):
        k, r, b = rnd(rng, (F, 4 * u)), rnd(rng, (u, 4 * u)), rnd(rng, (4 * u,))
        dirs[d] = split_gates(k, r, b, "ifco")
        ws += [("%s_lstm_1_W:0" % d, k), ("%s_lstm_1_U:0" % d, r), ("%s_lstm_1_b:0" % d, b)]
    inner = k1_recurrent("LSTM", "lstm_1", u, None, return_sequences=True, consume_less="gpu")
    mc = {"class_name": "Sequential", "config": [
        {"class_name": "Bidirectional", "config": {
            "name": "bidirectional_1", "trainable": True, "batch_input_shape": [None, T, F],
            "input_dtype": "float32", "layer": inner, "merge_mode": "sum"}}]}

    def fwd(xs):
        fs, _ = lstm_gates_ref(xs[0], dirs["forward"], u, "tanh", "hard_sigmoid", ACT1)
        bs, _ = lstm_gates_ref(xs[0], dirs["backward"], u, "tanh", "hard_sigmoid", ACT1,
                               go_backwards=True)
        return [fs + bs[:, ::-1]]
    m = model_of("Sequential", mc, ["Bidirectional", "LSTM"],
                 [("bidirectional_1_input", [T, F], "float32")], [("bidirectional_1", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_full(p, mc, [("bidirectional_1", ws)],
                                           keras_version="1.2.2", group_attrs=False),
                      keras_version="1.2.2", backend=None,
                      notes="Keras 1.2.2 Bidirectional(LSTM(consume_less='gpu')) merge_mode sum: "
                            "with consume_less gpu Keras 1 stores W, U, b already concatenated "
                            "i, f, c, o")


@case
def case_f3_k1_functional_dropout(o, cid, seed, rng):
    k1, k2, b2 = rnd(rng, (5, 6)), rnd(rng, (6, 2)), rnd(rng, (2,))
    d1 = k1_dense("dense_1", 6, "relu", bias=False)
    d2 = k1_dense("dense_2", 2, "linear")
    layers_ = [
        {"name": "input_1", "class_name": "InputLayer", "config": {
            "batch_input_shape": [None, 5], "input_dtype": "float32", "sparse": False,
            "name": "input_1"}, "inbound_nodes": []},
        dict(d1, name="dense_1", inbound_nodes=[[["input_1", 0, 0]]]),
        {"name": "dropout_1", "class_name": "Dropout",
         "config": {"name": "dropout_1", "trainable": True, "p": 0.3},
         "inbound_nodes": [[["dense_1", 0, 0]]]},
        dict(d2, name="dense_2", inbound_nodes=[[["dropout_1", 0, 0]]]),
    ]
    mc = {"class_name": "Model", "config": {"name": "model_1", "layers": layers_,
                                            "input_layers": [["input_1", 0, 0]],
                                            "output_layers": [["dense_2", 0, 0]]}}
    groups = [("input_1", []), ("dense_1", [("dense_1_W:0", k1)]), ("dropout_1", []),
              ("dense_2", [("dense_2_W:0", k2), ("dense_2_b:0", b2)])]

    def fwd(xs):
        return [dense_ref(dense_ref(xs[0], k1, None, "relu"), k2, b2)]
    m = model_of("Model", mc, ["InputLayer", "Dense", "Dropout"], [("input_1", [5], "float32")],
                 [("dense_2", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[5]]),
                      lambda p: write_full(p, mc, groups, keras_version="1.2.2", group_attrs=False),
                      keras_version="1.2.2", backend=None,
                      notes="Keras 1.2.2 functional Model: InputLayer input_dtype, inbound "
                            "tensors [layer, node, tensor] without kwargs, Dense bias=False, "
                            "Dropout p")


@case
def case_f3_k1_removed_layers(o, cid, seed, rng):
    mc = {"class_name": "Sequential", "config": [
        k1_dense("dense_1", 4, "relu", input_dim=F, bis=[None, F]),
        {"class_name": "MaxoutDense", "config": {
            "name": "maxoutdense_1", "trainable": True, "output_dim": 3, "nb_feature": 2,
            "init": "glorot_uniform", "W_regularizer": None, "b_regularizer": None,
            "activity_regularizer": None, "W_constraint": None, "b_constraint": None,
            "bias": True, "input_dim": 4}},
        {"class_name": "Highway", "config": {
            "name": "highway_1", "trainable": True, "init": "glorot_uniform",
            "activation": "linear", "transform_bias": -2, "W_regularizer": None,
            "b_regularizer": None, "activity_regularizer": None, "W_constraint": None,
            "b_constraint": None, "bias": True, "input_dim": 3}}]}
    groups = [("dense_1", [("dense_1_W:0", rnd(rng, (F, 4))), ("dense_1_b:0", rnd(rng, (4,)))]),
              ("maxoutdense_1", [("maxoutdense_1_W:0", rnd(rng, (2, 4, 3))),
                                 ("maxoutdense_1_b:0", rnd(rng, (2, 3)))]),
              ("highway_1", [("highway_1_W:0", rnd(rng, (3, 3))),
                             ("highway_1_W_carry:0", rnd(rng, (3, 3))),
                             ("highway_1_b:0", rnd(rng, (3,))),
                             ("highway_1_b_carry:0", rnd(rng, (3,)))])]
    m = model_of("Sequential", mc, ["Dense", "MaxoutDense", "Highway"],
                 [("dense_1_input", [F], "float32")], [("highway_1", 0)], None)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[F]]),
                      lambda p: write_full(p, mc, groups, keras_version="1.2.2", group_attrs=False),
                      keras_version="1.2.2", backend=None, expect="error",
                      why="maxoutdense_1 | MaxoutDense | highway_1 | Highway",
                      notes="Keras 1 layers that Keras 2 removed (MaxoutDense, Highway): every "
                            "one is named in one error")


@case
def case_f3_k1_weights_arch(o, cid, seed, rng):
    u = 4
    lws, g = k1_lstm_weights(rng, "lstm_1", F, u, suffix="")
    dk, db = rnd(rng, (u, 2)), rnd(rng, (2,))
    arch = {"class_name": "Sequential", "keras_version": "1.2.2", "config": [
        k1_recurrent("LSTM", "lstm_7", u, F, bis=[None, T, F], return_sequences=False),
        k1_dense("dense_9", 2, "sigmoid", input_dim=u)]}
    groups = [("lstm_1", lws), ("dense_1", [("dense_1_W", dk), ("dense_1_b", db)])]

    def fwd(xs):
        _, (h, _) = lstm_gates_ref(xs[0], g, u, "tanh", "hard_sigmoid", ACT1)
        return [dense_ref(h, dk, db, "sigmoid")]
    m = model_of("Sequential", arch, ["LSTM", "Dense"], [("lstm_7_input", [T, F], "float32")],
                 [("dense_9", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_weights_only(p, groups), arch=arch,
                      keras_version=None, backend=None,
                      notes="Keras 1.2.2 Theano save_weights (only layer_names at the root, no "
                            "keras_version: read as Keras 1) with its to_json() architecture, "
                            "whose layer names (lstm_7, dense_9) differ from the file's (lstm_1, "
                            "dense_1): weights bind by position")


# --------------------------------------------------------------------------------------
# 2. tf.keras: nested models, shared layers, cell scopes
# --------------------------------------------------------------------------------------


def tf_input(name, bis, dtype="float32"):
    return {"class_name": "InputLayer", "config": {"batch_input_shape": bis, "dtype": dtype,
                                                   "sparse": False, "ragged": False, "name": name},
            "name": name, "inbound_nodes": []}


def tf_dense_cfg(name, units, activation="linear", use_bias=True, bis=None):
    c = {"name": name, "trainable": True}
    if bis is not None:
        c["batch_input_shape"] = bis
    c.update({"dtype": "float32", "units": units, "activation": activation, "use_bias": use_bias,
              "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
              "bias_initializer": {"class_name": "Zeros", "config": {}},
              "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
              "kernel_constraint": None, "bias_constraint": None})
    return c


def node(*refs):
    return [[r[0], r[1], r[2], {}] for r in refs]


@case
def case_f3_tf_nested_sequential(o, cid, seed, rng):
    k1, b1 = rnd(rng, (5, 6)), rnd(rng, (6,))
    k2, b2 = rnd(rng, (6, 4)), rnd(rng, (4,))
    k3, b3 = rnd(rng, (4, 2)), rnd(rng, (2,))
    inner = {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 5], "dtype": "float32",
                                                "sparse": False, "ragged": False,
                                                "name": "dense_input"}},
        {"class_name": "Dense", "config": tf_dense_cfg("dense", 6, "relu", bis=[None, 5])},
        {"class_name": "Dense", "config": tf_dense_cfg("dense_1", 4, "tanh")}]}
    mc = {"class_name": "Functional", "config": {"name": "model", "layers": [
        tf_input("input_1", [None, 5]),
        {"class_name": "Sequential", "config": inner, "name": "sequential",
         "inbound_nodes": [node(("input_1", 0, 0))]},
        {"class_name": "Dense", "config": tf_dense_cfg("dense_2", 2, "softmax"), "name": "dense_2",
         "inbound_nodes": [node(("sequential", 0, 0))]}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_2", 0, 0]]}}
    groups = [("input_1", []),
              ("sequential", [("dense/kernel:0", k1), ("dense/bias:0", b1),
                              ("dense_1/kernel:0", k2), ("dense_1/bias:0", b2)]),
              ("dense_2", [("dense_2/kernel:0", k3), ("dense_2/bias:0", b3)])]

    def fwd(xs):
        h = dense_ref(dense_ref(xs[0], k1, b1, "relu"), k2, b2, "tanh")
        return [dense_ref(h, k3, b3, "softmax")]
    m = model_of("Functional", mc, ["InputLayer", "Sequential", "Dense"],
                 [("input_1", [5], "float32")], [("dense_2", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[5]]),
                      lambda p: write_full(p, mc, groups, keras_version="2.4.0",
                                           backend="tensorflow", str_mode="vlen_utf8",
                                           names_mode="vlen_utf8"),
                      keras_version="2.4.0",
                      notes="tf.keras 2.4 Functional with a nested Sequential as a layer: its "
                            "group holds the weights of its two Dense layers, named by them")


@case
def case_f3_tf_nested_shared_model(o, cid, seed, rng):
    ke, be = rnd(rng, (4, 3)), rnd(rng, (3,))
    ko, bo = rnd(rng, (6, 2)), rnd(rng, (2,))
    enc = {"name": "encoder", "layers": [
        tf_input("enc_in", [None, 4]),
        {"class_name": "Dense", "config": tf_dense_cfg("enc_dense", 3, "tanh"), "name": "enc_dense",
         "inbound_nodes": [node(("enc_in", 0, 0))]}],
        "input_layers": [["enc_in", 0, 0]], "output_layers": [["enc_dense", 0, 0]]}
    mc = {"class_name": "Functional", "config": {"name": "siamese", "layers": [
        tf_input("input_a", [None, 4]),
        tf_input("input_b", [None, 4]),
        {"class_name": "Functional", "config": enc, "name": "encoder",
         "inbound_nodes": [node(("input_a", 0, 0)), node(("input_b", 0, 0))]},
        {"class_name": "Concatenate", "config": {"name": "concatenate", "trainable": True,
                                                 "dtype": "float32", "axis": -1},
         "name": "concatenate", "inbound_nodes": [node(("encoder", 0, 0), ("encoder", 1, 0))]},
        {"class_name": "Dense", "config": tf_dense_cfg("out", 2), "name": "out",
         "inbound_nodes": [node(("concatenate", 0, 0))]}],
        "input_layers": [["input_a", 0, 0], ["input_b", 0, 0]],
        "output_layers": [["out", 0, 0], ["encoder", 1, 0]]}}
    groups = [("input_a", []), ("input_b", []),
              ("encoder", [("enc_dense/kernel:0", ke), ("enc_dense/bias:0", be)]),
              ("concatenate", []), ("out", [("out/kernel:0", ko), ("out/bias:0", bo)])]

    def fwd(xs):
        ea = dense_ref(xs[0], ke, be, "tanh")
        eb = dense_ref(xs[1], ke, be, "tanh")
        return [dense_ref(np.concatenate([ea, eb], -1), ko, bo), eb]
    m = model_of("Functional", mc, ["InputLayer", "Functional", "Dense", "Concatenate"],
                 [("input_a", [4], "float32"), ("input_b", [4], "float32")],
                 [("out", 0), ("encoder", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[4], [4]]),
                      lambda p: write_full(p, mc, groups, keras_version="2.7.0",
                                           backend="tensorflow", str_mode="vlen_utf8",
                                           names_mode="vlen_utf8", top_level=True),
                      keras_version="2.7.0",
                      notes="tf.keras 2.7: a nested Functional called on two inputs (two nodes, "
                            "one set of weights), its second call also a model output; "
                            "top_level_model_weights group present (ignored)")


@case
def case_f3_shared_dense(o, cid, seed, rng):
    k, b = rnd(rng, (4, 3)), rnd(rng, (3,))
    mc = {"class_name": "Model", "config": {"name": "model_1", "layers": [
        {"name": "a", "class_name": "InputLayer", "config": {
            "batch_input_shape": [None, T, 4], "dtype": "float32", "sparse": False, "name": "a"},
         "inbound_nodes": []},
        {"name": "b", "class_name": "InputLayer", "config": {
            "batch_input_shape": [None, T, 4], "dtype": "float32", "sparse": False, "name": "b"},
         "inbound_nodes": []},
        {"name": "shared", "class_name": "Dense", "config": tf_dense_cfg("shared", 3, "relu"),
         "inbound_nodes": [node(("a", 0, 0)), node(("b", 0, 0))]},
        {"name": "add_1", "class_name": "Add", "config": {"name": "add_1", "trainable": True},
         "inbound_nodes": [node(("shared", 0, 0), ("shared", 1, 0))]}],
        "input_layers": [["a", 0, 0], ["b", 0, 0]],
        "output_layers": [["add_1", 0, 0], ["shared", 1, 0]]}}
    groups = [("a", []), ("b", []), ("shared", [("shared/kernel:0", k), ("shared/bias:0", b)]),
              ("add_1", [])]

    def fwd(xs):
        ya, yb = dense_ref(xs[0], k, b, "relu"), dense_ref(xs[1], k, b, "relu")
        return [ya + yb, yb]
    m = model_of("Model", mc, ["InputLayer", "Dense", "Add"],
                 [("a", [T, 4], "float32"), ("b", [T, 4], "float32")],
                 [("add_1", 0), ("shared", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, 4], [T, 4]]),
                      lambda p: write_full(p, mc, groups, keras_version="2.2.4",
                                           backend="tensorflow"),
                      notes="Keras 2.2.4: one Dense called on two inputs (two inbound nodes, "
                            "one weight group), both calls used downstream")


@case
def case_f3_tf_nested_by_position(o, cid, seed, rng):
    k1, b1 = rnd(rng, (F, 5)), rnd(rng, (5,))
    k2, b2 = rnd(rng, (5, 3)), rnd(rng, (3,))
    inner = {"name": "head", "layers": [
        {"class_name": "Dense", "config": tf_dense_cfg("dense_1", 5, "elu", bis=[None, T, F])},
        {"class_name": "Dropout", "config": {"name": "dropout_1", "trainable": True,
                                             "dtype": "float32", "rate": 0.5,
                                             "noise_shape": None, "seed": None}},
        {"class_name": "Dense", "config": tf_dense_cfg("dense_2", 3, "linear")}]}
    mc = {"class_name": "Sequential", "config": {"name": "outer", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, T, F],
                                                "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "x"}},
        {"class_name": "Sequential", "config": inner}]}}
    # The file's weight names come from another session (dense_7, dense_8): they do not
    # name the nested model's layers, so they bind in order.
    groups = [("head", [("dense_7/kernel:0", k1), ("dense_7/bias:0", b1),
                        ("dense_8/kernel:0", k2), ("dense_8/bias:0", b2)])]

    def fwd(xs):
        h = dense_ref(xs[0], k1, b1, "elu")
        return [dense_ref(h, k2, b2)]
    m = model_of("Sequential", mc, ["InputLayer", "Sequential", "Dense", "Dropout"],
                 [("x", [T, F], "float32")], [("head", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_full(p, mc, groups, keras_version="2.4.0",
                                           backend="tensorflow"),
                      keras_version="2.4.0",
                      notes="a Sequential nested in a Sequential, whose weight names do not name "
                            "its layers: its weights are those of its layers in order; the output "
                            "is named after the nested model")


@case
def case_f3_tf_cell_scopes(o, cid, seed, rng):
    u = 3
    kl, rl, bl = rnd(rng, (F, 4 * u)), rnd(rng, (u, 4 * u)), rnd(rng, (4 * u,))
    bid = []
    for d in ("forward", "backward"):
        bid.append((rnd(rng, (u, 4 * u)), rnd(rng, (u, 4 * u)), rnd(rng, (4 * u,))))

    def lstm_cfg(name, rs):
        return {"name": name, "trainable": True, "dtype": "float32", "return_sequences": rs,
                "return_state": False, "go_backwards": False, "stateful": False,
                "unroll": False, "time_major": False, "units": u, "activation": "tanh",
                "recurrent_activation": "sigmoid", "use_bias": True,
                "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                "recurrent_initializer": {"class_name": "Orthogonal",
                                          "config": {"gain": 1.0, "seed": None}},
                "bias_initializer": {"class_name": "Zeros", "config": {}},
                "unit_forget_bias": True, "kernel_regularizer": None,
                "recurrent_regularizer": None, "bias_regularizer": None,
                "activity_regularizer": None, "kernel_constraint": None,
                "recurrent_constraint": None, "bias_constraint": None, "dropout": 0.0,
                "recurrent_dropout": 0.0, "implementation": 2}
    mc = {"class_name": "Functional", "config": {"name": "model", "layers": [
        tf_input("input_1", [None, T, F]),
        {"class_name": "LSTM", "config": lstm_cfg("lstm", True), "name": "lstm",
         "inbound_nodes": [node(("input_1", 0, 0))]},
        {"class_name": "Bidirectional", "config": {
            "name": "bidirectional", "trainable": True, "dtype": "float32",
            "layer": {"class_name": "LSTM", "config": lstm_cfg("lstm_1", False)},
            "merge_mode": "concat"}, "name": "bidirectional",
         "inbound_nodes": [node(("lstm", 0, 0))]}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["bidirectional", 0, 0]]}}
    groups = [("input_1", []),
              ("lstm", [("lstm/lstm_cell/kernel:0", kl), ("lstm/lstm_cell/recurrent_kernel:0", rl),
                        ("lstm/lstm_cell/bias:0", bl)]),
              ("bidirectional", [
                  ("bidirectional/forward_lstm_1/lstm_cell_2/kernel:0", bid[0][0]),
                  ("bidirectional/forward_lstm_1/lstm_cell_2/recurrent_kernel:0", bid[0][1]),
                  ("bidirectional/forward_lstm_1/lstm_cell_2/bias:0", bid[0][2]),
                  ("bidirectional/backward_lstm_1/lstm_cell_3/kernel:0", bid[1][0]),
                  ("bidirectional/backward_lstm_1/lstm_cell_3/recurrent_kernel:0", bid[1][1]),
                  ("bidirectional/backward_lstm_1/lstm_cell_3/bias:0", bid[1][2])])]

    def fwd(xs):
        seq, _ = lstm_gates_ref(xs[0], split_gates(kl, rl, bl), u, "tanh", "sigmoid")
        _, (hf, _) = lstm_gates_ref(seq, split_gates(*bid[0]), u, "tanh", "sigmoid")
        _, (hb, _) = lstm_gates_ref(seq, split_gates(*bid[1]), u, "tanh", "sigmoid",
                                    go_backwards=True)
        return [np.concatenate([hf, hb], -1)]
    m = model_of("Functional", mc, ["InputLayer", "LSTM", "Bidirectional"],
                 [("input_1", [T, F], "float32")], [("bidirectional", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_full(p, mc, groups, keras_version="2.9.0",
                                           backend="tensorflow", str_mode="vlen_utf8",
                                           names_mode="vlen_utf8", top_level=True),
                      keras_version="2.9.0",
                      notes="tf.keras 2.9 weight names with cell scopes (lstm/lstm_cell/kernel:0, "
                            "bidirectional/forward_lstm_1/lstm_cell_2/...), "
                            "top_level_model_weights")


# --------------------------------------------------------------------------------------
# 3. Keras 3 legacy .h5
# --------------------------------------------------------------------------------------

POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
          "registered_name": None}


def k3_init(cls, cfg=None):
    return {"module": "keras.initializers", "class_name": cls, "config": cfg or {},
            "registered_name": None}


def k3_tensor(layer, shape, node=0, tensor=0):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [layer, node, tensor]}}


def k3_layer(cls, name, cfg, nodes=None, build=None):
    d = {"module": "keras.layers", "class_name": cls,
         "config": dict({"name": name, "trainable": True, "dtype": POLICY}, **cfg),
         "registered_name": None}
    if build is not None:
        d["build_config"] = {"input_shape": build}
    d["name"] = name
    if nodes is not None:
        d["inbound_nodes"] = nodes
    return d


def k3_dense(units, activation):
    return {"units": units, "activation": activation, "use_bias": True,
            "kernel_initializer": k3_init("GlorotUniform", {"seed": None}),
            "bias_initializer": k3_init("Zeros"), "kernel_regularizer": None,
            "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None}


def k3_input(name, shape):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": shape, "dtype": "float32", "sparse": False, "name": name},
            "registered_name": None, "name": name, "inbound_nodes": []}


@case
def case_f3_k3_functional(o, cid, seed, rng):
    u = 4
    kl, rl, bl = rnd(rng, (F, 4 * u)), rnd(rng, (u, 4 * u)), rnd(rng, (4 * u,))
    ka, ba = rnd(rng, (u, 3)), rnd(rng, (3,))
    kb, bb = rnd(rng, (u, 2)), rnd(rng, (2,))
    lstm = {"return_sequences": True, "return_state": False, "go_backwards": False,
            "stateful": False, "unroll": False, "zero_output_for_mask": False, "units": u,
            "activation": "tanh", "recurrent_activation": "hard_sigmoid", "use_bias": True,
            "kernel_initializer": k3_init("GlorotUniform", {"seed": None}),
            "recurrent_initializer": k3_init("OrthogonalInitializer", {"gain": 1.0, "seed": None}),
            "bias_initializer": k3_init("Zeros"), "unit_forget_bias": True,
            "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None,
            "bias_constraint": None, "dropout": 0.0, "recurrent_dropout": 0.0, "seed": None}
    act_dict = {"module": "keras.activations", "class_name": "function", "config": "relu",
                "registered_name": "function"}
    mc = {"class_name": "Functional", "config": {"name": "functional", "trainable": True,
                                                 "layers": [
        k3_input("input_layer", [None, T, F]),
        k3_layer("LSTM", "lstm", lstm,
                 [{"args": [k3_tensor("input_layer", [None, T, F])],
                   "kwargs": {"training": False, "mask": None}}], build=[None, T, F]),
        k3_layer("Dense", "dense", k3_dense(3, act_dict),
                 [{"args": [k3_tensor("lstm", [None, T, u])], "kwargs": {}}], build=[None, T, u]),
        k3_layer("Dense", "dense_1", k3_dense(2, "tanh"),
                 [{"args": [k3_tensor("lstm", [None, T, u])], "kwargs": {}}], build=[None, T, u]),
        k3_layer("Concatenate", "concatenate", {"axis": -1},
                 [{"args": [[k3_tensor("dense", [None, T, 3]), k3_tensor("dense_1", [None, T, 2])]],
                   "kwargs": {}}], build=[[None, T, 3], [None, T, 2]])],
        "input_layers": ["input_layer", 0, 0], "output_layers": ["concatenate", 0, 0]}}
    groups = [("input_layer", []),
              ("lstm", [("lstm/lstm_cell/kernel", kl), ("lstm/lstm_cell/recurrent_kernel", rl),
                        ("lstm/lstm_cell/bias", bl)]),
              ("dense", [("dense/kernel", ka), ("dense/bias", ba)]),
              ("dense_1", [("dense_1/kernel", kb), ("dense_1/bias", bb)]),
              ("concatenate", [])]

    def fwd(xs):
        seq, _ = lstm_gates_ref(xs[0], split_gates(kl, rl, bl), u, "tanh", "hard_sigmoid", ACT3)
        return [np.concatenate([dense_ref(seq, ka, ba, "relu"), dense_ref(seq, kb, bb, "tanh")],
                               -1)]
    m = model_of("Functional", mc, ["InputLayer", "LSTM", "Dense", "Concatenate"],
                 [("input_layer", [T, F], "float32")], [("concatenate", 0)], fwd)

    def write(p):
        with h5py.File(p, "w") as f:
            str_attr(f, "keras_version", "3.3.3", "vlen_utf8")
            str_attr(f, "backend", "tensorflow", "vlen_utf8")
            str_attr(f, "model_config", json.dumps(mc).encode("utf8"), "fixed")
            g = f.create_group("model_weights")
            write_groups(g, groups, "fixed")
            str_attr(g, "backend", "tensorflow", "fixed")
            str_attr(g, "keras_version", "3.3.3", "fixed")
            tg = g.create_group("top_level_model_weights")
            names_attr(tg, "weight_names", [], "fixed")
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]), write,
                      keras_version="3.3.3",
                      notes="Keras 3 legacy .h5: module/registered_name/build_config, DTypePolicy "
                            "objects, initializers with module, {args, kwargs} inbound nodes "
                            "(Concatenate's args a list of tensors), input/output_layers as one "
                            "triple, weight paths without ':0', an activation given as an "
                            "object; LSTM recurrent_activation hard_sigmoid is Keras 3's "
                            "clip(x/6 + 0.5, 0, 1)")


@case
def case_f3_k3_sequential_conv(o, cid, seed, rng):
    k, b = rnd(rng, (3, F, 5)), rnd(rng, (5,))
    kd, bd = rnd(rng, (5, 2)), rnd(rng, (2,))
    conv = {"filters": 5, "kernel_size": [3], "strides": [1], "padding": "same",
            "data_format": "channels_last", "dilation_rate": [1], "groups": 1,
            "activation": "relu", "use_bias": True,
            "kernel_initializer": k3_init("GlorotUniform", {"seed": None}),
            "bias_initializer": k3_init("Zeros"), "kernel_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None}
    mc = {"class_name": "Sequential", "config": {
        "name": "sequential", "trainable": True, "dtype": POLICY, "layers": [
            {"module": "keras.layers", "class_name": "InputLayer",
             "config": {"batch_shape": [None, T, F], "dtype": "float32", "sparse": False,
                        "name": "input_layer"}, "registered_name": None},
            k3_layer("Conv1D", "conv1d", conv, build=[None, T, F]),
            k3_layer("Dense", "dense", k3_dense(2, "sigmoid"), build=[None, T, 5])],
        "build_input_shape": [None, T, F]}}
    groups = [("input_layer", []), ("conv1d", [("conv1d/kernel", k), ("conv1d/bias", b)]),
              ("dense", [("dense/kernel", kd), ("dense/bias", bd)])]

    def fwd(xs):
        return [dense_ref(conv1d_valid_or_same(xs[0], k, b, "same", "relu"), kd, bd, "sigmoid")]
    m = model_of("Sequential", mc, ["InputLayer", "Conv1D", "Dense"],
                 [("input_layer", [T, F], "float32")], [("dense", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_full(p, mc, groups, keras_version="3.1.1",
                                           backend="jax", str_mode="vlen_utf8", top_level=True),
                      keras_version="3.1.1", backend="jax",
                      notes="Keras 3 (JAX backend) Sequential: InputLayer with batch_shape, "
                            "dtype policies, Conv1D groups=1, build_config")


@case
def case_f3_k3_unsupported_all(o, cid, seed, rng):
    u = 3
    pol16 = {"module": "keras", "class_name": "DTypePolicy",
             "config": {"name": "mixed_float16"}, "registered_name": None}
    lstm = {"return_sequences": False, "return_state": False, "go_backwards": False,
            "stateful": False, "unroll": False, "zero_output_for_mask": False, "units": u,
            "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
            "unit_forget_bias": True, "dropout": 0.0, "recurrent_dropout": 0.0, "seed": None}
    dense = k3_layer("Dense", "dense", k3_dense(u, "linear"),
                     [{"args": [k3_tensor("input_layer", [None, T, F])], "kwargs": {}}])
    dense["config"]["dtype"] = pol16
    mc = {"class_name": "Functional", "config": {"name": "functional", "trainable": True,
                                                 "layers": [
        k3_input("input_layer", [None, T, F]),
        k3_input("mask_in", [None, T]),
        dense,
        k3_layer("LSTM", "lstm", lstm,
                 [{"args": [k3_tensor("dense", [None, T, u])],
                   "kwargs": {"mask": k3_tensor("mask_in", [None, T])}}])],
        "input_layers": [["input_layer", 0, 0], ["mask_in", 0, 0]],
        "output_layers": [["lstm", 0, 0]]}}
    groups = [("input_layer", []), ("mask_in", []),
              ("dense", [("dense/kernel", rnd(rng, (F, u))), ("dense/bias", rnd(rng, (u,)))]),
              ("lstm", [("lstm/lstm_cell/kernel", rnd(rng, (u, 4 * u))),
                        ("lstm/lstm_cell/recurrent_kernel", rnd(rng, (u, 4 * u))),
                        ("lstm/lstm_cell/bias", rnd(rng, (4 * u,)))])]
    m = model_of("Functional", mc, ["InputLayer", "Dense", "LSTM"],
                 [("input_layer", [T, F], "float32"), ("mask_in", [T], "float32")],
                 [("lstm", 0)], None)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F], [T]]),
                      lambda p: write_full(p, mc, groups, keras_version="3.3.3",
                                           backend="tensorflow", top_level=True),
                      keras_version="3.3.3", expect="error",
                      why="dense | mixed_float16 | lstm | mask",
                      notes="Keras 3: a mixed_float16 dtype policy and a call with a mask tensor "
                            "argument; both are reported in one error")


# --------------------------------------------------------------------------------------
# 4. Weights-only files with their architecture JSON
# --------------------------------------------------------------------------------------


def k2_conv_cfg(name, filters, ks, bis=None):
    c = {"name": name, "trainable": True}
    if bis is not None:
        c["batch_input_shape"] = bis
        c["dtype"] = "float32"
    c.update({"filters": filters, "kernel_size": [ks], "strides": [1], "padding": "valid",
              "data_format": "channels_last", "dilation_rate": [1], "activation": "tanh",
              "use_bias": True,
              "kernel_initializer": {"class_name": "VarianceScaling",
                                     "config": {"scale": 1.0, "mode": "fan_avg",
                                                "distribution": "uniform", "seed": None}},
              "bias_initializer": {"class_name": "Zeros", "config": {}},
              "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
              "kernel_constraint": None, "bias_constraint": None})
    return c


def _wo_seq(rng, extra_dense):
    k, b = rnd(rng, (3, F, 4)), rnd(rng, (4,))
    kd, bd = rnd(rng, ((T - 2) * 4, 2)), rnd(rng, (2,))
    lys = [{"class_name": "Conv1D", "config": k2_conv_cfg("conv1d_5", 4, 3, bis=[None, T, F])},
           {"class_name": "Dropout", "config": {"name": "dropout_3", "trainable": True,
                                                "rate": 0.25, "noise_shape": None, "seed": None}},
           {"class_name": "Flatten", "config": {"name": "flatten_2", "trainable": True,
                                                "data_format": "channels_last"}},
           {"class_name": "Dense", "config": dict(tf_dense_cfg("dense_6", 2, "softmax"))}]
    if extra_dense:
        lys.append({"class_name": "Dense", "config": dict(tf_dense_cfg("dense_7", 2))})
    arch = {"class_name": "Sequential", "config": {"name": "sequential_3", "layers": lys},
            "keras_version": "2.2.4", "backend": "tensorflow"}
    groups = [("conv1d_1", [("conv1d_1/kernel:0", k), ("conv1d_1/bias:0", b)]),
              ("dropout_1", []), ("flatten_1", []),
              ("dense_1", [("dense_1/kernel:0", kd), ("dense_1/bias:0", bd)])]

    def fwd(xs):
        h = conv1d_valid_or_same(xs[0], k, b, "valid", "tanh")
        return [dense_ref(h.reshape(h.shape[0], -1), kd, bd, "softmax")]
    m = model_of("Sequential", arch, ["Conv1D", "Dropout", "Flatten", "Dense"],
                 [("conv1d_5_input", [T, F], "float32")],
                 [("dense_7" if extra_dense else "dense_6", 0)], fwd)
    return m, arch, groups


@case
def case_f3_wo_keras2_sequential(o, cid, seed, rng):
    m, arch, groups = _wo_seq(rng, False)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_weights_only(p, groups, keras_version="2.2.4",
                                                   backend="tensorflow"),
                      arch=arch,
                      notes="Keras 2.2.4 save_weights (layer_names, backend, keras_version at the "
                            "root) with to_json(); the architecture's names (conv1d_5, dense_6) "
                            "differ from the file's (conv1d_1, dense_1): bound by position, "
                            "layers without weights (Dropout, Flatten) skipped")


@case
def case_f3_wo_count_mismatch(o, cid, seed, rng):
    m, arch, groups = _wo_seq(rng, True)
    m.forward = None
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_weights_only(p, groups, keras_version="2.2.4",
                                                   backend="tensorflow"),
                      arch=arch, expect="error", why="dense_7 | 2 layer(s) with weights | does not match",
                      notes="the architecture has three layers with weights, the weights file "
                            "two: Keras refuses to load it (layer count mismatch)")


@case
def case_f3_wo_nested_functional(o, cid, seed, rng):
    k1, b1 = rnd(rng, (F, 3)), rnd(rng, (3,))
    k2, b2 = rnd(rng, (3, 2)), rnd(rng, (2,))
    inner = {"name": "sequential_4", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, T, F],
                                                "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "dense_10_input"}},
        {"class_name": "Dense", "config": tf_dense_cfg("dense_10", 3, "relu", bis=[None, T, F])}]}
    arch = {"class_name": "Functional", "config": {"name": "model_2", "layers": [
        tf_input("input_5", [None, T, F]),
        {"class_name": "Sequential", "config": inner, "name": "sequential_4",
         "inbound_nodes": [node(("input_5", 0, 0))]},
        {"class_name": "Dense", "config": tf_dense_cfg("dense_11", 2), "name": "dense_11",
         "inbound_nodes": [node(("sequential_4", 0, 0))]}],
        "input_layers": [["input_5", 0, 0]], "output_layers": [["dense_11", 0, 0]]},
        "keras_version": "2.4.0", "backend": "tensorflow"}
    groups = [("input_1", []),
              ("sequential", [("dense/kernel:0", k1), ("dense/bias:0", b1)]),
              ("dense_1", [("dense_1/kernel:0", k2), ("dense_1/bias:0", b2)])]

    def fwd(xs):
        return [dense_ref(dense_ref(xs[0], k1, b1, "relu"), k2, b2)]
    m = model_of("Functional", arch, ["InputLayer", "Sequential", "Dense"],
                 [("input_5", [T, F], "float32")], [("dense_11", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                      lambda p: write_weights_only(p, groups, keras_version="2.4.0",
                                                   backend="tensorflow", str_mode="vlen_utf8",
                                                   names_mode="vlen_utf8"),
                      arch=arch, keras_version="2.4.0",
                      notes="tf.keras 2.4 save_weights of a Functional with a nested Sequential, "
                            "architecture from another session (every name differs): the nested "
                            "model's group binds by position, its weights in order")


@case
def case_f3_k3_nested_sequential(o, cid, seed, rng):
    k1, b1 = rnd(rng, (F, 5)), rnd(rng, (5,))
    k2, b2 = rnd(rng, (5, 3)), rnd(rng, (3,))
    inner = {"name": "sequential", "trainable": True, "dtype": POLICY, "layers": [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None, F], "dtype": "float32", "sparse": False,
                    "name": "input_layer_1"}, "registered_name": None},
        k3_layer("Dense", "dense", k3_dense(5, "selu"), build=[None, F])],
        "build_input_shape": [None, F]}
    mc = {"class_name": "Functional", "config": {"name": "functional_1", "trainable": True,
                                                 "layers": [
        k3_input("input_layer", [None, F]),
        {"module": "keras", "class_name": "Sequential", "config": inner,
         "registered_name": "Sequential", "build_config": {"input_shape": [None, F]},
         "name": "sequential",
         "inbound_nodes": [{"args": [k3_tensor("input_layer", [None, F])], "kwargs": {"mask": None}}]},
        k3_layer("Dense", "dense_1", k3_dense(3, "linear"),
                 [{"args": [k3_tensor("sequential", [None, 5])], "kwargs": {}}], build=[None, 5])],
        "input_layers": [["input_layer", 0, 0]], "output_layers": [["dense_1", 0, 0]]}}
    groups = [("input_layer", []),
              ("sequential", [("sequential/dense/kernel", k1), ("sequential/dense/bias", b1)]),
              ("dense_1", [("dense_1/kernel", k2), ("dense_1/bias", b2)])]

    def fwd(xs):
        return [dense_ref(dense_ref(xs[0], k1, b1, "selu"), k2, b2)]
    m = model_of("Functional", mc, ["InputLayer", "Sequential", "Dense"],
                 [("input_layer", [F], "float32")], [("dense_1", 0)], fwd)
    return emit_files(o, cid, seed, m, inputs_for(rng, [[F]]),
                      lambda p: write_full(p, mc, groups, keras_version="3.4.1",
                                           backend="tensorflow", str_mode="vlen_utf8",
                                           top_level=True),
                      keras_version="3.4.1",
                      notes="Keras 3 legacy .h5: a Sequential nested in a Functional, its weights "
                            "under their Keras 3 paths (sequential/dense/kernel)")
