package oip

import (
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestRoundTrip encodes requests and responses of every datatype, as JSON
// and as binary, and decodes them back unchanged (NaN and infinities
// included, through their JSON strings).
func TestRoundTrip(t *testing.T) {
	inputs := []Tensor{
		NewFP32("a", []int64{2, 3}, []float32{1.5, -2, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, 3.4028235e38}),
		NewFP64("b", []int64{1, 2}, []float64{math.Pi, -1e-300}),
		NewINT32("c", []int64{3}, []int32{math.MinInt32, 0, math.MaxInt32}),
		NewINT64("d", []int64{2, 1}, []int64{math.MinInt64, math.MaxInt64}),
		NewFP32("e", []int64{1}, []float32{float32(math.NaN())}),
	}
	for _, binaryData := range []bool{false, true} {
		in := make([]Tensor, len(inputs))
		copy(in, inputs)
		for i := range in {
			in[i].Binary = binaryData && i%2 == 0
		}
		req := &InferRequest{ID: "r1", Inputs: in, Outputs: []RequestedOutput{{Name: "x", Binary: true}, {Name: "y"}}, Parameters: Parameters{"k": "v"}}
		body, n, err := EncodeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		if (n != len(body)) != binaryData {
			t.Fatalf("binary=%v: json length %d of a %d-byte body", binaryData, n, len(body))
		}
		got, err := DecodeRequest(body, n)
		if err != nil {
			t.Fatalf("binary=%v: %v\n%s", binaryData, err, body[:n])
		}
		if got.ID != "r1" || got.Parameters["k"] != "v" || len(got.Outputs) != 2 || !got.Outputs[0].Binary || got.Outputs[1].Binary || got.Outputs[1].Name != "y" {
			t.Fatalf("binary=%v: request fields: %+v", binaryData, got)
		}
		checkTensors(t, got.Inputs, in)

		resp := &InferResponse{ModelName: "m", ModelVersion: "1", ID: "r1", Outputs: in}
		body, n, err = EncodeResponse(resp)
		if err != nil {
			t.Fatal(err)
		}
		gr, err := DecodeResponse(body, n)
		if err != nil {
			t.Fatal(err)
		}
		if gr.ModelName != "m" || gr.ModelVersion != "1" || gr.ID != "r1" {
			t.Fatalf("response fields: %+v", gr)
		}
		checkTensors(t, gr.Outputs, in)
		if gr.Output("c") == nil || gr.Output("zz") != nil {
			t.Fatal("Output lookup")
		}
	}
}

func checkTensors(t *testing.T, got, want []Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Datatype != w.Datatype || !reflect.DeepEqual(g.Shape, w.Shape) || g.Binary != w.Binary {
			t.Fatalf("tensor %d: got %+v, want %+v", i, g, w)
		}
		if !sameBits(g.Data, w.Data) {
			t.Fatalf("tensor %q: data %v, want %v", w.Name, g.Data, w.Data)
		}
	}
}

func sameBits(a, b any) bool {
	switch x := a.(type) {
	case []float32:
		y := b.([]float32)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) && !(math.IsNaN(float64(x[i])) && math.IsNaN(float64(y[i]))) {
				return false
			}
		}
		return true
	case []float64:
		y := b.([]float64)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestDecodeJSONData reads nested and flat data, and the spellings of the
// special values.
func TestDecodeJSONData(t *testing.T) {
	body := `{"inputs":[
		{"name":"a","shape":[2,2],"datatype":"FP32","data":[[1, 2.5],[ -3e2 ,"NaN"]]},
		{"name":"b","shape":[3],"datatype":"INT64","data":[1,-2,9007199254740993]},
		{"name":"c","shape":[2],"datatype":"FP64","data":["Infinity","-Infinity"]},
		{"name":"d","shape":[1],"datatype":"FP32","data":[1e39]}
	],"parameters":{"binary_data_output":true}}`
	req, err := DecodeRequest([]byte(body), -1)
	if err != nil {
		t.Fatal(err)
	}
	a := req.Inputs[0].Data.([]float32)
	if a[0] != 1 || a[1] != 2.5 || a[2] != -300 || !math.IsNaN(float64(a[3])) {
		t.Fatalf("a = %v", a)
	}
	if b := req.Inputs[1].Data.([]int64); !reflect.DeepEqual(b, []int64{1, -2, 9007199254740993}) {
		t.Fatalf("b = %v", b)
	}
	if c := req.Inputs[2].Data.([]float64); !math.IsInf(c[0], 1) || !math.IsInf(c[1], -1) {
		t.Fatalf("c = %v", c)
	}
	if d := req.Inputs[3].Data.([]float32); !math.IsInf(float64(d[0]), 1) {
		t.Fatalf("d = %v", d)
	}
	if !req.BinaryOutput || req.Parameters != nil {
		t.Fatalf("binary_data_output: %v, parameters %v", req.BinaryOutput, req.Parameters)
	}
}

