#!/usr/bin/python3
"""Generator of kerasrun's corpus of bad model files: fixtures/bad/.

Every file is damaged or hostile on purpose. importer/hostile_test.go loads
each one and checks that kerasrun fails with an error that names the file and
contains every substring the manifest lists, without panicking, hanging or
allocating without bound. A few files load (expect "ok"): their oddity is
allowed (NaN weights flow through as in Keras).

    fixtures/bad/<name>.h5      the files (<name>.json: an architecture, for
                                LoadWeights cases)
    fixtures/bad/MANIFEST.json  [{"file", "api", "expect", "want", "notes"}]

  api     "load" (importer.Load) or "load_weights" (importer.LoadWeights with
          the file's "arch")
  expect  "error" or "ok"
  want    substrings the error must contain, matched case-insensitively

Output is deterministic: each case's random bytes come from the seed crc32(name) and h5py
writes no timestamps, so two runs give byte-identical files
(importer.TestBadFilesAreGenerated checks this).

Run:  /usr/bin/python3 tools/gen_badfiles.py [--out fixtures/bad]
"""
import argparse
import json
import os
import shutil
import zlib

import h5py
import numpy as np

CASES = []


def case(expect, want, notes, api="load"):
    def deco(fn):
        CASES.append(dict(name=fn.__name__.replace("case_", "", 1), fn=fn, api=api,
                          expect=expect, want=want, notes=notes))
        return fn
    return deco


# --------------------------------------------------------------------------------------
# A small valid Keras 2.2.4 model, to damage
# --------------------------------------------------------------------------------------

