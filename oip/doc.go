// Package oip speaks the REST side of the Open Inference Protocol (the
// KServe V2 inference protocol, also spoken by Triton and Seldon MLServer):
// the wire types, the JSON and binary tensor encodings, and a Client.
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
// # Encodings
//
// EncodeRequest / DecodeRequest and EncodeResponse / DecodeResponse turn
// the typed values into bodies and back; a server uses the Decode side of
// requests and the Encode side of responses. The JSON "data" of a tensor is
// read flat or nested, in row-major order; it is written flat. JSON numbers
// cannot hold NaN or infinities: FP32 and FP64 data write them as the
// strings "NaN", "Infinity" and "-Infinity", and read those back. Numbers
// are written with the fewest digits that read back to the same value, so
// the JSON encoding is exact too.
//
// Supported datatypes: FP32, FP64, INT32 and INT64. Tensor.Data holds a
// []float32, []float64, []int32 or []int64 that matches Tensor.Datatype.
//
// # Ownership
//
// Encode functions only read their argument. Decode functions return values
// that share nothing with the body they read. A Client is safe for
// concurrent use.
package oip
