"""Fixture cases for Keras 3's native files (ids prefixed k4_): .keras archives and
.weights.h5 files, as keras/src/saving/saving_lib.py writes them.

A .keras archive is a zip (zipfile's default ZIP_STORED) of metadata.json
({"keras_version", "date_saved"}), config.json (serialize_keras_object(model):
module, class_name, config, registered_name, build_config, compile_config) and
model.weights.h5. metadata.json and config.json are written with zf.open(name, "w"),
so their entries carry zipfile's default date (1980-01-01); model.weights.h5 is
written last.

model.weights.h5 (and a model.save_weights("x.weights.h5") file, which has the same
layout at its root):
  * every saveable object gets a group at its path holding a "vars" group (created
    even when empty) whose datasets "0", "1", ... are its own variables, trainable
    then non-trainable, in creation order (Layer.save_own_variables); newer Keras
    gives the "vars" group an attribute name=<object name> (H5IOStore.make metadata);
  * a model's layers sit under "layers/<key>", key the snake_case of the layer's
    Python class made unique in model.layers order (_save_container_state:
    "dense", "dense_1", ...), never the layer's name. Sequential.layers leaves out
    its InputLayer, Functional.layers keeps its InputLayers;
  * child objects sit under their attribute names: an RNN's cell under "cell",
    a Bidirectional's "forward_layer", "backward_layer" and its unused template
    "layer", a TimeDistributed's "layer", a nested model's own "layers";
  * the root holds an empty "vars" group and, for a compiled model, the optimizer's
    variables under "optimizer/vars" (Adam: iterations, learning_rate, then m and v
    of each trainable variable), which a reader must ignore.

Expected outputs come from the float64 references of the other case modules
(Dense, LSTM, GRU(reset_after=True) cross-checked against torch.nn.GRU, Conv1D,
BatchNormalization, GlobalAveragePooling1D), never from Keras or kerasrun.
"""
import io
import json
import os
import zipfile

import h5py
import numpy as np

from gen_fixtures import F, T, case, dense, emit, lstm_ref, rnd, sequential, write_h5
from cases_formats import (POLICY, conv1d_valid_or_same, dense_ref, inputs_for, k3_dense,
                           k3_init, k3_layer, k3_tensor, model_of)
from cases_layers import batchnorm, global_pool
from cases_rnn import agree, gru_step, rnn_loop, torch, torch_native_gru

KV = "3.11.3"          # the Keras 3 release whose layout and configs the cases follow
KV_OLD = "3.0.5"       # an early Keras 3: string dtypes, "vars" groups without attributes
DATE_SAVED = "2025-10-27@12:57:48"
WEIGHTS_DATE = (2025, 10, 27, 12, 57, 48)  # zipfile entries need a fixed date to be reproducible

# --------------------------------------------------------------------------------------
# Keras 3 configs
# --------------------------------------------------------------------------------------


def k3_seq_input(shape, name="input_layer"):
    """The InputLayer entry of a Sequential's layers list (no inbound_nodes)."""
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": list(shape), "dtype": "float32", "sparse": False,
                       "ragged": False, "name": name},
            "registered_name": None}


def k3_func_input(shape, name="input_layer"):
    """The InputLayer entry of a Functional's layers list."""
    d = k3_seq_input(shape, name)
    d["name"] = name
    d["inbound_nodes"] = []
    return d


def call(*tensors):
    """A Keras 3 inbound node: the layer called on tensors (k3_tensor dicts)."""
    return [{"args": list(tensors), "kwargs": {}}]


