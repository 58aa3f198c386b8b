#!/usr/bin/python3
"""Golden cases for `kerasrun summary`: real Keras model.summary() text.

Each case is a model of a repository the corpus came from whose notebook
printed model.summary() with real Keras. The case folder
(cmd/kerasrun/testdata/summary/<case>/) holds:

- summary.txt: the text Keras printed, taken verbatim from the notebook's
  stored output (nothing here computes it);
- arch.json: the model's to_json() from the same repository;
- weights.h5: the repository's save_weights() file with every weight set to
  zero and compressed. A summary depends only on the architecture and the
  weights' names and shapes, so zeros keep the folder small; the layout,
  attributes, names, shapes and dtypes are copied as they are;
- SOURCE: the repository, commit and paths.

Usage (the repository snapshot comes from the `fetch` tool, or a clone):

    /usr/bin/python3 tools/summary_goldens.py REPO_GIT_DIR OUT_DIR

It needs python3-h5py and python3-numpy.
"""

import json
import os
import subprocess
import sys

import h5py
import numpy as np

# Kotlin/kotlindl is the source of the corpus case kotlindl_lstm_weights_arch.
CASES = {
    "kotlindl_lenet_batchnorm": {
        "repo": "Kotlin/kotlindl",
        "notebook": "examples/src/main/resources/models/batchnorm/notebook/LeNet-5 + BatchNorm.ipynb",
        "arch": "examples/src/main/resources/models/batchnorm/modelConfig.json",
        "weights": "examples/src/main/resources/models/batchnorm/weights.h5",
    },
    "kotlindl_lenet_dropout": {
        "repo": "Kotlin/kotlindl",
        "notebook": "tensorflow/src/test/resources/inference/lenet/dropout/python/LeNet with Dropout.ipynb",
        "arch": "tensorflow/src/test/resources/inference/lenet/dropout/modelConfig.json",
        "weights": "tensorflow/src/test/resources/inference/lenet/dropout/weights.h5",
    },
}


def git_show(gitdir, path):
    return subprocess.run(["git", "--git-dir", gitdir, "show", "HEAD:" + path],
                          check=True, capture_output=True).stdout


def summary_text(nb_bytes):
    nb = json.loads(nb_bytes)
    found = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", []) or out.get("data", {}).get("text/plain", []))
            if "Total params" in text:
                found.append(text)
    if len(found) != 1:
        raise SystemExit("want exactly one printed summary, found %d" % len(found))
    return found[0]


def zero_copy(src, dst):
    """Copy an HDF5 file's groups, attributes and datasets, data zeroed."""

    def attrs(a, b):
        for k, v in a.attrs.items():
            b.attrs[k] = v

    def walk(a, b):
        attrs(a, b)
        for name, obj in a.items():
            if isinstance(obj, h5py.Group):
                walk(obj, b.create_group(name))
            else:
                d = b.create_dataset(name, data=np.zeros(obj.shape, obj.dtype),
                                     compression="gzip" if obj.size > 1 else None)
                attrs(obj, d)

    with h5py.File(src, "r") as a, h5py.File(dst, "w", track_order=True) as b:
        walk(a, b)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    gitdir, out = sys.argv[1], sys.argv[2]
    commit = subprocess.run(["git", "--git-dir", gitdir, "rev-parse", "HEAD"],
                            check=True, capture_output=True, text=True).stdout.strip()
    for case, c in CASES.items():
        d = os.path.join(out, case)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "summary.txt"), "w") as f:
            f.write(summary_text(git_show(gitdir, c["notebook"])))
        with open(os.path.join(d, "arch.json"), "wb") as f:
            f.write(git_show(gitdir, c["arch"]))
        tmp = os.path.join(d, "weights.orig.h5")
        with open(tmp, "wb") as f:
            f.write(git_show(gitdir, c["weights"]))
        zero_copy(tmp, os.path.join(d, "weights.h5"))
        os.remove(tmp)
        with open(os.path.join(d, "SOURCE"), "w") as f:
            f.write("summary.txt: the output of model.summary() stored in the notebook\n")
            f.write("  https://github.com/%s/blob/%s/%s\n" % (c["repo"], commit, c["notebook"]))
            f.write("arch.json: %s\nweights.h5: %s, every weight zeroed (tools/summary_goldens.py)\n"
                    % (c["arch"], c["weights"]))
            f.write("repository: %s at commit %s\n" % (c["repo"], commit))


if __name__ == "__main__":
    main()
