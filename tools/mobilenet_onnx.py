#!/usr/bin/python3
"""An ONNX copy of a Keras image model (.h5), for timing onnxruntime beside kerasrun.

What: reads a Keras HDF5 model file directly with h5py (the `model_config` attribute
and `model_weights`) and writes the equivalent ONNX graph (onnx.helper, opset 17)
with a dynamic batch dimension "N", from the file's own config and weights. It walks
nested Sequential / Functional (Model) configs, as Teachable Machine's
`keras_model.h5` nests them (Sequential[Sequential[Functional MobileNetV2,
GlobalAveragePooling2D], Sequential[Dense, Dense]]). It knows only these classes:
InputLayer, ZeroPadding2D, Conv2D, DepthwiseConv2D, BatchNormalization, ReLU,
Activation, Add, GlobalAveragePooling2D, Dense, Dropout, and refuses any other class
or option with an error naming the layer. It never runs the Go code.

Layout: the graph input `x` is NHWC [N, H, W, C], as Keras and kerasrun take it; the
graph's first node is a Transpose to NCHW (ONNX Runtime's Conv layout), so the
transposition is part of every timed call. The output `y` is in Keras' layout.
BatchNormalization is an ONNX BatchNormalization node (inference form); ONNX Runtime
folds it into the Conv before it at session creation, as it does with Clip(0, 6).

Build mode (`--build DIR`) writes the layout that ../shared/perf/peers/peer_ort.js
reads, so the harness's own ORT peer times the model unchanged:
  DIR/NAME.onnx, DIR/NAME.weights.json ({"spec": input shape and dtype, "weights": []}),
  DIR/NAME.weights.bin (empty), DIR/NAME.b<B>.input.bin for each --batches B
  (float32 little-endian NHWC, uniform in [-1, 1) from np.random.default_rng(seed),
  Teachable Machine's input range), and with --check-input X.npy also
  DIR/NAME.b<rows of X>.input.bin holding X.

  /usr/bin/python3 tools/mobilenet_onnx.py MODEL.h5 OUT.onnx
  /usr/bin/python3 tools/mobilenet_onnx.py MODEL.h5 --build DIR [--name MN] \\
      [--batches 1,32] [--seed 0] [--check-input input_0.npy]
  /usr/bin/python3 tools/mobilenet_onnx.py --compare A.bin B.npy [--tol 1e-4]
      # max abs error of raw float32 A against B (.npy or raw .bin); exit 1 above tol
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np

OPSET = 17


class ConvertError(Exception):
    pass


def _fail(layer, cls, msg):
    raise ConvertError("layer %r (%s): %s" % (layer, cls, msg))


def read_weights(f):
    """{(leaf layer name, weight name): float32 array} over the whole file.

    tf.keras 2.x saves a nested model's weights under the top-level layer's group
    as `<leaf layer>/<weight>:0` (KERAS_H5.md); a plain layer's as
    `<layer>/<weight>:0` under its own group. Either way the first path element is
    the leaf layer and the rest, without ":0", the weight's name."""
    mw = f["model_weights"] if "model_weights" in f else f
    out = {}
    for top in mw.attrs["layer_names"]:
        top = top.decode() if isinstance(top, bytes) else top
        g = mw[top]
        for wn in g.attrs.get("weight_names", []):
            wn = wn.decode() if isinstance(wn, bytes) else wn
            parts = wn.split("/")
            leaf = parts[0] if len(parts) > 1 else top
            key = (leaf, "/".join(parts[1:] or parts).split(":")[0])
            if key in out:
                raise ConvertError("weight %s/%s appears twice in the file" % key)
            out[key] = np.asarray(g[wn], dtype=np.float32)
    return out


class Builder:
    def __init__(self, weights):
        self.w = weights
        self.used = set()
        self.nodes = []
        self.inits = []
        self.names = set()

    def weight(self, layer, name):
        k = (layer, name)
        if k not in self.w:
            raise ConvertError("layer %r: no weight %r in the file" % (layer, name))
        self.used.add(k)
        return self.w[k]

    def const(self, name, arr):
        from onnx import numpy_helper
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(self, op, inputs, out, **attrs):
        from onnx import helper
        if out in self.names:
            raise ConvertError("tensor name %r used twice" % out)
        self.names.add(out)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def activation(self, name, cls, act, x):
        """x is the pre-activation tensor; returns the activated one."""
        if act in ("linear", None):
            return x
        if act == "relu":
            return self.node("Relu", [x], name + "/relu")
        if act == "relu6":
            return self.clip(name, x, 0.0, 6.0)
        if act == "sigmoid":
            return self.node("Sigmoid", [x], name + "/sigmoid")
        if act == "tanh":
            return self.node("Tanh", [x], name + "/tanh")
        if act == "softmax":
            return self.node("Softmax", [x], name + "/softmax", axis=-1)
        _fail(name, cls, "activation %r is not supported" % (act,))

    def clip(self, name, x, lo, hi):
        lo_n = self.const(name + "/min", np.array(lo, np.float32))
        hi_n = self.const(name + "/max", np.array(hi, np.float32))
        return self.node("Clip", [x, lo_n, hi_n], name + "/clip")


