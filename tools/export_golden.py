#!/usr/bin/env python3
"""Export golden files for kerasrun from your own Keras.

Run this in the Python environment where your model lives (tf.keras 2.x, or
Keras 3 with any backend). It runs the model on inputs and writes a folder in
the layout of kerasrun's corpus:

    OUT/MANIFEST.json             [one entry per exported model]
    OUT/<id>/input_<k>.npy        one per model input, in input order
    OUT/<id>/expected_<k>.npy     one per model output, in output order
    OUT/<id>/activations/<layer>.npy
                                  every layer's output (first call), named
                                  as the MANIFEST's "activations" entries say

Then, from Go:

    kerasrun verify model.h5 OUT
    kerasruntest.CheckGolden(t, "model.h5", "OUT")

usage:
    python export_golden.py MODEL [--arch ARCH.json] [--out DIR] [--id ID]
        [--input [NAME=]FILE.npy ...] [--batch 2] [--free-dim 8] [--seed 0]
        [--atol 1e-5] [--rtol 1e-4] [--no-activations] [--keras auto|keras|tf.keras|tf_keras]
    python export_golden.py --self-test

MODEL is a file that keras.models.load_model reads (.h5 or .keras); with
--arch, MODEL holds weights only and ARCH.json is model.to_json(). Without
--input, inputs are drawn with numpy's default_rng(seed): standard normal
float32 for float inputs, and for integer inputs uniform ids in
[0, input_dim) of the Embedding the input feeds (else [0, 10)), as int32.
A free (None) dimension is --batch on the batch axis and --free-dim
elsewhere. An existing OUT/MANIFEST.json keeps its other entries; an entry
with the same id is replaced.

Custom layers: import the module that defines them before loading, e.g.
`python -c "import mylayers, export_golden; export_golden.main()" MODEL ...`,
or register them with keras.saving.register_keras_serializable.

--self-test checks the file-writing part on numpy arrays; it needs numpy only.
"""

import argparse
import json
import os
import re
import sys

import numpy as np

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-4


# ---------------------------------------------------------------------------
# Writing (numpy only)


