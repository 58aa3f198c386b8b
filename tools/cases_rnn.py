"""Fixture cases for issue 3's recurrent work (ids prefixed r3_): GRU, CuDNNGRU,
SimpleRNN, Bidirectional around each, masking (Masking, Embedding(mask_zero)),
TimeDistributed and stateful layers.

Expected outputs come from float64 numpy references written from the Keras math
(keras 2.2.4 recurrent.py / cudnn_recurrent.py / wrappers.py, the backends' rnn()
with masks, tf.keras and Keras 3 where they differ). Every GRU(reset_after=True)
reference is cross-checked against torch.nn.GRU, and CuDNNGRU expected outputs
come from torch.nn.GRU fed the cuDNN-canonical weights, itself checked against
Keras's own CuDNNGRU -> GRU weight conversion run through the numpy GRU.

Masked-step outputs (see rnn_loop):
  "state"  multi-backend Keras 1/2: K.rnn outputs states[0], the state before the step;
  "prev"   tf.keras / Keras 3 backend.rnn: the previous output, zeros before any step;
  "zero"   zero_output_for_mask, which tf.keras (>= 2.2.4-tf) and Keras 3 Bidirectional
           set on inner layers that return sequences.
"""
import copy

import numpy as np

from gen_fixtures import (ACT, CASES, F, GLOROT, ORTHO, RUNIFORM, T, TF_GLOROT, ZEROS, Layer,
                          RNNCore, base_cfg, case, conv1d, dense, emit, f64, functional,
                          input_layer, lstm_ref, make_inputs, rnd, rnn_layer, sequential, torch)

# --------------------------------------------------------------------------------------
# The time loop (Keras backend rnn) and the cells, float64
# --------------------------------------------------------------------------------------


def rnn_loop(step, x, states, go_backwards=False, mask=None, mode="state"):
    """K.rnn: step(x_t, states) -> (output, new_states). Returns (outputs in processing
    order [B,T,u], last output, final states)."""
    x = f64(x)
    B, Tn = x.shape[0], x.shape[1]
    order = range(Tn - 1, -1, -1) if go_backwards else range(Tn)
    outs = []
    prev = None
    for t in order:
        out, new = step(x[:, t], states)
        if prev is None:
            prev = np.zeros_like(out)
        if mask is not None:
            m = np.asarray(mask[:, t], dtype=bool)[:, None]
            if mode == "state":        # keras/backend/tensorflow_backend.py: tf.where(m, out, states[0])
                out = np.where(m, out, states[0])
            elif mode == "prev":       # tf.keras backend.rnn: prev_output, zeros at first
                out = np.where(m, out, prev)
            elif mode == "zero":       # zero_output_for_mask
                out = np.where(m, out, 0.0)
            else:
                raise ValueError(mode)
            new = [np.where(m, n, s) for n, s in zip(new, states)]
        states = new
        prev = out
        outs.append(out)
    return np.stack(outs, axis=1), outs[-1], states


def lstm_step(K, R, b, act, ract):
    K, R = f64(K), f64(R)
    u = R.shape[0]
    a, ra = ACT[act], ACT[ract]

    def step(xt, states):
        h, c = states
        z = xt @ K + h @ R
        if b is not None:
            z = z + f64(b)
        i, f, cc, o = ra(z[:, :u]), ra(z[:, u:2 * u]), a(z[:, 2 * u:3 * u]), ra(z[:, 3 * u:])
        c = f * c + i * cc
        h = o * a(c)
        return h, [h, c]
    return step


def gru_step(K, R, b, act, ract, reset_after):
    """keras 2.2.4 GRUCell.call; gates z, r, h."""
    K, R = f64(K), f64(R)
    u = R.shape[0]
    a, ra = ACT[act], ACT[ract]

    def step(xt, states):
        h = states[0]
        if reset_after:
            bi, br = (f64(b)[0], f64(b)[1]) if b is not None else (0.0, 0.0)
            xz = xt @ K + bi
            rec = h @ R + br
            z = ra(xz[:, :u] + rec[:, :u])
            r = ra(xz[:, u:2 * u] + rec[:, u:2 * u])
            hh = a(xz[:, 2 * u:] + r * rec[:, 2 * u:])
        else:
            xz = xt @ K + (f64(b) if b is not None else 0.0)
            z = ra(xz[:, :u] + h @ R[:, :u])
            r = ra(xz[:, u:2 * u] + h @ R[:, u:2 * u])
            hh = a(xz[:, 2 * u:] + (r * h) @ R[:, 2 * u:])
        h = z * h + (1 - z) * hh
        return h, [h]
    return step


def simple_step(K, R, b, act):
    K, R = f64(K), f64(R)
    a = ACT[act]

    def step(xt, states):
        h = a(xt @ K + (f64(b) if b is not None else 0.0) + states[0] @ R)
        return h, [h]
    return step


def torch_gru(x, w_ih, w_hh, b_ih, b_hh, go_backwards=False):
    """torch.nn.GRU (float64) with torch-layout weights (gates r, z, n)."""
    n_in, u = w_ih.shape[1], w_hh.shape[1]
    m = torch.nn.GRU(n_in, u, batch_first=True).double()
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(w_ih)))
        m.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(w_hh)))
        m.bias_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(b_ih)))
        m.bias_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(b_hh)))
        xx = f64(x)
        if go_backwards:
            xx = xx[:, ::-1, :]
        out, h = m(torch.from_numpy(xx.copy()))
    return out.numpy().astype(np.float64), h[0].numpy().astype(np.float64)


RZN = (1, 0, 2)  # torch gate order r, z, n as Keras gate indices (z=0, r=1, h=2)


def torch_native_gru(x, K, R, b, go_backwards=False):
    """GRU(reset_after=True, tanh/sigmoid) through torch.nn.GRU: plain transposes."""
    K, R = f64(K), f64(R)
    u = R.shape[0]
    blk = lambda A, g: A[:, g * u:(g + 1) * u]
    w_ih = np.concatenate([blk(K, g).T for g in RZN], axis=0)
    w_hh = np.concatenate([blk(R, g).T for g in RZN], axis=0)
    if b is None:
        bi = bh = np.zeros(3 * u)
    else:
        bb = f64(b).reshape(2, 3 * u)
        bi = np.concatenate([bb[0, g * u:(g + 1) * u] for g in RZN])
        bh = np.concatenate([bb[1, g * u:(g + 1) * u] for g in RZN])
    return torch_gru(x, w_ih, w_hh, bi, bh, go_backwards)


