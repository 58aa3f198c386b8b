"""Fixture cases for issue 3's non-recurrent layers (ids prefixed l3_): pooling,
BatchNormalization / LayerNormalization, the merge layers, the shape layers, the
advanced activations, the inference-time identities (noise, ActivityRegularization),
SeparableConv1D, Conv2D with the 2-D poolings, and tf.keras Attention.

Expected outputs come from float64 numpy references written from the Keras math
(keras 2.2.4 layers/pooling.py, normalization.py, merge.py, core.py,
advanced_activations.py, convolutional.py and the TensorFlow backend ops they call;
tf.keras layers/dense_attention.py and keras/layers/attention/). Conv2D and
SeparableConv1D references are cross-checked against torch.nn.functional.conv2d /
conv1d (groups) when torch is present, and the pooling references against
torch's pooling on explicitly padded inputs.

Masked cases carry the Keras mask by hand in their model-level forward function:
Masking(mask_value) makes mask = any(x != mask_value, axis=-1) and outputs x * mask.
"""
import math

import numpy as np

from gen_fixtures import (ACT, F, GLOROT, T, TF_GLOROT, ZEROS, Layer, base_cfg, case, conv1d,
                          dense, emit, f64, functional, input_layer, make_inputs, rnd,
                          sequential, torch)


def layer(cls, name, extra, fn, weights=(), bis=None, tf=False):
    cfg = base_cfg(name, bis, tf_dtype=tf)
    cfg.update(extra)
    return Layer(cls, name, cfg, weights, fn)


def close(a, b, what, tol=1e-9):
    err = float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0
    assert err < tol, "%s: numpy and torch references differ by %g" % (what, err)


# --------------------------------------------------------------------------------------
# References, float64
# --------------------------------------------------------------------------------------


def same_pad(n, k, s, d=1):
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return out, total // 2, total - total // 2


def pool1d_ref(x, k, s, padding, mode, cf=False):
    """TF pooling over axis 1: 'same' pads floor(total/2) left; max ignores the padding,
    avg divides by the number of real elements in the window."""
    x = f64(x)
    if cf:
        x = x.transpose(0, 2, 1)
    L = x.shape[1]
    if padding == "same":
        n, left, _ = same_pad(L, k, s)
    else:
        n, left = (L - k) // s + 1, 0
    y = np.zeros((x.shape[0], n, x.shape[2]))
    for t in range(n):
        lo, hi = max(t * s - left, 0), min(t * s - left + k, L)
        w = x[:, lo:hi, :]
        y[:, t, :] = w.max(axis=1) if mode == "max" else w.mean(axis=1)
    if cf:
        y = y.transpose(0, 2, 1)
    return y


def pool1d_torch(x, k, s, padding, mode):
    """torch cross-check for channels_last pool1d_ref."""
    xt = torch.from_numpy(f64(x).transpose(0, 2, 1).copy())
    L = x.shape[1]
    if padding == "same":
        _, l, r = same_pad(L, k, s)
    else:
        l = r = 0
    if mode == "max":
        xp = torch.nn.functional.pad(xt, (l, r), value=-math.inf)
        y = torch.nn.functional.max_pool1d(xp, k, s)
    else:
        ones = torch.ones_like(xt)
        num = torch.nn.functional.avg_pool1d(torch.nn.functional.pad(xt, (l, r)), k, s)
        den = torch.nn.functional.avg_pool1d(torch.nn.functional.pad(ones, (l, r)), k, s)
        y = num / den
    return y.numpy().transpose(0, 2, 1)


def conv2d_ref(x, k, b, strides, padding, dil, cf, activation):
    """Keras Conv2D, float64. k [kh, kw, in, out]."""
    x = f64(x)
    if cf:
        x = x.transpose(0, 2, 3, 1)
    kh, kw = k.shape[0], k.shape[1]
    H, W = x.shape[1], x.shape[2]
    if padding == "same":
        oh, t, bt = same_pad(H, kh, strides[0], dil[0])
        ow, l, r = same_pad(W, kw, strides[1], dil[1])
        x = np.pad(x, ((0, 0), (t, bt), (l, r), (0, 0)))
    else:
        oh = (H - (kh - 1) * dil[0] - 1) // strides[0] + 1
        ow = (W - (kw - 1) * dil[1] - 1) // strides[1] + 1
    kk = f64(k)
    y = np.zeros((x.shape[0], oh, ow, k.shape[3]))
    for i in range(oh):
        for j in range(ow):
            for u in range(kh):
                for v in range(kw):
                    y[:, i, j, :] += x[:, i * strides[0] + u * dil[0], j * strides[1] + v * dil[1], :] @ kk[u, v]
    if b is not None:
        y = y + f64(b)
    y = ACT[activation](y)
    if cf:
        y = y.transpose(0, 3, 1, 2)
    return y


def conv2d_torch(x, k, b, strides, padding, dil, cf, activation):
    x = f64(x)
    if not cf:
        x = x.transpose(0, 3, 1, 2)
    kh, kw = k.shape[0], k.shape[1]
    xt = torch.from_numpy(x.copy())
    if padding == "same":
        _, t, bt = same_pad(x.shape[2], kh, strides[0], dil[0])
        _, l, r = same_pad(x.shape[3], kw, strides[1], dil[1])
        xt = torch.nn.functional.pad(xt, (l, r, t, bt))
    wt = torch.from_numpy(f64(k).transpose(3, 2, 0, 1).copy())
    bt_ = torch.from_numpy(f64(b)) if b is not None else None
    y = torch.nn.functional.conv2d(xt, wt, bt_, stride=tuple(strides), dilation=tuple(dil)).numpy()
    y = ACT[activation](y)
    if not cf:
        y = y.transpose(0, 2, 3, 1)
    return y


def pool2d_ref(x, k, s, padding, mode, cf):
    x = f64(x)
    if cf:
        x = x.transpose(0, 2, 3, 1)
    H, W = x.shape[1], x.shape[2]
    if padding == "same":
        oh, t, _ = same_pad(H, k[0], s[0])
        ow, l, _ = same_pad(W, k[1], s[1])
    else:
        oh, ow, t, l = (H - k[0]) // s[0] + 1, (W - k[1]) // s[1] + 1, 0, 0
    y = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        y0, y1 = max(i * s[0] - t, 0), min(i * s[0] - t + k[0], H)
        for j in range(ow):
            x0, x1 = max(j * s[1] - l, 0), min(j * s[1] - l + k[1], W)
            w = x[:, y0:y1, x0:x1, :]
            y[:, i, j, :] = w.max(axis=(1, 2)) if mode == "max" else w.mean(axis=(1, 2))
    if cf:
        y = y.transpose(0, 3, 1, 2)
    return y