def k3_rnn_cfg(units, return_sequences, go_backwards=False, zero_output_for_mask=False,
               gru=False):
    """LSTM / GRU get_config() of Keras 3 (without the base keys)."""
    c = {"return_sequences": return_sequences, "return_state": False,
         "go_backwards": go_backwards, "stateful": False, "unroll": False,
         "zero_output_for_mask": zero_output_for_mask, "units": units, "activation": "tanh",
         "recurrent_activation": "sigmoid", "use_bias": True,
         "kernel_initializer": k3_init("GlorotUniform", {"seed": None}),
         "recurrent_initializer": k3_init("Orthogonal", {"seed": None, "gain": 1.0}),
         "bias_initializer": k3_init("Zeros")}
    if not gru:
        c["unit_forget_bias"] = True
    c.update({"kernel_regularizer": None, "recurrent_regularizer": None,
              "bias_regularizer": None, "activity_regularizer": None,
              "kernel_constraint": None, "recurrent_constraint": None,
              "bias_constraint": None, "dropout": 0.0, "recurrent_dropout": 0.0})
    if gru:
        c["reset_after"] = True
    c["seed"] = None
    return c


def k3_conv1d_cfg(filters, ksize, padding, activation):
    return {"filters": filters, "kernel_size": [ksize], "strides": [1], "padding": padding,
            "data_format": "channels_last", "dilation_rate": [1], "groups": 1,
            "activation": activation, "use_bias": True,
            "kernel_initializer": k3_init("GlorotUniform", {"seed": None}),
            "bias_initializer": k3_init("Zeros"), "kernel_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None}


def k3_bn_cfg(eps):
    return {"axis": -1, "momentum": 0.99, "epsilon": eps, "center": True, "scale": True,
            "beta_initializer": k3_init("Zeros"), "gamma_initializer": k3_init("Ones"),
            "moving_mean_initializer": k3_init("Zeros"),
            "moving_variance_initializer": k3_init("Ones"), "beta_regularizer": None,
            "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None,
            "synchronized": False}


def k3_nested(cls, name, cfg, build=None):
    """A serialized layer nested in a wrapper's config (no name, no inbound_nodes)."""
    d = k3_layer(cls, name, cfg, build=build)
    del d["name"]
    return d


COMPILE = {"optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                         "config": {"name": "adam", "learning_rate": 0.001, "weight_decay": None,
                                    "clipnorm": None, "global_clipnorm": None,
                                    "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                                    "ema_overwrite_frequency": None, "loss_scale_factor": None,
                                    "gradient_accumulation_steps": None, "beta_1": 0.9,
                                    "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False},
                         "registered_name": None},
           "loss": "mean_squared_error", "loss_weights": None, "metrics": None,
           "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
           "jit_compile": False}


def k3_sequential(name, layers, input_shape, dtype=POLICY, compiled=False):
    """serialize_keras_object(Sequential): layers starts with the InputLayer entry."""
    d = {"module": "keras", "class_name": "Sequential",
         "config": {"name": name, "trainable": True, "dtype": dtype, "layers": layers,
                    "build_input_shape": list(input_shape)},
         "registered_name": None, "build_config": {"input_shape": list(input_shape)}}
    if compiled:
        d["compile_config"] = COMPILE
    return d


def k3_functional(name, layers, input_layers, output_layers, compiled=False, build=None):
    """serialize_keras_object(Functional)."""
    d = {"module": "keras.src.models.functional", "class_name": "Functional",
         "config": {"name": name, "trainable": True, "layers": layers,
                    "input_layers": input_layers, "output_layers": output_layers},
         "registered_name": "Functional", "build_config": {"input_shape": build}}
    if compiled:
        d["compile_config"] = COMPILE
    return d


# --------------------------------------------------------------------------------------
# model.weights.h5
# --------------------------------------------------------------------------------------


def node(name=None, vars=(), **children):
    """A saveable object of the weights file: its own variables (in Keras order), the name
    its "vars" group carries (None: no attribute) and its child objects by attribute."""
    return {"name": name, "vars": list(vars), "children": children}


def rnn_node(name, cell_name, *cell_vars):
    """An RNN layer: no variables of its own, its cell's under "cell"."""
    return node(name, cell=node(cell_name, cell_vars))


def bidi_node(name, fwd, bwd, template):
    """A Bidirectional: the two directions, and the unbuilt template under "layer"."""
    return node(name, forward_layer=fwd, backward_layer=bwd, layer=template)


