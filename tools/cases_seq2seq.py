"""Fixture cases for initial states and seq2seq models (ids prefixed s4_).

Recurrent layers called with initial_state: LSTM, GRU, SimpleRNN, CuDNNLSTM,
CuDNNGRU and Bidirectional, in the three ways files record the call:
  - Keras 2.2.4 and tf.keras: the states are inputs of the call after the sequence,
    [["x", 0, 0, {}], ["h", 0, 0, {}], ["c", 0, 0, {}]];
  - Keras 3: {"args": [x], "kwargs": {"initial_state": [h, c]}} (or one tensor), or
    the states as a positional list, {"args": [x, [h, c]]};
with masks (a masked step keeps the states; the output rule of the version, see
cases_rnn.rnn_loop), go_backwards, return_state, encoder-decoder training models
and an inference decoder whose states are model inputs and outputs.

Expected outputs come from float64 numpy time loops (cases_rnn's cells) started
from the given states; each LSTM/GRU/CuDNN reference is cross-checked against
torch.nn.LSTM / torch.nn.GRU started from the same (h0, c0).
"""
import copy
import json

import numpy as np

from gen_fixtures import (ACT, F, T, case, emit, f64, rnd, torch, unique_output_names)
from cases_rnn import (RZN, Rec, agree, gru_step, keras_cudnn_gru_to_native, lstm_step,
                       rnn_config, rnn_loop, simple_step, _keras3)
from cases_formats import POLICY, model_of, str_attr, names_attr, write_groups

import h5py

# --------------------------------------------------------------------------------------
# Torch references started from given states
# --------------------------------------------------------------------------------------


def _torch_run(m, x, h0, go_backwards):
    xx = f64(x)
    if go_backwards:
        xx = xx[:, ::-1, :]
    with torch.no_grad():
        return m(torch.from_numpy(xx.copy()), h0)


def torch_lstm(x, w_ih, w_hh, b_ih, b_hh, h0, c0, go_backwards=False):
    """torch.nn.LSTM (float64, gates i, f, g, o) from (h0, c0). -> (seq, h, c)"""
    u, n_in = w_hh.shape[1], w_ih.shape[1]
    m = torch.nn.LSTM(n_in, u, batch_first=True).double()
    with torch.no_grad():
        for p, a in ((m.weight_ih_l0, w_ih), (m.weight_hh_l0, w_hh), (m.bias_ih_l0, b_ih),
                     (m.bias_hh_l0, b_hh)):
            p.copy_(torch.from_numpy(np.ascontiguousarray(f64(a))))
    st = (torch.from_numpy(f64(h0)[None].copy()), torch.from_numpy(f64(c0)[None].copy()))
    out, (h, c) = _torch_run(m, x, st, go_backwards)
    return out.numpy(), h[0].numpy(), c[0].numpy()


def torch_gru(x, w_ih, w_hh, b_ih, b_hh, h0, go_backwards=False):
    """torch.nn.GRU (float64, gates r, z, n: reset after) from h0. -> (seq, h)"""
    u, n_in = w_hh.shape[1], w_ih.shape[1]
    m = torch.nn.GRU(n_in, u, batch_first=True).double()
    with torch.no_grad():
        for p, a in ((m.weight_ih_l0, w_ih), (m.weight_hh_l0, w_hh), (m.bias_ih_l0, b_ih),
                     (m.bias_hh_l0, b_hh)):
            p.copy_(torch.from_numpy(np.ascontiguousarray(f64(a))))
    out, h = _torch_run(m, x, torch.from_numpy(f64(h0)[None].copy()), go_backwards)
    return out.numpy(), h[0].numpy()


def cudnn_lstm_weights(kernel, rkernel, bias):
    """cuDNN's reading of CuDNNLSTM weights (see gen_fixtures.cudnn_lstm_torch)."""
    kernel, rkernel, bias = f64(kernel), f64(rkernel), f64(bias)
    n_in, u = kernel.shape[0], rkernel.shape[0]
    w_ih = np.concatenate([kernel[:, g * u:(g + 1) * u].flatten().reshape(u, n_in) for g in range(4)])
    w_hh = np.concatenate([rkernel[:, g * u:(g + 1) * u].flatten().reshape(u, u) for g in range(4)])
    return w_ih, w_hh, bias[:4 * u], bias[4 * u:]