def sepconv1d_ref(x, dk, pk, b, stride, padding, dil, cf, activation):
    """Depthwise [k, in, mult] then pointwise [1, in*mult, filters]."""
    x = f64(x)
    if cf:
        x = x.transpose(0, 2, 1)
    ksz, cin, mult = dk.shape
    L = x.shape[1]
    if padding == "causal":
        x = np.pad(x, ((0, 0), ((ksz - 1) * dil, 0), (0, 0)))
    elif padding == "same":
        _, l, r = same_pad(L, ksz, stride, dil)
        x = np.pad(x, ((0, 0), (l, r), (0, 0)))
    n = (x.shape[1] - (ksz - 1) * dil - 1) // stride + 1
    d = np.zeros((x.shape[0], n, cin * mult))
    for t in range(n):
        for j in range(ksz):
            xs = x[:, t * stride + j * dil, :]                      # [B, in]
            d[:, t, :] += (xs[:, :, None] * f64(dk[j])[None]).reshape(x.shape[0], cin * mult)
    y = d @ f64(pk[0])
    if b is not None:
        y = y + f64(b)
    y = ACT[activation](y)
    if cf:
        y = y.transpose(0, 2, 1)
    return y


def sepconv1d_torch(x, dk, pk, b, stride, padding, dil, activation):
    """channels_last only: torch grouped conv1d, then a 1x1 conv."""
    x = f64(x).transpose(0, 2, 1)
    ksz, cin, mult = dk.shape
    xt = torch.from_numpy(x.copy())
    if padding == "causal":
        xt = torch.nn.functional.pad(xt, ((ksz - 1) * dil, 0))
    elif padding == "same":
        _, l, r = same_pad(x.shape[2], ksz, stride, dil)
        xt = torch.nn.functional.pad(xt, (l, r))
    # torch grouped weight [in*mult, 1, k]: out channel c*mult+m uses input c.
    wd = f64(dk).transpose(1, 2, 0).reshape(cin * mult, 1, ksz)
    y = torch.nn.functional.conv1d(xt, torch.from_numpy(wd.copy()), stride=stride, dilation=dil,
                                   groups=cin)
    wp = f64(pk[0]).T[:, :, None]
    bt = torch.from_numpy(f64(b)) if b is not None else None
    y = torch.nn.functional.conv1d(y, torch.from_numpy(wp.copy()), bt).numpy()
    return ACT[activation](y.transpose(0, 2, 1))


def masking_ref(x, value=0.0):
    x = f64(x)
    m = np.any(x != value, axis=-1)
    return x * m[..., None], m


def gap_masked(x, m):
    mf = f64(m)[..., None]
    return (x * mf).sum(axis=1) / mf.sum(axis=1)


def attention_ref(q, v, k=None, scale=None, concat_w=None, causal=False, v_mask=None,
                  q_mask=None):
    """tf.keras dense_attention: matmul over the last two axes; the -1e9 bias is applied
    in float32 like TF."""
    q, v = f64(q), f64(v)
    k = v if k is None else f64(k)
    if concat_w is None:
        s = np.matmul(q, np.swapaxes(k, -1, -2))
        if scale is not None:
            s = s * scale
    else:
        sc = 1.0 if scale is None else scale
        s = concat_w * np.tanh(sc * (q[..., :, None, :] + k[..., None, :, :])).sum(-1)
    s = s.astype(np.float32)
    bad = np.zeros(s.shape, dtype=bool)
    if v_mask is not None:
        bad |= ~np.asarray(v_mask, dtype=bool)[..., None, :]
    if causal:
        tq, tv = s.shape[-2], s.shape[-1]
        bad |= np.arange(tv)[None, :] > np.arange(tq)[:, None]
    s = np.where(bad, s - np.float32(1e9), s).astype(np.float64)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    wts = e / e.sum(axis=-1, keepdims=True)
    out = np.matmul(wts, v)
    if q_mask is not None:
        out = out * f64(q_mask)[..., None]
    return out


# --------------------------------------------------------------------------------------
# Layer builders (Keras 2.2.4 get_config layouts unless tf=True)
# --------------------------------------------------------------------------------------


def pool1d(name, cls, k, s=None, padding="valid", cf=False, bis=None, check=True):
    s = k if s is None else s
    mode = "max" if cls == "MaxPooling1D" else "avg"

    def fn(xs):
        y = pool1d_ref(xs[0], k, s, padding, mode, cf)
        if check and torch is not None and not cf:
            close(y, pool1d_torch(xs[0], k, s, padding, mode), name)
        return [y]
    return layer(cls, name, {"strides": [s], "pool_size": [k], "padding": padding,
                             "data_format": "channels_first" if cf else "channels_last"},
                 fn, bis=bis)


def global_pool(name, cls, cf=False, keepdims=None, bis=None, tf=False):
    extra = {"data_format": "channels_first" if cf else "channels_last"}
    if keepdims is not None:
        extra["keepdims"] = keepdims
    spatial = (2,) if cf else (1,)
    if cls.endswith("2D"):
        spatial = (2, 3) if cf else (1, 2)

    def fn(xs):
        x = f64(xs[0])
        y = x.max(axis=spatial, keepdims=bool(keepdims)) if "Max" in cls else \
            x.mean(axis=spatial, keepdims=bool(keepdims))
        return [y]
    return layer(cls, name, extra, fn, bis=bis, tf=tf)


def batchnorm(rng, name, n, axis=-1, center=True, scale=True, eps=1e-3, bis=None, wshape=None):
    ws = []
    shp = (n,) if wshape is None else wshape
    gamma = beta = None
    if scale:
        gamma = (rng.standard_normal(shp) * 0.5 + 1).astype(np.float32)
        ws.append(("%s/gamma:0" % name, gamma))
    if center:
        beta = rnd(rng, shp)
        ws.append(("%s/beta:0" % name, beta))
    mean = rnd(rng, shp)
    var = (rng.uniform(0.2, 2.0, shp)).astype(np.float32)
    ws += [("%s/moving_mean:0" % name, mean), ("%s/moving_variance:0" % name, var)]
    cfg = {"axis": axis, "momentum": 0.99, "epsilon": eps, "center": center, "scale": scale,
           "beta_initializer": ZEROS(), "gamma_initializer": {"class_name": "Ones", "config": {}},
           "moving_mean_initializer": ZEROS(),
           "moving_variance_initializer": {"class_name": "Ones", "config": {}},
           "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
           "gamma_constraint": None}

    def fn(xs):
        x = f64(xs[0])
        axes = [axis] if isinstance(axis, int) else list(axis)
        axes = [a % x.ndim for a in axes]
        bshape = [1] * x.ndim
        for a in axes:
            bshape[a] = x.shape[a]

        def b(p, default):
            return default if p is None else f64(p).reshape(bshape)
        y = (x - b(mean, 0)) / np.sqrt(b(var, 0) + eps)
        return [y * b(gamma, 1.0) + b(beta, 0.0)]
    return layer("BatchNormalization", name, cfg, fn, ws, bis=bis)