def dense_cfg(name, units, input_dim=None, activation="linear"):
    cfg = {"name": name, "trainable": True}
    if input_dim is not None:
        cfg["batch_input_shape"] = [None, input_dim]
        cfg["dtype"] = "float32"
    cfg.update({"units": units, "activation": activation, "use_bias": True,
                "kernel_initializer": {"class_name": "VarianceScaling", "config": {
                    "scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}},
                "bias_initializer": {"class_name": "Zeros", "config": {}},
                "kernel_regularizer": None, "bias_regularizer": None,
                "activity_regularizer": None, "kernel_constraint": None,
                "bias_constraint": None})
    return {"class_name": "Dense", "config": cfg}


def sequential(*layers):
    return {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": list(layers)}}


def functional(layers, inputs, outputs):
    return {"class_name": "Model", "config": {"name": "model_1", "layers": layers,
                                              "input_layers": inputs, "output_layers": outputs}}


def input_layer(name, shape):
    return {"name": name, "class_name": "InputLayer",
            "config": {"batch_input_shape": [None] + shape, "dtype": "float32",
                       "sparse": False, "name": name}, "inbound_nodes": []}


def node(layer_cfg, *inbound):
    l = dict(layer_cfg)
    l["name"] = layer_cfg["config"]["name"]
    l["inbound_nodes"] = [[[n, 0, 0, {}] for n in inbound]]
    return l


def weights(rng, *shape):
    return (0.1 * rng.standard_normal(shape)).astype(np.float32)


def dense_weights(rng, name, n_in, units):
    return [(name + "/kernel:0", weights(rng, n_in, units)), (name + "/bias:0", weights(rng, units))]


def names_attr(obj, key, names):
    if names:
        obj.attrs.create(key, np.array([n.encode("utf8") for n in names]))
    else:
        obj.attrs.create(key, np.array([], dtype=np.float64))


def new_file(path, latest=False, userblock=0, driver=None):
    """An h5py File; latest: libhdf5's newest format (a version 3 superblock
    with a checksum, version 2 object headers), without timestamps;
    userblock: bytes before the superblock; driver: h5py's driver and its
    keywords, a (name, dict) pair."""
    if driver:
        return h5py.File(path, "w", driver=driver[0], **driver[1])
    if not latest:
        return h5py.File(path, "w", userblock_size=userblock)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    return h5py.File(h5py.h5f.create(path.encode("utf8"), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))


def new_group(parent, name):
    """create_group without a timestamp (which would make files differ)."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return h5py.Group(h5py.h5g.create(parent.id, name.encode("utf8"), gcpl=gcpl))


def write_keras(path, config, groups, config_raw=None, latest=False, userblock=0, driver=None):
    """groups: [(layer_name, [(weight_name, array or callable(group, name))])]."""
    with new_file(path, latest, userblock, driver) as f:
        f.attrs.create("keras_version", np.bytes_(b"2.2.4"))
        f.attrs.create("backend", np.bytes_(b"tensorflow"))
        raw = config_raw if config_raw is not None else json.dumps(config).encode("utf8")
        f.attrs.create("model_config", np.bytes_(raw))
        g = new_group(f, "model_weights")
        names_attr(g, "layer_names", [n for n, _ in groups])
        g.attrs.create("backend", np.bytes_(b"tensorflow"))
        g.attrs.create("keras_version", np.bytes_(b"2.2.4"))
        for lname, ws in groups:
            lg = new_group(g, lname)
            names_attr(lg, "weight_names", [n for n, _ in ws])
            for n, a in ws:
                parent = lg
                for part in n.split("/")[:-1]:
                    parent = parent[part] if part in parent else new_group(parent, part)
                if callable(a):
                    a(lg, n)
                else:
                    lg.create_dataset(n, data=a, track_times=False)


def small_model(path, rng, latest=False, userblock=0, driver=None):
    """Dense(4 -> 3, relu) then Dense(3 -> 2): a valid model."""
    cfg = sequential(dense_cfg("dense_1", 3, input_dim=4, activation="relu"), dense_cfg("dense_2", 2))
    write_keras(path, cfg, [("dense_1", dense_weights(rng, "dense_1", 4, 3)),
                            ("dense_2", dense_weights(rng, "dense_2", 3, 2))],
                latest=latest, userblock=userblock, driver=driver)


@case("ok", [], "a valid model with a 512-byte user block before the superblock (the "
      "precheck finds the signature at 512 and the end-of-file address counts the user block)")
def case_ok_userblock(path, rng):
    small_model(path, rng, userblock=512)
    with open(path, "r+b") as fh:
        fh.write(b"kerasrun test user block\n")


@case("ok", [], "a valid model in libhdf5's newest format (libver='latest': a version 3 "
      "superblock, whose checksum the precheck verifies)")
def case_ok_latest_format(path, rng):
    small_model(path, rng, latest=True)


# --------------------------------------------------------------------------------------
# Not HDF5, or broken HDF5
# --------------------------------------------------------------------------------------

@case("error", ["not an HDF5 file", "empty"], "a zero-byte file")
def case_zero_bytes(path, rng):
    open(path, "wb").close()


@case("error", ["not an HDF5 file", "no HDF5 signature"], "4096 random bytes")
def case_random_bytes(path, rng):
    with open(path, "wb") as fh:
        fh.write(rng.bytes(4096))


@case("error", ["corrupt HDF5 file", "superblock"],
      "the HDF5 signature followed by 4096 random bytes")
def case_magic_garbage(path, rng):
    with open(path, "wb") as fh:
        fh.write(b"\x89HDF\r\n\x1a\n" + rng.bytes(4096))


@case("error", ["corrupt HDF5 file", "truncated superblock"],
      "the HDF5 signature and the first bytes of a version 0 superblock")
def case_truncated_superblock(path, rng):
    with open(path, "wb") as fh:
        fh.write(b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00\x00\x08\x08\x00")


@case("error", ["truncated HDF5 file", "ends at byte", "only 1024 bytes"],
      "a valid model file cut after 1024 bytes")
def case_truncated(path, rng):
    small_model(path, rng)
    with open(path, "r+b") as fh:
        fh.truncate(1024)


@case("error", ["truncated HDF5 file", "ends at byte"],
      "a valid model file with its last byte cut: the superblock's end-of-file address is "
      "one byte past the end")
def case_truncated_one_byte(path, rng):
    small_model(path, rng)
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.truncate(size - 1)


@case("error", ["superblock checksum"],
      "a version 3 superblock (libver='latest') with one byte of its end-of-file address "
      "changed, so that its checksum fails")
def case_superblock_checksum(path, rng):
    small_model(path, rng, latest=True)
    data = bytearray(open(path, "rb").read())
    assert data[8] >= 2, "expected a version 2+ superblock"
    data[12 + 2 * 8] ^= 0x01  # the low byte of the end-of-file address
    with open(path, "wb") as fh:
        fh.write(bytes(data))


@case("error", ["superblock version 7"], "a superblock of a version that does not exist")
def case_superblock_version(path, rng):
    small_model(path, rng)
    data = bytearray(open(path, "rb").read())
    data[8] = 7
    with open(path, "wb") as fh:
        fh.write(bytes(data))


@case("error", ["family of files", "save the model as one file"],
      "the first member of a model saved with h5py's family driver (driver='family'): its "
      "superblock names a driver information block, and libhdf5's default driver cannot open it")
def case_driver_family(path, rng):
    pattern = path[:-len(".h5")] + "%d.h5"
    small_model(pattern, rng, driver=("family", {"memb_size": 1 << 20}))
    os.replace(pattern % 0, path)


@case("error", ["multi-file set", "save the model as one file"],
      "the metadata file of a model saved with h5py's split driver (driver='split'); the raw "
      "data file beside it is removed")
def case_driver_split(path, rng):
    stem = path[:-len(".h5")]
    small_model(stem, rng, driver=("split", {"meta_ext": b"-m.h5", "raw_ext": b"-r.h5"}))
    os.replace(stem + "-m.h5", path)
    os.remove(stem + "-r.h5")


@case("error", ["corrupt HDF5 file", "driver information block"],
      "a version 0 superblock that names a driver information block of 1.3 GB at the end of "
      "the file: libhdf5 allocates and reads that much as it opens the file")
def case_driver_block_huge(path, rng):
    small_model(path, rng)
    data = bytearray(open(path, "rb").read())
    assert data[8] == 0 and data[13] == 8, "expected a version 0 superblock with 8-byte addresses"
    at = len(data)
    data[24 + 3 * 8:24 + 4 * 8] = at.to_bytes(8, "little")
    data += bytes([0, 0, 0, 0]) + (0x4E000000).to_bytes(4, "little") + b"NCSAsec2"
    with open(path, "wb") as fh:
        fh.write(bytes(data))


@case("error", ["corrupt HDF5 file", "object header at 96"],
      "a valid superblock whose root group object header is overwritten with random bytes: "
      "the Go check of object headers refuses it before libhdf5 opens the file")
def case_corrupt_root_header(path, rng):
    small_model(path, rng)
    data = bytearray(open(path, "rb").read())
    assert data[8] == 0
    # Version 0: the root symbol table entry starts at 24 + 4*8; its object
    # header address is its second field.
    root = int.from_bytes(data[24 + 5 * 8:24 + 6 * 8], "little")
    data[root:root + 16] = rng.bytes(16)
    with open(path, "wb") as fh:
        fh.write(bytes(data))


def kernel_header(path):
    """The bytes of the file at path, and the address of dense_1's kernel's
    object header in them (version 1)."""
    with h5py.File(path, "r") as f:
        addr = h5py.h5o.get_info(f["model_weights/dense_1/dense_1/kernel:0"].id).addr
    data = bytearray(open(path, "rb").read())
    assert data[addr] == 1, "expected a version 1 object header"
    return data, addr


@case("error", ["dense_1/kernel:0", "open dataset"],
      "the kernel's object header has its first message header overwritten: kerasrun does not "
      "parse dataset headers itself, libhdf5 refuses it, and its error stack becomes the Go error")
def case_corrupt_dataset_header(path, rng):
    small_model(path, rng)
    data, addr = kernel_header(path)
    data[addr + 16:addr + 24] = b"\xff\xff\xff\xff\xff\xff\xff\xff"
    with open(path, "wb") as fh:
        fh.write(bytes(data))


@case("error", ["corrupt HDF5 file", "global heap collection", "does not fit"],
      "model_config is a variable-length string (as tf.keras writes it) whose global heap "
      "object claims 2 GiB: libhdf5 1.10 would copy that much into the string's buffer")
def case_attr_vlen_heap_overflow(path, rng):
    small_model(path, rng)
    with h5py.File(path, "r+") as f:
        mc = f.attrs["model_config"]
        del f.attrs["model_config"]
        f.attrs.create("model_config", mc.decode("utf8"), dtype=h5py.string_dtype("utf-8"))
    data = bytearray(open(path, "rb").read())
    at = data.find(b"GCOL")
    assert at > 0 and data[at + 16:at + 18] == b"\x01\x00", "expected object 1 first in the collection"
    data[at + 24:at + 32] = (0x7FFFFFFF).to_bytes(8, "little")  # object 1's size
    with open(path, "wb") as fh:
        fh.write(bytes(data))


@case("error", ["not a Keras model file", "model_config"],
      "a valid HDF5 file without any Keras attribute or group")
def case_no_keras_attrs(path, rng):
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.arange(6, dtype=np.float32), track_times=False)
        f.attrs.create("title", np.bytes_(b"not a model"))


# --------------------------------------------------------------------------------------
# model_config faults
# --------------------------------------------------------------------------------------

def valid_weights(rng):
    return [("dense_1", dense_weights(rng, "dense_1", 4, 3))]


@case("error", ["model_config", "not valid JSON"], "model_config is truncated JSON")
def case_config_not_json(path, rng):
    raw = json.dumps(sequential(dense_cfg("dense_1", 3, input_dim=4))).encode("utf8")
    write_keras(path, None, valid_weights(rng), config_raw=raw[:len(raw) // 2])


@case("error", ["model_config", "nests more than 512 levels"],
      "model_config holds arrays nested 10,000 levels deep in a layer's config")
def case_config_deep_json(path, rng):
    cfg = dense_cfg("dense_1", 3, input_dim=4)
    raw = json.dumps(sequential(cfg)).encode("utf8")
    deep = b"[" * 10000 + b"]" * 10000
    raw = raw.replace(b'"units": 3', b'"units": ' + deep)
    write_keras(path, None, valid_weights(rng), config_raw=raw)


@case("error", ["model_config", "nests more than 512 levels"],
      "model_config holds TimeDistributed layers wrapped 300 deep (JSON 600 levels deep), "
      "which would make every wrapper's decoder recurse")
def case_config_deep_wrappers(path, rng):
    inner = {"class_name": "Dense", "config": {"name": "d", "units": 2}}
    for i in range(300):
        inner = {"class_name": "TimeDistributed", "config": {"name": "t%d" % i, "layer": inner}}
    inner["config"]["batch_input_shape"] = [None, 2, 4]
    write_keras(path, sequential(inner), [("t299", [])])


def chain_functional(inbound_of_b, extra_layers=()):
    layers = [input_layer("input_1", [4]),
              node(dense_cfg("dense_1", 3), "input_1"),
              node(dense_cfg("dense_2", 3), *inbound_of_b),
              node(dense_cfg("dense_3", 2), "dense_2")]
    layers += list(extra_layers)
    return functional(layers, [["input_1", 0, 0]], [["dense_3", 0, 0]])


def chain_weights(rng):
    return [("input_1", []),
            ("dense_1", dense_weights(rng, "dense_1", 4, 3)),
            ("dense_2", dense_weights(rng, "dense_2", 3, 3)),
            ("dense_3", dense_weights(rng, "dense_3", 3, 2))]


@case("error", ["cycle", "dense_2", "dense_3"],
      "a functional model where dense_2 takes dense_3's output and dense_3 takes dense_2's")
def case_config_cycle(path, rng):
    write_keras(path, chain_functional(["dense_3"]), chain_weights(rng))


@case("error", ["dense_2", "inbound layer", "ghost_1", "does not exist"],
      "dense_2 takes its input from a layer the model does not have")
def case_config_unknown_inbound(path, rng):
    write_keras(path, chain_functional(["ghost_1"]), chain_weights(rng))


@case("error", ["duplicate layer name", "dense_1"], "two layers named dense_1")
def case_config_duplicate_name(path, rng):
    cfg = sequential(dense_cfg("dense_1", 3, input_dim=4), dense_cfg("dense_1", 2))
    write_keras(path, cfg, [("dense_1", dense_weights(rng, "dense_1", 4, 3))])


@case("error", ["dense_1", "Dense", "units", "must be positive, got 0"], "Dense with units=0")
def case_config_units_zero(path, rng):
    write_keras(path, sequential(dense_cfg("dense_1", 0, input_dim=4)),
                [("dense_1", [("dense_1/kernel:0", np.zeros((4, 0), np.float32)),
                              ("dense_1/bias:0", np.zeros((0,), np.float32))])])


@case("error", ["dense_1", "Dense", "units", "must be positive, got -3"], "Dense with units=-3")
def case_config_units_negative(path, rng):
    write_keras(path, sequential(dense_cfg("dense_1", -3, input_dim=4)),
                [("dense_1", [("dense_1/kernel:0", weights(rng, 4, 3)),
                              ("dense_1/bias:0", weights(rng, 3))])])


@case("error", ["repeat_vector_1", "RepeatVector", "(None, 1000000000, 3)", "importer.Options.MaxTensorElements"],
      "RepeatVector(n=10**9): the file is small, but the first Predict would allocate "
      "12 GB a sample; the static output shape is checked at load")
def case_config_huge_output(path, rng):
    cfg = sequential(dense_cfg("dense_1", 3, input_dim=4),
                     {"class_name": "RepeatVector", "config": {"name": "repeat_vector_1", "n": 10 ** 9}})
    write_keras(path, cfg, [("dense_1", dense_weights(rng, "dense_1", 4, 3)), ("repeat_vector_1", [])])


# --------------------------------------------------------------------------------------
# Weight faults
# --------------------------------------------------------------------------------------

def one_dense(path, rng, ws):
    write_keras(path, sequential(dense_cfg("dense_1", 3, input_dim=4)), [("dense_1", ws)])


@case("error", ["dense_1", "Dense", "bias", "missing"], "Dense without its bias")
def case_weights_missing(path, rng):
    one_dense(path, rng, [("dense_1/kernel:0", weights(rng, 4, 3))])


@case("error", ["dense_1", "Dense", "dense_1/extra:0"], "Dense with a third weight left over")
def case_weights_left_over(path, rng):
    one_dense(path, rng, dense_weights(rng, "dense_1", 4, 3) + [("dense_1/extra:0", weights(rng, 3))])


@case("error", ["ghost_1", "the model config does not have"],
      "weights for a layer the model does not have")
def case_weights_unknown_layer(path, rng):
    write_keras(path, sequential(dense_cfg("dense_1", 3, input_dim=4)),
                [("dense_1", dense_weights(rng, "dense_1", 4, 3)),
                 ("ghost_1", dense_weights(rng, "ghost_1", 3, 3))])


@case("error", ["dense_1", "Dense", "kernel", "[4 3]", "[4 5]"], "a kernel of the wrong shape")
def case_weights_wrong_shape(path, rng):
    one_dense(path, rng, [("dense_1/kernel:0", weights(rng, 4, 5)), ("dense_1/bias:0", weights(rng, 3))])


@case("error", ["dense_1", "dense_1/kernel:0", "dtype is integer (4 bytes)", "not a float type"],
      "an int32 kernel")
def case_weights_int(path, rng):
    one_dense(path, rng, [("dense_1/kernel:0", np.arange(12, dtype=np.int32).reshape(4, 3)),
                          ("dense_1/bias:0", weights(rng, 3))])


@case("error", ["dense_1", "dense_1/bias:0", "dtype is string", "not a float type"],
      "a bias stored as strings")
def case_weights_string(path, rng):
    one_dense(path, rng, [("dense_1/kernel:0", weights(rng, 4, 3)),
                          ("dense_1/bias:0", np.array([b"0.1", b"0.2", b"0.3"]))])


@case("error", ["dense_1/kernel:0", "2199023255552 elements", "importer.Options.MaxTensorElements"],
      "a chunked kernel that declares shape (2^20, 2^21), 2^41 elements, with no data written: "
      "the file is small, the declared size is not")
def case_weights_huge_shape(path, rng):
    def huge(group, name):
        group.create_dataset(name, shape=(2 ** 20, 2 ** 21), dtype=np.float32, chunks=(64, 64),
                             track_times=False)
    one_dense(path, rng, [("dense_1/kernel:0", huge), ("dense_1/bias:0", weights(rng, 3))])


@case("error", ["dense_1/kernel:0", "external link", "does not follow links out of the file"],
      "the kernel is an external link to another file")
def case_weights_external_link(path, rng):
    def ext(group, name):
        group[name] = h5py.ExternalLink("/dev/zero", "/kernel")
    one_dense(path, rng, [("dense_1/kernel:0", ext), ("dense_1/bias:0", weights(rng, 3))])


@case("error", ["dense_1/kernel:0", "soft link"], "the kernel is a soft link to the bias")
def case_weights_soft_link(path, rng):
    def soft(group, name):
        group[name] = h5py.SoftLink("/model_weights/dense_1/dense_1/bias:0")
    one_dense(path, rng, [("dense_1/kernel:0", soft), ("dense_1/bias:0", weights(rng, 3))])


@case("error", ["dense_2", "weight group", "doesn't exist"],
      "layer_names lists a layer whose group does not exist")
def case_weights_no_group(path, rng):
    small_model(path, rng)
    with h5py.File(path, "r+") as f:
        del f["model_weights/dense_2"]


def compact_dataset(array):
    """A weight stored compact (its data inside its object header), as
    callable(group, name) for one_dense."""
    def write(group, name):
        space = h5py.h5s.create_simple(array.shape)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        dcpl.set_obj_track_times(False)
        ds = h5py.h5d.create(group.id, name.encode("utf8"), h5py.h5t.IEEE_F32LE, space, dcpl=dcpl)
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(array, dtype="<f4"))
    return write


@case("ok", [], "the kernel stored compact, its data inside its object header (h5py's "
      "layout=compact; Keras writes contiguous datasets, but a file re-saved with other "
      "settings may not)")
def case_weights_compact(path, rng):
    one_dense(path, rng, [("dense_1/kernel:0", compact_dataset(weights(rng, 4, 3))),
                          ("dense_1/bias:0", weights(rng, 3))])


@case("error", ["dense_1/kernel:0", "compact dataset holds 0 bytes"],
      "the compact kernel's layout message says its header holds no data: libhdf5 1.10 reads "
      "its 48 bytes from a buffer it never allocated, and crashes")
def case_weights_compact_empty(path, rng):
    case_weights_compact(path, rng)
    data, addr = kernel_header(path)
    # The layout message (type 8), version 3, class 0 (compact): its next
    # two bytes are the size of the data.
    p = addr + 16
    while int.from_bytes(data[p:p + 2], "little") != 8:
        p += 8 + int.from_bytes(data[p + 2:p + 4], "little")
    assert data[p + 8:p + 10] == bytes([3, 0]) and int.from_bytes(data[p + 10:p + 12], "little") == 48
    data[p + 10:p + 12] = bytes(2)
    with open(path, "wb") as fh:
        fh.write(bytes(data))


@case("ok", [], "NaN and Inf weights: they load, and flow through as in Keras")
def case_weights_nan(path, rng):
    k = weights(rng, 4, 3)
    k[1, 0] = np.nan
    b = weights(rng, 3)
    b[2] = np.inf
    one_dense(path, rng, [("dense_1/kernel:0", k), ("dense_1/bias:0", b)])


# --------------------------------------------------------------------------------------

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Generate kerasrun's bad model files.")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(here), "fixtures", "bad"))
    a = ap.parse_args()
    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    manifest = []
    for c in CASES:
        rng = np.random.RandomState(zlib.crc32(c["name"].encode("utf8")) & 0x7FFFFFFF)
        fname = c["name"] + ".h5"
        c["fn"](os.path.join(a.out, fname), rng)
        manifest.append({"file": fname, "api": c["api"], "expect": c["expect"],
                         "want": c["want"], "notes": c["notes"]})
        print("%-28s %-5s %6d bytes" % (fname, c["expect"], os.path.getsize(os.path.join(a.out, fname))))
    with open(os.path.join(a.out, "MANIFEST.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    print("%d files written to %s" % (len(manifest), a.out))


if __name__ == "__main__":
    main()
