"""Fixture cases for the image layers (ids prefixed i4_): DepthwiseConv2D, SeparableConv2D,
Conv2DTranspose, ZeroPadding2D, Cropping2D, UpSampling2D, AveragePooling2D and the global
2-D poolings, ReLU(max_value), BatchNormalization on 4-D inputs, Rescaling, Normalization,
and a small MobileNetV2-like Functional model.

Expected outputs come from float64 numpy references written from the Keras math (keras
layers/convolutional, pooling, reshaping, preprocessing and the TensorFlow ops they call:
conv2d "same" pads floor(total/2) before; conv2d_transpose is the gradient of conv2d;
tf.image.resize bilinear with half-pixel centres in tf.keras 2.4+ / Keras 3 and without
them in multi-backend Keras 2). Each convolution reference is cross-checked against
torch.nn.functional (conv2d with groups for the depthwise step, conv_transpose2d), the
paddings against F.pad and bilinear resizing against F.interpolate(align_corners=False).
"""
import math

import numpy as np

from gen_fixtures import (ACT, GLOROT, TF_GLOROT, ZEROS, Layer, base_cfg, case, dense, emit,
                          f64, functional, input_layer, make_inputs, rnd, sequential, torch)
from cases_layers import batchnorm, close, conv2d, merge, pool2d_ref, relu_ref, same_pad

TF24 = "2.4.0"


def layer(cls, name, extra, fn, weights=(), bis=None, tf=False):
    cfg = base_cfg(name, bis, tf_dtype=tf)
    cfg.update(extra)
    return Layer(cls, name, cfg, weights, fn)


def df(cf):
    return "channels_first" if cf else "channels_last"


def to_cl(x, cf):
    return f64(x).transpose(0, 2, 3, 1) if cf else f64(x)


def from_cl(y, cf):
    return y.transpose(0, 3, 1, 2) if cf else y


# --------------------------------------------------------------------------------------
# References, float64
# --------------------------------------------------------------------------------------


def pad_same(x, k, s, d):
    """x channels_last; returns the padded x and the output size, TF "same"."""
    oh, t, bt = same_pad(x.shape[1], k[0], s[0], d[0])
    ow, l, r = same_pad(x.shape[2], k[1], s[1], d[1])
    return np.pad(x, ((0, 0), (t, bt), (l, r), (0, 0))), oh, ow


def depthwise_ref(x, dk, strides, padding, dil):
    """x channels_last [B, H, W, C], dk [kh, kw, C, M] -> [B, oh, ow, C*M]."""
    kh, kw, c, m = dk.shape
    if padding == "same":
        x, oh, ow = pad_same(x, (kh, kw), strides, dil)
    else:
        oh = (x.shape[1] - (kh - 1) * dil[0] - 1) // strides[0] + 1
        ow = (x.shape[2] - (kw - 1) * dil[1] - 1) // strides[1] + 1
    y = np.zeros((x.shape[0], oh, ow, c, m))
    for i in range(oh):
        for j in range(ow):
            for u in range(kh):
                for v in range(kw):
                    px = x[:, i * strides[0] + u * dil[0], j * strides[1] + v * dil[1], :]
                    y[:, i, j] += px[:, :, None] * f64(dk[u, v])[None]
    return y.reshape(x.shape[0], oh, ow, c * m)


def depthwise_torch(x, dk, strides, padding, dil):
    kh, kw, c, m = dk.shape
    xt = torch.from_numpy(f64(x).transpose(0, 3, 1, 2).copy())
    if padding == "same":
        _, t, bt = same_pad(x.shape[1], kh, strides[0], dil[0])
        _, l, r = same_pad(x.shape[2], kw, strides[1], dil[1])
        xt = torch.nn.functional.pad(xt, (l, r, t, bt))
    # torch grouped weight [C*M, 1, kh, kw]: output channel c*M+m reads input c.
    w = f64(dk).transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
    y = torch.nn.functional.conv2d(xt, torch.from_numpy(w.copy()), stride=tuple(strides),
                                   dilation=tuple(dil), groups=c)
    return y.numpy().transpose(0, 2, 3, 1)


def conv_t_out(n, k, s, padding, op):
    if padding == "valid":
        return (n - 1) * s + (max(k, s) if op is None else k + op)
    return n * s if op is None else (n - 1) * s + k % 2 + op


def conv_transpose_ref(x, k, strides, padding, op):
    """x channels_last [B, H, W, Cin], k [kh, kw, F, Cin]. TF conv2d_transpose: input pixel
    (i, j) adds x·k[u, v] at output (i*s + u - pad_top, j*s + v - pad_left)."""
    kh, kw, nf, cin = k.shape
    B, H, W, _ = x.shape
    oh = conv_t_out(H, kh, strides[0], padding, op[0])
    ow = conv_t_out(W, kw, strides[1], padding, op[1])
    pt = max((H - 1) * strides[0] + kh - oh, 0) // 2 if padding == "same" else 0
    pl = max((W - 1) * strides[1] + kw - ow, 0) // 2 if padding == "same" else 0
    y = np.zeros((B, oh, ow, nf))
    kk = f64(k)
    for i in range(H):
        for j in range(W):
            for u in range(kh):
                for v in range(kw):
                    a, b = i * strides[0] + u - pt, j * strides[1] + v - pl
                    if 0 <= a < oh and 0 <= b < ow:
                        y[:, a, b, :] += x[:, i, j, :] @ kk[u, v].T
    return y, (pt, pl)


