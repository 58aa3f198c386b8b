#!/usr/bin/python3
"""Writes numpy's own binary16 conversions as the reference of oip's
Float16 (TestFloat16Numpy in oip/float16_test.go).

    /usr/bin/python3 tools/float16_numpy.py [OUT]

OUT defaults to oip/testdata/float16_numpy.bin.gz. The file is gzip of:

  A. 65536 little-endian uint32: the float32 bits numpy gives each binary16
     bit pattern 0..65535 (np.uint16 viewed as np.float16, .astype(np.float32)).
  B. a uint32 count N, then N uint32 float32 bits, then N uint16 binary16
     bits: float32 values rounded to binary16 by numpy (.astype(np.float16)).
     The inputs are the midpoints between neighbouring binary16 magnitudes
     (the ties: all subnormal ones, every seventh normal one), the float32
     values next to each midpoint on both sides, the same with the sign flipped, the
     overflow and underflow boundaries, float32 subnormals, infinities,
     NaNs with payloads (signalling ones included), and random bit patterns.
  C. a uint32 count, then that many (uint8 length, the ASCII decimal,
     uint16 binary16 bits): decimals read as np.float16(float(s)), which
     parses a float64 and rounds it once to binary16, as oip reads FP16 JSON.

The random parts use a fixed seed: a rerun writes the same bytes.
"""
import gzip
import os
import struct
import sys

import numpy as np


def half_to_float32():
    h = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    return h.astype(np.float32).view(np.uint32)


def float32_inputs(rng):
    # Every non-negative subnormal binary16 and every seventh normal one (odd
    # and even ones alternate, for ties to even), the largest, and the one
    # past it (65536, where the rounding overflows to infinity).
    bits = np.concatenate([np.arange(0, 0x400), np.arange(0x400, 0x7BFF, 7), [0x7BFF]]).astype(np.uint16)
    h = bits.view(np.float16).astype(np.float64)
    with np.errstate(over="ignore"):
        nxt = np.nextafter(bits.view(np.float16), np.float16(np.inf)).astype(np.float64)
    nxt[bits == 0x7BFF] = 65536.0
    mid = ((h + nxt) / 2).astype(np.float32)  # exact: 12 significant bits at most
    assert np.all(mid.astype(np.float64) == (h + nxt) / 2)
    below = np.nextafter(mid, np.float32(0))
    above = np.nextafter(mid, np.float32(np.inf))
    pos = np.concatenate([mid, below, above])
    neg = -pos[rng.random(pos.size) < 0.3]
    special_bits = np.array([
        0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF,  # zeros, float32 subnormals
        0x7F800000, 0xFF800000,  # infinities
        0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FA00000,  # NaNs
        0x7F802000, 0x7FBFFFFF, 0x7FFFFFFF, 0xFFFFE000,
        0x33000000, 0x32FFFFFF, 0x33000001, 0xB3000000,  # 2^-25, half the smallest subnormal
        0x33C00000, 0x387FC000, 0x387FE000, 0x38800000,  # 1.5 x 2^-24, around 2^-14
        0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000,  # 65504 to 65536
        0x7F7FFFFF, 0xFF7FFFFF,
    ], dtype=np.uint32).view(np.float32)
    rand = rng.integers(0, 1 << 32, size=8000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return np.concatenate([pos, neg, special_bits, rand]).astype(np.float32)


def decimals(rng):
    out = ["0", "-0", "1", "0.1", "-2.5", "65504", "65519", "65519.99", "65520", "1e5", "-1e5",
           "6.1035156e-05", "5.9604645e-08", "2.9802322e-08", "2.9802323e-08", "1e-8",
           "0.333333333333333333", "3.14159", "1.0009765625", "1.00048828125", "1.000244140625",
           "2049", "2051", "4097", "1e-320", "-1e-320", "1e308"]
    # Midpoints between binary16 values, written exactly, and nudged by one
    # unit in the 17th significant digit: the float64 in between keeps the
    # rounding single.
    h = np.arange(0, 0x7BFF, 97, dtype=np.uint16).view(np.float16).astype(np.float64)
    nxt = np.nextafter(h.astype(np.float16), np.float16(np.inf)).astype(np.float64)
    for lo, hi in zip(h, nxt):
        m = (lo + hi) / 2
        out.append(repr(m))
        out.append("%.16e" % m)
    # Random decimals of a few digits across the binary16 range.
    for x in rng.uniform(-7e4, 7e4, size=3000):
        out.append("%.*g" % (int(rng.integers(1, 9)), x))
    for e in rng.uniform(-26, 5, size=3000):
        out.append("%.*g" % (int(rng.integers(1, 12)), 10.0 ** e))
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "oip", "testdata", "float16_numpy.bin.gz")
    rng = np.random.default_rng(20261207)
    buf = bytearray()
    buf += half_to_float32().astype("<u4").tobytes()
    f = float32_inputs(rng)
    with np.errstate(over="ignore"):
        hb = f.astype(np.float16).view(np.uint16)
    buf += struct.pack("<I", f.size)
    buf += f.view(np.uint32).astype("<u4").tobytes()
    buf += hb.astype("<u2").tobytes()
    ds = decimals(rng)
    buf += struct.pack("<I", len(ds))
    for s in ds:
        with np.errstate(over="ignore"):
            h = np.float16(float(s)).view(np.uint16)
        b = s.encode("ascii")
        buf += struct.pack("<B", len(b)) + b + struct.pack("<H", int(h))
    with open(out, "wb") as fh:
        # mtime=0: the same input gives the same bytes.
        with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, compresslevel=9) as gz:
            gz.write(bytes(buf))
    print("%s: %d float32 inputs, %d decimals" % (out, f.size, len(ds)))


if __name__ == "__main__":
    main()