def layernorm(rng, name, axis, pshape, center=True, scale=True, eps=1e-3, bis=None):
    ws = []
    gamma = beta = None
    if scale:
        gamma = (rng.standard_normal(pshape) * 0.5 + 1).astype(np.float32)
        ws.append(("%s/gamma:0" % name, gamma))
    if center:
        beta = rnd(rng, pshape)
        ws.append(("%s/beta:0" % name, beta))
    cfg = {"axis": axis, "epsilon": eps, "center": center, "scale": scale,
           "beta_initializer": ZEROS(), "gamma_initializer": {"class_name": "Ones", "config": {}},
           "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
           "gamma_constraint": None}

    def fn(xs):
        x = f64(xs[0])
        axes = tuple(a % x.ndim for a in axis)
        mu = x.mean(axis=axes, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
        y = (x - mu) / np.sqrt(var + eps)
        bshape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
        if gamma is not None:
            y = y * f64(gamma).reshape(bshape)
        if beta is not None:
            y = y + f64(beta).reshape(bshape)
        return [y]
    return layer("LayerNormalization", name, cfg, fn, ws, bis=bis, tf=True)


def merge(name, cls, extra=None, tf=False):
    def fn(xs):
        xs = [f64(x) for x in xs]
        if cls in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
            nd = max(x.ndim for x in xs)
            xs = [x.reshape((x.shape[0],) + (1,) * (nd - x.ndim) + x.shape[1:]) for x in xs]
        if cls == "Add":
            return [sum(xs[1:], xs[0])]
        if cls == "Subtract":
            return [xs[0] - xs[1]]
        if cls == "Multiply":
            y = xs[0]
            for x in xs[1:]:
                y = y * x
            return [y]
        if cls == "Average":
            return [sum(xs[1:], xs[0]) / len(xs)]
        if cls == "Maximum":
            return [np.maximum.reduce(np.broadcast_arrays(*xs))]
        if cls == "Minimum":
            return [np.minimum.reduce(np.broadcast_arrays(*xs))]
        if cls == "Concatenate":
            return [np.concatenate(xs, axis=extra["axis"])]
        if cls == "Dot":
            a, b = xs
            axes = extra["axes"]
            axes = [axes, axes] if isinstance(axes, int) else axes
            axes = [axes[0] % a.ndim, axes[1] % b.ndim]
            if extra.get("normalize"):
                a = a / np.sqrt(np.maximum((a * a).sum(axis=axes[0], keepdims=True), 1e-12))
                b = b / np.sqrt(np.maximum((b * b).sum(axis=axes[1], keepdims=True), 1e-12))
            a = np.moveaxis(a, axes[0], -1)
            b = np.moveaxis(b, axes[1], -1)
            if a.ndim == 2:
                y = (a * b).sum(axis=-1)[:, None]
            else:
                y = np.einsum("bpk,bqk->bpq", a, b)
            return [y]
        raise ValueError(cls)
    return layer(cls, name, extra or {}, fn, tf=tf)


def masking(name, value=0.0, bis=None, tf=False):
    return layer("Masking", name, {"mask_value": value},
                 lambda xs: [masking_ref(xs[0], value)[0]], bis=bis, tf=tf)


def zero_steps(x, spans):
    """Zeroes whole time steps so that Masking(0) masks them: spans [(b, t0, t1)]."""
    x = x.copy()
    for b, t0, t1 in spans:
        x[b, t0:t1, :] = 0
    return x


# --------------------------------------------------------------------------------------
# 1. Pooling
# --------------------------------------------------------------------------------------

L3_T = 7


def _pool_case(cid_suffix, cls, k, s, padding, cf, note):
    def fn(o, cid, seed, rng):
        bis = [None, F, L3_T] if cf else [None, L3_T, F]
        m = sequential([pool1d("p_1", cls, k, s, padding, cf, bis=bis)])
        return emit(o, cid, seed, m, make_inputs(rng, m), notes=note)
    fn.__name__ = "case_l3_" + cid_suffix
    return fn


for _args in [
        ("maxpool1d_valid", "MaxPooling1D", 3, 2, "valid", False, "MaxPooling1D(3, strides 2, valid)"),
        ("maxpool1d_same", "MaxPooling1D", 3, 2, "same", False,
         "MaxPooling1D(3, strides 2, same): padded positions ignored"),
        ("maxpool1d_default_strides", "MaxPooling1D", 2, None, "valid", False,
         "MaxPooling1D(2): strides default to pool_size (7 steps -> 3)"),
        ("maxpool1d_same_cf", "MaxPooling1D", 2, 2, "same", True,
         "MaxPooling1D(2, 2, same, channels_first)"),
        ("avgpool1d_valid", "AveragePooling1D", 2, 1, "valid", False,
         "AveragePooling1D(2, strides 1, valid)"),
        ("avgpool1d_same", "AveragePooling1D", 4, 3, "same", False,
         "AveragePooling1D(4, strides 3, same): windows at the edges divide by the count of "
         "real (non-padded) steps"),
        ("avgpool1d_same_cf", "AveragePooling1D", 3, 1, "same", True,
         "AveragePooling1D(3, 1, same, channels_first)")]:
    case(_pool_case(*_args))


@case
def case_l3_gap1d(o, cid, seed, rng):
    m = sequential([global_pool("gap_1", "GlobalAveragePooling1D", bis=[None, T, F])])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="GlobalAveragePooling1D channels_last")


@case
def case_l3_gap1d_cf(o, cid, seed, rng):
    m = sequential([global_pool("gap_1", "GlobalAveragePooling1D", cf=True, bis=[None, F, T])])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="GlobalAveragePooling1D channels_first")


@case
def case_l3_gmp1d(o, cid, seed, rng):
    m = sequential([global_pool("gmp_1", "GlobalMaxPooling1D", bis=[None, T, F]),
                    dense(rng, "dense_1", F, 3)])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="GlobalMaxPooling1D then Dense")


@case
def case_l3_gmp1d_cf(o, cid, seed, rng):
    m = sequential([global_pool("gmp_1", "GlobalMaxPooling1D", cf=True, bis=[None, F, T])])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="GlobalMaxPooling1D channels_first")


@case
def case_l3_gap1d_keepdims(o, cid, seed, rng):
    m = sequential([global_pool("gap_1", "GlobalAveragePooling1D", keepdims=True,
                                bis=[None, T, F], tf=True)])
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.6.0",
                notes="tf.keras 2.6 GlobalAveragePooling1D(keepdims=True): output (batch, 1, F)")


@case
def case_l3_gmp1d_keepdims_cf(o, cid, seed, rng):
    m = sequential([global_pool("gmp_1", "GlobalMaxPooling1D", cf=True, keepdims=True,
                                bis=[None, F, T], tf=True)])
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.6.0",
                notes="tf.keras 2.6 GlobalMaxPooling1D(keepdims=True, channels_first): (batch, F, 1)")