def conv_transpose_torch(x, k, strides, oh, ow, pads):
    xt = torch.from_numpy(f64(x).transpose(0, 3, 1, 2).copy())
    w = torch.from_numpy(f64(k).transpose(3, 2, 0, 1).copy())  # [Cin, F, kh, kw]
    full = torch.nn.functional.conv_transpose2d(xt, w, stride=tuple(strides)).numpy()
    full = full.transpose(0, 2, 3, 1)
    y = np.zeros((x.shape[0], oh, ow, k.shape[2]))
    pt, pl = pads
    h = min(oh, full.shape[1] - pt)
    w_ = min(ow, full.shape[2] - pl)
    y[:, :h, :w_] = full[:, pt:pt + h, pl:pl + w_]
    return y


def resize_bilinear_ref(x, size, half_pixel):
    """x channels_last; TF bilinear resize by integer factors."""
    B, H, W, C = x.shape

    def taps(n, s):
        m = n * s
        lo, hi, fr = np.zeros(m, int), np.zeros(m, int), np.zeros(m)
        for d in range(m):
            p = (d + 0.5) / s - 0.5 if half_pixel else d / s
            f = math.floor(p)
            lo[d] = min(max(f, 0), n - 1)
            hi[d] = min(max(math.ceil(p), 0), n - 1)
            fr[d] = p - f
        return lo, hi, fr
    ly, hy, fy = taps(H, size[0])
    lx, hx, fx = taps(W, size[1])
    top = x[:, ly][:, :, lx] * (1 - fx)[None, None, :, None] + x[:, ly][:, :, hx] * fx[None, None, :, None]
    bot = x[:, hy][:, :, lx] * (1 - fx)[None, None, :, None] + x[:, hy][:, :, hx] * fx[None, None, :, None]
    return top * (1 - fy)[None, :, None, None] + bot * fy[None, :, None, None]


def pad2d_ref(x, edges):
    """edges (top, bottom, left, right); negative crops."""
    t, b, l, r = edges
    x = np.pad(x, ((0, 0), (max(t, 0), max(b, 0)), (max(l, 0), max(r, 0)), (0, 0)))
    H, W = x.shape[1], x.shape[2]
    return x[:, max(-t, 0):H - max(-b, 0), max(-l, 0):W - max(-r, 0)]


def edges_of(p):
    if isinstance(p, int):
        return (p, p, p, p)
    a, b = p
    a = (a, a) if isinstance(a, int) else tuple(a)
    b = (b, b) if isinstance(b, int) else tuple(b)
    return a + b


def selftest_image():
    """Cross-check the numpy references against torch once per run."""
    if torch is None:
        return
    rng = np.random.RandomState(4)
    worst = 0.0
    for (H, W, k, s, d, pad, m) in [(7, 6, (3, 2), (1, 1), (1, 1), "valid", 1),
                                    (8, 8, (3, 3), (2, 2), (1, 1), "same", 2),
                                    (7, 9, (3, 3), (2, 2), (1, 1), "same", 1),
                                    (7, 7, (3, 3), (1, 1), (2, 2), "same", 2),
                                    (6, 5, (2, 3), (1, 2), (1, 1), "same", 3)]:
        x = rng.standard_normal((2, H, W, 3))
        dk = rng.standard_normal(k + (3, m))
        worst = max(worst, np.abs(depthwise_ref(x, dk, s, pad, d) - depthwise_torch(x, dk, s, pad, d)).max())
    for (H, W, k, s, pad, op) in [(4, 5, (3, 3), (1, 1), "valid", (None, None)),
                                  (4, 5, (3, 3), (2, 2), "same", (None, None)),
                                  (3, 4, (4, 4), (2, 2), "same", (None, None)),
                                  (3, 4, (2, 2), (3, 3), "valid", (None, None)),
                                  (3, 4, (3, 4), (2, 3), "same", (1, 2)),
                                  (3, 4, (3, 2), (2, 2), "valid", (1, 0))]:
        x = rng.standard_normal((2, H, W, 3))
        kk = rng.standard_normal(k + (4, 3))
        y, pads = conv_transpose_ref(x, kk, s, pad, op)
        worst = max(worst, np.abs(y - conv_transpose_torch(x, kk, s, y.shape[1], y.shape[2], pads)).max())
    x = rng.standard_normal((2, 4, 5, 3))
    for size in [(2, 2), (3, 2)]:
        yt = torch.nn.functional.interpolate(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()),
                                             scale_factor=size, mode="bilinear",
                                             align_corners=False).numpy().transpose(0, 2, 3, 1)
        worst = max(worst, np.abs(resize_bilinear_ref(x, size, True) - yt).max())
    for e in [(1, 2, 0, 3), (-1, -2, 0, -1)]:
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        yt = torch.nn.functional.pad(xt, (e[2], e[3], e[0], e[1])).numpy().transpose(0, 2, 3, 1)
        worst = max(worst, np.abs(pad2d_ref(x, e) - yt).max())
    assert worst < 1e-10, "image selftest failed: %g" % worst


