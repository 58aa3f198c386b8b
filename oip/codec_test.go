package oip

import (
	"bytes"
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
		NewBOOL("f", []int64{3}, []bool{true, false, true}),
		NewUINT8("g", []int64{3}, []uint8{0, 7, 255}),
		NewUINT16("h", []int64{2}, []uint16{0, 65535}),
		NewUINT32("i", []int64{2}, []uint32{1, math.MaxUint32}),
		NewUINT64("j", []int64{2}, []uint64{0, math.MaxUint64}),
		NewINT8("k", []int64{2}, []int8{math.MinInt8, math.MaxInt8}),
		NewINT16("l", []int64{2}, []int16{math.MinInt16, math.MaxInt16}),
		NewFP16("m", []int64{2, 3}, []Float16{0x3c00, 0x0001, 0x7bff, 0xfc00, 0x7e00, 0x8000}),
		NewBYTES("n", []int64{3}, [][]byte{[]byte("héllo"), {}, []byte("a\"b\n")}),
		NewFP32("o", []int64{0, 3}, []float32{}),
		NewBYTES("p", []int64{2}, [][]byte{{0xff, 0}, []byte("x")}),
	}
	for _, binaryData := range []bool{false, true} {
		in := make([]Tensor, len(inputs))
		copy(in, inputs)
		for i := range in {
			// BYTES that are not UTF-8 travel only in binary.
			in[i].Binary = (binaryData && i%2 == 0) || in[i].Name == "p"
		}
		req := &InferRequest{ID: "r1", Inputs: in, Outputs: []RequestedOutput{{Name: "x", Binary: true}, {Name: "y"}}, Parameters: Parameters{"k": "v"}}
		body, n, err := EncodeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		if n == len(body) {
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
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) && !(math.IsNaN(x[i]) && math.IsNaN(y[i])) {
				return false
			}
		}
		return true
	case []Float16:
		y := b.([]Float16)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			// JSON has one NaN.
			if x[i] != y[i] && !(x[i]&0x7fff > 0x7c00 && y[i]&0x7fff > 0x7c00) {
				return false
			}
		}
		return true
	case [][]byte:
		y := b.([][]byte)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !bytes.Equal(x[i], y[i]) {
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
		{"datatype", in(`{"name":"a","shape":[1],"datatype":"BF16","data":[1]}`), -1, `datatype "BF16" is not supported`},
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

// TestDecodeOverflow: shapes whose element or byte counts overflow are
// errors before anything is allocated, in requests and responses, binary
// and JSON. The first is the shape that once made a 0-byte size pass.
func TestDecodeOverflow(t *testing.T) {
	cases := []struct{ shape, datatype, params string }{
		{"[4611686018427387904]", "FP32", `{"binary_data_size":0}`},
		{"[2305843009213693952]", "FP64", `{"binary_data_size":0}`},
		{"[4611686018427387904]", "FP16", `{"binary_data_size":0}`},
		{"[4294967296,4294967296]", "FP32", `{"binary_data_size":0}`},
		{"[0,4294967296,4294967296]", "INT8", `{"binary_data_size":0}`},
		{"[9223372036854775807]", "BYTES", `{"binary_data_size":8}`},
		{"[1152921504606846976,8]", "BOOL", `{"binary_data_size":0}`},
		{"[4611686018427387904]", "FP32", `{"binary_data_size":18446744073709551616}`},
		{"[2]", "FP32", `{"binary_data_size":9223372036854775807}`},
		{"[9223372036854775807]", "UINT8", `null`},
	}
	for _, c := range cases {
		tensor := `{"name":"a","shape":` + c.shape + `,"datatype":"` + c.datatype + `","parameters":` + c.params
		if c.params == "null" {
			tensor += `,"data":[1,2]`
		}
		tensor += "}"
		bodies := map[string]string{
			"request":  `{"inputs":[` + tensor + `]}`,
			"response": `{"model_name":"m","outputs":[` + tensor + `]}`,
		}
		for kind, js := range bodies {
			for _, tail := range []string{"", "\x00\x00\x00\x00\x00\x00\x00\x00"} {
				body := []byte(js + tail)
				var err error
				if kind == "request" {
					_, err = DecodeRequest(body, len(js))
				} else {
					_, err = DecodeResponse(body, len(js))
				}
				if err == nil || !strings.HasPrefix(err.Error(), "oip: ") {
					t.Errorf("%s %s %s %s: error %v", kind, c.shape, c.datatype, c.params, err)
				}
			}
		}
	}
}

// TestDecodeDatatypes reads the JSON and binary forms of the datatypes
// beyond the float and int ones, and refuses what is not of them.
func TestDecodeDatatypes(t *testing.T) {
	in := func(s string) string { return `{"inputs":[` + s + `]}` }
	req, err := DecodeRequest([]byte(in(`{"name":"b","shape":[2,2],"datatype":"BOOL","data":[[true,false],[false,true]]},
		{"name":"h","shape":[4],"datatype":"FP16","data":[0.1,65519,65520,"-Infinity"]},
		{"name":"s","shape":[3],"datatype":"BYTES","data":["a\"\u00e9\ud83d\ude00","",["x"]]},
		{"name":"u","shape":[2],"datatype":"UINT8","data":[0,255]},
		{"name":"i","shape":[2],"datatype":"INT16","data":[-32768,32767]}`)), -1)
	if err != nil {
		t.Fatal(err)
	}
	if b := req.Inputs[0].Data.([]bool); !reflect.DeepEqual(b, []bool{true, false, false, true}) {
		t.Errorf("BOOL %v", b)
	}
	if h := req.Inputs[1].Data.([]Float16); !reflect.DeepEqual(h, []Float16{0x2e66, 0x7bff, 0x7c00, 0xfc00}) {
		t.Errorf("FP16 %#04x", h)
	}
	if s := req.Inputs[2].Data.([][]byte); len(s) != 3 || string(s[0]) != "a\"é😀" || len(s[1]) != 0 || string(s[2]) != "x" {
		t.Errorf("BYTES %q", s)
	}
	if u := req.Inputs[3].Data.([]uint8); !reflect.DeepEqual(u, []uint8{0, 255}) {
		t.Errorf("UINT8 %v", u)
	}
	if i := req.Inputs[4].Data.([]int16); !reflect.DeepEqual(i, []int16{-32768, 32767}) {
		t.Errorf("INT16 %v", i)
	}

	// Binary: a BOOL byte other than 0 and 1, and BYTES lengths that do
	// not add up, are errors.
	for _, c := range []struct{ header, bin, want string }{
		{`{"name":"b","shape":[2],"datatype":"BOOL","parameters":{"binary_data_size":2}}`, "\x01\x02", "the byte 2, want 0 or 1"},
		{`{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}`, "\x03\x00\x00\x00ab", "length 3 but 2 bytes are left"},
		{`{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":7}}`, "\x02\x00\x00\x00abc", "1 bytes are left after the 1 BYTES elements"},
		{`{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":7}}`, "\x02\x00\x00\x00abc", "too few bytes for the 2 BYTES elements"},
		{`{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":9}}`, "\x05\x00\x00\x00abcde", "ends at element 1"},
	} {
		js := in(c.header)
		_, err := DecodeRequest([]byte(js+c.bin), len(js))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.header, err, c.want)
		}
	}

	for _, c := range []struct{ tensor, want string }{
		{`{"name":"a","shape":[1],"datatype":"BOOL","data":[1]}`, "holds 1, not a BOOL (true or false)"},
		{`{"name":"a","shape":[1],"datatype":"BOOL","data":[{}]}`, "want true and false"},
		{`{"name":"a","shape":[1],"datatype":"BOOL","data":[null]}`, "not a BOOL"},
		{`{"name":"a","shape":[1],"datatype":"BYTES","data":[1]}`, "want strings"},
		{`{"name":"a","shape":[1],"datatype":"UINT8","data":[256]}`, `"256" is not a UINT8 value`},
		{`{"name":"a","shape":[1],"datatype":"UINT32","data":[-1]}`, `"-1" is not a UINT32 value`},
		{`{"name":"a","shape":[1],"datatype":"INT8","data":[-129]}`, `"-129" is not a INT8 value`},
		{`{"name":"a","shape":[1],"datatype":"FP16","data":["x"]}`, `the string "x", not a FP16 number`},
		{`{"name":"a","shape":[2],"datatype":"INT8","data":[1,2,3,4]}`, "more than the 2 elements"},
		{`{"name":"a","shape":[1],"datatype":"FP32","data":["` + strings.Repeat("z", 1000) + `"]}`, `"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz..."`},
		{`{"name":"` + strings.Repeat("n", 100000) + `","shape":[1],"datatype":"FP32","data":["x"]}`, `input "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...":`},
		{`{"name":"a","shape":[1],"datatype":"` + strings.Repeat("T", 100000) + `","data":[1]}`, `datatype "TTTT`},
		{`{"name":"a","shape":[` + strings.Repeat("2,", 100000) + `2],"datatype":"FP32","data":[1]}`, `shape [2 2 2`},
		{`{"name":"a","shape":[` + strings.Repeat("0,", 100000) + `2],"datatype":"FP32","data":[1]}`, `more than the 0 elements`},
	} {
		_, err := DecodeRequest([]byte(in(c.tensor)), -1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.80s: error %.200v, want %q", c.tensor, err, c.want)
		} else if len(err.Error()) > 400 {
			t.Errorf("%.80s: an error of %d bytes", c.tensor, len(err.Error()))
		}
	}
}