@case
def case_l3_global_pool2d(o, cid, seed, rng):
    i = input_layer("input_1", [None, 3, 4, F])
    i2 = input_layer("input_2", [None, F, 3, 4])
    a = global_pool("gap2d_1", "GlobalAveragePooling2D")
    b = global_pool("gmp2d_1", "GlobalMaxPooling2D", cf=True)
    m = functional([(i, []), (i2, []), (a, [("input_1", 0, 0)]), (b, [("input_2", 0, 0)])],
                   ["input_1", "input_2"], [("gap2d_1", 0, 0), ("gmp2d_1", 0, 0)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="GlobalAveragePooling2D (channels_last) and GlobalMaxPooling2D (channels_first)")


def _masked_gap_model(rng):
    mk = masking("masking_1", bis=[None, T, F])
    g = global_pool("gap_1", "GlobalAveragePooling1D")
    d = dense(rng, "dense_1", F, 3)
    m = sequential([mk, g, d])

    def forward(xs):
        x, msk = masking_ref(xs[0])
        return d.fn([gap_masked(x, msk)])
    m.forward = forward
    x = zero_steps(make_inputs(rng, m)[0], [(0, 4, T), (1, 0, 2)])
    return m, [x]


@case
def case_l3_gap1d_masked(o, cid, seed, rng):
    m, xs = _masked_gap_model(rng)
    return emit(o, cid, seed, m, xs,
                notes="Masking(0) -> GlobalAveragePooling1D -> Dense, Keras 2.2.4: the average "
                      "runs over the unmasked steps only (supports masking since 2.2.3)")


@case
def case_l3_gap1d_masked_tfkeras(o, cid, seed, rng):
    m, xs = _masked_gap_model(rng)
    return emit(o, cid, seed, m, xs, keras_version="2.4.0",
                notes="as l3_gap1d_masked with keras_version 2.4.0 (tf.keras)")


@case
def case_l3_gap1d_masked_keras222(o, cid, seed, rng):
    m, xs = _masked_gap_model(rng)
    return emit(o, cid, seed, m, xs, keras_version="2.2.2", expect="error",
                why="gap_1 | does not support masking",
                notes="Keras 2.2.2's GlobalAveragePooling1D does not support masking")


@case
def case_l3_gmp1d_masked(o, cid, seed, rng):
    mk = masking("masking_1", bis=[None, T, F])
    m = sequential([mk, global_pool("gmp_1", "GlobalMaxPooling1D")])
    x = zero_steps(make_inputs(rng, m)[0], [(0, 4, T)])
    return emit(o, cid, seed, m, [x], expect="error", why="gmp_1 | does not support masking",
                notes="GlobalMaxPooling1D does not support masking in any Keras")


# --------------------------------------------------------------------------------------
# 2. Normalization
# --------------------------------------------------------------------------------------


def _bn_case(suffix, center, scale, note):
    def fn(o, cid, seed, rng):
        m = sequential([dense(rng, "dense_1", F, 5, bis=[None, F]),
                        batchnorm(rng, "batch_normalization_1", 5, center=center, scale=scale)])
        return emit(o, cid, seed, m, make_inputs(rng, m), notes=note)
    fn.__name__ = "case_l3_" + suffix
    return fn


case(_bn_case("bn_dense", True, True, "Dense -> BatchNormalization (gamma, beta, moving stats)"))
case(_bn_case("bn_nocenter", False, True, "BatchNormalization(center=False): no beta weight"))
case(_bn_case("bn_noscale", True, False, "BatchNormalization(scale=False): no gamma weight"))
case(_bn_case("bn_plain", False, False,
              "BatchNormalization(center=False, scale=False): moving stats only"))


@case
def case_l3_bn_axis1_rank3(o, cid, seed, rng):
    m = sequential([batchnorm(rng, "batch_normalization_1", F, axis=1, eps=1e-5,
                              bis=[None, F, T])])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="BatchNormalization(axis=1, epsilon=1e-5) on (batch, 4, 6): the channels_first layout")


@case
def case_l3_bn_rank4(o, cid, seed, rng):
    m = sequential([batchnorm(rng, "batch_normalization_1", 3, axis=-1, bis=[None, 2, 5, 3])])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="BatchNormalization(axis=-1) on a rank-4 input")


@case
def case_l3_bn_masked(o, cid, seed, rng):
    mk = masking("masking_1", bis=[None, T, F])
    bn = batchnorm(rng, "batch_normalization_1", F)
    g = global_pool("gap_1", "GlobalAveragePooling1D")
    m = sequential([mk, bn, g])

    def forward(xs):
        x, msk = masking_ref(xs[0])
        return [gap_masked(bn.fn([x])[0], msk)]
    m.forward = forward
    x = zero_steps(make_inputs(rng, m)[0], [(0, 3, T), (1, 0, 1)])
    return emit(o, cid, seed, m, [x],
                notes="Masking -> BatchNormalization -> GlobalAveragePooling1D: BatchNormalization "
                      "passes the mask on (masked steps are BN(0), excluded from the average)")


@case
def case_l3_layernorm(o, cid, seed, rng):
    inp = input_layer("input_1", [None, T, F], tf=True)
    ln = layernorm(rng, "layer_normalization", [2], (F,))
    m = functional([(inp, []), (ln, [("input_1", 0, 0)])], ["input_1"],
                   [("layer_normalization", 0, 0)], name="model", class_name="Functional", tf=True)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                notes="tf.keras LayerNormalization(axis=[2]) over the features")


@case
def case_l3_layernorm_axes12(o, cid, seed, rng):
    inp = input_layer("input_1", [None, T, F], tf=True)
    ln = layernorm(rng, "layer_normalization", [1, 2], (T, F), eps=1e-6)
    m = functional([(inp, []), (ln, [("input_1", 0, 0)])], ["input_1"],
                   [("layer_normalization", 0, 0)], name="model", class_name="Functional", tf=True)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                notes="tf.keras LayerNormalization(axis=[1, 2], epsilon=1e-6): gamma/beta of shape (6, 4)")


@case
def case_l3_layernorm_plain(o, cid, seed, rng):
    inp = input_layer("input_1", [None, F], tf=True)
    ln = layernorm(rng, "layer_normalization", [1], (F,), center=False, scale=False)
    m = functional([(inp, []), (ln, [("input_1", 0, 0)])], ["input_1"],
                   [("layer_normalization", 0, 0)], name="model", class_name="Functional", tf=True)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                notes="tf.keras LayerNormalization(center=False, scale=False): no weights")


# --------------------------------------------------------------------------------------
# 3. Merge
# --------------------------------------------------------------------------------------


def _merge_case(cls, extra=None, shapes=((T, F), (T, F)), n=2, suffix=None, note=""):
    def fn(o, cid, seed, rng):
        nodes, names = [], []
        for k in range(n):
            shp = shapes[k] if k < len(shapes) else shapes[-1]
            nm = "input_%d" % (k + 1)
            nodes.append((input_layer(nm, [None] + list(shp)), []))
            names.append(nm)
        mg = merge("merge_1", cls, extra)
        nodes.append((mg, [(nm, 0, 0) for nm in names]))
        m = functional(nodes, names, [("merge_1", 0, 0)])
        return emit(o, cid, seed, m, make_inputs(rng, m), notes=note or "%s of %d inputs" % (cls, n))
    fn.__name__ = "case_l3_" + (suffix or cls.lower())
    return fn


case(_merge_case("Add", n=3, note="Add of 3 inputs"))
case(_merge_case("Subtract"))
case(_merge_case("Multiply"))
case(_merge_case("Average", n=3, note="Average of 3 inputs"))
case(_merge_case("Maximum"))
case(_merge_case("Minimum"))
case(_merge_case("Add", shapes=((T, F), (1, F)), suffix="add_broadcast",
                 note="Add of (T, 4) and (1, 4): sizes of 1 broadcast"))
case(_merge_case("Multiply", shapes=((T, F), (F,)), suffix="multiply_rank",
                 note="Multiply of (T, 4) and (4,): the lower rank gets an axis after the batch"))