selftest_image()


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------


def conv_cfg(k, strides, padding, cf, dil, activation, use_bias, tf=False):
    cfg = {"kernel_size": list(k), "strides": list(strides), "padding": padding,
           "data_format": df(cf), "dilation_rate": list(dil)}
    if tf:
        cfg["groups"] = 1
    cfg.update({"activation": activation, "use_bias": use_bias})
    return cfg


def dwconv(rng, name, cin, k, mult=1, strides=(1, 1), padding="valid", dil=(1, 1),
           activation="linear", use_bias=True, cf=False, bis=None, tf=False):
    dk = rnd(rng, tuple(k) + (cin, mult))
    ws = [("%s/depthwise_kernel:0" % name, dk)]
    b = None
    if use_bias:
        b = rnd(rng, (cin * mult,))
        ws.append(("%s/bias:0" % name, b))
    cfg = conv_cfg(k, strides, padding, cf, dil, activation, use_bias, tf)
    cfg.update({"bias_initializer": ZEROS(), "bias_regularizer": None, "activity_regularizer": None,
                "bias_constraint": None, "depth_multiplier": mult,
                "depthwise_initializer": TF_GLOROT() if tf else GLOROT(),
                "depthwise_regularizer": None, "depthwise_constraint": None})

    def fn(xs):
        x = to_cl(xs[0], cf)
        y = depthwise_ref(x, dk, strides, padding, dil)
        if torch is not None:
            close(y, depthwise_torch(x, dk, strides, padding, dil), name)
        if b is not None:
            y = y + f64(b)
        return [from_cl(ACT[activation](y), cf)]
    return layer("DepthwiseConv2D", name, cfg, fn, ws, bis=bis, tf=tf)


def sepconv2d(rng, name, cin, filters, k, mult=1, strides=(1, 1), padding="valid", dil=(1, 1),
              activation="linear", use_bias=True, cf=False, bis=None):
    dk = rnd(rng, tuple(k) + (cin, mult))
    pk = rnd(rng, (1, 1, cin * mult, filters))
    ws = [("%s/depthwise_kernel:0" % name, dk), ("%s/pointwise_kernel:0" % name, pk)]
    b = None
    if use_bias:
        b = rnd(rng, (filters,))
        ws.append(("%s/bias:0" % name, b))
    cfg = {"filters": filters}
    cfg.update(conv_cfg(k, strides, padding, cf, dil, activation, use_bias))
    cfg.update({"bias_initializer": ZEROS(), "bias_regularizer": None, "activity_regularizer": None,
                "bias_constraint": None, "depth_multiplier": mult,
                "depthwise_initializer": GLOROT(), "pointwise_initializer": GLOROT(),
                "depthwise_regularizer": None, "pointwise_regularizer": None,
                "depthwise_constraint": None, "pointwise_constraint": None})

    def fn(xs):
        x = to_cl(xs[0], cf)
        d = depthwise_ref(x, dk, strides, padding, dil)
        if torch is not None:
            close(d, depthwise_torch(x, dk, strides, padding, dil), name)
        y = d @ f64(pk[0, 0])
        if b is not None:
            y = y + f64(b)
        return [from_cl(ACT[activation](y), cf)]
    return layer("SeparableConv2D", name, cfg, fn, ws, bis=bis)


def conv2d_t(rng, name, cin, filters, k, strides=(1, 1), padding="valid", output_padding=None,
             activation="linear", use_bias=True, cf=False, bis=None):
    kk = rnd(rng, tuple(k) + (filters, cin))
    ws = [("%s/kernel:0" % name, kk)]
    b = None
    if use_bias:
        b = rnd(rng, (filters,))
        ws.append(("%s/bias:0" % name, b))
    op = (None, None) if output_padding is None else tuple(output_padding)
    cfg = {"filters": filters}
    cfg.update(conv_cfg(k, strides, padding, cf, (1, 1), activation, use_bias))
    cfg.update({"kernel_initializer": GLOROT(), "bias_initializer": ZEROS(),
                "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
                "kernel_constraint": None, "bias_constraint": None,
                "output_padding": None if output_padding is None else list(output_padding)})

    def fn(xs):
        x = to_cl(xs[0], cf)
        y, pads = conv_transpose_ref(x, kk, strides, padding, op)
        if torch is not None:
            close(y, conv_transpose_torch(x, kk, strides, y.shape[1], y.shape[2], pads), name)
        if b is not None:
            y = y + f64(b)
        return [from_cl(ACT[activation](y), cf)]
    return layer("Conv2DTranspose", name, cfg, fn, ws, bis=bis)


