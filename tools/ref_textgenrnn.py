#!/usr/bin/python3
"""Independent numpy reference for the textgenrnn models of the corpus.

textgenrnn (minimaxir/textgenrnn) stacks Embedding -> LSTM -> LSTM,
concatenates the three sequences and pools them with its custom
AttentionWeightedAverage layer before a softmax Dense. This script computes
that model in float64 numpy straight from the weight file, so that the Go
example in examples/textgenrnn (which registers the custom layer) has an
expected output that does not come from Go.

  /usr/bin/python3 tools/ref_textgenrnn.py ../shared/keras-real/textgenrnn_proverbs_lstm \
      examples/textgenrnn/testdata/proverbs_expected.npy

The case must be the LSTM variant (Keras 2.1.6: recurrent_activation
hard_sigmoid, as its arch.json says).
"""
import json
import sys

import h5py
import numpy as np


def hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def lstm(x, k, rk, b, ract):
    # Keras 2 LSTM, gate order i, f, c, o.
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u))
    c = np.zeros((n, u))
    out = np.zeros((n, t, u))
    for s in range(t):
        z = x[:, s] @ k + h @ rk + b
        i, f, g, o = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
        c = ract(f) * c + ract(i) * np.tanh(g)
        h = ract(o) * np.tanh(c)
        out[:, s] = h
    return out


def main():
    case, out = sys.argv[1], sys.argv[2]
    arch = json.load(open(case + "/arch.json"))
    cfg = {l["name"]: l["config"] for l in arch["config"]["layers"]}
    assert cfg["rnn_1"]["recurrent_activation"] == "hard_sigmoid"
    f = h5py.File(case + "/model.h5", "r")

    def w(layer, name):
        g = f[layer]
        for wn in g.attrs["weight_names"]:
            wn = wn.decode() if isinstance(wn, bytes) else wn
            if wn.split("/")[-1].split(":")[0] == name:
                return np.asarray(g[wn], dtype=np.float64)
        raise KeyError((layer, name))

    ids = np.load(case + "/input_0.npy")
    emb = w("embedding", "embeddings")[ids]
    r1 = lstm(emb, w("rnn_1", "kernel"), w("rnn_1", "recurrent_kernel"), w("rnn_1", "bias"), hard_sigmoid)
    r2 = lstm(r1, w("rnn_2", "kernel"), w("rnn_2", "recurrent_kernel"), w("rnn_2", "bias"), hard_sigmoid)
    x = np.concatenate([emb, r1, r2], axis=-1)
    # AttentionWeightedAverage: softmax-like weights over time, K.epsilon() = 1e-7.
    logits = (x @ w("attention", "attention_W"))[..., 0]
    ai = np.exp(logits - logits.max(axis=-1, keepdims=True))
    att = ai / (ai.sum(axis=1, keepdims=True) + 1e-7)
    pooled = (x * att[..., None]).sum(axis=1)
    z = pooled @ w("output", "kernel") + w("output", "bias")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    y = e / e.sum(axis=-1, keepdims=True)
    np.save(out, y.astype(np.float32))
    print("wrote", out, y.shape)


if __name__ == "__main__":
    main()