# Options whose values we do not read but that change nothing at inference.
_IGNORED = {"name", "trainable", "dtype", "kernel_initializer", "bias_initializer",
            "depthwise_initializer", "kernel_regularizer", "bias_regularizer",
            "depthwise_regularizer", "activity_regularizer", "kernel_constraint",
            "bias_constraint", "depthwise_constraint", "beta_initializer",
            "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
            "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
            "momentum", "batch_input_shape", "renorm", "renorm_clipping", "renorm_momentum",
            "fused", "virtual_batch_size", "adjustment", "noise_shape", "seed"}


def _require(name, cls, cfg, expected):
    """Every config key must be ignorable or listed in expected (key -> allowed test)."""
    for k, v in cfg.items():
        if k in _IGNORED:
            continue
        if k not in expected:
            _fail(name, cls, "option %r is not supported" % k)
        ok = expected[k]
        if ok is not None and not ok(v):
            _fail(name, cls, "option %s=%r is not supported" % (k, v))


def _pair(v):
    return [v, v] if isinstance(v, int) else list(v)


def emit_layer(b, layer, inputs, rank, suffix=""):
    """Adds one Keras layer's nodes. rank: {tensor: rank}. Returns its output names."""
    cls, cfg = layer["class_name"], layer["config"]
    name = cfg["name"]
    out = name + suffix
    if cls in ("Sequential", "Functional", "Model"):
        return emit_model(b, layer, inputs, rank, suffix)
    if len(inputs) != 1 and cls not in ("Add",):
        _fail(name, cls, "takes one input, got %d" % len(inputs))
    x = inputs[0]
    r = rank[x]
    chlast = lambda v: v == "channels_last"
    if cls in ("Dropout", "InputLayer"):
        return [x]
    if cls == "ZeroPadding2D":
        _require(name, cls, cfg, {"padding": None, "data_format": chlast})
        if r != 4:
            _fail(name, cls, "input rank %d, want 4" % r)
        p = cfg["padding"]
        if isinstance(p, int):
            p = [[p, p], [p, p]]
        p = [_pair(v) if isinstance(v, int) else list(v) for v in p]
        pads = b.const(out + "/pads", np.array([0, 0, p[0][0], p[1][0], 0, 0, p[0][1], p[1][1]], np.int64))
        y = b.node("Pad", [x, pads], out, mode="constant")
    elif cls in ("Conv2D", "DepthwiseConv2D"):
        dw = cls == "DepthwiseConv2D"
        exp = {"kernel_size": None, "strides": None, "padding": lambda v: v in ("valid", "same"),
               "data_format": chlast, "dilation_rate": lambda v: _pair(v) == [1, 1],
               "activation": None, "use_bias": None, "groups": None}
        if dw:
            exp["depth_multiplier"] = None
        else:
            exp["filters"] = None
        _require(name, cls, cfg, exp)
        if r != 4:
            _fail(name, cls, "input rank %d, want 4" % r)
        if dw:
            k = b.weight(name, "depthwise_kernel")  # [kh, kw, C, M]
            kh, kw, c, m = k.shape
            if cfg.get("groups", 1) not in (1, None):
                _fail(name, cls, "option groups=%r is not supported" % cfg["groups"])
            # Keras: output channel c*M+m is input channel c under multiplier m.
            w = k.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
            group = c
        else:
            k = b.weight(name, "kernel")  # [kh, kw, C/groups, F]
            w = k.transpose(3, 2, 0, 1)
            group = cfg.get("groups", 1) or 1
        conv_in = [x, b.const(out + "/W", w)]
        if cfg.get("use_bias", True):
            conv_in.append(b.const(out + "/B", b.weight(name, "bias")))
        attrs = dict(kernel_shape=list(w.shape[2:]), strides=_pair(cfg["strides"]), group=int(group))
        if cfg["padding"] == "same":
            # Keras/TF "same": total padding max((ceil(n/s)-1)*s + k - n, 0), the odd
            # one at the end, which is ONNX's SAME_UPPER.
            attrs["auto_pad"] = "SAME_UPPER"
        else:
            attrs["pads"] = [0, 0, 0, 0]
        act = cfg.get("activation", "linear")
        y = b.node("Conv", conv_in, out if act in ("linear", None) else out + "/pre", **attrs)
        y = b.activation(out, cls, act, y)
    elif cls == "BatchNormalization":
        _require(name, cls, cfg, {"axis": None, "epsilon": None, "center": None, "scale": None})
        ax = cfg["axis"]
        ax = ax[0] if isinstance(ax, list) and len(ax) == 1 else ax
        if not isinstance(ax, int) or ax not in (-1, r - 1):
            _fail(name, cls, "option axis=%r is not supported (only the last axis)" % (cfg["axis"],))
        mean = b.weight(name, "moving_mean")
        var = b.weight(name, "moving_variance")
        gamma = b.weight(name, "gamma") if cfg.get("scale", True) else np.ones_like(mean)
        beta = b.weight(name, "beta") if cfg.get("center", True) else np.zeros_like(mean)
        ins = [x] + [b.const(out + "/" + s, v) for s, v in
                     (("scale", gamma), ("bias", beta), ("mean", mean), ("var", var))]
        y = b.node("BatchNormalization", ins, out, epsilon=float(cfg["epsilon"]))
    elif cls == "ReLU":
        _require(name, cls, cfg, {"max_value": None, "negative_slope": lambda v: float(v) == 0.0,
                                  "threshold": lambda v: float(v) == 0.0})
        mv = cfg.get("max_value")
        y = b.clip(out, x, 0.0, float(mv)) if mv is not None else b.node("Relu", [x], out)
    elif cls == "Activation":
        _require(name, cls, cfg, {"activation": None})
        y = b.activation(out, cls, cfg["activation"], x)
    elif cls == "Add":
        _require(name, cls, cfg, {})
        if len(inputs) < 2:
            _fail(name, cls, "needs at least two inputs")
        y = inputs[0]
        for i, o in enumerate(inputs[1:]):
            if rank[o] != r:
                _fail(name, cls, "inputs of different ranks")
            y = b.node("Add", [y, o], out if i == len(inputs) - 2 else "%s/%d" % (out, i))
    elif cls == "GlobalAveragePooling2D":
        _require(name, cls, cfg, {"data_format": chlast, "keepdims": lambda v: not v})
        if r != 4:
            _fail(name, cls, "input rank %d, want 4" % r)
        p = b.node("GlobalAveragePool", [x], out + "/pool")
        y = b.node("Flatten", [p], out, axis=1)
        r = 2
    elif cls == "Dense":
        _require(name, cls, cfg, {"units": None, "activation": None, "use_bias": None})
        if r != 2:
            _fail(name, cls, "input rank %d; only rank 2 is supported" % r)
        ins = [x, b.const(out + "/W", b.weight(name, "kernel"))]
        if cfg.get("use_bias", True):
            ins.append(b.const(out + "/B", b.weight(name, "bias")))
        act = cfg.get("activation", "linear")
        y = b.node("Gemm", ins, out if act in ("linear", None) else out + "/pre")
        y = b.activation(out, cls, act, y)
    else:
        _fail(name, cls, "class is not supported")
    rank[y] = r
    return [y]