def zeropad2d(name, padding, cf=False, bis=None, tf=False):
    e = edges_of(padding)
    return layer("ZeroPadding2D", name, {"padding": padding, "data_format": df(cf)},
                 lambda xs: [from_cl(pad2d_ref(to_cl(xs[0], cf), e), cf)], bis=bis, tf=tf)


def cropping2d(name, cropping, cf=False, bis=None):
    e = tuple(-v for v in edges_of(cropping))
    return layer("Cropping2D", name, {"cropping": cropping, "data_format": df(cf)},
                 lambda xs: [from_cl(pad2d_ref(to_cl(xs[0], cf), e), cf)], bis=bis)


def upsampling2d(name, size, interpolation="nearest", half_pixel=True, cf=False, bis=None,
                 tf=False):
    def fn(xs):
        x = to_cl(xs[0], cf)
        if interpolation == "nearest":
            y = x.repeat(size[0], axis=1).repeat(size[1], axis=2)
        else:
            y = resize_bilinear_ref(x, size, half_pixel)
        return [from_cl(y, cf)]
    return layer("UpSampling2D", name, {"size": list(size), "data_format": df(cf),
                                        "interpolation": interpolation}, fn, bis=bis, tf=tf)


def relu_layer(name, max_value=None, slope=0.0, threshold=0.0, tf=False):
    return layer("ReLU", name, {"max_value": max_value, "negative_slope": slope,
                                "threshold": threshold},
                 lambda xs: [relu_ref(f64(xs[0]), max_value, slope, threshold)], tf=tf)


def global_pool2d(name, cls, cf=False, keepdims=None, tf=False):
    cfg = {"data_format": df(cf)}
    if keepdims is not None:
        cfg["keepdims"] = keepdims

    def fn(xs):
        x = to_cl(xs[0], cf)
        y = x.mean(axis=(1, 2), keepdims=True) if cls == "GlobalAveragePooling2D" else \
            x.max(axis=(1, 2), keepdims=True)
        if keepdims:
            return [from_cl(y, cf)]
        return [y[:, 0, 0, :]]
    return layer(cls, name, cfg, fn, tf=tf)


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------


def _one(cid_suffix, make, bis, note, version="2.2.4"):
    def fn(o, cid, seed, rng):
        m = sequential([make(rng, bis)])
        return emit(o, cid, seed, m, make_inputs(rng, m), keras_version=version, notes=note)
    fn.__name__ = "case_i4_" + cid_suffix
    return case(fn)


# DepthwiseConv2D
_one("dwconv_valid", lambda rng, bis: dwconv(rng, "dw_1", 3, (3, 2), activation="relu", bis=bis),
     [None, 7, 6, 3], "DepthwiseConv2D((3, 2), valid, relu)")
_one("dwconv_same_s2_even", lambda rng, bis: dwconv(rng, "dw_1", 4, (3, 3), mult=2, strides=(2, 2),
                                                    padding="same", use_bias=False, bis=bis),
     [None, 8, 8, 4], "DepthwiseConv2D(3, strides 2, same, depth_multiplier 2, no bias) on 8x8: "
                      "TF pads only after")
_one("dwconv_same_s2_odd", lambda rng, bis: dwconv(rng, "dw_1", 3, (3, 3), strides=(2, 2),
                                                   padding="same", bis=bis),
     [None, 7, 9, 3], "DepthwiseConv2D(3, strides 2, same) on 7x9: one each side")
_one("dwconv_same_k4", lambda rng, bis: dwconv(rng, "dw_1", 2, (4, 2), padding="same", bis=bis),
     [None, 6, 5, 2], "DepthwiseConv2D((4, 2), same): even kernels pad 1 before, 2 after")
_one("dwconv_dilation", lambda rng, bis: dwconv(rng, "dw_1", 2, (3, 3), mult=2, dil=(2, 2),
                                                padding="same", bis=bis),
     [None, 7, 7, 2], "DepthwiseConv2D(3, dilation 2, same, depth_multiplier 2)")
_one("dwconv_dilation_valid", lambda rng, bis: dwconv(rng, "dw_1", 3, (2, 3), dil=(3, 1), bis=bis),
     [None, 8, 6, 3], "DepthwiseConv2D((2, 3), dilation (3, 1), valid)")
_one("dwconv_cf", lambda rng, bis: dwconv(rng, "dw_1", 3, (2, 3), mult=2, strides=(1, 2),
                                          padding="same", cf=True, bis=bis),
     [None, 3, 6, 5], "DepthwiseConv2D((2, 3), strides (1, 2), same, depth_multiplier 2, "
                      "channels_first)")
