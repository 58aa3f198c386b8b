#!/usr/bin/env python3
"""A third-party client of the Open Inference Protocol's gRPC API.

It calls a server (kerasrun serve --grpc-addr, Triton, KServe) the way
tritonclient.grpc does: messages built from protoc's Python output of the
published grpc_predict_v2.proto, inputs sent as raw_input_contents (the
little-endian bytes of each numpy array), outputs read with numpy.frombuffer
from raw_output_contents. It uses only grpcio, protobuf and numpy (Debian:
python3-grpcio python3-protobuf python3-numpy, and protobuf-compiler for
protoc), none of kerasrun's code.

    tools/oip_grpc_client.py ADDR MODEL [NAME=]FILE.npy ...

Inputs are matched to the model's inputs by NAME, or in metadata order when
no name is given, and cast to the datatype its metadata declares. It calls
ServerLive, ServerReady, ModelMetadata and ModelInfer, and prints one JSON
object: live, ready, metadata, model_name, model_version, id and outputs
(name, datatype, shape, data as a flat list).

--proto-dir names a directory holding grpc_predict_v2_pb2.py; without it the
module is generated with protoc from oip/inferencepb/grpc_predict_v2.proto
into a temporary directory.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import grpc
import numpy as np

SERVICE = "/inference.GRPCInferenceService/"

# The datatypes of the protocol and their numpy types, as tritonclient's
# triton_to_np_dtype maps them (BYTES is not handled here).
NP_DTYPES = {
    "BOOL": np.bool_,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "..", "oip", "inferencepb", "grpc_predict_v2.proto")


def load_messages(proto_dir):
    """Imports grpc_predict_v2_pb2 from proto_dir, generating it first when
    proto_dir is None."""
    if proto_dir is None:
        proto_dir = tempfile.mkdtemp(prefix="oip_grpc_")
        subprocess.run(
            ["protoc", "-I", os.path.dirname(PROTO), "--python_out=" + proto_dir, os.path.basename(PROTO)],
            check=True,
        )
    sys.path.insert(0, proto_dir)
    import grpc_predict_v2_pb2  # noqa: E402 (generated at run time)

    return grpc_predict_v2_pb2


class Stub:
    """The unary calls of GRPCInferenceService, as a generated
    _pb2_grpc stub makes them."""

    def __init__(self, channel, pb):
        def call(name, req, resp):
            return channel.unary_unary(
                SERVICE + name,
                request_serializer=req.SerializeToString,
                response_deserializer=resp.FromString,
            )

        self.ServerLive = call("ServerLive", pb.ServerLiveRequest, pb.ServerLiveResponse)
        self.ServerReady = call("ServerReady", pb.ServerReadyRequest, pb.ServerReadyResponse)
        self.ModelMetadata = call("ModelMetadata", pb.ModelMetadataRequest, pb.ModelMetadataResponse)
        self.ModelInfer = call("ModelInfer", pb.ModelInferRequest, pb.ModelInferResponse)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--proto-dir", help="directory of grpc_predict_v2_pb2.py")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per call")
    ap.add_argument("addr", help="host:port of the gRPC API")
    ap.add_argument("model")
    ap.add_argument("inputs", nargs="+", help="[NAME=]FILE.npy")
    args = ap.parse_args()

    pb = load_messages(args.proto_dir)
    with grpc.insecure_channel(args.addr) as channel:
        stub = Stub(channel, pb)
        t = args.timeout
        live = stub.ServerLive(pb.ServerLiveRequest(), timeout=t).live
        ready = stub.ServerReady(pb.ServerReadyRequest(), timeout=t).ready
        md = stub.ModelMetadata(pb.ModelMetadataRequest(name=args.model), timeout=t)
        declared = {i.name: i.datatype for i in md.inputs}
        order = [i.name for i in md.inputs]

        req = pb.ModelInferRequest(model_name=args.model, id="oip_grpc_client")
        for k, spec in enumerate(args.inputs):
            name, sep, path = spec.rpartition("=")
            if not sep:
                if k >= len(order):
                    sys.exit("more inputs than the model has (%s)" % ", ".join(order))
                name = order[k]
            if name not in declared:
                sys.exit("model %s has no input %r (inputs: %s)" % (args.model, name, ", ".join(order)))
            dt = declared[name]
            if dt not in NP_DTYPES:
                sys.exit("input %r is %s, which this client does not send" % (name, dt))
            arr = np.ascontiguousarray(np.load(path).astype(NP_DTYPES[dt]))
            t_in = req.inputs.add()
            t_in.name = name
            t_in.datatype = dt
            t_in.shape.extend(arr.shape)
            req.raw_input_contents.append(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        resp = stub.ModelInfer(req, timeout=t)

    outputs = []
    for k, o in enumerate(resp.outputs):
        if o.datatype not in NP_DTYPES:
            sys.exit("output %r is %s, which this client does not read" % (o.name, o.datatype))
        dtype = np.dtype(NP_DTYPES[o.datatype]).newbyteorder("<")
        arr = np.frombuffer(resp.raw_output_contents[k], dtype=dtype).reshape(tuple(o.shape))
        outputs.append({
            "name": o.name,
            "datatype": o.datatype,
            "shape": list(arr.shape),
            "data": arr.reshape(-1).tolist(),
        })
    json.dump({
        "live": live,
        "ready": ready,
        "metadata": {
            "name": md.name,
            "versions": list(md.versions),
            "platform": md.platform,
            "inputs": [{"name": i.name, "datatype": i.datatype, "shape": list(i.shape)} for i in md.inputs],
            "outputs": [{"name": i.name, "datatype": i.datatype, "shape": list(i.shape)} for i in md.outputs],
        },
        "model_name": resp.model_name,
        "model_version": resp.model_version,
        "id": resp.id,
        "outputs": outputs,
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