def emit_model(b, model, inputs, rank, suffix=""):
    cls, cfg = model["class_name"], model["config"]
    layers = cfg["layers"] if isinstance(cfg, dict) else cfg  # Keras 1/2.0 Sequential: a list
    if cls == "Sequential":
        x = inputs
        for l in layers:
            if l["class_name"] == "InputLayer":
                continue
            x = emit_layer(b, l, x, rank, suffix)
        return x
    # Functional / Model: Keras 2 inbound_nodes [[[layer, node, tensor, kwargs], ...], ...]
    tmap = {}
    ins = [tuple(v[:3]) for v in cfg["input_layers"]]
    if len(ins) != len(inputs):
        raise ConvertError("model %r: %d inputs given, it has %d" % (cfg.get("name"), len(inputs), len(ins)))
    for key, t in zip(ins, inputs):
        tmap[key] = t
    for l in layers:
        lname = l["config"]["name"] if "name" not in l else l["name"]
        if l["class_name"] == "InputLayer":
            continue
        for k, node in enumerate(l.get("inbound_nodes", [])):
            if not isinstance(node, list):
                raise ConvertError("layer %r: inbound node format %r is not supported" % (lname, type(node).__name__))
            src = []
            for v in node:
                if len(v) > 3 and v[3]:
                    raise ConvertError("layer %r: call arguments %r are not supported" % (lname, v[3]))
                src.append(tmap[tuple(v[:3])])
            outs = emit_layer(b, l, src, rank, suffix + ("" if k == 0 else "#%d" % k))
            for j, o in enumerate(outs):
                tmap[(lname, k, j)] = o
    return [tmap[tuple(v[:3])] for v in cfg["output_layers"]]