def layers_node(*entries):
    """A model's "layers" container: entries (python class name, node) in model.layers
    order, keyed by the snake_case of the class made unique in that order."""
    out, used = {}, {}
    for cls_snake, n in entries:
        if cls_snake in used:
            used[cls_snake] += 1
            key = "%s_%d" % (cls_snake, used[cls_snake])
        else:
            used[cls_snake] = 0
            key = cls_snake
        out[key] = n
    return out


def model_node(name, entries):
    """A model: its own (empty) variables and its layers."""
    return node(name, layers=node_container(layers_node(*entries)))


def node_container(d):
    """A container group (a model's "layers"): children only, no "vars" group."""
    return {"container": d}


def adam_vars(rng, trainable):
    """Adam's variables as Keras 3 saves them: iterations (int64), learning_rate, then a
    momentum and a velocity per trainable variable."""
    vs = [np.array(7, dtype=np.int64), np.array(0.001, dtype=np.float32)]
    for a in trainable:
        vs.append(rnd(rng, a.shape, 0.01))
        vs.append(np.abs(rnd(rng, a.shape, 0.01)))
    return vs


def write_node(g, n):
    if "container" in n:
        for key, child in n["container"].items():
            write_node(g.create_group(key), child)
        return
    vg = g.create_group("vars")
    if n["name"] is not None:
        vg.attrs["name"] = n["name"]
    for i, a in enumerate(n["vars"]):
        vg.create_dataset(str(i), data=a)
    for key, child in n["children"].items():
        write_node(g.create_group(key), child)


def write_weights(target, model, optimizer=None, optimizer_name=None, mutate=None):
    """Writes the weights file of model (a node from model_node) to target, a path or
    a file object: "layers" and the other children, the root "vars" group, and
    optimizer/vars when optimizer lists variables."""
    with h5py.File(target, "w") as f:
        root = dict(model)
        children = dict(root["children"])
        if optimizer is not None:
            children["optimizer"] = node(optimizer_name, optimizer)
        root["children"] = children
        root["name"] = None  # the root "vars" group has no name attribute
        write_node(f, root)
        if mutate is not None:
            mutate(f)


def weights_bytes(model, **kw):
    bio = io.BytesIO()
    write_weights(bio, model, **kw)
    return bio.getvalue()


def write_keras(path, config, weights=None, version=KV, extra=()):
    """A .keras archive: metadata.json, config.json, then model.weights.h5 (bytes, or
    None for none), plus extra (name, bytes) entries."""
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("metadata.json", "w") as fh:
            fh.write(json.dumps({"keras_version": version,
                                 "date_saved": DATE_SAVED}).encode())
        with zf.open("config.json", "w") as fh:
            fh.write(json.dumps(config).encode())
        if weights is not None:
            zf.writestr(zipfile.ZipInfo("model.weights.h5", WEIGHTS_DATE), weights)
        for name, data in extra:
            zf.writestr(zipfile.ZipInfo(name, WEIGHTS_DATE), data)