def cudnn_gru_weights(kernel, rkernel, bias):
    """cuDNN's reading of CuDNNGRU weights in torch's gate order (see
    cases_rnn.torch_cudnn_gru)."""
    kernel, rkernel, bias = f64(kernel), f64(rkernel), f64(bias)
    n_in, u = kernel.shape[0], rkernel.shape[0]
    w_ih = np.concatenate([kernel[:, g * u:(g + 1) * u].flatten().reshape(u, n_in) for g in RZN])
    w_hh = np.concatenate([rkernel[:, g * u:(g + 1) * u].flatten().reshape(u, u) for g in RZN])
    bi = np.concatenate([bias[g * u:(g + 1) * u] for g in RZN])
    bh = np.concatenate([bias[3 * u + g * u:3 * u + (g + 1) * u] for g in RZN])
    return w_ih, w_hh, bi, bh


def keras_cudnn_lstm_to_native(kernel, rkernel, bias):
    """Keras's CuDNNLSTM -> LSTM conversion (saving.py); used as a cross-check only."""
    k = np.hstack([blk.T.reshape(blk.shape, order="F") for blk in np.hsplit(f64(kernel), 4)])
    r = np.hstack([blk.T for blk in np.hsplit(f64(rkernel), 4)])
    u = rkernel.shape[0]
    return k, r, f64(bias)[:4 * u] + f64(bias)[4 * u:]


# --------------------------------------------------------------------------------------
# Recurrent layers from initial states
# --------------------------------------------------------------------------------------


class Cell(object):
    """A recurrent layer's config and stored arrays (cases_rnn.Rec, or a CuDNNLSTM),
    run from given initial states."""

    def __init__(self, rng, cls, name, in_dim, units, **kw):
        self.cls, self.name, self.units = cls, name, units
        if cls == "CuDNNLSTM":
            self.config = rnn_config(cls, name, units, **kw)
            assert in_dim != units
            self.kernel = rnd(rng, (in_dim, 4 * units))
            self.rkernel = rnd(rng, (units, 4 * units))
            self.bias = rnd(rng, (8 * units,))
            self.activation, self.ract, self.reset_after = "tanh", "sigmoid", True
        else:
            r = Rec(rng, cls, name, in_dim, units, **kw)
            self.config = r.config
            self.kernel, self.rkernel, self.bias = r.kernel, r.rkernel, r.bias
            self.activation, self.ract, self.reset_after = r.activation, r.ract, r.reset_after
        c = self.config
        self.return_sequences, self.return_state = c["return_sequences"], c["return_state"]
        self.go_backwards = c["go_backwards"]
        self.nstates = 2 if cls in ("LSTM", "CuDNNLSTM") else 1

    def arrays(self):
        a = [("kernel", self.kernel), ("recurrent_kernel", self.rkernel)]
        if self.bias is not None:
            a.append(("bias", self.bias))
        return a

    def step(self):
        if self.cls == "LSTM":
            return lstm_step(self.kernel, self.rkernel, self.bias, self.activation, self.ract)
        if self.cls == "CuDNNLSTM":
            k, r, b = keras_cudnn_lstm_to_native(self.kernel, self.rkernel, self.bias)
            return lstm_step(k, r, b, "tanh", "sigmoid")
        if self.cls == "GRU":
            return gru_step(self.kernel, self.rkernel, self.bias, self.activation, self.ract,
                            self.reset_after)
        if self.cls == "CuDNNGRU":
            k, r, b = keras_cudnn_gru_to_native(self.kernel, self.rkernel, self.bias)
            return gru_step(k, r, b, "tanh", "sigmoid", True)
        return simple_step(self.kernel, self.rkernel, self.bias, self.activation)

    def run(self, x, go_backwards, init, mask=None, mode="state"):
        """-> (outputs in processing order, last output, final states), from init
        (None for zeros)."""
        B, u = x.shape[0], self.units
        if init is None:
            init = [np.zeros((B, u)) for _ in range(self.nstates)]
        init = [f64(s) for s in init]
        assert len(init) == self.nstates and all(s.shape == (B, u) for s in init)
        seq, last, states = rnn_loop(self.step(), x, list(init), go_backwards, mask, mode)
        if mask is None:
            self.cross_check(x, go_backwards, init, seq, states)
        return seq, last, states

    def cross_check(self, x, go_backwards, init, seq, states):
        """The same run through torch, where torch has the cell."""
        u = self.units
        if self.cls == "CuDNNLSTM":
            ts, th, tc = torch_lstm(x, *cudnn_lstm_weights(self.kernel, self.rkernel, self.bias),
                                    init[0], init[1], go_backwards)
        elif self.cls == "LSTM" and self.activation == "tanh" and self.ract == "sigmoid":
            b = f64(self.bias) if self.bias is not None else np.zeros(4 * u)
            ts, th, tc = torch_lstm(x, f64(self.kernel).T, f64(self.rkernel).T, b,
                                    np.zeros(4 * u), init[0], init[1], go_backwards)
        elif self.cls == "CuDNNGRU":
            ts, th = torch_gru(x, *cudnn_gru_weights(self.kernel, self.rkernel, self.bias),
                               init[0], go_backwards)
            tc = None
        elif self.cls == "GRU" and self.reset_after and self.activation == "tanh" and \
                self.ract == "sigmoid":
            blk = lambda A, g: f64(A)[:, g * u:(g + 1) * u]
            w_ih = np.concatenate([blk(self.kernel, g).T for g in RZN])
            w_hh = np.concatenate([blk(self.rkernel, g).T for g in RZN])
            bb = f64(self.bias).reshape(2, 3 * u)
            bi = np.concatenate([bb[0, g * u:(g + 1) * u] for g in RZN])
            bh = np.concatenate([bb[1, g * u:(g + 1) * u] for g in RZN])
            ts, th = torch_gru(x, w_ih, w_hh, bi, bh, init[0], go_backwards)
            tc = None
        else:
            return
        agree(ts, seq, "%s from initial states: numpy vs torch" % self.cls)
        agree(th, states[0], "%s final h: numpy vs torch" % self.cls)
        if tc is not None:
            agree(tc, states[1], "%s final c: numpy vs torch" % self.cls)


