package oip

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"testing"
)

// seedTensors returns a tensor of every datatype, with awkward values.
func seedTensors() []Tensor {
	return []Tensor{
		NewBOOL("bool", []int64{2, 2}, []bool{true, false, false, true}),
		NewUINT8("u8", []int64{3}, []uint8{0, 1, 255}),
		NewUINT16("u16", []int64{2}, []uint16{0, 65535}),
		NewUINT32("u32", []int64{2}, []uint32{7, math.MaxUint32}),
		NewUINT64("u64", []int64{1, 2}, []uint64{0, math.MaxUint64}),
		NewINT8("i8", []int64{2}, []int8{-128, 127}),
		NewINT16("i16", []int64{2}, []int16{-32768, 32767}),
		NewINT32("i32", []int64{2}, []int32{math.MinInt32, math.MaxInt32}),
		NewINT64("i64", []int64{2}, []int64{math.MinInt64, math.MaxInt64}),
		NewFP16("fp16", []int64{2, 3}, []Float16{0x3c00, 0x0001, 0x7bff, 0xfc00, 0x7e00, 0x2e66}),
		NewFP32("fp32", []int64{1, 2, 2}, []float32{1.5, float32(math.NaN()), float32(math.Inf(-1)), 1e-45}),
		NewFP64("fp64", []int64{2}, []float64{math.Pi, math.Inf(1)}),
		NewBYTES("bytes", []int64{3}, [][]byte{[]byte("héllo \"x\""), {}, []byte("\x00\n")}),
		NewFP32("empty", []int64{0, 4}, []float32{}),
	}
}

// hostileSeeds are bodies that once panicked or could: overflowing shapes
// and sizes, nested and odd JSON data.
var hostileSeeds = []struct {
	json string
	bin  string
}{
	{`{"inputs":[{"name":"a","shape":[4611686018427387904],"datatype":"FP32","parameters":{"binary_data_size":0}}]}`, ""},
	{`{"inputs":[{"name":"a","shape":[4294967296,4294967296],"datatype":"INT8","parameters":{"binary_data_size":0}}]}`, "\x00"},
	{`{"inputs":[{"name":"a","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":9223372036854775807}}]}`, "\x01\x00\x00\x00a\x00\x00\x00\x00"},
	{`{"inputs":[{"name":"a","shape":[1],"datatype":"FP64","parameters":{"binary_data_size":18446744073709551624}}]}`, "12345678"},
	{`{"inputs":[{"name":"a","shape":[2,2],"datatype":"FP32","data":[[1,"NaN"],["-Infinity",1e39]]}]}`, ""},
	{`{"inputs":[{"name":"a","shape":[3],"datatype":"FP16","data":[[[0.1]],[65520],["inf"]]}]}`, ""},
	{`{"inputs":[{"name":"a","shape":[2],"datatype":"BYTES","data":["\u0000\ud800","\\\""]}]}`, ""},
	{`{"inputs":[{"name":"a","shape":[9223372036854775807],"datatype":"BOOL","data":[true]}],"outputs":[{"name":"o","parameters":{"binary_data":true}}],"parameters":{"binary_data_output":false}}`, ""},
	{`{"inputs":[{"name":"a","shape":[1],"datatype":"BOOL","parameters":{"binary_data_size":1}}]}`, "\x02"},
	{`{"inputs":[{"name":"a","shape":[],"datatype":"UINT64","data":18446744073709551615,"parameters":{}}],"parameters":{}}`, ""},
}