def emit_k3(o, cid, seed, model, xs, write, fname="model.keras", arch=None, **kw):
    """emit() with the model file named fname (listed first) and an optional arch.json
    listed second."""
    kw.setdefault("keras_version", KV)

    def w(path):
        d = os.path.dirname(path)
        write(os.path.join(d, fname))
        if arch is not None:
            with open(os.path.join(d, "arch.json"), "w") as fh:
                json.dump(arch, fh)
    meta = emit(o, cid, seed, model, xs, write=w, **kw)
    meta["files"][0] = fname
    if arch is not None:
        meta["files"].insert(1, "arch.json")
    with open(os.path.join(o, cid, "case.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
        fh.write("\n")
    return meta


# --------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------


def gru_ref(x, k, r, b, go_backwards=False):
    """GRU(reset_after=True, tanh, sigmoid): (sequence in processing order, last output),
    the numpy step checked against torch.nn.GRU."""
    seq, last, _ = rnn_loop(gru_step(k, r, b, "tanh", "sigmoid", True), x,
                            [np.zeros((x.shape[0], r.shape[0]))], go_backwards)
    if torch is not None:
        tseq, _ = torch_native_gru(x, k, r, b, go_backwards)
        agree(seq, tseq, "GRU numpy vs torch")
    return seq, last


def lstm_seq(x, k, r, b):
    seq, _, _ = lstm_ref(x, k, r, b, "tanh", "sigmoid")
    return seq


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------


def _seq_dense(rng, names=("zz_hidden", "aa_out"), dtype="float32"):
    """Sequential InputLayer + Dense(4, relu) + Dense(4, tanh) with layer names that sort
    the other way round from their keys (dense, dense_1)."""
    k1, b1 = rnd(rng, (F, F)), rnd(rng, (F,))
    k2, b2 = rnd(rng, (F, F)), rnd(rng, (F,))
    d1 = k3_layer("Dense", names[0], k3_dense(F, "relu"), build=[None, F])
    d2 = k3_layer("Dense", names[1], k3_dense(F, "tanh"), build=[None, F])
    for d in (d1, d2):
        del d["name"]
        d["config"]["dtype"] = dtype
    mc = k3_sequential("sequential", [k3_seq_input([None, F]), d1, d2], [None, F],
                       dtype=dtype)

    def fwd(xs):
        return [dense_ref(dense_ref(xs[0], k1, b1, "relu"), k2, b2, "tanh")]
    m = model_of("Sequential", mc, ["InputLayer", "Dense"], [("input_layer", [F], "float32")],
                 [(names[1], 0)], fwd)
    return m, mc, (k1, b1, k2, b2)


@case
def case_k4_seq_dense(o, cid, seed, rng):
    m, mc, (k1, b1, k2, b2) = _seq_dense(rng)
    wm = model_node(None, [("dense", node(None, [k1, b1])), ("dense", node(None, [k2, b2]))])
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]], batch=3),
                   lambda p: write_keras(p, mc, weights_bytes(wm), version=KV_OLD),
                   keras_version=KV_OLD,
                   notes="Keras 3.0 .keras archive of a Sequential InputLayer + Dense(4, relu) "
                         "'zz_hidden' + Dense(4, tanh) 'aa_out', string dtypes, 'vars' groups "
                         "without attributes: the layers are stored as layers/dense and "
                         "layers/dense_1 (class snake_case in model order), so binding by name "
                         "or by sorted name swaps the two same-shaped kernels")