def torch_cudnn_gru(x, kernel, rkernel, bias, go_backwards=False):
    """CuDNNGRU reference: torch.nn.GRU fed the cuDNN-canonical weights. Per Keras gate
    block g (z, r, h), the stored kernel block's row-major buffer read as a row-major
    [u, in] matrix is cuDNN's input matrix; the recurrent block read the same way ([u, u],
    the block itself) is its recurrent matrix; bias[:3u] is the input bias and bias[3u:]
    the recurrent one. torch's gate order is r, z, n."""
    kernel, rkernel, bias = f64(kernel), f64(rkernel), f64(bias)
    n_in, u = kernel.shape[0], rkernel.shape[0]
    w_ih = np.concatenate([kernel[:, g * u:(g + 1) * u].flatten().reshape(u, n_in) for g in RZN])
    w_hh = np.concatenate([rkernel[:, g * u:(g + 1) * u].flatten().reshape(u, u) for g in RZN])
    bi = np.concatenate([bias[g * u:(g + 1) * u] for g in RZN])
    bh = np.concatenate([bias[3 * u + g * u:3 * u + (g + 1) * u] for g in RZN])
    return torch_gru(x, w_ih, w_hh, bi, bh, go_backwards)


def keras_cudnn_gru_to_native(kernel, rkernel, bias):
    """keras 2.2.4 saving.py _convert_rnn_weights for CuDNNGRU -> GRU(reset_after=True).
    Used only to cross-check the torch reference."""
    k = np.hstack([blk.T.reshape(blk.shape, order="F") for blk in np.hsplit(f64(kernel), 3)])
    r = np.hstack([blk.T for blk in np.hsplit(f64(rkernel), 3)])
    return k, r, f64(bias).reshape(2, -1)


def agree(a, b, what, tol=1e-9):
    err = np.abs(np.asarray(a) - np.asarray(b)).max()
    assert err < tol, "%s: references disagree by %g" % (what, err)


# --------------------------------------------------------------------------------------
# Recurrent layer objects
# --------------------------------------------------------------------------------------


def rnn_config(cls, name, units, bis=None, tf=False, return_sequences=False,
               return_state=False, go_backwards=False, stateful=False, activation="tanh",
               recurrent_activation="hard_sigmoid", use_bias=True, reset_after=False,
               omit=()):
    """get_config() of a Keras 2.2.4 (or, with tf, tf.keras 2.4) recurrent layer."""
    cfg = base_cfg(name, bis, tf_dtype=tf)
    cfg.update({"return_sequences": return_sequences, "return_state": return_state,
                "go_backwards": go_backwards, "stateful": stateful})
    reg = {"kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
           "activity_regularizer": None, "kernel_constraint": None,
           "recurrent_constraint": None, "bias_constraint": None}
    init = {"kernel_initializer": TF_GLOROT() if tf else GLOROT(),
            "recurrent_initializer": ORTHO(), "bias_initializer": ZEROS()}
    if cls in ("CuDNNGRU", "CuDNNLSTM"):
        cfg["units"] = units
        cfg.update(init)
        if cls == "CuDNNLSTM":
            cfg["unit_forget_bias"] = True
        cfg.update(reg)
        return cfg
    cfg["unroll"] = False
    if tf:
        cfg["time_major"] = False
    cfg["units"] = units
    cfg["activation"] = activation
    if cls != "SimpleRNN":
        cfg["recurrent_activation"] = recurrent_activation
    cfg["use_bias"] = use_bias
    cfg.update(init)
    if cls == "LSTM":
        cfg["unit_forget_bias"] = True
    cfg.update(reg)
    cfg.update({"dropout": 0.0, "recurrent_dropout": 0.0})
    if cls != "SimpleRNN":
        cfg["implementation"] = 2 if tf else 1
    if cls == "GRU":
        cfg["reset_after"] = reset_after
    for k in omit:
        del cfg[k]
    return cfg