// TestEncodeDatatypes: BYTES that are not text go only in binary, and
// encoding checks the shape with overflow-safe arithmetic.
func TestEncodeDatatypes(t *testing.T) {
	x := NewBYTES("x", []int64{1}, [][]byte{{0xff}})
	if _, _, err := EncodeRequest(&InferRequest{Inputs: []Tensor{x}}); err == nil || !strings.Contains(err.Error(), "send the tensor in binary") {
		t.Errorf("non-UTF-8 BYTES in JSON: %v", err)
	}
	x.Binary = true
	if _, _, err := EncodeRequest(&InferRequest{Inputs: []Tensor{x}}); err != nil {
		t.Error(err)
	}
	for _, tc := range []Tensor{
		NewFP32("a", []int64{1 << 62, 4}, []float32{1}),
		NewFP32("b", []int64{0, 1 << 62, 1 << 62}, []float32{}),
		NewBOOL("c", []int64{2}, []bool{true}),
		{Name: "d", Datatype: FP16, Shape: []int64{1}, Data: []uint16{1}},
		{Name: "e", Datatype: BYTES, Shape: []int64{1}, Data: []string{"x"}},
	} {
		if _, _, err := EncodeResponse(&InferResponse{Outputs: []Tensor{tc}}); err == nil {
			t.Errorf("%s: no error", tc.Name)
		}
		if _, err := EncodeRaw(&tc); err == nil {
			t.Errorf("%s: EncodeRaw: no error", tc.Name)
		}
	}
}