@case
def case_k4_func_lstm_gru_bidi(o, cid, seed, rng):
    ul, ug = 4, 3
    kl, rl, bl = rnd(rng, (F, 4 * ul)), rnd(rng, (ul, 4 * ul)), rnd(rng, (4 * ul,))
    gw = [(rnd(rng, (ul, 3 * ug)), rnd(rng, (ug, 3 * ug)), rnd(rng, (2, 3 * ug)))
          for _ in range(2)]
    kd, bd = rnd(rng, (2 * ug, 2)), rnd(rng, (2,))
    gru_f = k3_rnn_cfg(ug, False, gru=True)
    gru_b = k3_rnn_cfg(ug, False, go_backwards=True, gru=True)
    bidi = {"merge_mode": "concat",
            "layer": k3_nested("GRU", "forward_gru", gru_f, build=[None, T, ul]),
            "backward_layer": k3_nested("GRU", "backward_gru", gru_b, build=[None, T, ul])}
    mc = k3_functional("functional", [
        k3_func_input([None, T, F], "sequence_in"),
        k3_layer("LSTM", "encoder", k3_rnn_cfg(ul, True),
                 call(k3_tensor("sequence_in", [None, T, F])), build=[None, T, F]),
        k3_layer("Bidirectional", "bidi", bidi,
                 call(k3_tensor("encoder", [None, T, ul])), build=[None, T, ul]),
        k3_layer("Dense", "head", k3_dense(2, "linear"),
                 call(k3_tensor("bidi", [None, 2 * ug])), build=[None, 2 * ug])],
        ["sequence_in", 0, 0], [["head", 0, 0]], compiled=True)
    wm = model_node(None, [
        ("input_layer", node("sequence_in")),
        ("lstm", rnn_node("encoder", "lstm_cell", kl, rl, bl)),
        ("bidirectional", bidi_node("bidi", rnn_node("forward_gru", "gru_cell", *gw[0]),
                                    rnn_node("backward_gru", "gru_cell", *gw[1]),
                                    rnn_node("gru", "gru_cell"))),
        ("dense", node("head", [kd, bd]))])
    opt = adam_vars(rng, [kl, rl, bl] + list(gw[0]) + list(gw[1]) + [kd, bd])

    def fwd(xs):
        seq = lstm_seq(xs[0], kl, rl, bl)
        _, hf = gru_ref(seq, *gw[0])
        _, hb = gru_ref(seq, *gw[1], go_backwards=True)
        return [dense_ref(np.concatenate([hf, hb], -1), kd, bd)]
    m = model_of("Functional", mc, ["InputLayer", "LSTM", "Bidirectional", "GRU", "Dense"],
                 [("sequence_in", [T, F], "float32")], [("head", 0)], fwd)
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                   lambda p: write_keras(p, mc, weights_bytes(wm, optimizer=opt,
                                                              optimizer_name="adam")),
                   notes="Keras 3 .keras Functional: LSTM(4, return_sequences) 'encoder' -> "
                         "Bidirectional(GRU(3, reset_after)) 'bidi' -> Dense(2) 'head'; "
                         "variables under layers/lstm/cell, layers/bidirectional/"
                         "{forward,backward}_layer/cell (an empty template under "
                         "layers/bidirectional/layer), layers/dense; an Adam optimizer/vars "
                         "group the reader must ignore")


@case
def case_k4_nested(o, cid, seed, rng):
    ka, ba = rnd(rng, (F, 5)), rnd(rng, (5,))
    kb, bb = rnd(rng, (5, 4)), rnd(rng, (4,))
    kc, bc = rnd(rng, (4, 2)), rnd(rng, (2,))
    inner = k3_functional("encoder_block", [
        k3_func_input([None, F], "inner_in"),
        k3_layer("Dense", "d_inner_a", k3_dense(5, "relu"),
                 call(k3_tensor("inner_in", [None, F])), build=[None, F]),
        k3_layer("Dense", "d_inner_b", k3_dense(4, "tanh"),
                 call(k3_tensor("d_inner_a", [None, 5])), build=[None, 5])],
        ["inner_in", 0, 0], ["d_inner_b", 0, 0], build=[None, F])
    mc = k3_sequential("sequential", [
        k3_seq_input([None, F]), inner,
        k3_nested("Dense", "outer", k3_dense(2, "sigmoid"), build=[None, 4])], [None, F],
        compiled=True)
    wm = model_node(None, [
        ("functional", model_node("encoder_block", [
            ("input_layer", node("inner_in")), ("dense", node("d_inner_a", [ka, ba])),
            ("dense", node("d_inner_b", [kb, bb]))])),
        ("dense", node("outer", [kc, bc]))])
    opt = adam_vars(rng, [ka, ba, kb, bb, kc, bc])

    def fwd(xs):
        return [dense_ref(dense_ref(dense_ref(xs[0], ka, ba, "relu"), kb, bb, "tanh"),
                          kc, bc, "sigmoid")]
    m = model_of("Sequential", mc, ["InputLayer", "Functional", "Dense"],
                 [("input_layer", [F], "float32")], [("outer", 0)], fwd)
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]], batch=3),
                   lambda p: write_keras(p, mc, weights_bytes(wm, optimizer=opt,
                                                              optimizer_name="adam")),
                   notes="Keras 3 .keras Sequential holding a Functional 'encoder_block' "
                         "(InputLayer, Dense 'd_inner_a', Dense 'd_inner_b') and an outer Dense: "
                         "layers/functional/layers/{input_layer,dense,dense_1} and layers/dense "
                         "(the outer Dense's key restarts in the outer model)")