class Rec(object):
    """A recurrent layer's config, stored arrays and float64 forward.

    cls: LSTM, GRU, SimpleRNN, CuDNNGRU (CuDNNLSTM goes through gen_fixtures.RNNCore).
    bias_format (GRU only): None (from reset_after), or "cudnn" to store a [6u] bias."""

    def __init__(self, rng, cls, name, in_dim, units, bias_format=None, **kw):
        self.cls, self.name, self.units = cls, name, units
        self.config = rnn_config(cls, name, units, **kw)
        c = self.config
        self.return_sequences = c["return_sequences"]
        self.return_state = c["return_state"]
        self.go_backwards = c["go_backwards"]
        self.activation = kw.get("activation", "tanh")
        self.ract = kw.get("recurrent_activation", "hard_sigmoid")
        self.use_bias = kw.get("use_bias", True)
        self.reset_after = kw.get("reset_after", False)
        self.bias_format = bias_format
        g = {"LSTM": 4, "GRU": 3, "CuDNNGRU": 3, "SimpleRNN": 1}[cls]
        self.kernel = rnd(rng, (in_dim, g * units))
        self.rkernel = rnd(rng, (units, g * units))
        self.bias = None
        if cls == "CuDNNGRU" or bias_format == "cudnn":
            assert in_dim != units, "CuDNN weights need in != units"
            self.bias = rnd(rng, (6 * units,))
        elif self.use_bias:
            if cls == "GRU" and self.reset_after:
                self.bias = rnd(rng, (2, 3 * units))
            else:
                self.bias = rnd(rng, (g * units,))
        self.nstates = 2 if cls == "LSTM" else 1

    def arrays(self):
        a = [("kernel", self.kernel), ("recurrent_kernel", self.rkernel)]
        if self.bias is not None:
            a.append(("bias", self.bias))
        return a

    def run(self, x, go_backwards, mask=None, mode="state"):
        """-> (outputs in processing order, last output, final states)"""
        u = self.units
        init = [np.zeros((x.shape[0], u)) for _ in range(self.nstates)]
        if self.cls == "LSTM":
            step = lstm_step(self.kernel, self.rkernel, self.bias, self.activation, self.ract)
        elif self.cls == "SimpleRNN":
            step = simple_step(self.kernel, self.rkernel, self.bias, self.activation)
        elif self.cls == "GRU" and self.bias_format != "cudnn":
            step = gru_step(self.kernel, self.rkernel, self.bias, self.activation, self.ract,
                            self.reset_after)
        else:
            # CuDNNGRU, or a GRU(reset_after=True) holding cuDNN weights: torch is the
            # reference; Keras's conversion + the numpy GRU must agree with it.
            assert mask is None
            seq, h = torch_cudnn_gru(x, self.kernel, self.rkernel, self.bias, go_backwards)
            k, r, b = keras_cudnn_gru_to_native(self.kernel, self.rkernel, self.bias)
            seq2, _, _ = rnn_loop(gru_step(k, r, b, "tanh", "sigmoid", True), x, init,
                                  go_backwards)
            agree(seq, seq2, "CuDNNGRU torch vs Keras conversion")
            return seq, h, [h]
        seq, last, states = rnn_loop(step, x, init, go_backwards, mask, mode)
        if self.cls == "GRU" and self.reset_after and mask is None and \
                self.activation == "tanh" and self.ract == "sigmoid":
            ts, th = torch_native_gru(x, self.kernel, self.rkernel, self.bias, go_backwards)
            agree(ts, seq, "GRU(reset_after) numpy vs torch")
        if self.cls == "LSTM" and mask is None:
            ls, _, _ = lstm_ref(x, self.kernel, self.rkernel, self.bias, self.activation,
                                self.ract, go_backwards)
            agree(ls, seq, "LSTM numpy references")
        return seq, last, states


def rec_layer(core, scope=None, mode="state"):
    """A standalone recurrent layer. fnm threads a mask; fn ignores masks."""
    scope = scope or core.name
    ws = [("%s/%s:0" % (scope, n), a) for n, a in core.arrays()]

    def fnm(xs, masks):
        seq, last, states = core.run(xs[0], core.go_backwards, masks[0], mode)
        y = seq if core.return_sequences else last
        outs = [y] + (list(states) if core.return_state else [])
        om = [masks[0] if core.return_sequences else None] + [None] * (len(outs) - 1)
        return outs, om
    n_out = 1 + (core.nstates if core.return_state else 0)
    l = Layer(core.cls, core.name, core.config, ws, lambda xs: fnm(xs, [None])[0], n_out=n_out)
    l.fnm = fnm
    return l


def bidi_layer(name, fwd, bwd, merge_mode="concat", bis=None, backward_config=False,
               scope_cell=None, modes=("state", "state"), tf=False):
    """Bidirectional around two Rec cores. backward_config: store bwd's own config as
    backward_layer (tf.keras 2.x). modes: masked-output rule of (forward, backward)."""
    cfg = base_cfg(name, bis, tf_dtype=tf)
    cfg["layer"] = {"class_name": fwd.cls, "config": copy.deepcopy(fwd.config)}
    cfg["merge_mode"] = merge_mode
    if backward_config:
        cfg["backward_layer"] = {"class_name": bwd.cls, "config": copy.deepcopy(bwd.config)}

    def wname(side, core, n):
        if scope_cell:
            return "%s/%s_%s/%s_cell/%s:0" % (name, side, core.name, scope_cell(core), n)
        return "%s/%s_%s/%s:0" % (name, side, core.name, n)
    ws = [(wname("forward", fwd, n), a) for n, a in fwd.arrays()]
    ws += [(wname("backward", bwd, n), a) for n, a in bwd.arrays()]
    rs, rst = fwd.return_sequences, fwd.return_state

    def fnm(xs, masks):
        m = masks[0]
        fs, fl, fst = fwd.run(xs[0], fwd.go_backwards, m, modes[0])
        bs, bl, bst = bwd.run(xs[0], not fwd.go_backwards, m, modes[1])
        y = fs if rs else fl
        yr = bs[:, ::-1, :] if rs else bl
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
        om = [m if rs else None] * len(out)
        if rst:
            out += list(fst) + list(bst)
            om += [None] * (len(fst) + len(bst))
        return out, om
    n_out = (2 if merge_mode is None else 1) + (fwd.nstates + bwd.nstates if rst else 0)
    inner = [fwd.cls] + ([bwd.cls] if bwd.cls != fwd.cls else [])
    l = Layer("Bidirectional", name, cfg, ws, lambda xs: fnm(xs, [None])[0], inner=inner,
              n_out=n_out)
    l.fnm = fnm
    return l


def masking_layer(name, mask_value=0.0, bis=None):
    cfg = base_cfg(name, bis)
    cfg["mask_value"] = mask_value

    def fnm(xs, masks):
        x = f64(xs[0])
        keep = np.any(x != np.float32(mask_value), axis=-1)   # Keras: K.any(K.not_equal)
        return [x * keep[..., None]], [keep]
    l = Layer("Masking", name, cfg, fn=lambda xs: fnm(xs, [None])[0])
    l.fnm = fnm
    return l


def embedding_masked(rng, name, input_dim, output_dim, input_length, bis):
    cfg = base_cfg(name, bis)
    cfg.update({"input_dim": input_dim, "output_dim": output_dim,
                "embeddings_initializer": RUNIFORM(), "embeddings_regularizer": None,
                "activity_regularizer": None, "embeddings_constraint": None,
                "mask_zero": True, "input_length": input_length})
    e = rnd(rng, (input_dim, output_dim))

    def fnm(xs, masks):
        ids = np.asarray(xs[0]).astype(np.int64)
        return [f64(e)[ids]], [ids != 0]          # Keras: K.not_equal(inputs, 0)
    l = Layer("Embedding", name, cfg, [("%s/embeddings:0" % name, e)],
              lambda xs: fnm(xs, [None])[0])
    l.fnm = fnm
    return l