def file_stem(name, used):
    """A file name for a layer name: characters other than letters, digits,
    '.', '-' and '_' become '_', and a clash gets a numeric suffix."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "layer"
    out, n = stem, 1
    while out.lower() in used:
        n += 1
        out = "%s_%d" % (stem, n)
    used.add(out.lower())
    return out


def io_entry(name, file, arr, with_dtype=True):
    e = {"name": name, "file": file}
    if with_dtype:
        e["dtype"] = str(arr.dtype)
    e["shape"] = [int(d) for d in arr.shape]
    return e


def as_saved(arr, what):
    """The array as it is saved: float32, or int32 for integer inputs."""
    arr = np.asarray(arr)
    if arr.dtype.kind in "iub":
        if what != "input":
            return arr.astype(np.float32)
        if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
            raise ValueError("integer input out of int32 range")
        return arr.astype(np.int32)
    if arr.dtype.kind != "f":
        raise ValueError("%s has dtype %s; want a float or integer array" % (what, arr.dtype))
    return arr.astype(np.float32)


def write_golden(out_dir, case_id, inputs, outputs, activations=(), meta=None):
    """Write one case and merge its entry into out_dir/MANIFEST.json.

    inputs, outputs: lists of (name, array), in model order.
    activations: list of (layer_name, class_name, output_index, array).
    meta: extra MANIFEST keys (keras_version, backend, model_class,
    layer_classes, atol, rtol, notes, source). Returns the entry.
    """
    if not re.fullmatch(r"[A-Za-z0-9._-]+", case_id) or case_id in (".", ".."):
        raise ValueError("case id %r: use letters, digits, '.', '-' and '_'" % case_id)
    meta = dict(meta or {})
    case_dir = os.path.join(out_dir, case_id)
    os.makedirs(case_dir, exist_ok=True)
    files, ins, outs, acts = [], [], [], []
    for k, (name, arr) in enumerate(inputs):
        arr = as_saved(arr, "input")
        f = "input_%d.npy" % k
        np.save(os.path.join(case_dir, f), arr)
        files.append(f)
        ins.append(io_entry(name, f, arr))
    for k, (name, arr) in enumerate(outputs):
        arr = as_saved(arr, "output")
        f = "expected_%d.npy" % k
        np.save(os.path.join(case_dir, f), arr)
        files.append(f)
        outs.append(io_entry(name, f, arr, with_dtype=False))
    if activations:
        os.makedirs(os.path.join(case_dir, "activations"), exist_ok=True)
        used = set()
        multi = {}
        for layer, _, _, _ in activations:
            multi[layer] = multi.get(layer, 0) + 1
        for layer, cls, index, arr in activations:
            arr = as_saved(arr, "activation")
            stem = layer if multi[layer] == 1 else "%s_out%d" % (layer, index)
            f = "activations/%s.npy" % file_stem(stem, used)
            np.save(os.path.join(case_dir, f), arr)
            files.append(f)
            acts.append({"layer": layer, "class": cls, "output": int(index), "file": f,
                         "dtype": "float32", "shape": [int(d) for d in arr.shape]})
    entry = {
        "id": case_id,
        "family": meta.pop("family", "user"),
        "files": files,
        "keras_version": meta.pop("keras_version", None),
        "backend": meta.pop("backend", None),
        "model_class": meta.pop("model_class", None),
        "layer_classes": meta.pop("layer_classes", []),
        "source": meta.pop("source", None),
        "expect": "ok",
        "gold": meta.pop("gold", "keras"),
        "inputs": ins,
        "outputs": outs,
        "atol": float(meta.pop("atol", DEFAULT_ATOL)),
        "rtol": float(meta.pop("rtol", DEFAULT_RTOL)),
        "notes": meta.pop("notes", ""),
    }
    entry.update(meta)
    if acts:
        entry["activations"] = acts
    path = os.path.join(out_dir, "MANIFEST.json")
    cases = []
    if os.path.exists(path):
        with open(path) as fh:
            cases = [c for c in json.load(fh) if c.get("id") != case_id]
    cases.append(entry)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(cases, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)
    return entry


# ---------------------------------------------------------------------------
# Keras (tf.keras 2.x or Keras 3)


def import_keras(which):
    """Returns (keras module, is_keras3)."""
    if which == "tf_keras":
        import tf_keras as keras
    elif which == "tf.keras":
        from tensorflow import keras
    elif which == "keras":
        import keras
    else:
        try:
            import keras
        except ImportError:
            from tensorflow import keras
    version = getattr(keras, "__version__", None)
    if version is None:
        try:
            import tensorflow as tf
            version = tf.keras.__version__ if hasattr(tf.keras, "__version__") else "2"
        except ImportError:
            version = "2"
    return keras, str(version).split(".")[0] == "3"


def backend_name(keras):
    try:
        return keras.backend.backend()
    except Exception:
        return None


def to_numpy(keras, x):
    ops = getattr(keras, "ops", None)
    if ops is not None and hasattr(ops, "convert_to_numpy"):
        return np.asarray(ops.convert_to_numpy(x))
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    return np.asarray(x)


def flat(x):
    if isinstance(x, (list, tuple)):
        out = []
        for y in x:
            out.extend(flat(y))
        return out
    if isinstance(x, dict):
        return flat(list(x.values()))
    return [x]


def graph_of(model):
    """The functional graph behind model: a Sequential of Keras 3 keeps one
    in _functional; tf.keras 2 models are their own."""
    return getattr(model, "_functional", None) or model


def tensor_layer(t):
    """The layer that made a symbolic tensor (_keras_history is a
    (layer, node_index, tensor_index) tuple in both Keras versions)."""
    h = getattr(t, "_keras_history", None)
    return h[0] if h is not None else None


def tensor_shape(t):
    s = t.shape
    if hasattr(s, "as_list"):
        s = s.as_list()
    return list(s)


def tensor_dtype(t):
    d = t.dtype
    return getattr(d, "name", None) or str(d)


def in_graph_nodes(graph, layer):
    """The inbound nodes of layer that belong to graph, in call order."""
    nodes = list(getattr(layer, "_inbound_nodes", []))
    keras3 = getattr(graph, "_nodes", None)          # keys f"{id(op)}_ib-{i}"
    keras2 = getattr(graph, "_network_nodes", None)  # keys f"{name}_ib-{i}"
    out = []
    for i, node in enumerate(nodes):
        if keras3 is not None and "%d_ib-%d" % (id(layer), i) in keras3:
            out.append(node)
        elif keras2 is not None and "%s_ib-%d" % (layer.name, i) in keras2:
            out.append(node)
    if keras3 is None and keras2 is None:
        out = nodes
    return out


def node_outputs(node):
    for attr in ("output_tensors", "outputs"):
        v = getattr(node, attr, None)
        if v is not None:
            return flat(v)
    return []


def layer_probes(model):
    """(layer name, class, output index, symbolic tensor) for the first call
    of every layer of model that is not an InputLayer."""
    graph = graph_of(model)
    probes = []
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "InputLayer":
            continue
        nodes = in_graph_nodes(graph, layer)
        if nodes:
            outs = node_outputs(nodes[0])
        else:
            try:
                outs = flat(layer.output)
            except (AttributeError, ValueError, RuntimeError):
                print("export_golden: layer %r has no output in the model's graph; left out" % layer.name, file=sys.stderr)
                continue
        for k, t in enumerate(outs):
            probes.append((layer.name, cls, k, t))
    return probes


def embedding_dims(model):
    """input name -> input_dim of the first Embedding that reads it directly."""
    graph = graph_of(model)
    dims = {}
    for layer in model.layers:
        if type(layer).__name__ != "Embedding":
            continue
        for node in in_graph_nodes(graph, layer):
            for t in flat(getattr(node, "input_tensors", None) or getattr(node, "inputs", None) or []):
                src = tensor_layer(t)
                if src is not None and type(src).__name__ == "InputLayer":
                    dims.setdefault(src.name, int(layer.input_dim))
    return dims


def random_inputs(model, names, batch, free_dim, seed):
    rng = np.random.default_rng(seed)
    dims = embedding_dims(model)
    out = []
    for name, t in zip(names, model.inputs):
        shape = tensor_shape(t)
        shape = [(batch if i == 0 else free_dim) if d is None else int(d) for i, d in enumerate(shape)]
        dtype = tensor_dtype(t)
        if "int" in dtype:
            out.append(rng.integers(0, dims.get(name, 10), size=shape).astype(np.int32))
        elif "bool" in dtype:
            out.append(rng.integers(0, 2, size=shape).astype(np.int32))
        else:
            out.append(rng.standard_normal(shape).astype(np.float32))
    return out


def read_inputs(specs, names):
    """specs: ["[NAME=]FILE.npy", ...] in input order or all named."""
    named, order = {}, []
    for s in specs:
        name, sep, path = s.partition("=")
        if sep and not os.path.exists(s):
            named[name] = np.load(path, allow_pickle=False)
        else:
            order.append(np.load(s, allow_pickle=False))
    if named and order:
        raise SystemExit("export_golden: name every --input or none")
    if named:
        missing = [n for n in names if n not in named]
        extra = [n for n in named if n not in names]
        if missing or extra:
            raise SystemExit("export_golden: --input names %s, model inputs %s" % (sorted(named), names))
        return [named[n] for n in names]
    if len(order) != len(names):
        raise SystemExit("export_golden: %d --input files for %d model inputs (%s)" % (len(order), len(names), ", ".join(names)))
    return order


def load_model(keras, path, arch):
    if arch:
        with open(arch) as fh:
            model = keras.models.model_from_json(fh.read())
        model.load_weights(path)
        return model
    return keras.models.load_model(path, compile=False)


def export(args):
    keras, _ = import_keras(args.keras)
    model = load_model(keras, args.model, args.arch)
    if not getattr(model, "inputs", None):
        raise SystemExit("export_golden: the model has no defined inputs (a Sequential built without an input shape); "
                         "save it after building it on an Input")
    in_names = [getattr(tensor_layer(t), "name", None) or t.name.split(":")[0] for t in model.inputs]
    out_names = [getattr(tensor_layer(t), "name", None) or t.name.split(":")[0] for t in model.outputs]
    xs = read_inputs(args.input, in_names) if args.input else random_inputs(model, in_names, args.batch, args.free_dim, args.seed)
    # Keras gets exactly the values that are saved.
    feed = [as_saved(x, "input") for x in xs]
    arg = feed if len(feed) > 1 else feed[0]
    ys = [to_numpy(keras, y) for y in flat(model(arg, training=False))]
    if len(ys) != len(out_names):
        raise SystemExit("export_golden: the model returned %d outputs for %d declared" % (len(ys), len(out_names)))
    acts = []
    if not args.no_activations:
        probes = layer_probes(model)
        if probes:
            probe = keras.Model(inputs=model.inputs, outputs=[t for _, _, _, t in probes])
            vals = [to_numpy(keras, v) for v in flat(probe(arg, training=False))]
            acts = [(name, cls, k, v) for (name, cls, k, _), v in zip(probes, vals)]
    case_id = args.id or re.sub(r"[^A-Za-z0-9._-]", "_", os.path.splitext(os.path.basename(args.model))[0])
    meta = {
        "keras_version": str(getattr(keras, "__version__", "")) or None,
        "backend": backend_name(keras),
        "model_class": type(model).__name__,
        "layer_classes": sorted({type(l).__name__ for l in model.layers} - {"InputLayer"}),
        "atol": args.atol,
        "rtol": args.rtol,
        "notes": "exported by tools/export_golden.py" + ("" if args.input else " (seed %d)" % args.seed),
    }
    entry = write_golden(args.out, case_id, list(zip(in_names, feed)), list(zip(out_names, ys)), acts, meta)
    print("wrote %s/%s: %d input(s), %d output(s), %d layer output(s)" % (args.out, case_id, len(entry["inputs"]), len(entry["outputs"]), len(acts)))


# ---------------------------------------------------------------------------
# Self-test


def self_test():
    import tempfile
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as d:
        x = rng.standard_normal((2, 3)).astype(np.float64)
        ids = np.array([[1, 2], [3, 4]], dtype=np.int64)
        y = rng.standard_normal((2, 4)).astype(np.float32)
        acts = [
            ("dense", "Dense", 0, rng.standard_normal((2, 4))),
            ("lstm", "LSTM", 0, np.ones((2, 5), np.float32)),
            ("lstm", "LSTM", 1, np.zeros((2, 5), np.float32)),
            ("enc/x", "Functional", 0, np.full((2, 1), 3, np.float32)),
            ("Dense", "Dense", 0, np.zeros((1,), np.float32)),
        ]
        e = write_golden(d, "m1", [("x", x), ("ids", ids)], [("out", y)], acts, {"atol": 1e-6})
        write_golden(d, "m2", [("x", x)], [("out", y)], [], None)
        e2 = write_golden(d, "m1", [("x", x), ("ids", ids)], [("out", y)], acts, {"atol": 1e-6})
        assert e == e2
        with open(os.path.join(d, "MANIFEST.json")) as fh:
            cases = json.load(fh)
        assert [c["id"] for c in cases] == ["m2", "m1"], [c["id"] for c in cases]
        c = cases[1]
        assert c["inputs"][0] == {"name": "x", "file": "input_0.npy", "dtype": "float32", "shape": [2, 3]}, c["inputs"]
        assert c["inputs"][1]["dtype"] == "int32"
        assert c["outputs"] == [{"name": "out", "file": "expected_0.npy", "shape": [2, 4]}]
        assert c["atol"] == 1e-6 and c["rtol"] == DEFAULT_RTOL and c["expect"] == "ok"
        files = [a["file"] for a in c["activations"]]
        assert files == ["activations/dense.npy", "activations/lstm_out0.npy", "activations/lstm_out1.npy",
                         "activations/enc_x.npy", "activations/Dense_2.npy"], files
        assert [a["output"] for a in c["activations"]] == [0, 0, 1, 0, 0]
        for f in c["files"]:
            assert os.path.exists(os.path.join(d, "m1", f)), f
        got = np.load(os.path.join(d, "m1", "input_0.npy"))
        assert got.dtype == np.float32 and np.array_equal(got, x.astype(np.float32))
        got = np.load(os.path.join(d, "m1", "activations", "dense.npy"))
        assert got.dtype == np.float32 and np.allclose(got, acts[0][3])
        assert np.load(os.path.join(d, "m1", "input_1.npy")).dtype == np.int32
        for bad in ("", "..", "a/b"):
            try:
                write_golden(d, bad, [], [], [], None)
            except ValueError:
                continue
            raise AssertionError("case id %r accepted" % bad)
        try:
            write_golden(d, "s", [("x", np.array(["a"]))], [], [], None)
            raise AssertionError("a string input was accepted")
        except ValueError:
            pass
    print("export_golden: self-test passed")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?")
    p.add_argument("--arch", help="architecture JSON when MODEL holds weights only")
    p.add_argument("--out", default="golden", help="output folder (default: golden)")
    p.add_argument("--id", help="case id (default: the model file's name)")
    p.add_argument("--input", action="append", default=[], help="[NAME=]FILE.npy, one per model input")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--free-dim", type=int, default=8, help="size of other free (None) dimensions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL)
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL)
    p.add_argument("--no-activations", action="store_true", help="skip the per-layer outputs")
    p.add_argument("--keras", default="auto", choices=["auto", "keras", "tf.keras", "tf_keras"])
    p.add_argument("--self-test", action="store_true", help="check the file writer and exit")
    args = p.parse_args(argv)
    if args.self_test:
        self_test()
        return
    if not args.model:
        p.error("MODEL is required")
    export(args)


if __name__ == "__main__":
    main()