@case
def case_k4_timedistributed(o, cid, seed, rng):
    u = 5
    kl, rl, bl = rnd(rng, (F, 4 * u)), rnd(rng, (u, 4 * u)), rnd(rng, (4 * u,))
    kd, bd = rnd(rng, (u, 3)), rnd(rng, (3,))
    td = {"layer": k3_nested("Dense", "proj", k3_dense(3, "relu"), build=[None, u])}
    lstm = k3_nested("LSTM", "rnn", k3_rnn_cfg(u, True), build=[None, T, F])
    mc = k3_sequential("sequential", [
        k3_seq_input([None, T, F]), lstm,
        k3_nested("TimeDistributed", "td", td, build=[None, T, u])], [None, T, F])
    wm = model_node(None, [("lstm", rnn_node("rnn", "lstm_cell", kl, rl, bl)),
                           ("time_distributed", node("td", layer=node("proj", [kd, bd])))])

    def fwd(xs):
        return [dense_ref(lstm_seq(xs[0], kl, rl, bl), kd, bd, "relu")]
    m = model_of("Sequential", mc, ["InputLayer", "LSTM", "TimeDistributed", "Dense"],
                 [("input_layer", [T, F], "float32")], [("td", 0)], fwd)
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                   lambda p: write_keras(p, mc, weights_bytes(wm)),
                   notes="Keras 3 .keras Sequential: LSTM(5, return_sequences) -> "
                         "TimeDistributed(Dense(3, relu)); the Dense's variables under "
                         "layers/time_distributed/layer/vars")


@case
def case_k4_bn_conv1d(o, cid, seed, rng):
    kc, bc = rnd(rng, (3, F, 6)), rnd(rng, (6,))
    bn = batchnorm(rng, "bn", 6)
    gamma, beta, mean, var = [a for _, a in bn.weights]
    gap = global_pool("gap", "GlobalAveragePooling1D")
    kd, bd = rnd(rng, (6, 3)), rnd(rng, (3,))
    mc = k3_sequential("sequential", [
        k3_seq_input([None, T, F]),
        k3_nested("Conv1D", "conv", k3_conv1d_cfg(6, 3, "same", "relu"), build=[None, T, F]),
        k3_nested("BatchNormalization", "bn", k3_bn_cfg(1e-3), build=[None, T, 6]),
        k3_nested("GlobalAveragePooling1D", "gap",
                  {"data_format": "channels_last", "keepdims": False}),
        k3_nested("Dense", "head", k3_dense(3, "softmax"), build=[None, 6])], [None, T, F],
        compiled=True)
    wm = model_node(None, [("conv1d", node("conv", [kc, bc])),
                           ("batch_normalization", node("bn", [gamma, beta, mean, var])),
                           ("global_average_pooling1d", node("gap")),
                           ("dense", node("head", [kd, bd]))])
    opt = adam_vars(rng, [kc, bc, gamma, beta, kd, bd])

    def fwd(xs):
        h = conv1d_valid_or_same(xs[0], kc, bc, "same", "relu")
        h = gap.fn(bn.fn([h]))[0]
        return [dense_ref(h, kd, bd, "softmax")]
    m = model_of("Sequential", mc, ["InputLayer", "Conv1D", "BatchNormalization",
                                    "GlobalAveragePooling1D", "Dense"],
                 [("input_layer", [T, F], "float32")], [("head", 0)], fwd)
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                   lambda p: write_keras(p, mc, weights_bytes(wm, optimizer=opt,
                                                              optimizer_name="adam")),
                   notes="Keras 3 .keras Sequential: Conv1D(6, 3, same, relu) -> "
                         "BatchNormalization (vars gamma, beta, moving_mean, moving_variance: "
                         "trainable, then non-trainable) -> GlobalAveragePooling1D -> "
                         "Dense(3, softmax); an optimizer/vars group")