// TestRaw: EncodeRaw and DecodeRaw agree with the layout written out by
// hand, share nothing with their arguments, and check the sizes.
func TestRaw(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		t   Tensor
		raw []byte
	}{
		{NewFP32("a", []int64{2}, []float32{1, -2}), le.AppendUint32(le.AppendUint32(nil, math.Float32bits(1)), math.Float32bits(-2))},
		{NewFP16("b", []int64{2}, []Float16{0x3c00, 0x8001}), []byte{0x00, 0x3c, 0x01, 0x80}},
		{NewINT16("c", []int64{1}, []int16{-2}), []byte{0xfe, 0xff}},
		{NewUINT64("d", []int64{1}, []uint64{0x0102030405060708}), []byte{8, 7, 6, 5, 4, 3, 2, 1}},
		{NewINT8("e", []int64{2}, []int8{-1, 1}), []byte{0xff, 1}},
		{NewBOOL("f", []int64{3}, []bool{true, false, true}), []byte{1, 0, 1}},
		{NewBYTES("g", []int64{2}, [][]byte{[]byte("ab"), {}}), []byte{2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0}},
		{NewFP64("h", []int64{0}, []float64{}), []byte{}},
	}
	for _, c := range cases {
		raw, err := EncodeRaw(&c.t)
		if err != nil || !bytes.Equal(raw, c.raw) {
			t.Errorf("%s: EncodeRaw = %v, %v, want %v", c.t.Name, raw, err, c.raw)
		}
		in := bytes.Clone(c.raw)
		d, err := DecodeRaw(c.t.Name, c.t.Datatype, c.t.Shape, in)
		if err != nil || !sameBits(d, c.t.Data) {
			t.Errorf("%s: DecodeRaw = %v, %v, want %v", c.t.Name, d, err, c.t.Data)
		}
		for i := range in {
			in[i] ^= 0xff
		}
		if !sameBits(d, c.t.Data) {
			t.Errorf("%s: DecodeRaw's result shares the raw bytes", c.t.Name)
		}
		if _, err := DecodeRaw(c.t.Name, c.t.Datatype, c.t.Shape, append(bytes.Clone(c.raw), 0)); err == nil {
			t.Errorf("%s: a byte too many is no error", c.t.Name)
		}
	}
	for _, c := range []struct {
		datatype string
		shape    []int64
		raw      string
		want     string
	}{
		{FP32, []int64{1 << 62}, "", "too large"},
		{FP32, []int64{-1}, "", "negative dimension"},
		{BYTES, []int64{1 << 62}, "", "cannot hold"},
		{"COMPLEX", []int64{1}, "", "not supported"},
		{FP64, []int64{1}, "1234", "takes 8 bytes, the raw data has 4"},
	} {
		if _, err := DecodeRaw("x", c.datatype, c.shape, []byte(c.raw)); err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), `oip: tensor "x": `) {
			t.Errorf("%s %v: error %v, want %q", c.datatype, c.shape, err, c.want)
		}
	}

	// The swap that big-endian hosts use.
	b := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	swapBytes(b, 4)
	if !bytes.Equal(b, []byte{4, 3, 2, 1, 8, 7, 6, 5}) {
		t.Errorf("swapBytes: %v", b)
	}
}