def time_distributed(name, inner, bis=None):
    cfg = base_cfg(name, bis)
    cfg["layer"] = {"class_name": inner.cls, "config": copy.deepcopy(inner.config)}
    ws = [("%s/%s" % (name, n.split("/", 1)[1]), a) for n, a in inner.weights]

    def fnm(xs, masks):
        x = f64(xs[0])
        B, Tn = x.shape[0], x.shape[1]
        y = inner.fn([x.reshape((B * Tn,) + x.shape[2:])])[0]
        return [y.reshape((B, Tn) + y.shape[1:])], [masks[0]]
    l = Layer("TimeDistributed", name, cfg, ws, lambda xs: fnm(xs, [None])[0],
              inner=[inner.cls])
    l.fnm = fnm
    return l


def masked_sequential(layers, **kw):
    """sequential() whose forward threads Keras masks through the layers' fnm."""
    m = sequential(layers, **kw)

    def forward(xs):
        y, mk = [xs[0]], [None]
        for l in layers:
            if hasattr(l, "fnm"):
                y, mk = l.fnm([y[0]], [mk[0]])
            else:   # mask-passing layers (Dense, Activation, Dropout)
                y, mk = l.fn([y[0]]), [mk[0]]
        return y
    m.forward = forward
    return m


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------

def _seq1(rng, cls, in_dim=F, units=5, tseq=T, **kw):
    core = Rec(rng, cls, kw.pop("name", {"GRU": "gru_1", "SimpleRNN": "simple_rnn_1",
                                         "CuDNNGRU": "cu_dnngru_1", "LSTM": "lstm_1"}[cls]),
               in_dim, units, bis=[None, tseq, in_dim], **kw)
    return core, masked_sequential([rec_layer(core)])


def _simple_case(cid_suffix, cls, notes, keras_version="2.2.4", gold="numpy", **kw):
    def fn(o, cid, seed, rng):
        _, m = _seq1(rng, cls, **kw)
        return emit(o, cid, seed, m, make_inputs(rng, m), keras_version=keras_version,
                    gold=gold, notes=notes)
    fn.__name__ = "case_r3_" + cid_suffix
    return case(fn)


# ---- GRU ----------------------------------------------------------------------------------

_simple_case("gru_classic_seq", "GRU", "GRU(5) reset_after=False (bias [3u]), tanh/hard_sigmoid, "
             "return_sequences", return_sequences=True)
_simple_case("gru_reset_after_last", "GRU", "GRU(5) reset_after=True (bias [2,3u]), tanh/sigmoid, "
             "last output; numpy reference cross-checked with torch.nn.GRU",
             recurrent_activation="sigmoid", reset_after=True)
_simple_case("gru_nobias_seq", "GRU", "GRU use_bias=False, reset_after=False",
             use_bias=False, return_sequences=True)
_simple_case("gru_reset_after_nobias", "GRU", "GRU use_bias=False, reset_after=True",
             use_bias=False, reset_after=True, recurrent_activation="sigmoid",
             return_sequences=True)
_simple_case("gru_go_backwards", "GRU", "GRU reset_after=True go_backwards return_sequences: "
             "output in processing (reversed) order", reset_after=True,
             recurrent_activation="sigmoid", go_backwards=True, return_sequences=True)
_simple_case("gru_relu", "GRU", "GRU activation relu, recurrent_activation sigmoid, "
             "reset_after=False", activation="relu", recurrent_activation="sigmoid",
             return_sequences=True)
_simple_case("gru_defaults_keras224", "GRU", "GRU config without recurrent_activation and "
             "reset_after in a keras 2.2.4 file: defaults hard_sigmoid and reset_after=False",
             return_sequences=True, omit=("recurrent_activation", "reset_after"))
_simple_case("gru_cudnn_weights", "GRU", "GRU(reset_after=True) whose bias is [6u], i.e. "
             "CuDNNGRU weights: Keras converts them on load (torch reference)",
             gold="torch", in_dim=3, reset_after=True, recurrent_activation="sigmoid",
             bias_format="cudnn", return_sequences=True)


@case
def case_r3_gru_defaults_tfkeras(o, cid, seed, rng):
    inp = input_layer("input_1", [None, T, F], tf=True)
    core = Rec(rng, "GRU", "gru", F, 5, tf=True, reset_after=True,
               recurrent_activation="sigmoid", return_sequences=True,
               omit=("recurrent_activation", "reset_after"))
    m = masked_sequential([rec_layer(core, scope="gru/gru_cell")], name="sequential",
                          input_layer_cfg=inp)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                write_kwargs={"str_mode": "vlen_utf8", "names_mode": "vlen_utf8"},
                notes="tf.keras 2.4 GRU config without recurrent_activation and reset_after: "
                      "defaults sigmoid and reset_after=True (bias [2,3u]); cell-scoped "
                      "weight names gru/gru_cell/kernel:0")