_one("dwconv_tfkeras", lambda rng, bis: dwconv(rng, "dw_1", 4, (3, 3), padding="same",
                                               use_bias=False, bis=bis, tf=True),
     [None, 5, 5, 4], "tf.keras 2.4 DepthwiseConv2D config (with groups: 1), as MobileNetV2 has it",
     version=TF24)

# SeparableConv2D
_one("sepconv2d", lambda rng, bis: sepconv2d(rng, "sep_1", 3, 5, (3, 3), mult=2, padding="same",
                                             activation="relu", bis=bis),
     [None, 6, 7, 3], "SeparableConv2D(5, 3, same, depth_multiplier 2, relu)")
_one("sepconv2d_s2_valid", lambda rng, bis: sepconv2d(rng, "sep_1", 4, 3, (3, 2), strides=(2, 2),
                                                      use_bias=False, bis=bis),
     [None, 9, 8, 4], "SeparableConv2D(3, (3, 2), strides 2, valid, no bias)")
_one("sepconv2d_dil_cf", lambda rng, bis: sepconv2d(rng, "sep_1", 2, 4, (3, 3), dil=(2, 2),
                                                    padding="same", cf=True, bis=bis),
     [None, 2, 7, 6], "SeparableConv2D(4, 3, dilation 2, same, channels_first)")

# Conv2DTranspose
_one("convt_valid", lambda rng, bis: conv2d_t(rng, "ct_1", 3, 4, (3, 3), bis=bis),
     [None, 4, 5, 3], "Conv2DTranspose(4, 3, valid, strides 1)")
_one("convt_valid_s2", lambda rng, bis: conv2d_t(rng, "ct_1", 3, 2, (3, 2), strides=(2, 2),
                                                 activation="relu", bis=bis),
     [None, 4, 3, 3], "Conv2DTranspose(2, (3, 2), strides 2, valid, relu)")
_one("convt_valid_s_gt_k", lambda rng, bis: conv2d_t(rng, "ct_1", 2, 3, (2, 2), strides=(3, 3), bis=bis),
     [None, 3, 4, 2], "Conv2DTranspose(3, 2, strides 3, valid): output (n-1)*3 + 3, "
                      "the last row and column hold the bias")
_one("convt_same_s2_odd", lambda rng, bis: conv2d_t(rng, "ct_1", 3, 4, (3, 3), strides=(2, 2),
                                                    padding="same", bis=bis),
     [None, 4, 5, 3], "Conv2DTranspose(4, 3, strides 2, same): output n*2")
_one("convt_same_s2_even", lambda rng, bis: conv2d_t(rng, "ct_1", 3, 2, (4, 4), strides=(2, 2),
                                                     padding="same", use_bias=False, bis=bis),
     [None, 3, 4, 3], "Conv2DTranspose(2, 4, strides 2, same, no bias)")
_one("convt_same_outpad", lambda rng, bis: conv2d_t(rng, "ct_1", 3, 2, (3, 4), strides=(2, 3),
                                                    padding="same", output_padding=(1, 2), bis=bis),
     [None, 3, 4, 3], "Conv2DTranspose(2, (3, 4), strides (2, 3), same, output_padding (1, 2)): "
                      "output (n-1)*s + k%2 + p")
_one("convt_valid_outpad", lambda rng, bis: conv2d_t(rng, "ct_1", 2, 3, (3, 2), strides=(2, 2),
                                                     output_padding=(1, 0), bis=bis),
     [None, 3, 4, 2], "Conv2DTranspose(3, (3, 2), strides 2, valid, output_padding (1, 0))")
_one("convt_cf", lambda rng, bis: conv2d_t(rng, "ct_1", 3, 4, (3, 3), strides=(2, 2), padding="same",
                                           cf=True, bis=bis),
     [None, 3, 4, 5], "Conv2DTranspose(4, 3, strides 2, same, channels_first)")

# ZeroPadding2D, Cropping2D
_one("zeropad2d_int", lambda rng, bis: zeropad2d("zp_1", 2, bis=bis), [None, 3, 4, 2],
     "ZeroPadding2D(2)")
_one("zeropad2d_pair", lambda rng, bis: zeropad2d("zp_1", [1, 3], bis=bis), [None, 3, 4, 2],
     "ZeroPadding2D((1, 3)): rows 1 each side, columns 3 each side")
_one("zeropad2d_pairs", lambda rng, bis: zeropad2d("zp_1", [[0, 1], [2, 0]], bis=bis),
     [None, 3, 4, 2], "ZeroPadding2D(((0, 1), (2, 0)))")
_one("zeropad2d_cf", lambda rng, bis: zeropad2d("zp_1", [[1, 2], [0, 1]], cf=True, bis=bis),
     [None, 2, 3, 4], "ZeroPadding2D(((1, 2), (0, 1)), channels_first)")
_one("cropping2d_int", lambda rng, bis: cropping2d("crop_1", 1, bis=bis), [None, 5, 4, 2],
     "Cropping2D(1)")