@case
def case_k4_weights_arch(o, cid, seed, rng):
    u = 4
    kg, rg, bg = rnd(rng, (F, 3 * u)), rnd(rng, (u, 3 * u)), rnd(rng, (2, 3 * u))
    kd, bd = rnd(rng, (u, 3)), rnd(rng, (3,))
    mc = k3_sequential("sequential", [
        k3_seq_input([None, T, F]),
        k3_nested("GRU", "gru_enc", k3_rnn_cfg(u, False, gru=True), build=[None, T, F]),
        k3_nested("Dense", "dense_head", k3_dense(3, "linear"), build=[None, u])],
        [None, T, F], compiled=True)
    wm = model_node(None, [("gru", rnn_node("gru_enc", "gru_cell", kg, rg, bg)),
                           ("dense", node("dense_head", [kd, bd]))])
    opt = adam_vars(rng, [kg, rg, bg, kd, bd])

    def fwd(xs):
        return [dense_ref(gru_ref(xs[0], kg, rg, bg)[1], kd, bd)]
    m = model_of("Sequential", mc, ["InputLayer", "GRU", "Dense"],
                 [("input_layer", [T, F], "float32")], [("dense_head", 0)], fwd)
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[T, F]]),
                   lambda p: write_weights(p, wm, optimizer=opt, optimizer_name="adam"),
                   fname="model.weights.h5", arch=mc, keras_version=None,
                   notes="Keras 3 model.save_weights('model.weights.h5') (the archive's weights "
                         "layout at the root of a plain HDF5 file, with optimizer/vars) and "
                         "arch.json = the config.json of the model: Sequential GRU(4, "
                         "reset_after) -> Dense(3)")


@case
def case_k4_keras_named_h5(o, cid, seed, rng):
    m = sequential([dense(rng, "dense_1", F, 5, "relu", bis=[None, F]),
                    dense(rng, "dense_2", 5, 2, "tanh")])
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]], batch=3),
                   lambda p: write_h5(p, m), keras_version="2.2.4",
                   notes="a Keras 2.2.4 model.save() HDF5 file saved under the name "
                         "model.keras: the reader tells the format by content, not extension")


# ---- errors -------------------------------------------------------------------------------


def _one_dense(rng, name="dense"):
    k, b = rnd(rng, (F, 3)), rnd(rng, (3,))
    mc = k3_sequential("sequential", [
        k3_seq_input([None, F]),
        k3_nested("Dense", name, k3_dense(3, "linear"), build=[None, F])], [None, F])
    m = model_of("Sequential", mc, ["InputLayer", "Dense"], [("input_layer", [F], "float32")],
                 [(name, 0)], None)
    return m, mc, k, b


@case
def case_k4_err_unused_var(o, cid, seed, rng):
    m, mc, k, b = _one_dense(rng)
    wm = model_node(None, [("dense", node("dense", [k, b, rnd(rng, (3,))]))])
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]]),
                   lambda p: write_keras(p, mc, weights_bytes(wm)),
                   expect="error", why="layers/dense/vars/2",
                   notes="a Dense whose vars group holds a third dataset layers/dense/vars/2 "
                         "that no Keras Dense owns")


@case
def case_k4_err_missing_vars(o, cid, seed, rng):
    m, mc, k, b = _one_dense(rng, "my_dense")
    wm = model_node(None, [("dense", node("my_dense"))])
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]]),
                   lambda p: write_keras(p, mc, weights_bytes(wm)),
                   expect="error", why="my_dense | layers/dense",
                   notes="Dense 'my_dense' whose layers/dense/vars group is empty")


