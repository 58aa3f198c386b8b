#!/usr/bin/env python3
"""Golden folders with per-layer activations for the DL4J cases of the corpus.

The DL4J cases of ../shared/keras-real were published with a companion file,
<stem>_inputs_and_outputs.h5, that holds Keras's own inputs, outputs and every
layer's output (groups "inputs", "predictions" or "outputs", "activations").
This script writes them in the layout of tools/export_golden.py (through its
write_golden), so that `kerasrun verify` and kerasruntest can be tested on
real Keras activations:

    OUT/dl4j/MANIFEST.json, OUT/dl4j/<case id>/...   (no model files: use the corpus's)
    OUT/perturbed/<case id>__<layer>.h5              the corpus model with that layer's
                                                     kernel shifted by +0.05

usage:
    /usr/bin/python3 tools/dl4j_golden.py --dl4j DL4J_TEST_RESOURCES \\
        [--corpus ../shared/keras-real] [--out kerasruntest/testdata] [--all]

DL4J_TEST_RESOURCES is a checkout or a git directory of
KonduitAI/dl4j-test-resources. Expected outputs are the corpus's (taken from
the same companion files); the script checks that the companion's inputs are
the corpus's inputs and that the output layer's activation is the corpus's
expected output.
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_golden import write_golden  # noqa: E402

# (case id, layer): the perturbed models the tests use.
PERTURB = [("dl4j_leakyrelu_0", "dense"), ("dl4j_simple_rnn_tf_keras_2", "dense_1")]
SHIFT = 0.05


def read_blob(repo, path):
    p = os.path.join(repo, path)
    if os.path.exists(p):
        with open(p, "rb") as fh:
            return fh.read()
    return subprocess.run(["git", "-C", repo, "show", "HEAD:" + path], capture_output=True, check=True).stdout


def companion_path(model_path):
    for suffix in ("_model.h5", "_weights.h5"):
        if model_path.endswith(suffix):
            return model_path[: -len(suffix)] + "_inputs_and_outputs.h5"
    return None


def layer_order(case_dir):
    """Layer names in model order, from the model's (or arch.json's) config."""
    arch = os.path.join(case_dir, "arch.json")
    if os.path.exists(arch):
        with open(arch) as fh:
            cfg = json.load(fh)
    else:
        with h5py.File(os.path.join(case_dir, "model.h5"), "r") as f:
            raw = f.attrs["model_config"]
            cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    layers = cfg["config"]
    if isinstance(layers, dict):
        layers = layers["layers"]
    return [(l["config"]["name"], l["class_name"]) for l in layers]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dl4j", required=True)
    p.add_argument("--corpus", default=os.path.join("..", "shared", "keras-real"))
    p.add_argument("--out", default=os.path.join("kerasruntest", "testdata"))
    p.add_argument("--all", action="store_true", help="every case; by default a case of one layer only when its family has no other")
    args = p.parse_args()
    with open(os.path.join(args.corpus, "MANIFEST.json")) as fh:
        corpus = json.load(fh)
    gold = os.path.join(args.out, "dl4j")
    if os.path.exists(gold):
        shutil.rmtree(gold)
    n, families = 0, set()
    for c in corpus:
        src = c.get("source") or {}
        if src.get("repo") != "KonduitAI/dl4j-test-resources" or c.get("gold") != "keras":
            continue
        comp = companion_path(src["path"])
        if comp is None:
            continue
        try:
            blob = read_blob(args.dl4j, comp)
        except (subprocess.CalledProcessError, OSError):
            continue
        case_dir = os.path.join(args.corpus, c["id"])
        with h5py.File(io.BytesIO(blob), "r") as f:
            if "activations" not in f:
                continue
            ins = []
            for e in c["inputs"]:
                x = np.load(os.path.join(case_dir, e["file"]))
                key, names = e["name"], list(f["inputs"])
                if key not in names and len(names) == len(c["inputs"]) == 1:
                    key = names[0]  # Keras 1 files name the input otherwise
                comp_x = f["inputs"][key][()] if key in names else None
                if comp_x is None or not np.array_equal(comp_x, x):
                    sys.exit("%s: the companion's input %s differs from the corpus's" % (c["id"], e["name"]))
                ins.append((e["name"], x))
            outs = [(e["name"], np.load(os.path.join(case_dir, e["file"]))) for e in c["outputs"]]
            acts = []
            for name, cls in layer_order(case_dir):
                if name in f["activations"]:
                    acts.append((name, cls, 0, f["activations"][name][()]))
            for name, y in outs:
                a = [v for l, _, _, v in acts if l == name]
                if not a or not np.array_equal(a[0], y):
                    sys.exit("%s: the activation of output layer %s is not the corpus's expected output" % (c["id"], name))
        if len(acts) < 2 and c["family"] in families and not args.all:
            continue  # one layer: its activation is the output
        families.add(c["family"])
        meta = {k: c.get(k) for k in ("keras_version", "backend", "model_class", "layer_classes", "atol", "rtol")}
        meta["family"] = c["family"]
        meta["source"] = {"repo": src["repo"], "commit": src["commit"], "path": comp}
        meta["notes"] = "activations from the companion file of the corpus case %s; the model is the corpus's" % c["id"]
        write_golden(gold, c["id"], ins, outs, acts, meta)
        n += 1
    print("wrote %d cases to %s" % (n, gold))

    pert = os.path.join(args.out, "perturbed")
    os.makedirs(pert, exist_ok=True)
    for case_id, layer in PERTURB:
        dst = os.path.join(pert, "%s__%s.h5" % (case_id, layer))
        shutil.copyfile(os.path.join(args.corpus, case_id, "model.h5"), dst)
        with h5py.File(dst, "r+") as f:
            g = f["model_weights"][layer]
            kernels = []
            g.visititems(lambda name, o: kernels.append(o) if isinstance(o, h5py.Dataset) and "kernel" in name.split("/")[-1] and "recurrent" not in name else None)
            if len(kernels) != 1:
                sys.exit("%s: layer %s has %d kernels" % (case_id, layer, len(kernels)))
            kernels[0][...] = kernels[0][()] + np.float32(SHIFT)
        print("wrote %s" % dst)


if __name__ == "__main__":
    main()