@case
def case_r3_gru_return_state(o, cid, seed, rng):
    core = Rec(rng, "GRU", "gru_1", F, 5, reset_after=True, recurrent_activation="sigmoid",
               return_sequences=True, return_state=True)
    m = functional([(input_layer("input_1", [None, T, F]), []),
                    (rec_layer(core), [("input_1", 0, 0)])],
                   ["input_1"], [("gru_1", 0, 0), ("gru_1", 0, 1)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="functional GRU return_sequences+return_state: outputs [seq, h]")


@case
def case_r3_gru_bias_mismatch(o, cid, seed, rng):
    core = Rec(rng, "GRU", "gru_1", F, 5, reset_after=True, bis=[None, T, F])
    core.config["reset_after"] = False
    m = sequential([rec_layer(core)])
    return emit(o, cid, seed, m, make_inputs(rng, m), expect="error",
                why="gru_1 | reset_after",
                notes="GRU config reset_after=False with a [2,3u] reset_after bias: Keras "
                      "refuses to convert; the error names the layer and both formats")


# ---- CuDNNGRU -----------------------------------------------------------------------------

_simple_case("cudnngru_seq", "CuDNNGRU", "CuDNNGRU(5) in=3 return_sequences; torch.nn.GRU on "
             "cuDNN-canonical weights", gold="torch", in_dim=3, return_sequences=True)
_simple_case("cudnngru_last", "CuDNNGRU", "CuDNNGRU(4) in=7 last output", gold="torch",
             in_dim=7, units=4)
_simple_case("cudnngru_go_backwards", "CuDNNGRU", "CuDNNGRU(5) in=3 go_backwards "
             "return_sequences: processing order", gold="torch", in_dim=3,
             go_backwards=True, return_sequences=True)


@case
def case_r3_cudnngru_return_state(o, cid, seed, rng):
    core = Rec(rng, "CuDNNGRU", "cu_dnngru_1", 6, 4, return_state=True)
    m = functional([(input_layer("input_1", [None, T, 6]), []),
                    (rec_layer(core), [("input_1", 0, 0)])],
                   ["input_1"], [("cu_dnngru_1", 0, 0), ("cu_dnngru_1", 0, 1)])
    return emit(o, cid, seed, m, make_inputs(rng, m), gold="torch",
                notes="functional CuDNNGRU(4) in=6 return_state: outputs [last, h]")


@case
def case_r3_bidi_cudnngru_concat(o, cid, seed, rng):
    f = Rec(rng, "CuDNNGRU", "cu_dnngru_1", 3, 5, return_sequences=True)
    b = Rec(rng, "CuDNNGRU", "cu_dnngru_1", 3, 5, return_sequences=True, go_backwards=True)
    m = masked_sequential([bidi_layer("bidirectional_1", f, b, "concat", bis=[None, T, 3])])
    return emit(o, cid, seed, m, make_inputs(rng, m), gold="torch",
                notes="Bidirectional(CuDNNGRU(5)) in=3 concat return_sequences")


# ---- SimpleRNN -----------------------------------------------------------------------------

_simple_case("simplernn_seq", "SimpleRNN", "SimpleRNN(5) tanh return_sequences",
             return_sequences=True)
_simple_case("simplernn_relu_last", "SimpleRNN", "SimpleRNN(5) relu, last output",
             activation="relu")
_simple_case("simplernn_nobias_backwards", "SimpleRNN", "SimpleRNN use_bias=False "
             "go_backwards return_sequences", use_bias=False, go_backwards=True,
             return_sequences=True)


@case
def case_r3_simplernn_return_state(o, cid, seed, rng):
    core = Rec(rng, "SimpleRNN", "simple_rnn_1", F, 3, return_state=True)
    m = functional([(input_layer("input_1", [None, T, F]), []),
                    (rec_layer(core), [("input_1", 0, 0)])],
                   ["input_1"], [("simple_rnn_1", 0, 0), ("simple_rnn_1", 0, 1)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="functional SimpleRNN(3) return_state: outputs [last, h]")


# ---- Bidirectional ---------------------------------------------------------------------------

def _bi(rng, cls, merge, rs, units=4, rst=False, bis=(None, T, F), name="bidirectional_1",
        inner=None, modes=("state", "state"), **kw):
    inner = inner or {"GRU": "gru_1", "SimpleRNN": "simple_rnn_1", "LSTM": "lstm_1"}[cls]
    f = Rec(rng, cls, inner, F, units, return_sequences=rs, return_state=rst, **kw)
    b = Rec(rng, cls, inner, F, units, return_sequences=rs, return_state=rst,
            go_backwards=True, **kw)
    return bidi_layer(name, f, b, merge, bis=list(bis) if bis else None, modes=modes)


@case
def case_r3_bidi_gru_concat_seq(o, cid, seed, rng):
    m = masked_sequential([_bi(rng, "GRU", "concat", True)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Bidirectional(GRU(4) reset_after=False) concat return_sequences")


@case
def case_r3_bidi_gru_ave_last(o, cid, seed, rng):
    m = masked_sequential([_bi(rng, "GRU", "ave", False, reset_after=True,
                               recurrent_activation="sigmoid")])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Bidirectional(GRU(4) reset_after=True) ave, last output")


@case
def case_r3_bidi_simplernn_sum_seq(o, cid, seed, rng):
    m = masked_sequential([_bi(rng, "SimpleRNN", "sum", True)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Bidirectional(SimpleRNN(4)) sum return_sequences")


@case
def case_r3_bidi_gru_return_state(o, cid, seed, rng):
    b = _bi(rng, "GRU", "mul", False, rst=True, bis=None)
    m = functional([(input_layer("input_1", [None, T, F]), []),
                    (b, [("input_1", 0, 0)])],
                   ["input_1"], [("bidirectional_1", 0, t) for t in range(3)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="functional Bidirectional(GRU(4), return_state) mul: outputs [merged "
                      "last, fwd_h, bwd_h]")


@case
def case_r3_bidi_backward_layer(o, cid, seed, rng):
    inp = input_layer("input_1", [None, T, F], tf=True)
    f = Rec(rng, "LSTM", "lstm", F, 4, tf=True, recurrent_activation="sigmoid",
            return_sequences=True)
    b = Rec(rng, "GRU", "gru", F, 3, tf=True, recurrent_activation="sigmoid", reset_after=True,
            return_sequences=True, go_backwards=True)
    bl = bidi_layer("bidirectional", f, b, "concat", backward_config=True, tf=True,
                    scope_cell=lambda c: c.name)
    m = masked_sequential([bl], name="sequential", input_layer_cfg=inp)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                write_kwargs={"str_mode": "vlen_utf8", "names_mode": "vlen_utf8"},
                notes="tf.keras 2.4 Bidirectional with a distinct backward_layer config: "
                      "forward LSTM(4), backward GRU(3, go_backwards, reset_after) -> concat "
                      "of 7 per step")


# ---- Masking ------------------------------------------------------------------------------

def _pad_ids(rng, B, L, V):
    """Token ids in [1, V) with zeros: row 0 post-padded, row 1 pre-padded with a zero
    inside, row 2 fully unmasked."""
    ids = rng.randint(1, V, size=(B, L)).astype(np.int32)
    ids[0, L - 2:] = 0
    ids[1, :2] = 0
    ids[1, 3] = 0
    return ids


def _masked_floats(rng, B, L, feat, value=0.0):
    """Floats where some steps are all equal to value (masked): row 0 at the end, row 1
    at the start and in the middle, row 2 none, plus a step with only one value equal."""
    x = rng.standard_normal((B, L, feat)).astype(np.float32)
    x[0, L - 2:, :] = value
    x[1, :2, :] = value
    x[1, 3, :] = value
    x[2, 1, 0] = value            # one feature equal: not masked
    return x


def _mask_emb_case(cls, kv, mode, suffix, **kw):
    def fn(o, cid, seed, rng):
        L, V = T, 10
        emb = embedding_masked(rng, "embedding_1", V, F, L, bis=[None, L])
        core = Rec(rng, cls, cls.lower() + "_1", F, 5, return_sequences=True, **kw)
        m = masked_sequential([emb, rec_layer(core, mode=mode)])
        xs = [_pad_ids(rng, 3, L, V)]
        return emit(o, cid, seed, m, xs, keras_version=kv,
                    notes="Embedding(mask_zero=True) -> %s(5, return_sequences), keras %s: "
                          "masked steps keep the state and output %s" % (
                              cls, kv, {"state": "the previous state h (multi-backend)",
                                        "prev": "the previous output (tf.keras)"}[mode]))
    fn.__name__ = "case_r3_mask_" + suffix
    return case(fn)


_mask_emb_case("LSTM", "2.2.4", "state", "embedding_lstm_k224", recurrent_activation="sigmoid")
_mask_emb_case("GRU", "2.4.0", "prev", "embedding_gru_tfkeras", recurrent_activation="sigmoid",
               reset_after=True)


@case
def case_r3_mask_masking_gru_last(o, cid, seed, rng):
    mk = masking_layer("masking_1", 0.0, bis=[None, T, F])
    core = Rec(rng, "GRU", "gru_1", F, 5)
    m = masked_sequential([mk, rec_layer(core)])
    return emit(o, cid, seed, m, [_masked_floats(rng, 3, T, F)],
                notes="Masking(0.0) -> GRU(5) last output: row 0 post-padded (last output is "
                      "the last unmasked step's), row 1 pre-padded with a masked step inside")


@case
def case_r3_mask_masking_value(o, cid, seed, rng):
    mk = masking_layer("masking_1", -1.0, bis=[None, T, F])
    core = Rec(rng, "LSTM", "lstm_1", F, 4, return_sequences=True)
    m = masked_sequential([mk, rec_layer(core)])
    return emit(o, cid, seed, m, [_masked_floats(rng, 3, T, F, value=-1.0)],
                notes="Masking(mask_value=-1.0) -> LSTM(4) return_sequences (multi-backend: "
                      "masked steps output the previous state)")


def _mask_bidi_case(suffix, kv, modes, rs, merge="concat", cls="LSTM", **kw):
    def fn(o, cid, seed, rng):
        b = _bi(rng, cls, merge, rs, bis=None, modes=modes, **kw)
        if merge is None:
            # Two outputs: a functional model (a Sequential's layers have one output).
            mk = masking_layer("masking_1", 0.0)
            m = functional([(input_layer("input_1", [None, T, F]), []),
                            (mk, [("input_1", 0, 0)]), (b, [("masking_1", 0, 0)])],
                           ["input_1"], [("bidirectional_1", 0, 0), ("bidirectional_1", 0, 1)])
            m.forward = lambda xs: b.fnm(*mk.fnm([xs[0]], [None]))[0]
        else:
            mk = masking_layer("masking_1", 0.0, bis=[None, T, F])
            m = masked_sequential([mk, b])
        return emit(o, cid, seed, m, [_masked_floats(rng, 3, T, F)], keras_version=kv,
                    notes="Masking -> Bidirectional(%s(4), return_sequences=%s, %s), keras %s: "
                          "masked outputs forward/backward = %s/%s" % (cls, rs, merge, kv,
                                                                       modes[0], modes[1]))
    fn.__name__ = "case_r3_mask_" + suffix
    return case(fn)


_mask_bidi_case("bidi_lstm_seq_k224", "2.2.4", ("state", "state"), True,
                recurrent_activation="sigmoid")
_mask_bidi_case("bidi_lstm_seq_tfkeras", "2.4.0", ("zero", "zero"), True,
                recurrent_activation="sigmoid")
_mask_bidi_case("bidi_gru_last_tfkeras", "2.4.0", ("prev", "prev"), False, merge="sum",
                cls="GRU", reset_after=True, recurrent_activation="sigmoid")
_mask_bidi_case("bidi_gru_none_tf224", "2.2.4-tf", ("zero", "zero"), True, merge=None,
                cls="GRU", recurrent_activation="sigmoid")


@case
def case_r3_mask_stack_tfkeras(o, cid, seed, rng):
    mk = masking_layer("masking_1", 0.0, bis=[None, T, F])
    c1 = Rec(rng, "SimpleRNN", "simple_rnn_1", F, 5, return_sequences=True)
    c2 = Rec(rng, "GRU", "gru_1", 5, 4, return_sequences=True, reset_after=True,
             recurrent_activation="sigmoid")
    c3 = Rec(rng, "LSTM", "lstm_1", 4, 3, recurrent_activation="sigmoid")
    m = masked_sequential([mk, rec_layer(c1, mode="prev"), rec_layer(c2, mode="prev"),
                           rec_layer(c3, mode="prev")])
    return emit(o, cid, seed, m, [_masked_floats(rng, 3, T, F)], keras_version="2.4.0",
                notes="Masking -> SimpleRNN(seq) -> GRU(seq) -> LSTM(last): the mask "
                      "propagates through the layers that return sequences")


@case
def case_r3_mask_go_backwards(o, cid, seed, rng):
    mk = masking_layer("masking_1", 0.0, bis=[None, T, F])
    core = Rec(rng, "LSTM", "lstm_1", F, 4, go_backwards=True, return_sequences=True)
    m = masked_sequential([mk, rec_layer(core)])
    return emit(o, cid, seed, m, [_masked_floats(rng, 3, T, F)],
                notes="Masking -> LSTM(go_backwards, return_sequences): the mask is read "
                      "backwards with the sequence")


@case
def case_r3_mask_return_state(o, cid, seed, rng):
    inp = input_layer("input_1", [None, T, F])
    mk = masking_layer("masking_1", 0.0)
    core = Rec(rng, "GRU", "gru_1", F, 4, return_state=True)
    g = rec_layer(core)
    m = functional([(inp, []), (mk, [("input_1", 0, 0)]), (g, [("masking_1", 0, 0)])],
                   ["input_1"], [("gru_1", 0, 0), ("gru_1", 0, 1)])

    def forward(xs):
        y, mm = mk.fnm([xs[0]], [None])
        return g.fnm(y, mm)[0]
    m.forward = forward
    return emit(o, cid, seed, m, [_masked_floats(rng, 3, T, F)],
                notes="functional Masking -> GRU(return_state): [last, h], states held "
                      "through masked steps")


@case
def case_r3_mask_timedistributed(o, cid, seed, rng):
    mk = masking_layer("masking_1", 0.0, bis=[None, T, F])
    td = time_distributed("time_distributed_1", dense(rng, "dense_1", F, 5, "tanh"))
    core = Rec(rng, "LSTM", "lstm_1", 5, 4, return_sequences=True)
    m = masked_sequential([mk, td, rec_layer(core)])
    return emit(o, cid, seed, m, [_masked_floats(rng, 3, T, F)],
                notes="Masking -> TimeDistributed(Dense(5, tanh)) -> LSTM(seq): the mask "
                      "passes through TimeDistributed (tanh(bias) at masked steps is not zero, "
                      "so only the mask makes the LSTM skip them)")


@case
def case_r3_mask_cudnn_refused(o, cid, seed, rng):
    mk = masking_layer("masking_1", 0.0, bis=[None, T, 3])
    core = RNNCore(rng, "CuDNNLSTM", "cu_dnnlstm_1", 3, 5)
    m = sequential([mk, rnn_layer(core)])
    return emit(o, cid, seed, m, [_masked_floats(rng, 3, T, 3)], expect="error",
                why="cu_dnnlstm_1 | mask",
                notes="Masking -> CuDNNLSTM: Keras refuses masks for CuDNN layers")


@case
def case_r3_mask_bidi_cudnn_refused(o, cid, seed, rng):
    L, V = T, 10
    emb = embedding_masked(rng, "embedding_1", V, 3, L, bis=[None, L])
    f = Rec(rng, "CuDNNGRU", "cu_dnngru_1", 3, 4, return_sequences=True)
    b = Rec(rng, "CuDNNGRU", "cu_dnngru_1", 3, 4, return_sequences=True, go_backwards=True)
    m = sequential([emb, bidi_layer("bidirectional_1", f, b, "concat")])
    return emit(o, cid, seed, m, [_pad_ids(rng, 3, L, V)], expect="error",
                why="bidirectional_1 | mask",
                notes="Embedding(mask_zero) -> Bidirectional(CuDNNGRU): refused")


def _keras3(cfg, name):
    """A Keras 2 layer config in Keras 3's form: a dtype policy, and for recurrent
    layers seed and zero_output_for_mask."""
    cfg = copy.deepcopy(cfg)
    cfg["dtype"] = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                    "registered_name": None}
    for k in ("implementation", "time_major"):
        cfg.pop(k, None)
    if "units" in cfg:
        cfg["seed"] = None
        cfg["zero_output_for_mask"] = False
    return cfg


@case
def case_r3_mask_keras3(o, cid, seed, rng):
    inp = input_layer("input_layer", [None, T, F], tf=True)
    mk = masking_layer("masking", 0.0)
    mk.config = {"name": "masking", "trainable": True, "dtype": _keras3({}, "")["dtype"],
                 "mask_value": 0.0}
    f = Rec(rng, "LSTM", "lstm", F, 3, recurrent_activation="sigmoid", return_sequences=True)
    b = Rec(rng, "LSTM", "lstm", F, 3, recurrent_activation="sigmoid", return_sequences=True,
            go_backwards=True)
    for r in (f, b):
        r.config = _keras3(r.config, r.name)
    bl = bidi_layer("bidirectional", f, b, "concat", modes=("zero", "zero"),
                    scope_cell=lambda c: c.name)
    bl.config["dtype"] = _keras3({}, "")["dtype"]
    bl.config["backward_layer"] = {"module": "keras.layers", "class_name": "LSTM",
                                   "config": dict(b.config, name="backward_lstm"),
                                   "registered_name": None}
    bl.config["layer"]["config"]["name"] = "forward_lstm"
    d = dense(rng, "dense", 6, 2, "linear", tf=True)
    d.config["dtype"] = _keras3({}, "")["dtype"]
    m = masked_sequential([mk, bl, d], name="sequential", input_layer_cfg=inp)
    ic = inp.config
    ic.clear()
    ic.update({"batch_shape": [None, T, F], "dtype": "float32", "sparse": False,
               "name": "input_layer"})
    for lc in m.config["config"]["layers"]:
        lc["module"], lc["registered_name"] = "keras.layers", None
    return emit(o, cid, seed, m, [_masked_floats(rng, 3, T, F)], keras_version="3.3.3",
                write_kwargs={"str_mode": "vlen_utf8", "names_mode": "vlen_utf8"},
                notes="Keras 3 Sequential: Masking -> Bidirectional(LSTM(3, return_sequences)) "
                      "-> Dense(2): the Bidirectional outputs zeros at masked steps (it forces "
                      "zero_output_for_mask on its inner layers), so Dense gives its bias there")


# ---- TimeDistributed ---------------------------------------------------------------------------

@case
def case_r3_td_dense(o, cid, seed, rng):
    td = time_distributed("time_distributed_1", dense(rng, "dense_1", F, 3, "relu"),
                          bis=[None, T, F])
    m = masked_sequential([td])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="TimeDistributed(Dense(3, relu)) on [T, 4]")


@case
def case_r3_td_dense_rank4(o, cid, seed, rng):
    td = time_distributed("time_distributed_1", dense(rng, "dense_1", F, 2, "linear"),
                          bis=[None, T, 3, F])
    m = masked_sequential([td])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="TimeDistributed(Dense(2)) on [T, 3, 4] (the inner Dense sees rank 3)")


@case
def case_r3_td_conv1d(o, cid, seed, rng):
    td = time_distributed("time_distributed_1", conv1d(rng, "conv1d_1", F, 4, 3),
                          bis=[None, 5, 7, F])
    m = masked_sequential([td])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="TimeDistributed(Conv1D(4, 3, valid)) on [5, 7, 4] -> [5, 5, 4]")


@case
def case_r3_td_lstm(o, cid, seed, rng):
    core = Rec(rng, "LSTM", "lstm_1", F, 3, recurrent_activation="sigmoid")
    td = time_distributed("time_distributed_1", rec_layer(core), bis=[None, 4, 5, F])
    m = masked_sequential([td, rec_layer(Rec(rng, "GRU", "gru_1", 3, 2,
                                             return_sequences=True))])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="TimeDistributed(LSTM(3)) on [4, 5, 4] (an LSTM over each inner "
                      "sequence of 5) -> GRU(2, return_sequences)")


# ---- Stateful ------------------------------------------------------------------------------------

@case
def case_r3_stateful_gru_predict(o, cid, seed, rng):
    _, m = _seq1(rng, "GRU", stateful=True, return_sequences=True)
    m.config["config"]["layers"][0]["config"]["batch_input_shape"] = [2, T, F]
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="GRU stateful=True (batch_input_shape [2,T,F]): a model's Predict "
                      "starts from zero states (a runtime.Session carries them)")