case(_merge_case("Concatenate", {"axis": -1}, shapes=((T, F), (T, 3)), suffix="concat_last",
                 note="Concatenate(axis=-1)"))
case(_merge_case("Concatenate", {"axis": 1}, shapes=((T, F), (2, F)), suffix="concat_axis1",
                 note="Concatenate(axis=1) along time"))
case(_merge_case("Concatenate", {"axis": -2}, shapes=((3, F), (T, F), (2, F)), n=3,
                 suffix="concat_neg", note="Concatenate(axis=-2) of 3 inputs"))
case(_merge_case("Dot", {"axes": 1, "normalize": False}, shapes=((F,), (F,)), suffix="dot_rank2",
                 note="Dot(axes=1) of two (batch, 4): output (batch, 1)"))
case(_merge_case("Dot", {"axes": -1, "normalize": True}, shapes=((F,), (F,)),
                 suffix="dot_rank2_normalize", note="Dot(axes=-1, normalize=True): cosine"))
case(_merge_case("Dot", {"axes": [2, 2], "normalize": False}, shapes=((T, F), (3, F)),
                 suffix="dot_rank3", note="Dot(axes=[2, 2]) of (6, 4) and (3, 4): (batch, 6, 3)"))
case(_merge_case("Dot", {"axes": [1, 1], "normalize": True}, shapes=((T, F), (T, 3)),
                 suffix="dot_rank3_axes1", note="Dot(axes=[1, 1], normalize=True): (batch, 4, 3)"))


@case
def case_l3_concat_masked(o, cid, seed, rng):
    i1 = input_layer("input_1", [None, T, F])
    i2 = input_layer("input_2", [None, 3, F])
    mk = masking("masking_1")
    c = merge("concatenate_1", "Concatenate", {"axis": 1})
    g = global_pool("gap_1", "GlobalAveragePooling1D")
    m = functional([(i1, []), (i2, []), (mk, [("input_1", 0, 0)]),
                    (c, [("masking_1", 0, 0), ("input_2", 0, 0)]), (g, [("concatenate_1", 0, 0)])],
                   ["input_1", "input_2"], [("gap_1", 0, 0)])

    def forward(xs):
        x1, m1 = masking_ref(xs[0])
        x = np.concatenate([x1, f64(xs[1])], axis=1)
        msk = np.concatenate([m1, np.ones(xs[1].shape[:2], dtype=bool)], axis=1)
        return [gap_masked(x, msk)]
    m.forward = forward
    xs = make_inputs(rng, m)
    xs[0] = zero_steps(xs[0], [(0, 2, T), (1, 0, 3)])
    return emit(o, cid, seed, m, xs,
                notes="Masking(input_1) and unmasked input_2 -> Concatenate(axis=1) -> "
                      "GlobalAveragePooling1D: the masks concatenate along time (unmasked = valid)")


@case
def case_l3_add_masked(o, cid, seed, rng):
    i1 = input_layer("input_1", [None, T, F])
    i2 = input_layer("input_2", [None, T, F])
    m1 = masking("masking_1")
    m2 = masking("masking_2")
    a = merge("add_1", "Add")
    c = merge("concatenate_1", "Concatenate", {"axis": -1})
    g = global_pool("gap_1", "GlobalAveragePooling1D")
    g2 = global_pool("gap_2", "GlobalAveragePooling1D")
    m = functional([(i1, []), (i2, []), (m1, [("input_1", 0, 0)]), (m2, [("input_2", 0, 0)]),
                    (a, [("masking_1", 0, 0), ("masking_2", 0, 0)]),
                    (c, [("masking_1", 0, 0), ("input_2", 0, 0)]),
                    (g, [("add_1", 0, 0)]), (g2, [("concatenate_1", 0, 0)])],
                   ["input_1", "input_2"], [("gap_1", 0, 0), ("gap_2", 0, 0)])

    def forward(xs):
        x1, k1 = masking_ref(xs[0])
        x2, k2 = masking_ref(xs[1])
        y1 = gap_masked(x1 + x2, k1 & k2)
        y2 = gap_masked(np.concatenate([x1, f64(xs[1])], axis=-1), k1)
        return [y1, y2]
    m.forward = forward
    xs = make_inputs(rng, m)
    xs[0] = zero_steps(xs[0], [(0, 4, T), (1, 0, 1)])
    xs[1] = zero_steps(xs[1], [(0, 0, 1), (1, 5, T)])
    return emit(o, cid, seed, m, xs,
                notes="Add of two masked inputs (mask = AND) and Concatenate(axis=-1) of a masked "
                      "and an unmasked input (mask = the first's), each -> GlobalAveragePooling1D")


# --------------------------------------------------------------------------------------
# 4. Shape layers
# --------------------------------------------------------------------------------------


@case
def case_l3_reshape(o, cid, seed, rng):
    r1 = layer("Reshape", "reshape_1", {"target_shape": [2, -1]},
               lambda xs: [f64(xs[0]).reshape(xs[0].shape[0], 2, -1)], bis=[None, T, F])
    r2 = layer("Reshape", "reshape_2", {"target_shape": [24]},
               lambda xs: [f64(xs[0]).reshape(xs[0].shape[0], 24)])
    m = sequential([r1, r2, dense(rng, "dense_1", 24, 3)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Reshape((2, -1)) then Reshape((24,)) then Dense")


@case
def case_l3_permute(o, cid, seed, rng):
    p = layer("Permute", "permute_1", {"dims": [2, 3, 1]},
              lambda xs: [f64(xs[0]).transpose(0, 2, 3, 1)], bis=[None, 2, 3, F])
    m = sequential([p])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="Permute((2, 3, 1)) of (2, 3, 4)")


@case
def case_l3_repeatvector(o, cid, seed, rng):
    r = layer("RepeatVector", "repeat_vector_1", {"n": 3},
              lambda xs: [np.repeat(f64(xs[0])[:, None, :], 3, axis=1)])
    m = sequential([dense(rng, "dense_1", F, 5, bis=[None, F]), r])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="Dense -> RepeatVector(3)")


@case
def case_l3_zeropadding1d(o, cid, seed, rng):
    z1 = layer("ZeroPadding1D", "zero_padding1d_1", {"padding": [1, 1]},
               lambda xs: [np.pad(f64(xs[0]), ((0, 0), (1, 1), (0, 0)))], bis=[None, T, F])
    z2 = layer("ZeroPadding1D", "zero_padding1d_2", {"padding": [0, 2]},
               lambda xs: [np.pad(f64(xs[0]), ((0, 0), (0, 2), (0, 0)))])
    m = sequential([z1, z2])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="ZeroPadding1D(1) (stored as [1, 1]) then ZeroPadding1D((0, 2))")


@case
def case_l3_zeropadding1d_int(o, cid, seed, rng):
    z = layer("ZeroPadding1D", "zero_padding", {"padding": 2},
              lambda xs: [np.pad(f64(xs[0]), ((0, 0), (2, 2), (0, 0)))], bis=[None, T, F], tf=True)
    m = sequential([z])
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                notes="ZeroPadding1D with padding stored as a plain int")


