#!/usr/bin/python3
"""Writes internal/h5/testdata/*.h5: small HDF5 files in the storage layouts
that the Keras corpus lacks, for the pure-Go reader internal/h5 and its
comparison with libhdf5 (importer/h5go_compare_test.go).

Each file exercises a few features of the format (a superblock version,
group storage, attribute storage, a chunk index, filters, types); the names
say which. Data come from a fixed seed and no object records times, so two
runs give the same files.

Run:  /usr/bin/python3 tools/gen_h5_layouts.py [--out internal/h5/testdata]
"""
import argparse
import ctypes
import ctypes.util
import os

import h5py
import numpy as np

rng = np.random.default_rng(20)


def data(shape, dtype):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return (rng.standard_normal(shape) * 3).astype(dtype)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, dtype=dt.newbyteorder("=")).astype(dtype)


def group(parent, name, track_order=False):
    """Creates a group that records no times (h5py's create_group records
    them), so that two runs write the same bytes."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    if track_order:
        flags = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED
        gcpl.set_link_creation_order(flags)
        gcpl.set_attr_creation_order(flags)
    h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl)
    return parent[name]


def string_attrs(obj):
    """Strings in every form: fixed (NULLTERM, NULLPAD, SPACEPAD) and
    variable-length, ASCII and UTF-8, scalar and arrays."""
    obj.attrs["vlen_ascii"] = "hello"
    obj.attrs["vlen_utf8"] = "h\u00e9llo \u2603"
    obj.attrs.create("vlen_array", ["a", "bb", "", "dddd"], dtype=h5py.string_dtype("utf-8"))
    obj.attrs.create("vlen_ascii_array", [b"x", b"yy"], dtype=h5py.string_dtype("ascii"))
    obj.attrs["fixed_nullpad"] = np.bytes_(b"dense_1")
    obj.attrs["fixed_array"] = np.array([b"dense_1", b"lstm", b"a_full_name"])
    obj.attrs["empty_float_array"] = np.zeros((0,), dtype="f8")
    obj.attrs["empty"] = h5py.Empty("f4")
    for pad, name in ((h5py.h5t.STR_NULLTERM, "fixed_nullterm"), (h5py.h5t.STR_SPACEPAD, "fixed_spacepad")):
        t = h5py.h5t.C_S1.copy()
        t.set_size(12)
        t.set_strpad(pad)
        t.set_cset(h5py.h5t.CSET_UTF8 if pad == h5py.h5t.STR_SPACEPAD else h5py.h5t.CSET_ASCII)
        sp = h5py.h5s.create_simple((2,))
        a = h5py.h5a.create(obj.id, name.encode(), t, sp)
        a.write(np.array([b"ab", b"full_length_"], dtype="S12"), mtype=t)


def numeric_attrs(obj):
    obj.attrs["scalar_i8"] = np.int8(-5)
    obj.attrs["scalar_u64"] = np.uint64(2**63 + 5)
    obj.attrs["scalar_f64"] = np.float64(1.0 / 3)
    obj.attrs["array_f32_be"] = np.arange(6, dtype=">f4").reshape(2, 3)
    obj.attrs["array_i32_be"] = np.arange(-3, 3, dtype=">i4")
    obj.attrs["array_f16"] = np.array([0.5, -2, 65504, 6e-8], dtype="f2")


def typed_datasets(g, **kw):
    for dt in ["<f2", ">f2", "<f4", ">f4", "<f8", ">f8", "i1", "u1", "<i2", ">u2", "<i4", ">i4", "<u4", "<i8", ">i8", "<u8"]:
        name = dt.replace("<", "le_").replace(">", "be_").replace("|", "")
        g.create_dataset(name, data=data((5, 7), dt), **kw)


LIBVER = {"earliest": h5py.h5f.LIBVER_EARLIEST, "v108": h5py.h5f.LIBVER_V18, "latest": h5py.h5f.LIBVER_LATEST}


def write(path, libver, build, userblock_size=0):
    # The root group's object header records times unless its creation
    # properties say not to: off, so that two runs write the same bytes.
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    if userblock_size:
        fcpl.set_userblock(userblock_size)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(LIBVER[libver], h5py.h5f.LIBVER_LATEST)
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    with h5py.File(fid) as f:
        build(f)


def contiguous_v0(f):
    string_attrs(f)
    numeric_attrs(f)
    g = group(f, "types")
    typed_datasets(g)
    f.create_dataset("scalar", data=np.float32(2.5))
    # Conversions to float32 at their edges: NaN payloads, infinities,
    # subnormals, signed zeros, values past float32's range.
    f.create_dataset("f16_special", data=np.array([0x7e00, 0x7c01, 0xfe00, 0x7fff, 0x7c00, 0xfc00, 0x0001, 0x8001, 0x03ff, 0x8000, 0x3c00], dtype="<u2").view("<f2"))
    f16be = np.array([0x7e00, 0x7c01, 0x0001, 0xfc00], dtype=">u2").view(">f2")
    f.create_dataset("f16_special_be", data=f16be)
    f64 = np.array([1e39, -1e39, 3.4028235677973366e38, 3.4028235e38, 3.40282357e38, 1e-46, 1.4e-45, 7e-46, -0.0, np.inf, -np.inf, 1 / 3], dtype="<f8")
    f64 = np.concatenate([f64, np.array([0x7ff8000000000001, 0x7ff0000000000001, 0xfff8000000000000], dtype="<u8").view("<f8")])
    f.create_dataset("f64_special", data=f64)
    f.create_dataset("i64_special", data=np.array([2**63 - 1, -2**63, 2**24 + 1, 2**53 + 1, -(2**24 + 3)], dtype="<i8"))
    f.create_dataset("u64_special", data=np.array([2**64 - 1, 2**63 + 2**39, 2**24 + 1], dtype="<u8"))
    f.create_dataset("zero_length", data=np.zeros((0, 3), dtype="f4"))
    f.create_dataset("null", data=h5py.Empty("f4"))
    f["soft"] = h5py.SoftLink("/types")
    f["external"] = h5py.ExternalLink("other.h5", "/x")
    big = group(f, "many_members_old_style")
    for i in range(40):  # several symbol table nodes
        big.create_dataset("w%02d" % i, data=np.full((2,), i, dtype="f4"))


def chunked_btree1(f):
    # B-tree v1 chunk index (libver earliest), edge chunks, filters.
    f.create_dataset("gzip_shuffle_fletcher", data=data((33, 17, 5), "f4"), chunks=(8, 4, 5),
                     compression="gzip", compression_opts=6, shuffle=True, fletcher32=True)
    f.create_dataset("gzip", data=data((100, 9), "<f8"), chunks=(7, 9), compression="gzip")
    f.create_dataset("shuffle_be", data=data((50,), ">i4"), chunks=(9,), shuffle=True)
    f.create_dataset("plain", data=data((20, 20), "f2"), chunks=(6, 20))
    f.create_dataset("many_chunks", data=data((300, 7), "f4"), chunks=(1, 7))  # a multi-level B-tree
    f.create_dataset("fletcher_odd", data=data((13,), "i1"), chunks=(5,), fletcher32=True)
    f.create_dataset("sparse", shape=(10, 10), dtype="f4", chunks=(3, 3), fillvalue=1.5)
    f["sparse"][0:3, 0:3] = 2.0
    f.create_dataset("gzip_resizable", data=data((10, 4), "f4"), chunks=(3, 4), maxshape=(None, 4), compression="gzip")


def chunked_latest(f):
    # libver latest: fixed array, single chunk, extensible array, B-tree v2.
    f.create_dataset("fixed_array", data=data((33, 17), "f4"), chunks=(8, 4))
    f.create_dataset("fixed_array_gzip", data=data((33, 17), ">f4"), chunks=(8, 4), compression="gzip", shuffle=True, fletcher32=True)
    f.create_dataset("fixed_array_paged", data=data((50, 40), "f2"), chunks=(1, 1))
    f.create_dataset("fixed_array_paged_gzip", data=data((40, 40), "f4"), chunks=(1, 1), compression="gzip")
    f.create_dataset("single_chunk", data=data((6, 5), "f8"), chunks=(6, 5))
    f.create_dataset("single_chunk_gzip", data=data((6, 5), "f4"), chunks=(6, 5), compression="gzip", fletcher32=True)
    f.create_dataset("btree2", data=data((20, 9), "f4"), chunks=(4, 4), maxshape=(None, None))
    f.create_dataset("btree2_gzip", data=data((20, 9), "i8"), chunks=(4, 4), maxshape=(None, None), compression="gzip")
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)
    dcpl.set_chunk((4, 3))
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    sp = h5py.h5s.create_simple((10, 7))
    ds = h5py.h5d.create(f.id, b"implicit", h5py.h5t.IEEE_F32LE, sp, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, data((10, 7), "f4"))
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)
    dcpl.set_layout(h5py.h5d.COMPACT)
    sp = h5py.h5s.create_simple((3, 4))
    ds = h5py.h5d.create(f.id, b"compact", h5py.h5t.IEEE_F64BE, sp, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, data((3, 4), ">f8"))


def chunked_extensible(f):
    f.create_dataset("extensible", data=data((20, 3), "f4"), chunks=(4, 3), maxshape=(None, 3))
    f.create_dataset("extensible_many", data=data((400, 3), "f4"), chunks=(2, 3), maxshape=(None, 3))
    f.create_dataset("extensible_gzip", data=data((90, 5), ">f8"), chunks=(2, 2), maxshape=(None, 5), compression="gzip", fletcher32=True)


def new_groups(f):
    # Link messages (compact) and a fractal heap with a B-tree v2 (dense),
    # dense attributes, creation order tracking.
    string_attrs(f)
    numeric_attrs(f)
    small = group(f, "compact_links")
    for i in range(3):
        small.create_dataset("d%d" % i, data=data((4,), "f4"))
    dense = group(f, "dense_links", track_order=True)
    for i in range(60):
        dense.create_dataset("layer_%03d" % (59 - i), data=data((3,), "f4"))
    for i in range(30):
        dense.attrs["attr_%02d" % i] = np.float32(i)
    ordered = group(f, "tracked", track_order=True)
    for name in ["zeta", "alpha", "mid"]:
        group(ordered, name).attrs["name"] = name
    many = group(f, "dense_attrs")
    for i in range(40):
        many.attrs["a%02d" % i] = "value %d" % i
    many.attrs.create("fixed", np.array([b"x" * 10] * 3))
    big = group(f, "big_attr")
    big.attrs["big"] = np.arange(16400, dtype="f4")  # over 64 KiB: dense storage, a huge object
    big.attrs["model_config"] = "{" + "x" * 66000 + "}"
    typed_datasets(group(f, "types"), chunks=(2, 3), compression="gzip", shuffle=True)


def new_groups_small(f):
    # A version 2 superblock (libver v108): dense links and attributes.
    string_attrs(f)
    g = group(f, "dense_links")
    for i in range(12):
        g.create_dataset("w%02d" % (11 - i), data=data((2,), "f4"))
        g.attrs["a%02d" % i] = np.int16(i)


def tiny_earliest(f):
    # A small seed for the fuzzer: symbol tables, a B-tree v1 chunk index
    # with every filter, strings of every form.
    f.attrs["vlen"] = "hello"
    f.attrs["fixed_array"] = np.array([b"dense_1", b"lstm"])
    f.attrs["num"] = np.arange(3, dtype=">i2")
    g = group(f, "g")
    g.create_dataset("c", data=data((9, 5), "f4"), chunks=(4, 5), compression="gzip", shuffle=True, fletcher32=True)
    g.create_dataset("d", data=data((3,), ">f8"))


def tiny_latest(f):
    # A small seed for the fuzzer: dense links and attributes, the version
    # 4 layout's chunk indexes.
    for i in range(10):
        f.attrs["a%d" % i] = "v%d" % i
    g = group(f, "g")
    for i in range(9):
        g.create_dataset("d%d" % i, data=np.full((2,), i, dtype="f2"))
    f.create_dataset("fa", data=data((6, 5), "f4"), chunks=(2, 5), compression="gzip", fletcher32=True)
    f.create_dataset("sc", data=data((4,), "f4"), chunks=(4,))
    f.create_dataset("ea", data=data((9, 2), "f4"), chunks=(1, 2), maxshape=(None, 2))
    f.create_dataset("bt", data=data((4, 4), "i1"), chunks=(2, 2), maxshape=(None, None))


def superblock_v1(path):
    # h5py has no set_istore_k; a non-default K makes libhdf5 write a
    # version 1 superblock.
    lib = ctypes.CDLL(ctypes.util.find_library("hdf5_serial") or "libhdf5_serial.so")
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    if lib.H5Pset_istore_k(ctypes.c_int64(fcpl.id), ctypes.c_uint(64)) < 0:
        raise SystemExit("H5Pset_istore_k failed")
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl)
    with h5py.File(fid) as f:
        f.create_dataset("w", data=data((9, 4), "f4"), chunks=(2, 2), compression="gzip")
        f.attrs["keras_version"] = "2.2.4"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="internal/h5/testdata")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    p = lambda n: os.path.join(args.out, n)
    write(p("sb0_contiguous_types_strings.h5"), "earliest", contiguous_v0)
    write(p("sb0_chunked_btree1_filters.h5"), "earliest", chunked_btree1)
    write(p("sb3_chunked_indexes.h5"), "latest", chunked_latest)
    write(p("sb3_chunked_extensible_array.h5"), "latest", chunked_extensible)
    write(p("sb3_dense_groups_attrs.h5"), "latest", new_groups)
    write(p("sb2_v108_groups.h5"), "v108", new_groups_small)
    write(p("sb0_userblock.h5"), "earliest", contiguous_v0, userblock_size=1024)
    superblock_v1(p("sb1_istore_k.h5"))
    write(p("fuzz_sb0_small.h5"), "earliest", tiny_earliest)
    write(p("fuzz_sb3_small.h5"), "latest", tiny_latest)


if __name__ == "__main__":
    main()
