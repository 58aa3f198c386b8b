package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/oip"
	"github.com/kerasrun/kerasrun/runtime"
)

// TestEndpoints checks the status, content type and body of every endpoint
// and of the routing errors.
func TestEndpoints(t *testing.T) {
	ts := start(t, nil, map[string]Model{"tagger": load(t, "tagger"), "multi": load(t, "functional_multi_io")})
	cases := []struct {
		method, path string
		code         int
		body         string // a substring of the body
		allow        string
	}{
		{"GET", "/v2/health/live", 200, `{"live":true}`, ""},
		{"HEAD", "/v2/health/live", 200, ``, ""},
		{"GET", "/v2/health/ready", 200, `{"ready":true}`, ""},
		{"GET", "/v2", 200, `"extensions":["binary_tensor_data","classification","statistics","model_repository"]`, ""},
		{"GET", "/v2/models/tagger", 200, `{"name":"tagger","versions":["1"],"platform":"keras_h5","inputs":[{"name":"conv1d_1_input","datatype":"FP32","shape":[-1,7,5]}],"outputs":[{"name":"dense_1","datatype":"FP32","shape":[-1,7,4]}]}`, ""},
		{"GET", "/v2/models/tagger/versions/1", 200, `"name":"tagger"`, ""},
		{"GET", "/v2/models/tagger/ready", 200, `{"name":"tagger","ready":true}`, ""},
		{"GET", "/v2/models/tagger/versions/1/ready", 200, `"ready":true`, ""},
		{"GET", "/v2/models/tagger/versions/2", 404, `model \"tagger\" has no version \"2\"`, ""},
		{"GET", "/v2/models/tagger/versions/2/ready", 404, `no version`, ""},
		{"POST", "/v2/models/tagger/versions/2/infer", 404, `no version`, ""},
		{"GET", "/v2/models/nope", 404, `unknown model \"nope\" (models: \"multi\", \"tagger\")`, ""},
		{"GET", "/v2/models/nope/ready", 404, `unknown model`, ""},
		{"POST", "/v2/models/nope/infer", 404, `unknown model`, ""},
		{"GET", "/v2/models/tagger/infer", 405, `method GET not allowed`, "POST"},
		{"POST", "/v2/health/live", 405, `not allowed`, "GET, HEAD"},
		{"DELETE", "/v2/models/tagger", 405, `not allowed`, "GET, HEAD"},
		{"GET", "/v3", 404, `no endpoint GET \"/v3\"`, ""},
		{"GET", "/v2/models/tagger/other", 404, `no endpoint`, ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			code, h, body := ts.do(t, c.method, c.path, nil, nil)
			if code != c.code {
				t.Fatalf("status %d, want %d: %s", code, c.code, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if !bytes.Contains(body, []byte(c.body)) {
				t.Errorf("body %s, want it to contain %s", body, c.body)
			}
			if code != 200 {
				var e map[string]string
				if err := json.Unmarshal(body, &e); err != nil || e["error"] == "" || len(e) != 1 {
					t.Errorf("error body %s is not {\"error\": ...}", body)
				}
			}
			if a := h.Get("Allow"); a != c.allow {
				t.Errorf("Allow %q, want %q", a, c.allow)
			}
		})
	}

	// The same through the client.
	ctx := context.Background()
	if ok, err := ts.c.Live(ctx); !ok || err != nil {
		t.Fatalf("Live: %v %v", ok, err)
	}
	if ok, err := ts.c.Ready(ctx); !ok || err != nil {
		t.Fatalf("Ready: %v %v", ok, err)
	}
	if ok, err := ts.c.ModelReady(ctx, "multi"); !ok || err != nil {
		t.Fatalf("ModelReady: %v %v", ok, err)
	}
	if _, err := ts.c.ModelReady(ctx, "nope"); statusOf(err) != 404 {
		t.Fatalf("ModelReady(nope): %v", err)
	}
	sm, err := ts.c.ServerMetadata(ctx)
	if err != nil || sm.Name != "kerasrun" || sm.Version == "" || !reflect.DeepEqual(sm.Extensions, []string{"binary_tensor_data", "classification", "statistics", "model_repository"}) {
		t.Fatalf("ServerMetadata: %+v %v", sm, err)
	}
	md, err := ts.c.ModelMetadata(ctx, "multi")
	if err != nil {
		t.Fatal(err)
	}
	want := &oip.ModelMetadata{Name: "multi", Versions: []string{"1"}, Platform: "keras_h5",
		Inputs:  []oip.TensorMetadata{{Name: "input_1", Datatype: "FP32", Shape: []int64{-1, 6, 4}}, {Name: "input_2", Datatype: "FP32", Shape: []int64{-1, 3}}},
		Outputs: []oip.TensorMetadata{{Name: "dense_2", Datatype: "FP32", Shape: []int64{-1, 2}}, {Name: "dense_1", Datatype: "FP32", Shape: []int64{-1, 4}}},
	}
	if !reflect.DeepEqual(md, want) {
		t.Fatalf("ModelMetadata: %+v, want %+v", md, want)
	}
	if _, err := ts.c.ModelMetadata(ctx, "nope"); statusOf(err) != 404 {
		t.Fatalf("ModelMetadata(nope): %v", err)
	}
}

// TestInferJSON runs fixtures through the JSON encoding: the outputs match
// the fixture's expected outputs (from tools/) and are bit-identical to
// Predict; the id is echoed; outputs can be selected and reordered; inputs
// may come in any order and as any of the four datatypes.
func TestInferJSON(t *testing.T) {
	example, multi, embed := load(t, "example"), load(t, "functional_multi_io"), load(t, "f3_k11_conv1d_legacy_kernel")
	ts := start(t, nil, map[string]Model{"example": example, "multi": multi, "embed": embed})
	ctx := context.Background()

	cases, err := golden.Load("../fixtures")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*golden.Case{}
	for i := range cases {
		byID[cases[i].ID] = &cases[i]
	}
	c := byID["example"]
	x, _, err := npyfile.Read(c.Dir + "/" + c.Inputs[0].File)
	if err != nil {
		t.Fatal(err)
	}
	exp, _, err := npyfile.Read(c.Dir + "/" + c.Outputs[0].File)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ts.c.Infer(ctx, "example", &oip.InferRequest{ID: "req-42", Inputs: []oip.Tensor{oip.NewFP32("bidirectional_1_input", shapeOf(x.Shape), x.Data)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != "req-42" || res.ModelName != "example" || res.ModelVersion != "1" || len(res.Outputs) != 1 {
		t.Fatalf("response %+v", res)
	}
	o := res.Outputs[0]
	if o.Name != "activation_1" || o.Datatype != "FP32" || !reflect.DeepEqual(o.Shape, shapeOf(exp.Shape)) || o.Binary {
		t.Fatalf("output %+v", o)
	}
	if d, _ := maxAbsDiff(outFloats(t, res, 0), exp.Data); d > c.Atol {
		t.Fatalf("max abs error %g against the fixture, tolerance %g", d, c.Atol)
	}
	want, err := example.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(outFloats(t, res, 0), want[0].Data) {
		t.Fatal("served output differs from Predict")
	}

	// FP64 input: rounded to float32, as Keras casts.
	x64 := make([]float64, len(x.Data))
	for i, v := range x.Data {
		x64[i] = float64(v)
	}
	res, err = ts.c.Infer(ctx, "example", &oip.InferRequest{Inputs: []oip.Tensor{oip.NewFP64("bidirectional_1_input", shapeOf(x.Shape), x64)}})
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(outFloats(t, res, 0), want[0].Data) || res.ID != "" {
		t.Fatal("FP64 input: output differs from Predict")
	}

	// Multi-input, multi-output: inputs in reverse order; outputs selected.
	rng := newRand(1)
	a := tensor(t, []int{3, 6, 4}, randData(rng, 72))
	b := tensor(t, []int{3, 3}, randData(rng, 9))
	wantM, err := multi.Predict(a, b)
	if err != nil {
		t.Fatal(err)
	}
	ins := []oip.Tensor{oip.NewFP32("input_2", shapeOf(b.Shape), b.Data), oip.NewFP32("input_1", shapeOf(a.Shape), a.Data)}
	for _, sel := range [][]string{nil, {"dense_1"}, {"dense_1", "dense_2"}, {"dense_2"}} {
		req := &oip.InferRequest{Inputs: ins}
		for _, s := range sel {
			req.Outputs = append(req.Outputs, oip.RequestedOutput{Name: s})
		}
		res, err := ts.c.Infer(ctx, "multi", req)
		if err != nil {
			t.Fatal(err)
		}
		names := sel
		if names == nil {
			names = []string{"dense_2", "dense_1"}
		}
		if len(res.Outputs) != len(names) {
			t.Fatalf("selection %v: %d outputs", sel, len(res.Outputs))
		}
		for i, n := range names {
			k := map[string]int{"dense_2": 0, "dense_1": 1}[n]
			if res.Outputs[i].Name != n || !sameBits(outFloats(t, res, i), wantM[k].Data) || !reflect.DeepEqual(res.Outputs[i].Shape, shapeOf(wantM[k].Shape)) {
				t.Fatalf("selection %v: output %d is %s %v", sel, i, res.Outputs[i].Name, res.Outputs[i].Shape)
			}
		}
	}

	// Integer inputs (token ids) as INT32, INT64 and integral FP32.
	ids := []int32{0, 1, 2, 3, 4, 5, 6, 6, 6, 6, 5, 4, 3, 2, 1, 0}
	f := make([]float32, len(ids))
	i64 := make([]int64, len(ids))
	for i, v := range ids {
		f[i], i64[i] = float32(v), int64(v)
	}
	wantE, err := embed.Predict(tensor(t, []int{2, 8}, f))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []oip.Tensor{
		oip.NewINT32("embedding_1_input", []int64{2, 8}, ids),
		oip.NewINT64("embedding_1_input", []int64{2, 8}, i64),
		oip.NewFP32("embedding_1_input", []int64{2, 8}, f),
	} {
		res, err := ts.c.Infer(ctx, "embed", &oip.InferRequest{Inputs: []oip.Tensor{in}})
		if err != nil {
			t.Fatalf("%s: %v", in.Datatype, err)
		}
		if !sameBits(outFloats(t, res, 0), wantE[0].Data) {
			t.Fatalf("%s: output differs from Predict", in.Datatype)
		}
	}

	// Nested JSON data reads as the flat form.
	var nested strings.Builder
	nested.WriteString(`{"inputs":[{"name":"input_2","shape":[3,3],"datatype":"FP32","data":[`)
	for i := 0; i < 3; i++ {
		if i > 0 {
			nested.WriteString(",")
		}
		nested.WriteString("[")
		for j := 0; j < 3; j++ {
			if j > 0 {
				nested.WriteString(", ")
			}
			nested.WriteString(strconv.FormatFloat(float64(b.Data[i*3+j]), 'g', -1, 32))
		}
		nested.WriteString("]")
	}
	nested.WriteString(`]},{"name":"input_1","shape":[3,6,4],"datatype":"FP32","data":`)
	d, _ := json.Marshal(a.Data)
	nested.Write(d)
	nested.WriteString(`}],"outputs":[{"name":"dense_1"}],"id":"n"}`)
	code, h, body := ts.do(t, "POST", "/v2/models/multi/infer", []byte(nested.String()), nil)
	if code != 200 || h.Get(oip.HeaderContentLength) != "" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("nested: %d %v %s", code, h, body)
	}
	r, err := oip.DecodeResponse(body, -1)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "n" || !sameBits(outFloats(t, r, 0), wantM[1].Data) {
		t.Fatalf("nested: %s", body)
	}

	// NaN in, NaN out: the JSON strings go both ways.
	xn := x.Clone()
	xn.Data[0] = float32(math.NaN())
	wantN, err := example.Predict(xn)
	if err != nil {
		t.Fatal(err)
	}
	res, err = ts.c.Infer(ctx, "example", &oip.InferRequest{Inputs: []oip.Tensor{oip.NewFP32("bidirectional_1_input", shapeOf(xn.Shape), xn.Data)}})
	if err != nil {
		t.Fatal(err)
	}
	got := outFloats(t, res, 0)
	if !math.IsNaN(float64(got[0])) || !math.IsNaN(float64(wantN[0].Data[0])) {
		t.Fatalf("NaN input: got %v, Predict %v", got[:5], wantN[0].Data[:5])
	}
}

// TestInferBinary sends and receives tensors with the binary tensor data
// extension, all or some of them, and checks the raw framing.
func TestInferBinary(t *testing.T) {
	multi := load(t, "functional_multi_io")
	ts := start(t, nil, map[string]Model{"multi": multi})
	ctx := context.Background()
	rng := newRand(2)
	a := tensor(t, []int{2, 6, 4}, randData(rng, 48))
	b := tensor(t, []int{2, 3}, randData(rng, 6))
	want, err := multi.Predict(a, b)
	if err != nil {
		t.Fatal(err)
	}
	in := func(binA, binB bool) []oip.Tensor {
		ta, tb := oip.NewFP32("input_1", shapeOf(a.Shape), a.Data), oip.NewFP32("input_2", shapeOf(b.Shape), b.Data)
		ta.Binary, tb.Binary = binA, binB
		return []oip.Tensor{ta, tb}
	}
	cases := []struct {
		name       string
		req        *oip.InferRequest
		binOut     []bool
		wantOrder  []int
		binaryBody bool
	}{
		{"binary in, json out", &oip.InferRequest{Inputs: in(true, true)}, []bool{false, false}, []int{0, 1}, false},
		{"json in, binary out", &oip.InferRequest{Inputs: in(false, false), BinaryOutput: true}, []bool{true, true}, []int{0, 1}, true},
		{"mixed in, binary out", &oip.InferRequest{Inputs: in(false, true), BinaryOutput: true}, []bool{true, true}, []int{0, 1}, true},
		{"one output binary", &oip.InferRequest{Inputs: in(true, false), Outputs: []oip.RequestedOutput{{Name: "dense_1"}, {Name: "dense_2", Binary: true}}}, []bool{false, true}, []int{1, 0}, true},
		{"binary_data_output overridden", &oip.InferRequest{Inputs: in(true, true), BinaryOutput: true, Outputs: []oip.RequestedOutput{{Name: "dense_1", Binary: false}}}, []bool{false}, []int{1}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := ts.c.Infer(ctx, "multi", c.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Outputs) != len(c.wantOrder) {
				t.Fatalf("%d outputs", len(res.Outputs))
			}
			for i, k := range c.wantOrder {
				o := res.Outputs[i]
				if o.Binary != c.binOut[i] || !sameBits(outFloats(t, res, i), want[k].Data) || !reflect.DeepEqual(o.Shape, shapeOf(want[k].Shape)) {
					t.Fatalf("output %d: %s binary=%v shape %v", i, o.Name, o.Binary, o.Shape)
				}
			}
			// The raw framing.
			body, n, err := oip.EncodeRequest(c.req)
			if err != nil {
				t.Fatal(err)
			}
			h := map[string]string{}
			if n != len(body) {
				h[oip.HeaderContentLength] = strconv.Itoa(n)
			}
			code, hdr, rb := ts.do(t, "POST", "/v2/models/multi/infer", body, h)
			if code != 200 {
				t.Fatalf("%d %s", code, rb)
			}
			hl := hdr.Get(oip.HeaderContentLength)
			if c.binaryBody {
				jl, err := strconv.Atoi(hl)
				if err != nil || jl >= len(rb) || hdr.Get("Content-Type") != "application/octet-stream" {
					t.Fatalf("binary response: %s=%q, Content-Type %q, %d bytes", oip.HeaderContentLength, hl, hdr.Get("Content-Type"), len(rb))
				}
				if !json.Valid(rb[:jl]) || !bytes.Contains(rb[:jl], []byte(`"binary_data_size"`)) {
					t.Fatalf("JSON header %s", rb[:jl])
				}
				// The bytes are little-endian float32, row-major.
				k := c.wantOrder[0]
				off := jl
				if !c.binOut[0] {
					off = len(rb) - 4*len(want[c.wantOrder[1]].Data)
					k = c.wantOrder[1]
				}
				if v := math.Float32frombits(binary.LittleEndian.Uint32(rb[off:])); v != want[k].Data[0] {
					t.Fatalf("first binary value %v, want %v", v, want[k].Data[0])
				}
			} else if hl != "" || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("JSON response with %s=%q, Content-Type %q", oip.HeaderContentLength, hl, hdr.Get("Content-Type"))
			}
		})
	}
}

// TestInferErrors sends every kind of bad request and checks the status
// and the error message.
func TestInferErrors(t *testing.T) {
	multi, embed := load(t, "functional_multi_io"), load(t, "f3_k11_conv1d_legacy_kernel")
	ts := start(t, &Options{MaxBodyBytes: 4096}, map[string]Model{"multi": multi, "embed": embed})
	in1 := `{"name":"input_1","shape":[1,6,4],"datatype":"FP32","data":[` + strings.TrimSuffix(strings.Repeat("0.5,", 24), ",") + `]}`
	in2 := `{"name":"input_2","shape":[1,3],"datatype":"FP32","data":[1,2,3]}`
	ok := `{"inputs":[` + in1 + `,` + in2 + `]}`
	tok := func(dt, data string) string {
		return `{"inputs":[{"name":"embedding_1_input","shape":[1,8],"datatype":"` + dt + `","data":[` + data + `]}]}`
	}
	bin := string(binary.LittleEndian.AppendUint32(nil, math.Float32bits(1)))
	cases := []struct {
		name, model, body string
		headers           map[string]string
		code              int
		want              string
	}{
		{"ok", "multi", ok, nil, 200, `"model_name":"multi"`},
		{"bad json", "multi", `{"inputs":[`, nil, 400, "bad JSON"},
		{"empty body", "multi", ``, nil, 400, "bad JSON"},
		{"no inputs", "multi", `{"inputs":[]}`, nil, 400, "no inputs"},
		{"unknown input", "multi", `{"inputs":[` + in1 + `,` + strings.Replace(in2, "input_2", "input_9", 1) + `]}`, nil, 400, `unknown input \"input_9\" (inputs: \"input_1\" [-1,6,4] FP32, \"input_2\" [-1,3] FP32)`},
		{"missing input", "multi", `{"inputs":[` + in1 + `]}`, nil, 400, `missing input \"input_2\"`},
		{"input twice", "multi", `{"inputs":[` + in1 + `,` + in1 + `]}`, nil, 400, `input \"input_1\" given twice`},
		{"wrong rank", "multi", `{"inputs":[` + in1 + `,{"name":"input_2","shape":[1,3,1],"datatype":"FP32","data":[1,2,3]}]}`, nil, 400, `input \"input_2\" has shape [1 3 1], want [-1,3] FP32`},
		{"wrong dim", "multi", `{"inputs":[` + in1 + `,{"name":"input_2","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`, nil, 400, `has shape [1 4], want [-1,3]`},
		{"empty batch", "multi", `{"inputs":[` + in1 + `,{"name":"input_2","shape":[0,3],"datatype":"FP32","data":[]}]}`, nil, 400, "at least one sample"},
		{"batch mismatch", "multi", `{"inputs":[` + in1 + `,{"name":"input_2","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5,6]}]}`, nil, 400, "has 2 samples but another input has 1"},
		{"datatype", "multi", `{"inputs":[` + in1 + `,{"name":"input_2","shape":[1,3],"datatype":"BYTES","data":["a","b","c"]}]}`, nil, 400, `input \"input_2\" is BYTES, but the model takes numbers`},
		{"unknown datatype", "multi", `{"inputs":[` + in1 + `,{"name":"input_2","shape":[1,3],"datatype":"BF16","data":[1,2,3]}]}`, nil, 400, `BF16`},
		{"data count", "multi", `{"inputs":[` + in1 + `,{"name":"input_2","shape":[1,3],"datatype":"FP32","data":[1,2]}]}`, nil, 400, `holds 3 elements, \"data\" has 2`},
		{"int beyond float32", "multi", `{"inputs":[` + in1 + `,{"name":"input_2","shape":[1,3],"datatype":"INT64","data":[1,2,33554433]}]}`, nil, 400, "has no exact float32"},
		{"unknown output", "multi", `{"inputs":[` + in1 + `,` + in2 + `],"outputs":[{"name":"dense_9"}]}`, nil, 400, `unknown output \"dense_9\" (outputs: \"dense_2\", \"dense_1\")`},
		{"output twice", "multi", `{"inputs":[` + in1 + `,` + in2 + `],"outputs":[{"name":"dense_1"},{"name":"dense_1"}]}`, nil, 400, "requested twice"},
		{"token not an integer", "embed", tok("FP32", "1,2,3,4,5,6,6,6.5"), nil, 400, `takes integers (int32), but value 6.5 at index 7`},
		{"token out of range", "embed", tok("INT32", "1,2,3,4,5,6,6,1000000"), nil, 400, "token id 1e+06"},
		{"binary header not a number", "multi", ok, map[string]string{oip.HeaderContentLength: "abc"}, 400, "bad Inference-Header-Content-Length"},
		{"binary header past the body", "multi", ok, map[string]string{oip.HeaderContentLength: "100000"}, 400, "bad Inference-Header-Content-Length"},
		{"binary data unclaimed", "multi", ok + bin, map[string]string{oip.HeaderContentLength: strconv.Itoa(len(ok))}, 400, "no input claims them"},
		{"binary size mismatch", "multi", `{"inputs":[` + in1 + `,{"name":"input_2","shape":[1,3],"datatype":"FP32","parameters":{"binary_data_size":4}}]}` + bin, map[string]string{oip.HeaderContentLength: strconv.Itoa(len(`{"inputs":[` + in1 + `,{"name":"input_2","shape":[1,3],"datatype":"FP32","parameters":{"binary_data_size":4}}]}`))}, 400, "takes 12 bytes"},
		{"gzip", "multi", ok, map[string]string{"Content-Encoding": "gzip"}, 415, `Content-Encoding \"gzip\" is not supported`},
		{"too large", "multi", `{"inputs":[` + strings.Repeat(" ", 5000) + `]}`, nil, 413, `the body is 5013 bytes; the limit for model \"multi\" is 4096`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, h, body := ts.do(t, "POST", "/v2/models/"+c.model+"/infer", []byte(c.body), c.headers)
			if code != c.code || !bytes.Contains(body, []byte(c.want)) {
				t.Fatalf("status %d %s\nwant %d and a body containing %s", code, body, c.code, c.want)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// A body over the limit without a Content-Length (chunked).
	req, _ := http.NewRequest("POST", ts.url+"/v2/models/multi/infer", io.MultiReader(strings.NewReader(`{"inputs":[`), strings.NewReader(strings.Repeat(" ", 5000)+`]}`)))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !bytes.Contains(b, []byte("over the limit of 4096 bytes")) {
		t.Fatalf("chunked: %d %s", resp.StatusCode, b)
	}
	// The client returns errors as *oip.Error.
	_, err = ts.c.Infer(context.Background(), "multi", &oip.InferRequest{Inputs: []oip.Tensor{oip.NewFP32("input_1", []int64{1, 1}, []float32{1})}})
	var e *oip.Error
	if !errors.As(err, &e) || e.StatusCode != 400 || !strings.Contains(e.Message, "has shape [1 1], want [-1,6,4] FP32") {
		t.Fatalf("client error %v", err)
	}
}

// TestTimeout: a request that runs past Options.Timeout gets 504, and the
// Predict it was running is cancelled.
func TestTimeout(t *testing.T) {
	g := newGated(load(t, "tagger"))
	ts := start(t, &Options{Timeout: 100 * time.Millisecond}, map[string]Model{"tagger": g})
	x := oip.NewFP32("conv1d_1_input", []int64{1, 7, 5}, make([]float32, 35))
	// The gate never opens, so the gated Predict returns only when its
	// context ends: an answer at all shows that the timeout ended it, with
	// no clock read here.
	_, err := ts.c.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}})
	var e *oip.Error
	if !errors.As(err, &e) || e.StatusCode != 504 || !strings.Contains(e.Message, "longer than 100ms") {
		t.Fatalf("error %v", err)
	}
	select {
	case <-g.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("Predict was not cancelled")
	}
}

// TestMetricsAndLogs: /metrics counts requests by model and code, and has
// the latency and batch size histograms and the queue depth; requests are
// logged as structured JSON.
func TestMetricsAndLogs(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := start(t, &Options{Logger: log}, map[string]Model{"tagger": load(t, "tagger")})
	x := oip.NewFP32("conv1d_1_input", []int64{2, 7, 5}, make([]float32, 70))
	for i := 0; i < 3; i++ {
		if _, err := ts.c.Infer(context.Background(), "tagger", &oip.InferRequest{ID: fmt.Sprint("m", i), Inputs: []oip.Tensor{x}}); err != nil {
			t.Fatal(err)
		}
	}
	ts.do(t, "POST", "/v2/models/tagger/infer", []byte(`{}`), nil)
	ts.do(t, "POST", "/v2/models/nope/infer", []byte(`{}`), nil)
	_, _, body := ts.do(t, "GET", "/metrics", nil, nil)
	for _, want := range []string{
		`kerasrun_requests_total{code="200",model="tagger",protocol="rest"} 3`,
		`kerasrun_requests_total{code="400",model="tagger",protocol="rest"} 1`,
		`kerasrun_requests_total{code="404",model="",protocol="rest"} 1`,
		`kerasrun_request_duration_seconds_count{model="tagger"} 4`,
		`kerasrun_batch_size_bucket{model="tagger",le="2"} 3`,
		`kerasrun_batch_size_bucket{model="tagger",le="1"} 0`,
		`kerasrun_batch_size_sum{model="tagger"} 6`,
		`kerasrun_batch_duration_seconds_count{model="tagger"} 3`,
		`kerasrun_queue_depth{model="tagger"} 0`,
		`go_goroutines `,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	var seen int
	for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) != nil || rec["msg"] != "infer" {
			continue
		}
		seen++
		if rec["model"] == "tagger" && rec["id"] == "m1" && (rec["level"] != "DEBUG" || rec["status"] != 200.0 || rec["rows"] != 2.0) {
			t.Errorf("log %s", line)
		}
		if rec["status"] == 400.0 && (rec["level"] != "WARN" || rec["error"] == "") {
			t.Errorf("log %s", line)
		}
	}
	if seen != 5 {
		t.Errorf("%d infer log records, want 5:\n%s", seen, logs.Bytes())
	}
}