_one("cropping2d_pairs", lambda rng, bis: cropping2d("crop_1", [[0, 2], [1, 0]], bis=bis),
     [None, 5, 4, 2], "Cropping2D(((0, 2), (1, 0)))")
_one("cropping2d_cf", lambda rng, bis: cropping2d("crop_1", [1, 2], cf=True, bis=bis),
     [None, 2, 5, 6], "Cropping2D((1, 2), channels_first)")

# UpSampling2D
_one("upsampling2d_nearest", lambda rng, bis: upsampling2d("up_1", (2, 3), bis=bis),
     [None, 3, 4, 2], "UpSampling2D((2, 3), nearest)")
_one("upsampling2d_nearest_cf", lambda rng, bis: upsampling2d("up_1", (3, 2), cf=True, bis=bis),
     [None, 2, 3, 4], "UpSampling2D((3, 2), nearest, channels_first)")
_one("upsampling2d_bilinear_tf24", lambda rng, bis: upsampling2d("up_1", (2, 3), "bilinear",
                                                                 bis=bis, tf=True),
     [None, 4, 3, 2], "tf.keras 2.4 UpSampling2D((2, 3), bilinear): tf.image.resize, half-pixel "
                      "centres", version=TF24)
_one("upsampling2d_bilinear_k224", lambda rng, bis: upsampling2d("up_1", (2, 2), "bilinear",
                                                                 half_pixel=False, bis=bis),
     [None, 3, 4, 2], "Keras 2.2.4 UpSampling2D(2, bilinear): resize_bilinear without half-pixel "
                      "centres")
_one("upsampling2d_bilinear_cf", lambda rng, bis: upsampling2d("up_1", (3, 2), "bilinear", cf=True,
                                                               bis=bis, tf=True),
     [None, 2, 3, 4], "tf.keras 2.4 UpSampling2D((3, 2), bilinear, channels_first)", version=TF24)

# Pooling
_one("avgpool2d_same_even", lambda rng, bis: layer(
    "AveragePooling2D", "ap_1", {"pool_size": [3, 3], "padding": "same", "strides": [2, 2],
                                 "data_format": "channels_last"},
    lambda xs: [pool2d_ref(xs[0], (3, 3), (2, 2), "same", "avg", False)],
    bis=bis), [None, 6, 8, 3], "AveragePooling2D(3, strides 2, same) on 6x8: the edge windows "
                               "divide by their real pixels")
_one("avgpool2d_same_cf", lambda rng, bis: layer(
    "AveragePooling2D", "ap_1", {"pool_size": [2, 3], "padding": "same", "strides": [1, 2],
                                 "data_format": "channels_first"},
    lambda xs: [pool2d_ref(xs[0], (2, 3), (1, 2), "same", "avg", True)],
    bis=bis), [None, 3, 5, 7], "AveragePooling2D((2, 3), strides (1, 2), same, channels_first)")


@case
def case_i4_global_pool2d_keepdims(o, cid, seed, rng):
    i = input_layer("input_1", [None, 3, 4, 5], tf=True)
    a = global_pool2d("gap_cf", "GlobalAveragePooling2D", cf=True, keepdims=True, tf=True)
    b = global_pool2d("gmp_cf", "GlobalMaxPooling2D", cf=True, tf=True)
    c = global_pool2d("gap_cl", "GlobalAveragePooling2D", keepdims=True, tf=True)
    m = functional([(i, []), (a, [("input_1", 0, 0)]), (b, [("input_1", 0, 0)]),
                    (c, [("input_1", 0, 0)])], ["input_1"],
                   [("gap_cf", 0, 0), ("gmp_cf", 0, 0), ("gap_cl", 0, 0)], name="model",
                   class_name="Functional", tf=True)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.6.0",
                notes="tf.keras 2.6 GlobalAveragePooling2D(channels_first, keepdims), "
                      "GlobalMaxPooling2D(channels_first) and GlobalAveragePooling2D(keepdims)")


# ReLU
@case
def case_i4_relu6(o, cid, seed, rng):
    m = sequential([conv2d(rng, "conv_1", 3, 4, (3, 3), padding="same", bis=[None, 5, 5, 3]),
                    relu_layer("relu_1", 6.0)])
    xs = make_inputs(rng, m)
    xs[0] = (xs[0] * 4).astype(np.float32)  # reach past 6
    return emit(o, cid, seed, m, xs, notes="Conv2D -> ReLU(max_value=6), inputs scaled so that "
                                           "some outputs pass 6")


@case
def case_i4_relu_threshold_slope(o, cid, seed, rng):
    m = sequential([layer("Reshape", "reshape_1", {"target_shape": [4, 5, 2]},
                          lambda xs: [f64(xs[0]).reshape(xs[0].shape[0], 4, 5, 2)],
                          bis=[None, 40]),
                    relu_layer("relu_1", 2.5, 0.2, 0.5)])
    xs = make_inputs(rng, m)
    xs[0] = (xs[0] * 2).astype(np.float32)
    return emit(o, cid, seed, m, xs, notes="ReLU(max_value=2.5, negative_slope=0.2, threshold=0.5) "
                                           "on a 4-D tensor")


