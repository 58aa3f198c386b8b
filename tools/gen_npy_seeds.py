#!/usr/bin/python3
"""Writes .npy files made by numpy itself as the seed corpus of the .npy
reader's fuzzer (internal/npyfile FuzzDecode) and of its differential test
against numpy (TestNumpyDifferential, which mutates them).

    /usr/bin/python3 tools/gen_npy_seeds.py [OUT_DIR]

OUT_DIR defaults to internal/npyfile/testdata/fuzz/FuzzDecode. Each file is
in Go's fuzz corpus format ("go test fuzz v1" and one []byte literal) and is
named numpy-<case>, so a rerun replaces the files it wrote and leaves the
fuzzer's own finds alone. The arrays are fixed (no randomness): a rerun
writes the same bytes.
"""
import io
import os
import sys

import numpy as np
from numpy.lib import format as npformat


def arrays():
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 4 - 2
    yield "f4", a.astype("<f4")
    yield "f8", a.astype("<f8")
    # float16 corner values: subnormals, infinities, NaN, signed zero.
    yield "f2", np.array([0.0, -0.0, 1.0, -2.5, 6.1e-5, 5.96e-8, 65504, np.inf, -np.inf, np.nan],
                         dtype="<f2")
    yield "f4be", a.astype(">f4")
    yield "f8be", a.astype(">f8")
    for t in ("i1", "u1"):
        yield t, np.arange(6, dtype=t).reshape(2, 3)
    for t in ("<i2", "<i4", "<i8", "<u2", "<u4", "<u8", ">i4", ">u2"):
        yield t.replace("<", "").replace(">", "") + ("be" if t[0] == ">" else ""), \
            np.array([[0, 1, 2], [3, 2**14, min(2**24, np.iinfo(t).max)]], dtype=t)
    yield "i4neg", np.array([-(2**24), -1, 0, 7], dtype="<i4")
    yield "b1", np.array([True, False, True, True])
    yield "fortran", np.asfortranarray(a.astype("<f4"))
    yield "fortran2d", np.asfortranarray(np.arange(6, dtype="<i2").reshape(2, 3))
    yield "scalar", np.array(3.5, dtype="<f4")
    yield "empty", np.zeros((0, 3), dtype="<f4")
    yield "batch", np.linspace(-1, 1, 50, dtype="<f4").reshape(1, 5, 10)


def go_bytes(b):
    """A Go []byte literal of b, as the fuzz corpus format writes one."""
    out = []
    for c in b:
        ch = chr(c)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= c < 0x7F:
            out.append(ch)
        else:
            out.append("\\x%02x" % c)
    return '[]byte("' + "".join(out) + '")'


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "internal", "npyfile", "testdata", "fuzz", "FuzzDecode")
    os.makedirs(out, exist_ok=True)
    n = 0
    for name, arr in arrays():
        versions = [None]
        if name == "f4":
            versions += [(2, 0), (3, 0)]
        for v in versions:
            buf = io.BytesIO()
            npformat.write_array(buf, arr, version=v, allow_pickle=False)
            tag = name if v is None else "%s-v%d" % (name, v[0])
            with open(os.path.join(out, "numpy-" + tag), "w") as f:
                f.write("go test fuzz v1\n" + go_bytes(buf.getvalue()) + "\n")
            n += 1
    print("wrote %d seeds to %s" % (n, out))


if __name__ == "__main__":
    main()