@case
def case_r3_stateful_bidi_lstm_predict(o, cid, seed, rng):
    b = _bi(rng, "LSTM", "concat", True, bis=(2, T, F), stateful=True)
    m = masked_sequential([b])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Bidirectional(LSTM(4, stateful=True)): Predict starts from zero states")


# --------------------------------------------------------------------------------------
# --check-corpus: the references of this module against real Keras files
# --------------------------------------------------------------------------------------

RNN_CORPUS = ["syn_v2_cudnngru_t1_seq", "syn_v2_bi_cudnngru_sum_u1_last", "medaka_test_model_bigru",
              "dl4j_w_simple_rnn_tensorflow_2", "dl4j_simple_rnn_tf_keras_2", "tfkeras_rnn_1",
              "tfkeras_rnn_104", "tfkeras_rnn_128"]


def _corpus_rnn(cls, cfg, ws, x, go_backwards):
    """-> (seq, last) of one recurrent layer from its stored arrays."""
    b = ws[2] if len(ws) > 2 else None
    if cls == "CuDNNGRU":
        return torch_cudnn_gru(x, ws[0], ws[1], ws[2], go_backwards)
    init = [np.zeros((x.shape[0], ws[1].shape[0]))]
    if cls == "GRU":
        step = gru_step(ws[0], ws[1], b, cfg["activation"], cfg["recurrent_activation"],
                        cfg.get("reset_after", False))
    elif cls == "SimpleRNN":
        step = simple_step(ws[0], ws[1], b, cfg["activation"])
    else:
        raise ValueError(cls)
    seq, last, _ = rnn_loop(step, x, init, go_backwards)
    return seq, last