# BatchNormalization 4-D
@case
def case_i4_bn4d(o, cid, seed, rng):
    m = sequential([conv2d(rng, "conv_1", 3, 4, (3, 3), padding="same", bis=[None, 5, 6, 3]),
                    batchnorm(rng, "bn_1", 4, axis=-1)])
    return emit(o, cid, seed, m, make_inputs(rng, m), notes="Conv2D -> BatchNormalization(axis=-1)")


@case
def case_i4_bn4d_cf(o, cid, seed, rng):
    m = sequential([conv2d(rng, "conv_1", 3, 4, (3, 3), padding="same", cf=True,
                           bis=[None, 3, 5, 6]),
                    batchnorm(rng, "bn_1", 4, axis=1)])
    return emit(o, cid, seed, m, make_inputs(rng, m),
                notes="channels_first Conv2D -> BatchNormalization(axis=1)")


# Rescaling, Normalization
def rescaling(name, scale, offset, tf=True):
    def fn(xs):
        return [f64(xs[0]) * np.asarray(scale, dtype=np.float64) + np.asarray(offset, dtype=np.float64)]
    return layer("Rescaling", name, {"scale": scale, "offset": offset}, fn, tf=tf)


@case
def case_i4_rescaling(o, cid, seed, rng):
    i = input_layer("input_1", [None, 4, 5, 3], tf=True)
    a = rescaling("rescaling", 1 / 127.5, -1.0)
    b = rescaling("rescaling_1", [0.5, 2.0, -1.0], [0.1, 0.0, 0.3])
    m = functional([(i, []), (a, [("input_1", 0, 0)]), (b, [("rescaling", 0, 0)])], ["input_1"],
                   [("rescaling", 0, 0), ("rescaling_1", 0, 0)], name="model",
                   class_name="Functional", tf=True)
    xs = make_inputs(rng, m)
    xs[0] = (xs[0] * 60 + 128).astype(np.float32)
    return emit(o, cid, seed, m, xs, keras_version=TF24,
                notes="Rescaling(1/127.5, offset -1), then Rescaling with per-channel lists")


def norm_ref(x, mean, var, invert, bshape):
    d = np.maximum(np.sqrt(f64(var).reshape(bshape)), 1e-7)
    m = f64(mean).reshape(bshape)
    return m + f64(x) * d if invert else (f64(x) - m) / d


# tf.keras and Keras 3 store Normalization's count as an int64 scalar (unused at inference).
COUNT_DTYPE = np.int64


@case
def case_i4_normalization_weights(o, cid, seed, rng):
    mean = rnd(rng, (3,))
    var = rng.uniform(0.2, 3.0, (3,)).astype(np.float32)
    ws = [("normalization/mean:0", mean), ("normalization/variance:0", var),
          ("normalization/count:0", np.array(120, dtype=COUNT_DTYPE))]
    n = layer("Normalization", "normalization", {"axis": [-1]},
              lambda xs: [norm_ref(xs[0], mean, var, False, (1, 1, 1, 3))], ws,
              bis=[None, 4, 5, 3], tf=True)
    m = sequential([n, dense(rng, "dense", 3, 2, tf=True)], name="sequential")
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version=TF24,
                notes="tf.keras 2.4 Normalization(axis=-1) with weights mean, variance and a "
                      "scalar int64 count")


@case
def case_i4_normalization_axes(o, cid, seed, rng):
    mean = rnd(rng, (4, 3))
    var = rng.uniform(0.2, 3.0, (4, 3)).astype(np.float32)
    mean[0, 0], var[0, 0] = 0.0, 0.0  # max(sqrt(0), epsilon)
    ws = [("normalization/mean:0", mean), ("normalization/variance:0", var),
          ("normalization/count:0", np.array(7, dtype=COUNT_DTYPE))]
    n = layer("Normalization", "normalization", {"axis": [1, 3]},
              lambda xs: [norm_ref(xs[0], mean, var, False, (1, 4, 1, 3))], ws,
              bis=[None, 4, 5, 3], tf=True)
    m = sequential([n], name="sequential")
    xs = make_inputs(rng, m)
    xs[0][:, 0, :, 0] = (xs[0][:, 0, :, 0] * 1e-7).astype(np.float32)
    return emit(o, cid, seed, m, xs, keras_version=TF24,
                notes="Normalization(axis=(1, 3)): mean and variance [4, 3]; one variance is 0, "
                      "so its divisor is epsilon 1e-7 (those inputs are scaled to ~1e-7)")