@case
def case_l3_cropping1d(o, cid, seed, rng):
    c = layer("Cropping1D", "cropping1d_1", {"cropping": [1, 2]},
              lambda xs: [f64(xs[0])[:, 1:-2, :]], bis=[None, T, F])
    m = sequential([c])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="Cropping1D((1, 2))")


@case
def case_l3_upsampling1d(o, cid, seed, rng):
    u = layer("UpSampling1D", "up_sampling1d_1", {"size": 3},
              lambda xs: [np.repeat(f64(xs[0]), 3, axis=1)], bis=[None, 3, F])
    m = sequential([u])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="UpSampling1D(3)")


@case
def case_l3_shape_masked_error(o, cid, seed, rng):
    mk = masking("masking_1", bis=[None, T, F])
    c = layer("Cropping1D", "cropping1d_1", {"cropping": [1, 1]}, None)
    m = sequential([mk, c])
    return emit(o, cid, seed, m, make_inputs(rng, m), expect="error",
                why="cropping1d_1 | does not support masking",
                notes="Cropping1D (like every shape layer) does not support masking")


# --------------------------------------------------------------------------------------
# 5. Advanced activations
# --------------------------------------------------------------------------------------


def _act_layer_case(suffix, cls, extra, f, note, version="2.2.4", tf=False):
    def fn(o, cid, seed, rng):
        d = dense(rng, "dense_1", F, 6, bis=[None, T, F], tf=tf)
        a = layer(cls, "act_1", extra, lambda xs: [f(f64(xs[0]))], tf=tf)
        m = sequential([d, a])
        return emit(o, cid, seed, m, make_inputs(rng, m), keras_version=version, notes=note)
    fn.__name__ = "case_l3_" + suffix
    return fn


def relu_ref(x, max_value=None, slope=0.0, threshold=0.0):
    """Backend relu step by step (the float32 comparisons do not matter for random inputs)."""
    pos = np.where(x > threshold, x, 0.0)
    if max_value is not None:
        pos = np.clip(pos, 0.0, max_value)
    return pos - slope * np.maximum(threshold - x, 0.0)


case(_act_layer_case("leakyrelu", "LeakyReLU", {"alpha": 0.2},
                     lambda x: np.where(x > 0, x, 0.2 * x), "LeakyReLU(alpha=0.2)"))
case(_act_layer_case("leakyrelu_keras3", "LeakyReLU", {"negative_slope": 0.1},
                     lambda x: np.where(x > 0, x, 0.1 * x),
                     "LeakyReLU(negative_slope=0.1), the Keras 3 option name", version="3.3.3",
                     tf=True))
case(_act_layer_case("elu", "ELU", {"alpha": 0.7},
                     lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0))), "ELU(alpha=0.7)"))
case(_act_layer_case("thresholdedrelu", "ThresholdedReLU", {"theta": 0.3},
                     lambda x: np.where(x > 0.3, x, 0.0), "ThresholdedReLU(theta=0.3)"))
case(_act_layer_case("relu_max", "ReLU", {"max_value": 0.5, "negative_slope": 0.0, "threshold": 0.0},
                     lambda x: relu_ref(x, 0.5), "ReLU(max_value=0.5)"))
case(_act_layer_case("relu_all", "ReLU", {"max_value": 1.0, "negative_slope": 0.1, "threshold": -0.2},
                     lambda x: relu_ref(x, 1.0, 0.1, -0.2),
                     "ReLU(max_value=1, negative_slope=0.1, threshold=-0.2): inputs in (-0.2, 0) "
                     "give 0 (the backend clips the thresholded part to [0, max_value])"))
case(_act_layer_case("relu_slope", "ReLU", {"max_value": None, "negative_slope": 0.3, "threshold": 0.5},
                     lambda x: relu_ref(x, None, 0.3, 0.5), "ReLU(negative_slope=0.3, threshold=0.5)"))
case(_act_layer_case("softmax_axis1", "Softmax", {"axis": 1},
                     lambda x: np.exp(x - x.max(axis=1, keepdims=True)) /
                     np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True),
                     "Softmax(axis=1): over time"))
case(_act_layer_case("softmax", "Softmax", {"axis": -1},
                     lambda x: np.exp(x - x.max(axis=-1, keepdims=True)) /
                     np.exp(x - x.max(axis=-1, keepdims=True)).sum(axis=-1, keepdims=True),
                     "Softmax(axis=-1)"))


@case
def case_l3_prelu(o, cid, seed, rng):
    alpha = rnd(rng, (1, 6))
    p = layer("PReLU", "p_re_lu_1", {"alpha_initializer": ZEROS(), "alpha_regularizer": None,
                                     "alpha_constraint": None, "shared_axes": [1]},
              lambda xs: [np.where(xs[0] > 0, xs[0], f64(alpha)[None] * xs[0])],
              [("p_re_lu_1/alpha:0", alpha)])
    m = sequential([dense(rng, "dense_1", F, 6, bis=[None, T, F]), p])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="PReLU(shared_axes=[1]) on (T, 6): alpha of shape (1, 6)")


@case
def case_l3_prelu_full(o, cid, seed, rng):
    alpha = rnd(rng, (T, F))
    p = layer("PReLU", "p_re_lu_1", {"alpha_initializer": ZEROS(), "alpha_regularizer": None,
                                     "alpha_constraint": None, "shared_axes": None},
              lambda xs: [np.where(xs[0] > 0, xs[0], f64(alpha)[None] * xs[0])],
              [("p_re_lu_1/alpha:0", alpha)], bis=[None, T, F])
    m = sequential([p])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="PReLU without shared axes: alpha (T, 4)")


@case
def case_l3_activations_masked(o, cid, seed, rng):
    mk = masking("masking_1", bis=[None, T, F])
    a = layer("LeakyReLU", "leaky_re_lu_1", {"alpha": 0.3}, None)
    s = layer("Softmax", "softmax_1", {"axis": -1}, None)
    g = global_pool("gap_1", "GlobalAveragePooling1D")
    m = sequential([mk, a, s, g])

    def forward(xs):
        x, msk = masking_ref(xs[0])
        x = np.where(x > 0, x, 0.3 * x)
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return [gap_masked(e / e.sum(axis=-1, keepdims=True), msk)]
    m.forward = forward
    x = zero_steps(make_inputs(rng, m)[0], [(0, 3, T), (1, 0, 2)])
    return emit(o, cid, seed, m, [x],
                notes="Masking -> LeakyReLU -> Softmax -> GlobalAveragePooling1D (Keras 2.2.4): "
                      "the activation layers pass the mask on")


# --------------------------------------------------------------------------------------
# 6. Inference-time identities
# --------------------------------------------------------------------------------------