def check_corpus_rnn(corpus):
    """Run this module's GRU / CuDNNGRU / SimpleRNN references on the keras-real cases
    built from them (layer chains), against their expected outputs."""
    import json
    import os
    import h5py
    bad = 0
    for cid in RNN_CORPUS:
        d = os.path.join(corpus, cid)
        if not os.path.isdir(d):
            print("check-corpus: %s missing, skipped" % cid)
            continue
        with h5py.File(os.path.join(d, "model.h5"), "r") as f:
            mc = f.attrs["model_config"]
            mc = json.loads(mc.decode() if isinstance(mc, bytes) else mc)
            g = f["model_weights"]

            def W(name):
                lg = g[name]
                return [lg[n.decode() if isinstance(n, bytes) else n][()].astype(np.float64)
                        for n in lg.attrs["weight_names"]]
            layers = mc["config"]["layers"] if isinstance(mc["config"], dict) else mc["config"]
            x = f64(np.load(os.path.join(d, "input_0.npy")))
            for l in layers:
                c, cn = l["config"], l["class_name"]
                if cn == "InputLayer":
                    continue
                if cn == "Dense":
                    w = W(c["name"])
                    x = ACT[c["activation"]](x @ w[0] + (w[1] if c["use_bias"] else 0.0))
                elif cn == "Activation":
                    x = ACT[c["activation"]](x)
                elif cn == "Bidirectional":
                    w = W(c["name"])
                    ic, icls = c["layer"]["config"], c["layer"]["class_name"]
                    h = len(w) // 2
                    fs, fl = _corpus_rnn(icls, ic, w[:h], x, False)
                    bs, bl = _corpus_rnn(icls, ic, w[h:], x, True)
                    y, yr = (fs, bs[:, ::-1]) if ic["return_sequences"] else (fl, bl)
                    x = {"concat": lambda: np.concatenate([y, yr], -1), "sum": lambda: y + yr,
                         "mul": lambda: y * yr, "ave": lambda: (y + yr) / 2}[c["merge_mode"]]()
                else:
                    seq, last = _corpus_rnn(cn, c, W(c["name"]), x, c.get("go_backwards", False))
                    x = seq if c["return_sequences"] else last
        exp = np.load(os.path.join(d, "expected_0.npy"))
        err = np.abs(x - exp).max()
        ok = err <= 1e-4 * max(1.0, np.abs(exp).max())
        bad += not ok
        print("check-corpus: %-36s max|diff| = %.3g %s" % (cid, err, "OK" if ok else "MISMATCH"))
    if bad:
        raise SystemExit(1)


def _hook_check_corpus():
    """gen_fixtures.py --check-corpus also runs check_corpus_rnn."""
    import gen_fixtures
    orig = gen_fixtures.check_corpus

    def check_corpus(corpus):
        orig(corpus)
        check_corpus_rnn(corpus)
    gen_fixtures.check_corpus = check_corpus


_hook_check_corpus()
