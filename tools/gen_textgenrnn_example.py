#!/usr/bin/python3
"""Writes the small model of examples/textgenrnn/testdata and its reference.

tiny.h5 is a Keras 2 full-model HDF5 file, in the layout Keras 2.1.6
writes (the version of textgenrnn's own files), of the functional model

    input (None, 5, 3) -> AttentionWeightedAverage "attention"
                       -> Dense(2, softmax) "output"

AttentionWeightedAverage is textgenrnn's custom layer (textgenrnn/
AttentionWeightedAverage.py), which Keras does not ship. Keras itself is
not needed: the file is written with h5py, and tiny_expected.npy is
computed here in float64 numpy from textgenrnn's formula:

    l = x . W                       (batch, time)
    a = exp(l - max_t l)
    a = a / (sum_t a + 1e-7)        (K.epsilon())
    y = sum_t a_t x_t               (batch, features)
    out = softmax(y . kernel + bias)

Run: /usr/bin/python3 tools/gen_textgenrnn_example.py
"""

import json
import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "examples", "textgenrnn", "testdata")
SEED = 20240517
T, F, UNITS, BATCH = 5, 3, 2, 2


def config():
    return {
        "class_name": "Model",
        "config": {
            "name": "model_1",
            "layers": [
                {"name": "input", "class_name": "InputLayer",
                 "config": {"batch_input_shape": [None, T, F], "dtype": "float32", "sparse": False, "name": "input"},
                 "inbound_nodes": []},
                {"name": "attention", "class_name": "AttentionWeightedAverage",
                 "config": {"name": "attention", "trainable": True, "return_attention": False},
                 "inbound_nodes": [[["input", 0, 0, {}]]]},
                {"name": "output", "class_name": "Dense",
                 "config": {"name": "output", "trainable": True, "units": UNITS, "activation": "softmax", "use_bias": True},
                 "inbound_nodes": [[["attention", 0, 0, {}]]]},
            ],
            "input_layers": [["input", 0, 0]],
            "output_layers": [["output", 0, 0]],
        },
    }


def reference(x, w, kernel, bias):
    x, w, kernel, bias = (np.asarray(v, dtype=np.float64) for v in (x, w, kernel, bias))
    logits = (x @ w)[..., 0]
    a = np.exp(logits - logits.max(axis=1, keepdims=True))
    a = a / (a.sum(axis=1, keepdims=True) + 1e-7)
    y = (x * a[..., None]).sum(axis=1)
    z = y @ kernel + bias
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    rng = np.random.default_rng(SEED)
    w = rng.normal(0, 1, (F, 1)).astype(np.float32)
    kernel = rng.normal(0, 1, (F, UNITS)).astype(np.float32)
    bias = rng.normal(0, 0.1, (UNITS,)).astype(np.float32)
    x = rng.normal(0, 1, (BATCH, T, F)).astype(np.float32)

    os.makedirs(OUT, exist_ok=True)
    with h5py.File(os.path.join(OUT, "tiny.h5"), "w") as f:
        f.attrs["keras_version"] = np.bytes_("2.1.6")
        f.attrs["backend"] = np.bytes_("tensorflow")
        f.attrs["model_config"] = np.bytes_(json.dumps(config()))
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"input", b"attention", b"output"])
        g.attrs["keras_version"] = np.bytes_("2.1.6")
        g.attrs["backend"] = np.bytes_("tensorflow")
        weights = {
            "input": [],
            "attention": [("attention_W:0", w)],
            "output": [("kernel:0", kernel), ("bias:0", bias)],
        }
        for layer, ws in weights.items():
            lg = g.create_group(layer)
            names = [f"{layer}/{n}".encode() for n, _ in ws]
            lg.attrs["weight_names"] = np.array(names) if names else np.array([], dtype=np.float64)
            for n, v in ws:
                lg.create_dataset(f"{layer}/{n}", data=v)
    np.save(os.path.join(OUT, "tiny_input.npy"), x)
    np.save(os.path.join(OUT, "tiny_expected.npy"), reference(x, w, kernel, bias).astype(np.float32))


if __name__ == "__main__":
    main()