@case
def case_k4_err_path_traversal(o, cid, seed, rng):
    m, mc, k, b = _one_dense(rng)
    wm = model_node(None, [("dense", node("dense", [k, b]))])
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]]),
                   lambda p: write_keras(p, mc, weights_bytes(wm),
                                         extra=[("../evil.txt", b"outside the archive\n")]),
                   expect="error", why="unsafe path",
                   notes="an otherwise valid archive with an entry named ../evil.txt")


@case
def case_k4_err_no_weights(o, cid, seed, rng):
    m, mc, k, b = _one_dense(rng)
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]]),
                   lambda p: write_keras(p, mc, None),
                   expect="error", why="without weights",
                   notes="an archive with config.json and metadata.json only")


@case
def case_k4_err_not_keras_zip(o, cid, seed, rng):
    m, mc, k, b = _one_dense(rng)

    def w(p):
        with zipfile.ZipFile(p, "w") as zf:
            zf.writestr(zipfile.ZipInfo("notes/readme.txt", WEIGHTS_DATE),
                        b"a zip that is not a Keras archive\n")
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]]), w, opaque=True,
                   keras_version=None, backend=None,
                   expect="error", why="not a Keras 3",
                   notes="model.keras is a zip holding one unrelated file")


@case
def case_k4_err_weights_only(o, cid, seed, rng):
    m, mc, k, b = _one_dense(rng)
    wm = model_node(None, [("dense", node("dense", [k, b]))])
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]]),
                   lambda p: write_weights(p, wm), fname="model.weights.h5",
                   keras_version=None, expect="error", why="Keras 3 weights file",
                   notes="a Keras 3 .weights.h5 given without its architecture (no arch.json)")


BOMB_BYTES = 200 << 20


@case
def case_k4_err_zip_bomb(o, cid, seed, rng):
    m, mc, k, b = _one_dense(rng)

    def w(p):
        write_keras(p, mc, None)
        with zipfile.ZipFile(p, "a") as zf:
            zi = zipfile.ZipInfo("model.weights.h5", WEIGHTS_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            chunk = bytes(1 << 20)
            with zf.open(zi, "w") as fh:
                for _ in range(BOMB_BYTES // len(chunk)):
                    fh.write(chunk)
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]]), w,
                   expect="error", why="inflate",
                   notes="model.weights.h5 is 200 MiB of zeros deflated (ZIP_DEFLATED, about "
                         "200 KB on disk): a zip bomb within deflate's ratio")


def _patch_declared_size(path, name, size):
    """Rewrites the uncompressed size that the local header and the central directory
    declare for entry name (a crafted archive: the stream itself is unchanged)."""
    with zipfile.ZipFile(path) as zf:
        zi = zf.getinfo(name)
    data = bytearray(open(path, "rb").read())
    off = zi.header_offset
    assert data[off:off + 4] == b"PK\x03\x04"
    data[off + 22:off + 26] = size.to_bytes(4, "little")
    cd = data.find(b"PK\x01\x02")
    while cd >= 0:
        n = int.from_bytes(data[cd + 28:cd + 30], "little")
        if bytes(data[cd + 46:cd + 46 + n]) == name.encode():
            data[cd + 24:cd + 28] = size.to_bytes(4, "little")
            break
        cd = data.find(b"PK\x01\x02", cd + 4)
    assert cd >= 0, "central directory entry of %s not found" % name
    with open(path, "wb") as fh:
        fh.write(data)


@case
def case_k4_err_zip_bomb_declared(o, cid, seed, rng):
    m, mc, k, b = _one_dense(rng)

    def w(p):
        write_keras(p, mc, None)
        with zipfile.ZipFile(p, "a") as zf:
            zi = zipfile.ZipInfo("model.weights.h5", WEIGHTS_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, bytes(1 << 20))
        _patch_declared_size(p, "model.weights.h5", (1 << 32) - 1)
    return emit_k3(o, cid, seed, m, inputs_for(rng, [[F]]), w,
                   expect="error", why="inflate",
                   notes="model.weights.h5 is 1 MiB of zeros deflated (about 1 KB) whose headers "
                         "declare 4 GiB: more than deflate can inflate, so a crafted archive")