func FuzzDecodeRequest(f *testing.F) {
	ts := seedTensors()
	for _, binaryData := range []bool{false, true} {
		in := make([]Tensor, len(ts))
		copy(in, ts)
		for i := range in {
			in[i].Binary = binaryData
		}
		body, n, err := EncodeRequest(&InferRequest{ID: "r", Inputs: in, BinaryOutput: binaryData,
			Outputs: []RequestedOutput{{Name: "o", Binary: !binaryData}}, Parameters: Parameters{"p": 1}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, n)
		f.Add(body, -1)
	}
	for _, s := range hostileSeeds {
		f.Add([]byte(s.json+s.bin), len(s.json))
		f.Add([]byte(s.json+s.bin), -1)
	}
	f.Fuzz(func(t *testing.T, body []byte, jsonLen int) {
		req, err := DecodeRequest(body, jsonLen)
		if err != nil {
			return
		}
		for _, toJSON := range []bool{false, true} {
			r := *req
			r.Inputs = reencodable(req.Inputs, toJSON)
			b, n, err := EncodeRequest(&r)
			if err != nil {
				t.Fatalf("re-encoding a decoded request: %v", err)
			}
			got, err := DecodeRequest(b, n)
			if err != nil {
				t.Fatalf("decoding a re-encoded request: %v\n%q", err, b)
			}
			if got.ID != r.ID || got.BinaryOutput != r.BinaryOutput || !sameParams(got.Parameters, r.Parameters) || len(got.Outputs) != len(r.Outputs) {
				t.Fatalf("request fields: %+v, want %+v", got, r)
			}
			for i, o := range r.Outputs {
				g := got.Outputs[i]
				if g.Name != o.Name || g.Binary != o.Binary || !sameParams(g.Parameters, o.Parameters) {
					t.Fatalf("output %d: %+v, want %+v", i, g, o)
				}
			}
			fuzzCheckTensors(t, got.Inputs, r.Inputs)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	ts := seedTensors()
	for _, binaryData := range []bool{false, true} {
		out := make([]Tensor, len(ts))
		copy(out, ts)
		for i := range out {
			out[i].Binary = binaryData && i%3 != 0
		}
		body, n, err := EncodeResponse(&InferResponse{ModelName: "m", ModelVersion: "1", ID: "r", Outputs: out})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, n)
	}
	f.Add([]byte(`{"model_name":"m","outputs":[]}`), -1)
	for _, s := range hostileSeeds {
		js := bytes.Replace([]byte(s.json), []byte(`{"inputs":`), []byte(`{"model_name":"m","outputs":`), 1)
		f.Add(append(js, s.bin...), len(js))
	}
	f.Fuzz(func(t *testing.T, body []byte, jsonLen int) {
		resp, err := DecodeResponse(body, jsonLen)
		if err != nil {
			return
		}
		for _, toJSON := range []bool{false, true} {
			r := *resp
			r.Outputs = reencodable(resp.Outputs, toJSON)
			b, n, err := EncodeResponse(&r)
			if err != nil {
				t.Fatalf("re-encoding a decoded response: %v", err)
			}
			got, err := DecodeResponse(b, n)
			if err != nil {
				t.Fatalf("decoding a re-encoded response: %v\n%q", err, b)
			}
			if got.ModelName != r.ModelName || got.ModelVersion != r.ModelVersion || got.ID != r.ID || !sameParams(got.Parameters, r.Parameters) {
				t.Fatalf("response fields: %+v, want %+v", got, r)
			}
			fuzzCheckTensors(t, got.Outputs, r.Outputs)
		}
	})
}

func FuzzDecodeRaw(f *testing.F) {
	for _, tt := range seedTensors() {
		raw, err := EncodeRaw(&tt)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tt.Datatype, shapeBytes(tt.Shape), raw)
	}
	f.Add(FP32, shapeBytes([]int64{1 << 62}), []byte{})
	f.Add(BYTES, shapeBytes([]int64{2}), []byte("\xff\xff\xff\xff"))
	f.Add(BOOL, shapeBytes([]int64{1}), []byte{2})
	f.Fuzz(func(t *testing.T, datatype string, dims, raw []byte) {
		shape := make([]int64, len(dims)/8)
		for i := range shape {
			shape[i] = int64(binary.LittleEndian.Uint64(dims[8*i:]))
		}
		d, err := DecodeRaw("x", datatype, shape, raw)
		if err != nil {
			return
		}
		tt := Tensor{Name: "x", Datatype: datatype, Shape: shape, Data: d}
		back, err := EncodeRaw(&tt)
		if err != nil {
			t.Fatalf("EncodeRaw of decoded data: %v", err)
		}
		if !bytes.Equal(back, raw) {
			t.Fatalf("raw %x comes back as %x", raw, back)
		}
	})
}

func shapeBytes(shape []int64) []byte {
	var b []byte
	for _, d := range shape {
		b = binary.LittleEndian.AppendUint64(b, uint64(d))
	}
	return b
}

// reencodable returns copies of ts to encode again: as they came, or with
// JSON data wherever JSON can hold it (BYTES that are not text cannot).
func reencodable(ts []Tensor, toJSON bool) []Tensor {
	out := make([]Tensor, len(ts))
	copy(out, ts)
	if toJSON {
		for i := range out {
			if d, ok := out[i].Data.([][]byte); ok {
				if _, ok := validUTF8(d); !ok {
					continue
				}
			}
			out[i].Binary = false
		}
	}
	return out
}

func fuzzCheckTensors(t *testing.T, got, want []Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Datatype != w.Datatype || !reflect.DeepEqual(g.Shape, w.Shape) || g.Binary != w.Binary || !sameParams(g.Parameters, w.Parameters) {
			t.Fatalf("tensor %d: got %+v, want %+v", i, g, w)
		}
		if !sameBits(g.Data, w.Data) {
			t.Fatalf("tensor %q: data %v, want %v", w.Name, g.Data, w.Data)
		}
	}
}

// sameParams compares parameters, an empty set the same as none (JSON
// leaves an empty one out).
func sameParams(a, b Parameters) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}
