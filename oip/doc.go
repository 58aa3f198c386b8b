// Package oip speaks the Open Inference Protocol (the KServe V2 inference
// protocol, also spoken by Triton and Seldon MLServer), over REST and gRPC:
// the wire types, the JSON, binary and protobuf tensor encodings, a REST
// Client and a GRPCClient.
//
// # Client
//
// A Client talks to any server that speaks the protocol, kerasrun serve
// included:
//
//	c := oip.NewClient("http://localhost:8080", nil)
//	x := oip.NewFP32("input_1", []int64{1, 5, 10}, data) // row-major
//	res, err := c.Infer(ctx, "tagger", &oip.InferRequest{
//		ID:     "req-1",
//		Inputs: []oip.Tensor{x},
//	})
//	if err != nil { ... }        // *oip.Error for a status other than 200
//	y, err := res.Outputs[0].Float32s()
//
// Set Tensor.Binary on an input to send its data with the binary tensor
// data extension (raw little-endian bytes after the JSON header, announced
// by the Inference-Header-Content-Length header) rather than as JSON
// numbers, and InferRequest.BinaryOutput (or RequestedOutput.Binary, one
// output at a time) to receive the outputs that way. Large tensors should
// travel in binary: 4 bytes a float32 instead of about 11 characters, and
// no number parsing.
//
// # gRPC
//
// GRPCClient has the methods of Client over the protocol's gRPC API
// (inference.GRPCInferenceService, generated from the published
// grpc_predict_v2.proto into package oip/inferencepb), with the same types:
//
//	cc, err := grpc.NewClient("localhost:8081", grpc.WithTransportCredentials(insecure.NewCredentials()))
//	if err != nil { ... }
//	defer cc.Close()
//	c := oip.NewGRPCClient(cc)
//	res, err := c.Infer(ctx, "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}})
//
// Inputs travel as raw_input_contents and outputs as raw_output_contents
// (typed contents are read too), so the Binary fields, a REST encoding
// choice, do not apply. A gRPC status other than OK is a *GRPCError, which
// keeps the gRPC code; errors.As also finds in it an *Error with the HTTP
// status that the REST API answers for the same failure. InferClient is
// the method set both clients share.
//
// RequestToProto / RequestFromProto and ResponseToProto / ResponseFromProto
// convert between the typed values and the gRPC messages, with the checks
// of DecodeRequest: a server uses the From side of requests and the To
// side of responses.
//
// # Encodings
//
// EncodeRequest / DecodeRequest and EncodeResponse / DecodeResponse turn
// the typed values into bodies and back; a server uses the Decode side of
// requests and the Encode side of responses. The JSON "data" of a tensor is
// read flat or nested, in row-major order; it is written flat. JSON numbers
// cannot hold NaN or infinities: FP16, FP32 and FP64 data write them as the
// strings "NaN", "Infinity" and "-Infinity", and read those back. Numbers
// are written with the fewest digits that read back to the same value, so
// the JSON encoding is exact too.
//
// # Datatypes
//
// Every datatype of the protocol, and the Go type of Tensor.Data for it:
//
//	BOOL    []bool     JSON true/false; raw: 1 byte, 0 or 1 (other bytes are an error)
//	UINT8   []uint8    JSON integers, as are all the integer datatypes;
//	UINT16  []uint16   raw: little-endian, in their own size
//	UINT32  []uint32
//	UINT64  []uint64
//	INT8    []int8
//	INT16   []int16
//	INT32   []int32
//	INT64   []int64
//	FP16    []Float16  IEEE binary16 bits; raw: 2 bytes
//	FP32    []float32
//	FP64    []float64
//	BYTES   [][]byte   JSON strings; raw: a 4-byte little-endian length, then the bytes
//
// An integer outside its datatype's range is an error; none wraps. FP16
// JSON numbers are read as the nearest float64 and then rounded to the
// nearest binary16 (see Float16FromFloat32); they are written with the
// fewest digits that read back the same. BYTES data travels as JSON only
// when each element is UTF-8 text; other bytes need Tensor.Binary.
// Tensor.Float32s converts every numeric datatype to float32, exactly or
// with an error (FP64 alone is rounded). EncodeRaw and DecodeRaw give the
// raw form on its own, as the gRPC API carries it in raw_*_contents.
//
// # Untrusted bodies
//
// Decoding checks every shape product, byte count and offset for overflow
// before it allocates, and allocates in proportion to the bytes actually
// present: a hostile body, request or response, gets an error, never a
// panic or an allocation sized by a number it claims. ReadRequest reads a
// request from a stream under a byte limit (ErrTooLarge), without a copy of
// the whole body. Errors repeat at most a short prefix of any string from
// the body, such as a tensor name.
//
// # Ownership
//
// Encode functions only read their argument. Decode functions return values
// that share nothing with the body they read. A Client is safe for
// concurrent use.
package oip