// TestDecodeErrors: every malformed request is an error that says what is
// wrong.
func TestDecodeErrors(t *testing.T) {
	in := func(s string) string { return `{"inputs":[` + s + `]}` }
	bin4 := string(binary.LittleEndian.AppendUint32(nil, math.Float32bits(1)))
	cases := []struct {
		name, body string
		jsonLen    int // -1: all JSON; -2: the JSON part is all but the last 4 bytes
		want       string
	}{
		{"not json", `{"inputs":`, -1, "bad JSON"},
		{"trailing", in(`{"name":"a","shape":[1],"datatype":"FP32","data":[1]}`) + `{}`, -1, "after the top-level value"},
		{"no inputs", `{"inputs":[]}`, -1, "no inputs"},
		{"no name", in(`{"shape":[1],"datatype":"FP32","data":[1]}`), -1, "has no name"},
		{"no shape", in(`{"name":"a","datatype":"FP32","data":[1]}`), -1, "has no shape"},
		{"negative dim", in(`{"name":"a","shape":[-1],"datatype":"FP32","data":[1]}`), -1, "negative dimension"},
		{"huge shape", in(`{"name":"a","shape":[4294967296,4294967296,4294967296],"datatype":"FP32","data":[1]}`), -1, "too large"},
		{"datatype", in(`{"name":"a","shape":[1],"datatype":"BOOL","data":[true]}`), -1, `datatype "BOOL" is not supported`},
		{"no data", in(`{"name":"a","shape":[1],"datatype":"FP32"}`), -1, "has no data"},
		{"count", in(`{"name":"a","shape":[2],"datatype":"FP32","data":[1]}`), -1, `holds 2 elements, "data" has 1`},
		{"bool data", in(`{"name":"a","shape":[1],"datatype":"FP32","data":[true]}`), -1, "want numbers"},
		{"object data", in(`{"name":"a","shape":[1],"datatype":"FP32","data":[{"x":1}]}`), -1, "want numbers"},
		{"float for int", in(`{"name":"a","shape":[1],"datatype":"INT32","data":[1.5]}`), -1, `"1.5" is not a INT32 value`},
		{"int32 range", in(`{"name":"a","shape":[1],"datatype":"INT32","data":[2147483648]}`), -1, "is not a INT32 value"},
		{"string for int", in(`{"name":"a","shape":[1],"datatype":"INT64","data":["NaN"]}`), -1, "not a INT64 number"},
		{"bad string", in(`{"name":"a","shape":[1],"datatype":"FP32","data":["one"]}`), -1, `the string "one"`},
		{"binary and data", in(`{"name":"a","shape":[1],"datatype":"FP32","data":[1],"parameters":{"binary_data_size":4}}`), -1, "both"},
		{"binary size type", in(`{"name":"a","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":"4"}}`), -2, "want a byte count"},
		{"binary size wrong", in(`{"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":4}}`), -2, "takes 8 bytes"},
		{"binary short", in(`{"name":"a","shape":[1],"datatype":"FP64","parameters":{"binary_data_size":8}}`), -2, "only 4 bytes"},
		{"binary extra", in(`{"name":"a","shape":[1],"datatype":"FP32","data":[1]}`), -2, "no input claims them"},
		{"binary_data_output type", `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]}],"parameters":{"binary_data_output":"yes"}}`, -1, "want a boolean"},
		{"binary_data type", `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"o","parameters":{"binary_data":1}}]}`, -1, "want a boolean"},
		{"header too long", in(`{"name":"a","shape":[1],"datatype":"FP32","data":[1]}`), 1 << 20, "the body has"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, n := c.body, c.jsonLen
			if n == -2 {
				n = len(body)
				body += bin4
			}
			_, err := DecodeRequest([]byte(body), n)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "oip: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestEncodeErrors: tensors whose data does not fit are refused.
func TestEncodeErrors(t *testing.T) {
	for _, tc := range []Tensor{
		NewFP32("a", []int64{2}, []float32{1}),
		{Name: "b", Datatype: FP64, Shape: []int64{1}, Data: []float32{1}},
		{Name: "c", Datatype: FP32, Shape: []int64{1}, Data: []string{"x"}},
		NewFP32("d", []int64{-1}, []float32{1}),
	} {
		if _, _, err := EncodeRequest(&InferRequest{Inputs: []Tensor{tc}}); err == nil {
			t.Errorf("%s: no error", tc.Name)
		}
	}
}

// TestFloat32s: conversions are exact or refused.
func TestFloat32s(t *testing.T) {
	x := NewINT64("x", []int64{2}, []int64{1 << 24, -(1 << 24)})
	if got, err := x.Float32s(); err != nil || got[0] != 1<<24 || got[1] != -(1<<24) {
		t.Fatalf("%v %v", got, err)
	}
	x = NewINT64("x", []int64{1}, []int64{1<<24 + 1})
	if _, err := x.Float32s(); err == nil || !strings.Contains(err.Error(), "no exact float32") {
		t.Fatalf("error %v", err)
	}
	y := NewINT32("y", []int64{1}, []int32{-(1 << 25)})
	if _, err := y.Float32s(); err == nil {
		t.Fatal("no error for -2^25")
	}
	z := NewFP64("z", []int64{1}, []float64{0.1})
	if got, _ := z.Float32s(); got[0] != float32(0.1) {
		t.Fatalf("%v", got)
	}
}