// TestAdd refuses bad names, duplicates and models without a batch axis.
func TestAdd(t *testing.T) {
	s := New(nil)
	m := load(t, "tagger")
	for _, name := range []string{"", "a/b", " a", "a?b"} {
		if err := s.Add(name, m); err == nil {
			t.Errorf("Add(%q): no error", name)
		}
	}
	if err := s.Add("t", m); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("t", m); err == nil || !strings.Contains(err.Error(), "added twice") {
		t.Fatalf("duplicate: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("u", m); err == nil {
		t.Fatal("Add after Shutdown: no error")
	}
}

// wrongRows is a model whose outputs always hold one sample.
type wrongRows struct{ Model }

func (w wrongRows) PredictContext(ctx context.Context, in ...*runtime.Tensor) ([]*runtime.Tensor, error) {
	out, err := w.Model.PredictContext(ctx, in...)
	if err != nil {
		return nil, err
	}
	for i, t := range out {
		per := len(t.Data) / t.Shape[0]
		out[i] = &runtime.Tensor{Shape: append([]int{1}, t.Shape[1:]...), Data: t.Data[:per]}
	}
	return out, nil
}

// TestUnsplittableOutputs: when a merged batch's outputs do not have the
// batch's rows, its requests run one by one and still get their answers.
func TestUnsplittableOutputs(t *testing.T) {
	m := load(t, "tagger")
	ts := start(t, &Options{MaxBatch: 2, MaxDelay: 5 * time.Second}, map[string]Model{"bad": wrongRows{m}})
	rng := newRand(5)
	xs := []*runtime.Tensor{tensor(t, []int{1, 7, 5}, randData(rng, 35)), tensor(t, []int{1, 7, 5}, randData(rng, 35))}
	errs := make(chan error, 2)
	for _, x := range xs {
		go func() {
			res, err := ts.c.Infer(context.Background(), "bad", &oip.InferRequest{Inputs: []oip.Tensor{oip.NewFP32("conv1d_1_input", shapeOf(x.Shape), x.Data)}})
			if err == nil {
				want, _ := m.Predict(x)
				if d, _ := maxAbsDiff(outFloats(t, res, 0), want[0].Data); d > 1e-6 {
					err = fmt.Errorf("max abs difference %g", d)
				}
			}
			errs <- err
		}()
	}
	for range xs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestNotReadyWithoutModels: a server without models is not ready.
func TestNotReadyWithoutModels(t *testing.T) {
	w := httptest.NewRecorder()
	New(nil).Handler().ServeHTTP(w, httptest.NewRequest("GET", "/v2/health/ready", nil))
	if w.Code != 503 || !strings.Contains(w.Body.String(), "no model") {
		t.Fatalf("ready without models: %d %s", w.Code, w.Body)
	}
}