class L(object):
    """A layer of a graph: class, name, config, weights [(path, array)] and
    fnm(inputs, masks) -> (outputs, output masks)."""

    def __init__(self, cls, name, config, weights, fnm, inner=()):
        self.cls, self.name, self.config, self.weights = cls, name, config, list(weights)
        self.fnm, self.inner = fnm, list(inner)


def rec(core, mode, scope):
    """A recurrent layer: inputs the sequence, then (optionally) its initial states."""
    ws = [("%s/%s" % (scope, n), a) for n, a in core.arrays()]

    def fnm(xs, masks):
        init = xs[1:] if len(xs) > 1 else None
        seq, last, states = core.run(xs[0], core.go_backwards, init, masks[0], mode)
        y = seq if core.return_sequences else last
        outs = [y] + (list(states) if core.return_state else [])
        return outs, [masks[0] if core.return_sequences else None] + [None] * (len(outs) - 1)
    return L(core.cls, core.name, core.config, ws, fnm)


def bidi(name, fwd, bwd, merge, cfg, scope_of, modes=("state", "state")):
    """Bidirectional: initial states after the sequence, the forward layer's first
    half (Keras: Bidirectional.call splits initial_state in halves)."""
    ws = [(scope_of("forward", fwd, n), a) for n, a in fwd.arrays()]
    ws += [(scope_of("backward", bwd, n), a) for n, a in bwd.arrays()]

    def fnm(xs, masks):
        m = masks[0]
        st = xs[1:]
        fi, bi = (st[:len(st) // 2], st[len(st) // 2:]) if st else (None, None)
        fs, fl, fst = fwd.run(xs[0], fwd.go_backwards, fi, m, modes[0])
        bs, bl, bst = bwd.run(xs[0], not fwd.go_backwards, bi, m, modes[1])
        rs = fwd.return_sequences
        y, yr = (fs, bs[:, ::-1, :]) if rs else (fl, bl)
        out = {"concat": lambda: [np.concatenate([y, yr], -1)], "sum": lambda: [y + yr],
               None: lambda: [y, yr]}[merge]()
        om = [m if rs else None] * len(out)
        if fwd.return_state:
            out += list(fst) + list(bst)
            om += [None] * (len(fst) + len(bst))
        return out, om
    return L("Bidirectional", name, cfg, ws, fnm, inner=[fwd.cls])


def dense_l(rng, name, in_dim, units, activation, cfg, scope):
    k, b = rnd(rng, (in_dim, units)), rnd(rng, (units,))

    def fnm(xs, masks):
        return [ACT[activation](f64(xs[0]) @ f64(k) + f64(b))], [masks[0]]
    return L("Dense", name, cfg, [("%s/kernel" % scope, k), ("%s/bias" % scope, b)], fnm)


def embedding_l(rng, name, vocab, dim, mask_zero, cfg):
    e = rnd(rng, (vocab, dim))

    def fnm(xs, masks):
        ids = np.asarray(xs[0]).astype(np.int64)
        return [f64(e)[ids]], [ids != 0 if mask_zero else None]
    return L("Embedding", name, cfg, [("%s/embeddings" % name, e)], fnm)


def not_equal_l(name):
    """Keras 3's ops.not_equal(x, 0) as an op layer of a functional config."""
    def fnm(xs, masks):
        return [np.asarray(xs[0]) != 0], [None]
    return L("NotEqual", name, {"name": name}, [], fnm)


# --------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------


def k2_dense_cfg(name, units, activation):
    return {"name": name, "trainable": True, "units": units, "activation": activation,
            "use_bias": True, "kernel_initializer": {"class_name": "VarianceScaling", "config": {}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None}


def k2_input(name, shape, dtype="float32"):
    return L("InputLayer", name, {"batch_input_shape": [None] + list(shape), "dtype": dtype,
                                  "sparse": False, "name": name}, [], None)


def k3_input(name, shape, dtype="float32"):
    return L("InputLayer", name, {"batch_shape": [None] + list(shape), "dtype": dtype,
                                  "sparse": False, "name": name}, [], None)


class Node(object):
    """One call: layer, input refs (sequence first), how many of the last refs are
    initial states, a mask-argument ref, and how Keras 3 records the states ("kwargs",
    "kwarg1": one tensor, or "args": a positional list)."""

    def __init__(self, layer, refs=(), states=0, mask=None, style="kwargs"):
        self.layer, self.refs, self.states, self.mask, self.style = layer, list(refs), states, mask, style


def k3_tensor(ref):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": None, "dtype": "float32", "keras_history": list(ref)}}


def model_config(nodes, inputs, outputs, keras3):
    layers = []
    for n in nodes:
        l = n.layer
        d = {"class_name": l.cls, "config": l.config, "name": l.name}
        if keras3:
            d["module"] = "keras.src.ops.numpy" if l.cls == "NotEqual" else "keras.layers"
            d["registered_name"] = None
        if not n.refs:
            d["inbound_nodes"] = []
        elif not keras3:
            d["inbound_nodes"] = [[[r[0], r[1], r[2], {}] for r in n.refs]]
        else:
            k = len(n.refs) - n.states
            args = [k3_tensor(r) for r in n.refs[:k]]
            kwargs = {}
            if l.cls == "NotEqual":
                args.append(0)
            elif l.cls in ("LSTM", "GRU", "SimpleRNN", "Bidirectional"):
                kwargs = {"training": False, "mask": None}
            st = [k3_tensor(r) for r in n.refs[k:]]
            if n.states and n.style == "args":
                args.append(st)
            elif n.states and n.style == "kwarg1":
                kwargs["initial_state"] = st[0]
            elif n.states:
                kwargs["initial_state"] = st
            if n.mask is not None:
                kwargs["mask"] = k3_tensor(n.mask)
            d["inbound_nodes"] = [{"args": args, "kwargs": kwargs}]
        layers.append(d)
    cls = "Functional" if keras3 else "Model"
    return {"class_name": cls, "config": {"name": "model", "layers": layers,
                                          "input_layers": [[n, 0, 0] for n in inputs],
                                          "output_layers": [list(r) for r in outputs]}}


def graph_forward(nodes, inputs, outputs):
    def forward(xs):
        vals = {}
        for name, x in zip(inputs, xs):
            vals[(name, 0, 0)] = (x, None)
        for n in nodes:
            if not n.refs:
                continue
            ins = [vals[tuple(r)] for r in n.refs]
            outs, oms = n.layer.fnm([v for v, _ in ins], [m for _, m in ins])
            if n.mask is not None:
                # A mask argument replaces the carried one; the cases give the one
                # the input carries, which this asserts.
                assert np.array_equal(vals[tuple(n.mask)][0], ins[0][1])
            for t, (o, om) in enumerate(zip(outs, oms)):
                vals[(n.layer.name, 0, t)] = (o, om)
        return [vals[tuple(r)][0] for r in outputs]
    return forward


def emit_graph(o, cid, seed, nodes, inputs, outputs, xs, version, notes, keras3=False,
               expect="ok", why=None, gold="numpy"):
    mc = model_config(nodes, inputs, outputs, keras3)
    shapes = {n.layer.name: n.layer.config for n in nodes if n.layer.cls == "InputLayer"}
    ins = []
    for name in inputs:
        c = shapes[name]
        ins.append((name, (c.get("batch_input_shape") or c.get("batch_shape"))[1:], c["dtype"]))
    classes = []
    for n in nodes:
        for c in [n.layer.cls] + n.layer.inner:
            if c not in classes and c != "NotEqual":
                classes.append(c)
    m = model_of(mc["class_name"], mc, classes, ins, [(r[0], r[2]) for r in outputs],
                 graph_forward(nodes, inputs, outputs))
    # Keras 3 lists only layers, not ops, in layer_names; Keras 3 weight paths
    # have no ":0".
    groups = []
    for n in nodes:
        if n.layer.cls == "NotEqual":
            continue
        ws = [(p if keras3 else p + ":0", a) for p, a in n.layer.weights]
        groups.append((n.layer.name, ws))
    mode = "vlen_utf8" if keras3 else "fixed"

    def write(path):
        with h5py.File(path, "w") as f:
            str_attr(f, "keras_version", version, mode)
            str_attr(f, "backend", "tensorflow", mode)
            str_attr(f, "model_config", json.dumps(mc).encode("utf8"), mode)
            g = f.create_group("model_weights")
            write_groups(g, groups, mode)
            str_attr(g, "backend", "tensorflow", mode)
            str_attr(g, "keras_version", version, mode)
    return emit(o, cid, seed, m, xs, write=write, keras_version=version, notes=notes,
                expect=expect, why=why, gold=gold)


def k3cfg(core):
    core.config = _keras3(core.config, core.name)
    return core


def states_in(rng, B, u, n):
    return [rng.standard_normal((B, u)).astype(np.float32) for _ in range(n)]


def seq_in(rng, B, t, f):
    return rng.standard_normal((B, t, f)).astype(np.float32)


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------

U = 5


def _single(o, cid, seed, rng, cls, version, notes, keras3=False, style="kwargs",
            scope=None, mask_ids=None, mode="state", **kw):
    """One recurrent layer given its initial states as model inputs."""
    core = Cell(rng, cls, {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn",
                           "CuDNNLSTM": "cu_dnnlstm", "CuDNNGRU": "cu_dnngru"}[cls],
                3 if cls.startswith("CuDNN") else F, U, tf=version != "2.2.4" and not keras3, **kw)
    if keras3:
        k3cfg(core)
    inp = k3_input if keras3 else k2_input
    B = 3
    fin = core.kernel.shape[0]
    names = ["x"] + ["h", "c"][:core.nstates]
    nodes = []
    if mask_ids is not None:
        nodes.append(Node(inp("ids", [T], "int32")))
        ecfg = {"name": "embedding", "trainable": True, "input_dim": 7, "output_dim": fin,
                "embeddings_initializer": {"class_name": "RandomUniform", "config": {}},
                "embeddings_regularizer": None, "activity_regularizer": None,
                "embeddings_constraint": None, "mask_zero": True}
        if keras3:
            ecfg["dtype"] = POLICY
        else:
            ecfg["input_length"] = T
        emb = embedding_l(rng, "embedding", 7, fin, True, ecfg)
        names[0] = "ids"
    else:
        nodes.append(Node(inp("x", [T, fin])))
    for s in names[1:]:
        nodes.append(Node(inp(s, [U])))
    seq = ("x", 0, 0)
    if mask_ids is not None:
        nodes.append(Node(emb, [("ids", 0, 0)]))
        seq = ("embedding", 0, 0)
    sc = scope or ("%s/%s_cell" % (core.name, core.name.replace("cu_dnn", "")) if keras3 else core.name)
    lay = rec(core, mode, sc)
    nodes.append(Node(lay, [seq] + [(s, 0, 0) for s in names[1:]], states=core.nstates,
                      style=style))
    outs = [(core.name, 0, k) for k in range(1 + (core.nstates if core.return_state else 0))]
    if mask_ids is not None:
        xs = [mask_ids(rng, B)]
    else:
        xs = [seq_in(rng, B, T, fin)]
    xs += states_in(rng, B, U, core.nstates)
    return emit_graph(o, cid, seed, nodes, names, outs, xs, version, notes, keras3=keras3,
                      gold="torch" if cls.startswith("CuDNN") else "numpy")


@case
def case_s4_lstm_init_k224(o, cid, seed, rng):
    return _single(o, cid, seed, rng, "LSTM", "2.2.4",
                   "Keras 2.2.4: LSTM(5, return_sequences, return_state) called with "
                   "initial_state=[h, c] model inputs: the inbound node lists x, h, c",
                   return_sequences=True, return_state=True)


@case
def case_s4_gru_init_tfkeras(o, cid, seed, rng):
    return _single(o, cid, seed, rng, "GRU", "2.4.0",
                   "tf.keras 2.4: GRU(5, reset_after, sigmoid, return_state) from an initial "
                   "state input (list form); numpy reference checked against torch.nn.GRU",
                   scope="gru/gru_cell", reset_after=True, recurrent_activation="sigmoid",
                   return_state=True)


@case
def case_s4_simplernn_init_k3(o, cid, seed, rng):
    return _single(o, cid, seed, rng, "SimpleRNN", "3.3.3",
                   "Keras 3: SimpleRNN(5, return_sequences) with initial_state given as one "
                   "tensor (not a list) in the call's kwargs", keras3=True, style="kwarg1",
                   return_sequences=True)


@case
def case_s4_lstm_init_args_k3(o, cid, seed, rng):
    return _single(o, cid, seed, rng, "LSTM", "3.3.3",
                   "Keras 3: LSTM(5, sigmoid, return_state) called as lstm(x, [h, c]): the "
                   "states are a positional list in args", keras3=True, style="args",
                   recurrent_activation="sigmoid", return_state=True)


@case
def case_s4_gru_init_go_backwards(o, cid, seed, rng):
    return _single(o, cid, seed, rng, "GRU", "2.2.4",
                   "Keras 2.2.4: GRU(5, reset_after=False, go_backwards, return_sequences, "
                   "return_state) from an initial state: the sequence in processing order",
                   go_backwards=True, return_sequences=True, return_state=True)


@case
def case_s4_cudnnlstm_init(o, cid, seed, rng):
    return _single(o, cid, seed, rng, "CuDNNLSTM", "2.2.4",
                   "Keras 2.2.4: CuDNNLSTM(5, return_sequences, return_state) from initial "
                   "states [h, c]; torch.nn.LSTM reference from (h0, c0)",
                   return_sequences=True, return_state=True)


@case
def case_s4_cudnngru_init_backwards(o, cid, seed, rng):
    return _single(o, cid, seed, rng, "CuDNNGRU", "2.2.4",
                   "Keras 2.2.4: CuDNNGRU(5, go_backwards, return_state) from an initial "
                   "state; torch.nn.GRU reference from h0",
                   go_backwards=True, return_state=True)


def _pad_ids(rng, B):
    ids = rng.randint(1, 7, size=(B, T)).astype(np.int32)
    ids[0, :2] = 0      # leading padding: masked steps before any unmasked one
    ids[1, 3] = 0
    ids[2, -1] = 0      # trailing padding
    return ids


@case
def case_s4_mask_init_k224(o, cid, seed, rng):
    return _single(o, cid, seed, rng, "LSTM", "2.2.4",
                   "Keras 2.2.4: Embedding(mask_zero) -> LSTM(return_sequences, return_state) "
                   "from initial states: masked steps keep the states and output the state "
                   "before the step (the initial h before any unmasked step)",
                   mask_ids=_pad_ids, mode="state", return_sequences=True, return_state=True)


@case
def case_s4_mask_init_k3(o, cid, seed, rng):
    return _single(o, cid, seed, rng, "GRU", "3.3.3",
                   "Keras 3: Embedding(mask_zero) -> GRU(reset_after, return_sequences, "
                   "return_state) with initial_state: masked steps keep the state and output "
                   "the previous output, zeros before any unmasked step",
                   keras3=True, mask_ids=_pad_ids, mode="prev", reset_after=True,
                   recurrent_activation="sigmoid", return_sequences=True, return_state=True)


def _s2s(o, cid, seed, rng, keras3, version, notes):
    """Encoder LSTM(return_state) -> decoder LSTM(initial_state, return_sequences) ->
    Dense(softmax): the training model of the Keras seq2seq example."""
    tf = not keras3 and version != "2.2.4"
    enc = Cell(rng, "LSTM", "lstm_1" if not keras3 else "lstm", F, U, return_state=True,
               recurrent_activation="sigmoid", tf=tf)
    dec = Cell(rng, "LSTM", "lstm_2" if not keras3 else "lstm_1", 3, U, return_sequences=True,
               return_state=True, recurrent_activation="sigmoid", tf=tf)
    inp = k3_input if keras3 else k2_input
    if keras3:
        k3cfg(enc)
        k3cfg(dec)
    dcfg = k2_dense_cfg("dense", 3, "softmax")
    if keras3:
        dcfg["dtype"] = POLICY
    sc = (lambda c: "%s/lstm_cell" % c.name) if keras3 else (lambda c: c.name)
    d = dense_l(rng, "dense", U, 3, "softmax", dcfg, "dense")
    nodes = [Node(inp("encoder_inputs", [T, F])), Node(inp("decoder_inputs", [4, 3])),
             Node(rec(enc, "prev" if keras3 else "state", sc(enc)), [("encoder_inputs", 0, 0)]),
             Node(rec(dec, "prev" if keras3 else "state", sc(dec)),
                  [("decoder_inputs", 0, 0), (enc.name, 0, 1), (enc.name, 0, 2)], states=2),
             Node(d, [(dec.name, 0, 0)])]
    xs = [seq_in(rng, 2, T, F), seq_in(rng, 2, 4, 3)]
    return emit_graph(o, cid, seed, nodes, ["encoder_inputs", "decoder_inputs"],
                      [("dense", 0, 0)], xs, version, notes, keras3=keras3)


@case
def case_s4_s2s_train_k224(o, cid, seed, rng):
    return _s2s(o, cid, seed, rng, False, "2.2.4",
                "Keras 2.2.4 seq2seq training model: encoder LSTM(return_state) -> [h, c] -> "
                "decoder LSTM(return_sequences, return_state) -> Dense(softmax)")


@case
def case_s4_s2s_train_k3(o, cid, seed, rng):
    return _s2s(o, cid, seed, rng, True, "3.3.3",
                "Keras 3 seq2seq training model: the decoder's initial_state=[lstm[0][1], "
                "lstm[0][2]] in the call's kwargs")


@case
def case_s4_s2s_decoder_k3(o, cid, seed, rng):
    """The inference decoder of a seq2seq model: inputs token ids, h, c; outputs
    [softmax, h, c]; the Go example runs it a step at a time, feeding the states back."""
    V = 6
    dec = k3cfg(Cell(rng, "LSTM", "lstm", 4, U, return_sequences=True, return_state=True,
                     recurrent_activation="sigmoid"))
    ecfg = {"name": "embedding", "trainable": True, "dtype": POLICY, "input_dim": V,
            "output_dim": 4, "embeddings_initializer": {"class_name": "RandomUniform", "config": {}},
            "embeddings_regularizer": None, "activity_regularizer": None,
            "embeddings_constraint": None, "mask_zero": False}
    dcfg = dict(k2_dense_cfg("dense", V, "softmax"), dtype=POLICY)
    nodes = [Node(k3_input("token", [None], "int32")), Node(k3_input("h", [U])),
             Node(k3_input("c", [U])),
             Node(embedding_l(rng, "embedding", V, 4, False, ecfg), [("token", 0, 0)]),
             Node(rec(dec, "prev", "lstm/lstm_cell"),
                  [("embedding", 0, 0), ("h", 0, 0), ("c", 0, 0)], states=2),
             Node(dense_l(rng, "dense", U, V, "softmax", dcfg, "dense"), [("lstm", 0, 0)])]
    B = 2
    xs = [rng.randint(0, V, size=(B, 3)).astype(np.int32)] + states_in(rng, B, U, 2)
    return emit_graph(o, cid, seed, nodes, ["token", "h", "c"],
                      [("dense", 0, 0), ("lstm", 0, 1), ("lstm", 0, 2)], xs, "3.3.3",
                      "Keras 3 inference decoder: Embedding -> LSTM(initial_state=[h, c] model "
                      "inputs, return_sequences, return_state) -> Dense(softmax); outputs "
                      "[y, h, c]; a free time axis", keras3=True)


@case
def case_s4_bidi_lstm_init_k224(o, cid, seed, rng):
    fwd = Cell(rng, "LSTM", "lstm_1", F, U, return_sequences=True, return_state=True,
               recurrent_activation="sigmoid")
    bwd = Cell(rng, "LSTM", "lstm_1", F, U, return_sequences=True, return_state=True,
               go_backwards=True, recurrent_activation="sigmoid")
    cfg = {"name": "bidirectional_1", "trainable": True,
           "layer": {"class_name": "LSTM", "config": copy.deepcopy(fwd.config)},
           "merge_mode": "concat"}
    lay = bidi("bidirectional_1", fwd, bwd, "concat", cfg,
               lambda side, c, n: "bidirectional_1/%s_%s/%s" % (side, c.name, n))
    names = ["x", "fh", "fc", "bh", "bc"]
    nodes = [Node(k2_input("x", [T, F]))] + [Node(k2_input(s, [U])) for s in names[1:]]
    nodes.append(Node(lay, [(s, 0, 0) for s in names], states=4))
    xs = [seq_in(rng, 2, T, F)] + states_in(rng, 2, U, 4)
    return emit_graph(o, cid, seed, nodes, names, [("bidirectional_1", 0, k) for k in range(5)],
                      xs, "2.2.4",
                      "Keras 2.2.4: Bidirectional(LSTM(5, return_sequences, return_state)) "
                      "with initial_state=[fh, fc, bh, bc]: the first half goes to the forward "
                      "layer; outputs the concatenated sequence, then the forward and backward "
                      "final states")


@case
def case_s4_bidi_gru_init_k3(o, cid, seed, rng):
    fwd = k3cfg(Cell(rng, "GRU", "forward_gru", F, U, return_state=True, reset_after=True,
                     recurrent_activation="sigmoid"))
    bwd = k3cfg(Cell(rng, "GRU", "backward_gru", F, U, return_state=True, reset_after=True,
                     recurrent_activation="sigmoid", go_backwards=True))
    cfg = {"name": "bidirectional", "trainable": True, "dtype": POLICY, "merge_mode": "sum",
           "layer": {"module": "keras.layers", "class_name": "GRU", "config": fwd.config,
                     "registered_name": None},
           "backward_layer": {"module": "keras.layers", "class_name": "GRU",
                              "config": bwd.config, "registered_name": None}}
    lay = bidi("bidirectional", fwd, bwd, "sum", cfg,
               lambda side, c, n: "bidirectional/%s/gru_cell/%s" % (c.name, n))
    names = ["x", "fh", "bh"]
    nodes = [Node(k3_input("x", [T, F]))] + [Node(k3_input(s, [U])) for s in names[1:]]
    nodes.append(Node(lay, [(s, 0, 0) for s in names], states=2))
    xs = [seq_in(rng, 2, T, F)] + states_in(rng, 2, U, 2)
    return emit_graph(o, cid, seed, nodes, names, [("bidirectional", 0, k) for k in range(3)],
                      xs, "3.3.3",
                      "Keras 3: Bidirectional(GRU(5, return_state), merge_mode=sum) with "
                      "initial_state=[fh, bh] in kwargs", keras3=True)


def _mask_kwarg(o, cid, seed, rng, same):
    """Keras 3: lstm(embedding(ids), mask=ops.not_equal(ids, 0)) with mask_zero=True
    on the Embedding, as Keras 3 writes it (a NotEqual op layer)."""
    core = k3cfg(Cell(rng, "LSTM", "lstm", 4, U, return_state=True,
                      recurrent_activation="sigmoid"))
    ecfg = {"name": "embedding", "trainable": True, "dtype": POLICY, "input_dim": 7,
            "output_dim": 4, "embeddings_initializer": {"class_name": "RandomUniform", "config": {}},
            "embeddings_regularizer": None, "activity_regularizer": None,
            "embeddings_constraint": None, "mask_zero": True}
    src = "ids" if same else "other_ids"
    nodes = [Node(k3_input("ids", [T], "int32"))]
    if not same:
        nodes.append(Node(k3_input("other_ids", [T], "int32")))
    nodes += [Node(embedding_l(rng, "embedding", 7, 4, True, ecfg), [("ids", 0, 0)]),
              Node(not_equal_l("not_equal"), [(src, 0, 0)]),
              Node(rec(core, "prev", "lstm/lstm_cell"), [("embedding", 0, 0)],
                   mask=("not_equal", 0, 0) if same else None)]
    if not same:
        nodes[-1].mask = ("not_equal", 0, 0)
        nodes[-1].layer.fnm = None
    ins = ["ids"] + ([] if same else ["other_ids"])
    xs = [_pad_ids(rng, 3)] + ([] if same else [_pad_ids(rng, 3)])
    if same:
        return emit_graph(o, cid, seed, nodes, ins, [("lstm", 0, 0), ("lstm", 0, 1), ("lstm", 0, 2)],
                          xs, "3.3.3",
                          "Keras 3: LSTM called with mask=not_equal(ids, 0) (a NotEqual op "
                          "layer) on the output of Embedding(mask_zero=True) of the same ids: "
                          "the mask the input carries; outputs [last, h, c]", keras3=True)
    return emit_graph(o, cid, seed, nodes, ins, [("lstm", 0, 0)], xs, "3.3.3",
                      "Keras 3: LSTM called with mask=not_equal(other_ids, 0), not the mask "
                      "its input carries: refused, naming the layer and the argument",
                      keras3=True, expect="error", why="lstm | mask")


@case
def case_s4_mask_kwarg_k3(o, cid, seed, rng):
    return _mask_kwarg(o, cid, seed, rng, True)


@case
def case_s4_mask_kwarg_other_k3(o, cid, seed, rng):
    return _mask_kwarg(o, cid, seed, rng, False)