@case
def case_l3_noise_identity(o, cid, seed, rng):
    ident = lambda xs: [xs[0]]
    m = sequential([dense(rng, "dense_1", F, 5, bis=[None, T, F]),
                    layer("GaussianNoise", "gaussian_noise_1", {"stddev": 0.5}, ident),
                    layer("GaussianDropout", "gaussian_dropout_1", {"rate": 0.3}, ident),
                    layer("AlphaDropout", "alpha_dropout_1", {"rate": 0.2}, ident),
                    layer("ActivityRegularization", "activity_regularization_1",
                          {"l1": 0.01, "l2": 0.0}, ident),
                    dense(rng, "dense_2", 5, 2)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="GaussianNoise, GaussianDropout, AlphaDropout and ActivityRegularization are "
                      "the identity at inference")


@case
def case_l3_noise_masked(o, cid, seed, rng):
    mk = masking("masking_1", bis=[None, T, F])
    ident = lambda xs: [xs[0]]
    m = sequential([mk, layer("GaussianNoise", "gaussian_noise_1", {"stddev": 0.5}, ident),
                    layer("AlphaDropout", "alpha_dropout_1", {"rate": 0.2}, ident),
                    global_pool("gap_1", "GlobalAveragePooling1D")])

    def forward(xs):
        x, msk = masking_ref(xs[0])
        return [gap_masked(x, msk)]
    m.forward = forward
    x = zero_steps(make_inputs(rng, m)[0], [(0, 0, 2), (1, 4, T)])
    return emit(o, cid, seed, m, [x], notes="the noise layers pass the mask on")


# --------------------------------------------------------------------------------------
# 7. SeparableConv1D
# --------------------------------------------------------------------------------------


def sepconv1d(rng, name, cin, filters, k, mult=1, strides=1, padding="valid", dil=1,
              activation="linear", use_bias=True, cf=False, bis=None):
    dk = rnd(rng, (k, cin, mult))
    pk = rnd(rng, (1, cin * mult, filters))
    ws = [("%s/depthwise_kernel:0" % name, dk), ("%s/pointwise_kernel:0" % name, pk)]
    b = None
    if use_bias:
        b = rnd(rng, (filters,))
        ws.append(("%s/bias:0" % name, b))
    cfg = {"filters": filters, "kernel_size": [k], "strides": [strides], "padding": padding,
           "data_format": "channels_first" if cf else "channels_last", "dilation_rate": [dil],
           "activation": activation, "use_bias": use_bias, "bias_initializer": ZEROS(),
           "bias_regularizer": None, "activity_regularizer": None, "bias_constraint": None,
           "depth_multiplier": mult, "depthwise_initializer": GLOROT(),
           "pointwise_initializer": GLOROT(), "depthwise_regularizer": None,
           "pointwise_regularizer": None, "depthwise_constraint": None,
           "pointwise_constraint": None}

    def fn(xs):
        y = sepconv1d_ref(xs[0], dk, pk, b, strides, padding, dil, cf, activation)
        if torch is not None and not cf:
            close(y, sepconv1d_torch(xs[0], dk, pk, b, strides, padding, dil, activation), name)
        return [y]
    return layer("SeparableConv1D", name, cfg, fn, ws, bis=bis)


def _sep_case(suffix, note, **kw):
    def fn(o, cid, seed, rng):
        cf = kw.get("cf", False)
        bis = [None, F, L3_T] if cf else [None, L3_T, F]
        m = sequential([sepconv1d(rng, "separable_conv1d_1", F, 5, bis=bis, **kw)])
        return emit(o, cid, seed, m, make_inputs(rng, m), notes=note)
    fn.__name__ = "case_l3_" + suffix
    return fn


case(_sep_case("sepconv1d_valid", "SeparableConv1D(5, 3, valid)", k=3))
case(_sep_case("sepconv1d_same_mult2", "SeparableConv1D(5, 3, same, depth_multiplier=2, relu)",
               k=3, mult=2, padding="same", activation="relu"))
case(_sep_case("sepconv1d_strides2", "SeparableConv1D(5, 2, strides=2, valid, no bias)",
               k=2, strides=2, use_bias=False))
case(_sep_case("sepconv1d_causal_dil2", "SeparableConv1D(5, 3, causal, dilation 2, mult 3)",
               k=3, dil=2, padding="causal", mult=3))
case(_sep_case("sepconv1d_cf", "SeparableConv1D(5, 3, same, channels_first, mult 2)",
               k=3, mult=2, padding="same", cf=True))


# --------------------------------------------------------------------------------------
# 8. Conv2D and 2-D pooling
# --------------------------------------------------------------------------------------


def conv2d(rng, name, cin, filters, k, strides=(1, 1), padding="valid", dil=(1, 1),
           activation="linear", use_bias=True, cf=False, bis=None):
    kk = rnd(rng, (k[0], k[1], cin, filters))
    ws = [("%s/kernel:0" % name, kk)]
    b = None
    if use_bias:
        b = rnd(rng, (filters,))
        ws.append(("%s/bias:0" % name, b))
    cfg = {"filters": filters, "kernel_size": list(k), "strides": list(strides),
           "padding": padding, "data_format": "channels_first" if cf else "channels_last",
           "dilation_rate": list(dil), "activation": activation, "use_bias": use_bias,
           "kernel_initializer": GLOROT(), "bias_initializer": ZEROS(),
           "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
           "kernel_constraint": None, "bias_constraint": None}

    def fn(xs):
        y = conv2d_ref(xs[0], kk, b, strides, padding, dil, cf, activation)
        if torch is not None:
            close(y, conv2d_torch(xs[0], kk, b, strides, padding, dil, cf, activation), name)
        return [y]
    return layer("Conv2D", name, cfg, fn, ws, bis=bis)


def pool2d(name, cls, k, s=None, padding="valid", cf=False):
    s = k if s is None else s
    mode = "max" if cls == "MaxPooling2D" else "avg"
    return layer(cls, name, {"pool_size": list(k), "padding": padding, "strides": list(s),
                             "data_format": "channels_first" if cf else "channels_last"},
                 lambda xs: [pool2d_ref(xs[0], k, s, padding, mode, cf)])


@case
def case_l3_conv2d_valid(o, cid, seed, rng):
    m = sequential([conv2d(rng, "conv2d_1", 3, 4, (3, 2), bis=[None, 6, 5, 3])])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="Conv2D(4, (3, 2), valid)")


@case
def case_l3_conv2d_same_strides(o, cid, seed, rng):
    m = sequential([conv2d(rng, "conv2d_1", 3, 4, (3, 3), strides=(2, 2), padding="same",
                           activation="relu", bis=[None, 7, 6, 3])])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Conv2D(4, 3, strides 2, same, relu) on 7x6: uneven padding")


@case
def case_l3_conv2d_dilation(o, cid, seed, rng):
    m = sequential([conv2d(rng, "conv2d_1", 2, 3, (2, 3), dil=(2, 1), padding="same",
                           use_bias=False, bis=[None, 6, 6, 2])])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Conv2D(3, (2, 3), dilation (2, 1), same, no bias)")


