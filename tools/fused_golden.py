#!/usr/bin/env python3
"""A golden folder with per-layer outputs for a model that kerasrun fuses at load.

The MobileNetV2-like model of tools/cases_image.py (Conv2D -> BatchNormalization ->
ReLU(6) chains, which kerasrun folds into the convolutions at load time), written
with the fixture writer of tools/gen_fixtures.py, and the output of every layer
computed by the fixtures' float64 numpy references, written by
tools/export_golden.py's write_golden:

    OUT/model.h5, OUT/MANIFEST.json, OUT/mobilenet/...   (activations included)
    OUT/perturbed.h5   the model with the kernel of expanded_conv_project
                       shifted by +0.05

usage:
    /usr/bin/python3 tools/fused_golden.py OUT

`go test ./kerasruntest` runs it into a temporary folder (python3-numpy and
python3-h5py needed), to check that verification tells a layer fused away from
a layer that diverges.
"""

import os
import shutil
import sys

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import gen_fixtures as gf  # noqa: E402

sys.modules.setdefault("gen_fixtures", gf)
from cases_image import _mobilenet_like  # noqa: E402
from export_golden import write_golden  # noqa: E402

SEED = 17
PERTURB = "expanded_conv_project"


def layer_outputs(m, xs):
    """(name, class, output index, value) of every layer call of the
    functional model m, in config order, from the layers' references."""
    by_name = {l.name: l for l in m.all_layers}
    tensors = {}
    for k, (name, _, _) in enumerate(m.inputs):
        tensors[(name, 0, 0)] = xs[k]
    out = []
    for lc in m.config["config"]["layers"]:
        inbound = lc["inbound_nodes"]
        if not inbound:
            continue
        layer = by_name[lc["name"]]
        ys = layer.fn([tensors[(r[0], r[1], r[2])] for r in inbound[0]])
        for t, y in enumerate(ys):
            tensors[(layer.name, 0, t)] = y
            out.append((layer.name, layer.cls, t, np.asarray(y, dtype=np.float64)))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.RandomState(SEED)
    m = _mobilenet_like(rng, False)
    model = os.path.join(out, "model.h5")
    gf.write_h5(model, m)
    xs = gf.make_inputs(rng, m, batch=2)
    acts = layer_outputs(m, [gf.f64(x) for x in xs])
    ys = m.forward([gf.f64(x) for x in xs])
    last = [a for a in acts if a[0] == m.outputs[0][0]][0][3]
    assert np.array_equal(last, np.asarray(ys[0], dtype=np.float64))
    write_golden(out, "mobilenet", [(m.inputs[0][0], xs[0])], [(m.outputs[0][0], ys[0])], acts,
                 {"keras_version": "2.2.4", "backend": "tensorflow", "model_class": m.model_class,
                  "layer_classes": m.layer_classes(), "atol": gf.ATOL, "rtol": gf.RTOL,
                  "gold": "numpy", "notes": "tools/fused_golden.py, seed %d" % SEED})
    perturbed = os.path.join(out, "perturbed.h5")
    shutil.copyfile(model, perturbed)
    with h5py.File(perturbed, "r+") as f:
        kernels = []
        f["model_weights"][PERTURB].visititems(
            lambda name, o: kernels.append(o) if isinstance(o, h5py.Dataset) and "kernel" in name else None)
        assert len(kernels) == 1, kernels
        kernels[0][...] = kernels[0][()] + np.float32(0.05)


if __name__ == "__main__":
    main()