@case
def case_i4_normalization_config(o, cid, seed, rng):
    i = input_layer("input_1", [None, 4, 3], tf=True)
    a = layer("Normalization", "norm_a", {"axis": -1, "invert": False, "mean": [0.5, -1.0, 2.0],
                                          "variance": [4.0, 0.25, 1.0]},
              lambda xs: [norm_ref(xs[0], [0.5, -1.0, 2.0], [4.0, 0.25, 1.0], False, (1, 1, 3))],
              tf=True)
    b = layer("Normalization", "norm_b", {"axis": -1, "invert": True, "mean": 1.5, "variance": 9.0},
              lambda xs: [norm_ref(xs[0], 1.5, 9.0, True, (1, 1, 1))], tf=True)
    c = layer("Normalization", "norm_c", {"axis": None, "invert": False, "mean": 0.25,
                                          "variance": 0.5},
              lambda xs: [norm_ref(xs[0], 0.25, 0.5, False, (1, 1, 1))], tf=True)
    m = functional([(i, []), (a, [("input_1", 0, 0)]), (b, [("input_1", 0, 0)]),
                    (c, [("input_1", 0, 0)])], ["input_1"],
                   [("norm_a", 0, 0), ("norm_b", 0, 0), ("norm_c", 0, 0)], name="model",
                   class_name="Functional", tf=True)
    return emit(o, cid, seed, m, make_inputs(rng, m), keras_version="2.11.0",
                notes="Normalization with mean and variance in the config (no weights): "
                      "per-channel lists; scalars with invert=True; axis=None")


# A small MobileNetV2-like model
def _mobilenet_like(rng, tf):
    i = input_layer("input_1", [None, 17, 16, 3], tf=tf)
    zp = zeropad2d("Conv1_pad", [[0, 1], [0, 1]], tf=tf)
    c1 = conv2d(rng, "Conv1", 3, 8, (3, 3), strides=(2, 2), use_bias=False)
    bn1 = batchnorm(rng, "bn_Conv1", 8, axis=[3] if tf else -1)
    r1 = relu_layer("Conv1_relu", 6.0, tf=tf)
    dw = dwconv(rng, "expanded_conv_depthwise", 8, (3, 3), padding="same", use_bias=False, tf=tf)
    bn2 = batchnorm(rng, "expanded_conv_depthwise_BN", 8, axis=[3] if tf else -1)
    r2 = relu_layer("expanded_conv_depthwise_relu", 6.0, tf=tf)
    pw = conv2d(rng, "expanded_conv_project", 8, 8, (1, 1), use_bias=False)
    bn3 = batchnorm(rng, "expanded_conv_project_BN", 8, axis=[3] if tf else -1)
    add = merge("block_add", "Add", tf=tf)
    dw2 = dwconv(rng, "block_1_depthwise", 8, (3, 3), mult=2, strides=(2, 2), padding="same",
                 use_bias=False, tf=tf)
    gap = global_pool2d("gap", "GlobalAveragePooling2D", tf=tf)
    d = dense(rng, "dense", 16, 3, "softmax", tf=tf)
    nodes = [(i, []), (zp, [("input_1", 0, 0)]), (c1, [("Conv1_pad", 0, 0)]),
             (bn1, [("Conv1", 0, 0)]), (r1, [("bn_Conv1", 0, 0)]),
             (dw, [("Conv1_relu", 0, 0)]), (bn2, [("expanded_conv_depthwise", 0, 0)]),
             (r2, [("expanded_conv_depthwise_BN", 0, 0)]),
             (pw, [("expanded_conv_depthwise_relu", 0, 0)]),
             (bn3, [("expanded_conv_project", 0, 0)]),
             (add, [("Conv1_relu", 0, 0), ("expanded_conv_project_BN", 0, 0)]),
             (dw2, [("block_add", 0, 0)]), (gap, [("block_1_depthwise", 0, 0)]),
             (d, [("gap", 0, 0)])]
    kw = {"name": "model", "class_name": "Functional", "tf": True} if tf else {}
    return functional(nodes, ["input_1"], [("dense", 0, 0)], **kw)


@case
def case_i4_mobilenetv2_like(o, cid, seed, rng):
    m = _mobilenet_like(rng, False)
    return emit(o, cid, seed, m, make_inputs(rng, m, batch=3),
                notes="ZeroPadding2D -> Conv2D(s2) -> BN -> ReLU(6) -> DepthwiseConv2D -> BN -> "
                      "ReLU(6) -> Conv2D 1x1 -> BN -> Add -> DepthwiseConv2D(s2, mult 2) -> "
                      "GlobalAveragePooling2D -> Dense(softmax)")


@case
def case_i4_mobilenetv2_like_tfkeras(o, cid, seed, rng):
    m = _mobilenet_like(rng, True)
    return emit(o, cid, seed, m, make_inputs(rng, m, batch=2), keras_version=TF24,
                notes="the MobileNetV2-like model with tf.keras 2.4 configs (BN axis [3], "
                      "DepthwiseConv2D groups 1), as Teachable Machine files have them")