// TestFloat32sDatatypes: every numeric datatype converts exactly, or is
// refused; BYTES is refused.
func TestFloat32sDatatypes(t *testing.T) {
	for _, c := range []struct {
		t    Tensor
		want []float32
	}{
		{NewFP16("a", []int64{3}, []Float16{0x3c00, 0x0001, 0xfc00}), []float32{1, 0x1p-24, float32(math.Inf(-1))}},
		{NewBOOL("b", []int64{2}, []bool{true, false}), []float32{1, 0}},
		{NewUINT8("c", []int64{1}, []uint8{255}), []float32{255}},
		{NewINT8("d", []int64{1}, []int8{-128}), []float32{-128}},
		{NewUINT16("e", []int64{1}, []uint16{65535}), []float32{65535}},
		{NewINT16("f", []int64{1}, []int16{-32768}), []float32{-32768}},
		{NewUINT32("g", []int64{1}, []uint32{1 << 24}), []float32{1 << 24}},
		{NewUINT64("h", []int64{1}, []uint64{1 << 24}), []float32{1 << 24}},
	} {
		got, err := c.t.Float32s()
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v %v, want %v", c.t.Name, got, err, c.want)
		}
	}
	for _, c := range []struct {
		t    Tensor
		want string
	}{
		{NewUINT32("g", []int64{1}, []uint32{1<<24 + 1}), "no exact float32"},
		{NewUINT64("h", []int64{1}, []uint64{math.MaxUint64}), "no exact float32"},
		{NewINT64("i", []int64{1}, []int64{math.MinInt64}), "no exact float32"},
		{NewBYTES("j", []int64{1}, [][]byte{[]byte("1")}), "BYTES data holds strings, not numbers"},
	} {
		if _, err := c.t.Float32s(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.t.Name, err, c.want)
		}
	}
}