@case
def case_l3_conv2d_cf(o, cid, seed, rng):
    m = sequential([conv2d(rng, "conv2d_1", 3, 4, (3, 3), padding="same", cf=True,
                           bis=[None, 3, 5, 6]),
                    pool2d("max_pooling2d_1", "MaxPooling2D", (2, 2), cf=True),
                    layer("Flatten", "flatten_1", {"data_format": "channels_first"},
                          lambda xs: [f64(xs[0]).transpose(0, 2, 3, 1).reshape(xs[0].shape[0], -1)]),
                    dense(rng, "dense_1", 24, 2)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="channels_first Conv2D(same) -> MaxPooling2D(2) -> Flatten (moves channels "
                      "last first) -> Dense")


@case
def case_l3_conv2d_pool_flatten(o, cid, seed, rng):
    m = sequential([conv2d(rng, "conv2d_1", 2, 3, (3, 3), bis=[None, 8, 7, 2]),
                    pool2d("max_pooling2d_1", "MaxPooling2D", (2, 2), (2, 2), "same"),
                    layer("Flatten", "flatten_1", {"data_format": "channels_last"},
                          lambda xs: [f64(xs[0]).reshape(xs[0].shape[0], -1)]),
                    dense(rng, "dense_1", 27, 2)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="Conv2D(3, 3) -> MaxPooling2D(2, same) -> Flatten of a 4-D tensor -> Dense")


@case
def case_l3_pool2d(o, cid, seed, rng):
    i = input_layer("input_1", [None, 5, 7, 3])
    a = pool2d("average_pooling2d_1", "AveragePooling2D", (2, 3), (2, 2), "same")
    b = pool2d("max_pooling2d_1", "MaxPooling2D", (3, 2), (1, 2), "valid")
    m = functional([(i, []), (a, [("input_1", 0, 0)]), (b, [("input_1", 0, 0)])], ["input_1"],
                   [("average_pooling2d_1", 0, 0), ("max_pooling2d_1", 0, 0)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="AveragePooling2D((2, 3), 2, same; edge windows divide by the real count) and "
                      "MaxPooling2D((3, 2), (1, 2), valid)")


# --------------------------------------------------------------------------------------
# 9. Attention (tf.keras)
# --------------------------------------------------------------------------------------


# tf.keras stores Attention's scale and concat_score_weight as rank-0 (scalar) datasets.
# The importer's HDF5 reader cannot read those yet (gonum's SimpleExtentDims panics on a
# rank-0 dataspace, importer/h5.go readFloat32), so the two cases that need them are
# registered only once it can. Set to True when the importer reads scalar datasets.
SCALAR_DATASETS = False


def scalar_case(fn):
    return case(fn) if SCALAR_DATASETS else fn


def attention(name, use_scale=False, score_mode=None, causal=None, scale=None, concat_w=None,
              n_in=2):
    cfg = {"dropout": 0.0, "use_scale": use_scale}
    if causal is not None:
        cfg["causal"] = causal
    if score_mode is not None:
        cfg["score_mode"] = score_mode
    ws = []
    if use_scale:
        ws.append(("%s/scale:0" % name, np.array(scale, dtype=np.float32)))
    if score_mode == "concat":
        ws.append(("%s/concat_score_weight:0" % name, np.array(concat_w, dtype=np.float32)))

    def fn(xs):
        return [attention_ref(xs[0], xs[1], xs[2] if n_in == 3 else None,
                              scale=scale if use_scale else None,
                              concat_w=concat_w if score_mode == "concat" else None,
                              causal=bool(causal))]
    return layer("Attention", name, cfg, fn, ws, tf=True)


def _att_model(att, n_in=2, qshape=(T, F), vshape=(5, F), kshape=None):
    nodes = [(input_layer("query", [None] + list(qshape), tf=True), []),
             (input_layer("value", [None] + list(vshape), tf=True), [])]
    names = ["query", "value"]
    if n_in == 3:
        nodes.append((input_layer("key", [None] + list(kshape), tf=True), []))
        names.append("key")
    nodes.append((att, [(n, 0, 0) for n in names]))
    return functional(nodes, names, [(att.name, 0, 0)], name="model", class_name="Functional",
                      tf=True)


@case
def case_l3_attention_dot(o, cid, seed, rng):
    m = _att_model(attention("attention"))
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                notes="tf.keras Attention()([query (6, 4), value (5, 4)])")


@scalar_case
def case_l3_attention_scale_key(o, cid, seed, rng):
    att = attention("attention", use_scale=True, scale=0.7, n_in=3, causal=False)
    m = _att_model(att, n_in=3, vshape=(5, 3), kshape=(5, F))
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                notes="Attention(use_scale=True)([query, value (5, 3), key (5, 4)]): weight scale:0 "
                      "is a scalar; the output has value's last dimension")


@case
def case_l3_attention_causal(o, cid, seed, rng):
    att = attention("attention", causal=True)
    m = _att_model(att, vshape=(T, F))
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.4.0",
                notes="Attention(causal=True) (tf.keras 2.4 config): step i attends to steps <= i")


@scalar_case
def case_l3_attention_concat(o, cid, seed, rng):
    att = attention("attention", use_scale=True, score_mode="concat", scale=0.8, concat_w=1.3)
    m = _att_model(att)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.11.0",
                notes="tf.keras 2.11 Attention(score_mode='concat', use_scale=True): weights scale "
                      "then concat_score_weight")


@case
def case_l3_attention_rank2(o, cid, seed, rng):
    inp = input_layer("inputs", [None, 5], tf=True)
    d = dense(rng, "dense", 5, 6, "relu", tf=True)
    att = attention("attention", score_mode="dot")
    c = merge("concatenate", "Concatenate", {"axis": -1}, tf=True)
    d2 = dense(rng, "outputs", 12, 1, "sigmoid", tf=True)
    m = functional([(inp, []), (d, [("inputs", 0, 0)]), (att, [("dense", 0, 0), ("dense", 0, 0)]),
                    (c, [("dense", 0, 0), ("attention", 0, 0)]), (d2, [("concatenate", 0, 0)])],
                   ["inputs"], [("outputs", 0, 0)], name="model", class_name="Functional", tf=True)
    return emit(o, cid, seed, m, make_inputs(rng, m, batch=3), keras_version="2.11.0",
                notes="the corpus case dl4j_w_keras_attention in small: Attention on rank-2 "
                      "tensors, where the rows of the batch attend to each other")


@case
def case_l3_attention_masked(o, cid, seed, rng):
    q = input_layer("query", [None, T, F], tf=True)
    v = input_layer("value", [None, 5, F], tf=True)
    mq = masking("masking", tf=True)
    mv = masking("masking_1", tf=True)
    att = attention("attention")
    g = global_pool("gap", "GlobalAveragePooling1D", tf=True)
    m = functional([(q, []), (v, []), (mq, [("query", 0, 0)]), (mv, [("value", 0, 0)]),
                    (att, [("masking", 0, 0), ("masking_1", 0, 0)]), (g, [("attention", 0, 0)])],
                   ["query", "value"], [("gap", 0, 0)], name="model", class_name="Functional",
                   tf=True)

    def forward(xs):
        xq, kq = masking_ref(xs[0])
        xv, kv = masking_ref(xs[1])
        return [gap_masked(attention_ref(xq, xv, v_mask=kv, q_mask=kq), kq)]
    m.forward = forward
    xs = make_inputs(rng, m)
    xs[0] = zero_steps(xs[0], [(0, 4, T), (1, 0, 1)])
    xs[1] = zero_steps(xs[1], [(0, 3, 5), (1, 1, 2)])
    return emit(o, cid, seed, m, xs, keras_version="2.4.0",
                notes="masked query and value -> Attention -> GlobalAveragePooling1D: masked value "
                      "steps get -1e9 scores, masked query rows are zero and the output keeps the "
                      "query mask")