def _input_shape(cfg):
    """The batch_input_shape of the outermost model's first InputLayer (or layer)."""
    c = cfg["config"]
    layers = c["layers"] if isinstance(c, dict) else c
    for l in layers:
        s = l["config"].get("batch_input_shape")
        if s is not None:
            return list(s)
        if l["class_name"] in ("Sequential", "Functional", "Model"):
            return _input_shape(l)
    raise ConvertError("no batch_input_shape in the model config")


def convert(h5path):
    """Returns (onnx ModelProto, Keras input shape without the batch)."""
    import onnx
    from onnx import helper, TensorProto
    with h5py.File(h5path, "r") as f:
        attr = f.attrs["model_config"]
        cfg = json.loads(attr.decode() if isinstance(attr, bytes) else attr)
        weights = read_weights(f)
    shape = _input_shape(cfg)
    if len(shape) != 4 or any(d is None for d in shape[1:]):
        raise ConvertError("input shape %r: want [None, H, W, C] with H, W, C known" % (shape,))
    b = Builder(weights)
    rank = {"x/nchw": 4}
    b.node("Transpose", ["x"], "x/nchw", perm=[0, 3, 1, 2])
    outs = emit_model(b, cfg, ["x/nchw"], rank)
    if len(outs) != 1:
        raise ConvertError("the model has %d outputs; one is supported" % len(outs))
    y = outs[0]
    if rank[y] == 4:
        y = b.node("Transpose", [y], y + "/nhwc", perm=[0, 2, 3, 1])
    b.node("Identity", [y], "y")
    unused = sorted(set(weights) - b.used)
    if unused:
        raise ConvertError("weights in the file that no layer took: %s" % ["/".join(k) for k in unused])
    xin = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + shape[1:])
    yout = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"] + ["d%d" % i for i in range(1, rank[y])])
    g = helper.make_graph(b.nodes, "keras_" + os.path.basename(h5path), [xin], [yout], b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="kerasrun tools/mobilenet_onnx.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m, shape[1:]


def _read_any(path):
    if path.endswith(".npy"):
        return np.load(path).astype(np.float32).ravel()
    return np.fromfile(path, dtype="<f4")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("out", nargs="?", help="output .onnx (plain mode)")
    ap.add_argument("--build", help="write peer_ort.js's build layout into this folder")
    ap.add_argument("--name", default="MN")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check-input", help=".npy input to write as NAME.b<rows>.input.bin too")
    ap.add_argument("--compare", nargs=2, metavar=("GOT", "WANT"))
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    if a.compare:
        got, want = (_read_any(p) for p in a.compare)
        if got.size != want.size:
            print("FAIL: %d values against %d" % (got.size, want.size))
            return 1
        err = float(np.max(np.abs(got.astype(np.float64) - want))) if got.size else 0.0
        ok = np.isfinite(err) and err <= a.tol
        print("%s max abs err %.3g (tol %g)" % ("ok" if ok else "FAIL:", err, a.tol))
        return 0 if ok else 1
    if not a.model or bool(a.out) == bool(a.build):
        ap.error("give MODEL.h5 and either OUT.onnx or --build DIR")
    try:
        m, shape = convert(a.model)
    except ConvertError as e:
        print("mobilenet_onnx: %s: %s" % (a.model, e), file=sys.stderr)
        return 1
    import onnx
    if a.out:
        onnx.save(m, a.out)
        return 0
    os.makedirs(a.build, exist_ok=True)
    onnx.save(m, os.path.join(a.build, a.name + ".onnx"))
    with open(os.path.join(a.build, a.name + ".weights.json"), "w") as f:
        json.dump({"spec": {"input_shape": shape, "input_dtype": "float32"}, "weights": []}, f)
    open(os.path.join(a.build, a.name + ".weights.bin"), "wb").close()
    rng = np.random.default_rng(a.seed)
    for bsz in [int(v) for v in a.batches.split(",") if v]:
        x = rng.uniform(-1.0, 1.0, size=[bsz] + shape).astype("<f4")
        x.tofile(os.path.join(a.build, "%s.b%d.input.bin" % (a.name, bsz)))
    if a.check_input:
        x = np.load(a.check_input).astype("<f4")
        if list(x.shape[1:]) != shape:
            print("mobilenet_onnx: %s has shape %s, the model takes [N]+%s" % (a.check_input, x.shape, shape),
                  file=sys.stderr)
            return 1
        x.tofile(os.path.join(a.build, "%s.b%d.input.bin" % (a.name, x.shape[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
