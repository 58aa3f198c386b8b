package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/oip"
	"github.com/kerasrun/kerasrun/runtime"
)

// The regression tests of a server exposed to hostile clients: each names
// the case it covers.

// metricsHas reports whether /metrics has a line starting with want.
func (ts *testServer) metricsHas(t *testing.T, want string) bool {
	t.Helper()
	_, _, body := ts.do(t, "GET", "/metrics", nil, nil)
	return bytes.Contains(body, []byte(want))
}

// rawRequest writes raw bytes on a new connection and returns the
// response it reads back.
func (ts *testServer) rawRequest(t *testing.T, raw string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// sendEarly writes raw on a new connection while reading the response,
// which may come before the server has read it all.
func (ts *testServer) sendEarly(t *testing.T, raw string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	go io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func post(path, body string, h ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", path, len(body))
	for _, x := range h {
		b.WriteString(x + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// TestOverflowingBinarySize: shape [2^62] FP32 with binary_data_size 0
// once wrapped to a size of 0 and panicked in the decoder. Now every
// overflowing shape is a 400 counted as one, in JSON and in binary.
func TestOverflowingBinarySize(t *testing.T) {
	ts := start(t, nil, map[string]Model{"tagger": load(t, "tagger")})
	for i, js := range []string{
		`{"inputs":[{"name":"conv1d_1_input","shape":[4611686018427387904],"datatype":"FP32","parameters":{"binary_data_size":0}}]}`,
		`{"inputs":[{"name":"conv1d_1_input","shape":[4611686018427387904,4],"datatype":"FP64","parameters":{"binary_data_size":0}}]}`,
		`{"inputs":[{"name":"conv1d_1_input","shape":[9223372036854775807,2],"datatype":"FP32","data":[]}]}`,
		`{"inputs":[{"name":"conv1d_1_input","shape":[3037000500,3037000500],"datatype":"FP32","data":[1]}]}`,
	} {
		h := map[string]string{oip.HeaderContentLength: strconv.Itoa(len(js))}
		if i >= 2 {
			h = nil
		}
		code, _, body := ts.do(t, "POST", "/v2/models/tagger/infer", []byte(js), h)
		if code != http.StatusBadRequest {
			t.Errorf("case %d: status %d %s", i, code, body)
		}
	}
	if !ts.metricsHas(t, `kerasrun_requests_total{code="400",model="tagger",protocol="rest"} 4`) || ts.metricsHas(t, `code="200"`) {
		t.Error("the metrics do not count four 400s and no 200")
	}
}

// TestPanicIs500: a panic while handling a request is a 500 with an
// incident id that one log line repeats, counted as a 500.
func TestPanicIs500(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ts := start(t, &Options{Logger: log}, map[string]Model{"tagger": load(t, "tagger")})
	inferHook = func() { panic("boom") }
	defer func() { inferHook = nil }()
	code, _, body := ts.do(t, "POST", "/v2/models/tagger/infer", []byte(`{}`), nil)
	inferHook = nil
	var e struct{ Error string }
	json.Unmarshal(body, &e)
	id, ok := strings.CutPrefix(e.Error, "internal error ")
	if code != 500 || !ok || len(id) != 16 {
		t.Fatalf("status %d %s", code, body)
	}
	if n := bytes.Count(logs.Bytes(), []byte(`"panic":"boom"`)); n != 1 || !bytes.Contains(logs.Bytes(), []byte(`"incident":"`+id+`"`)) {
		t.Errorf("the panic is logged %d times, or without its incident id:\n%s", n, logs.Bytes())
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"at":"github.com/kerasrun/kerasrun/serve.TestPanicIs500.func1`)) {
		t.Errorf("the log does not name the panicking function:\n%s", logs.Bytes())
	}
	if bytes.Contains(logs.Bytes(), []byte("goroutine ")) {
		t.Errorf("the log has a stack dump:\n%s", logs.Bytes())
	}
	if !ts.metricsHas(t, `kerasrun_requests_total{code="500",model="tagger",protocol="rest"} 1`) || !ts.metricsHas(t, "kerasrun_panics_total 1") {
		t.Error("the panic is not counted as a 500")
	}
}

// TestRowLimit: a request with more rows than MaxRows gets 413 before it
// runs.
func TestRowLimit(t *testing.T) {
	rec := &recorder{Model: load(t, "tagger")}
	ts := start(t, &Options{MaxRows: 4}, map[string]Model{"tagger": rec})
	x := oip.NewFP32("conv1d_1_input", []int64{5, 7, 5}, make([]float32, 5*35))
	_, err := ts.c.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}})
	if statusOf(err) != 413 || !strings.Contains(err.Error(), "5 rows; the limit is 4") {
		t.Fatalf("error %v", err)
	}
	if len(rec.snapshot()) != 0 {
		t.Error("the model ran")
	}
	x = oip.NewFP32("conv1d_1_input", []int64{4, 7, 5}, make([]float32, 4*35))
	if _, err := ts.c.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}}); err != nil {
		t.Fatal(err)
	}
}

// TestDerivedLimits: the body and response limits follow the model's
// shapes and MaxRows, and a free dimension counts as freeDim.
func TestDerivedLimits(t *testing.T) {
	s := New(&Options{MaxRows: 10000})
	if err := s.Add("tagger", load(t, "tagger")); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("sum", timeSumModel(t)); err != nil {
		t.Fatal(err)
	}
	// tagger: input [-1,7,5], output [-1,7,4]; sum: input [-1,-1,3]
	// (10000 rows of 1024 steps: past the largest derived limit), output
	// [-1,3] (under the smallest).
	for _, c := range []struct {
		name           string
		body, response int64
	}{
		{"tagger", 10000*35*jsonElemBytes + headerSlack, 10000*28*jsonElemBytes + headerSlack},
		{"sum", maxDerived, minDerived},
	} {
		l := s.lookup(c.name).lim
		if l.rows != 10000 || l.body != c.body || l.response != c.response {
			t.Errorf("%s: limits %+v, want body %d, response %d", c.name, l, c.body, c.response)
		}
	}
	if got := New(nil).opts.MaxRows; got != 32 {
		t.Errorf("default MaxRows %d", got)
	}
	if got := New(&Options{MaxBatch: 64}).opts.MaxRows; got != 64 {
		t.Errorf("MaxRows for MaxBatch 64: %d", got)
	}
}

// TestBodyLimits: a Content-Length over the limit is refused before the
// body is read, and a chunked body as soon as it passes the limit.
func TestBodyLimits(t *testing.T) {
	ts := start(t, &Options{MaxBodyBytes: 4096}, map[string]Model{"tagger": load(t, "tagger")})
	resp := ts.rawRequest(t, fmt.Sprintf("POST /v2/models/tagger/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1<<30))
	if resp.StatusCode != 413 {
		t.Errorf("Content-Length 1 GiB: status %d", resp.StatusCode)
	}
	// A chunked body that never ends is cut as soon as it passes the
	// limit: count what the handler reads of it.
	src := &endless{}
	req := httptest.NewRequest("POST", "/v2/models/tagger/infer", src)
	req.ContentLength = -1
	req.SetPathValue("name", "tagger")
	w := httptest.NewRecorder()
	ts.Handler().ServeHTTP(w, req)
	if w.Code != 413 || src.n > 4096+64<<10 {
		t.Errorf("endless body: status %d after reading %d bytes, for a limit of 4096", w.Code, src.n)
	}
}

// endless is a body of spaces that never ends; n counts the bytes read.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.n += len(p)
	return len(p), nil
}

// TestResponseLimit: a response over MaxResponseBytes is refused before it
// is encoded.
func TestResponseLimit(t *testing.T) {
	ts := start(t, &Options{MaxResponseBytes: 100 << 10}, map[string]Model{"sum": timeSumModel(t), "tagger": load(t, "tagger")})
	// tagger: 32 rows of [7,4] outputs fit in JSON (32*28*16 bytes plus
	// the header slack is under 100 KiB)...
	x := oip.NewFP32("conv1d_1_input", []int64{32, 7, 5}, make([]float32, 32*35))
	if _, err := ts.c.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}}); err != nil {
		t.Fatal(err)
	}
	// ... and a model whose outputs are larger than its inputs is refused.
	wide := &constModel{out: make([]float32, 32*1000)}
	ts2 := start(t, &Options{MaxResponseBytes: 100 << 10}, map[string]Model{"wide": wide})
	_, err := ts2.c.Infer(context.Background(), "wide", &oip.InferRequest{Inputs: []oip.Tensor{oip.NewFP32("x", []int64{32, 1}, make([]float32, 32))}})
	if statusOf(err) != 413 || !strings.Contains(err.Error(), "the response would take") {
		t.Fatalf("error %v", err)
	}
	if wide.calls.Load() != 0 {
		t.Error("the model ran although its output shape told the size")
	}
}

// TestSlowBodyIs408: a body still arriving when the timeout passes gets
// 408 on the wire, never 499, and is not counted as a client abort.
func TestSlowBodyIs408(t *testing.T) {
	ts := start(t, &Options{Timeout: 300 * time.Millisecond}, map[string]Model{"tagger": load(t, "tagger")})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /v2/models/tagger/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"inputs\"")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !ts.metricsHas(t, `kerasrun_requests_total{code="408",model="tagger",protocol="rest"} 1`) {
		t.Error("the 408 is not counted")
	}
}

// TestHugeNamesClipped: a client's strings are repeated in errors and
// logs only up to a bounded length.
func TestHugeNamesClipped(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ts := start(t, &Options{Logger: log, MaxBodyBytes: 32 << 20}, map[string]Model{"tagger": load(t, "tagger")})
	huge := strings.Repeat("n", 10<<20)
	bodies := []string{
		`{"id":"` + huge + `","inputs":[{"name":"` + huge + `","shape":[1],"datatype":"FP32","data":[1]}]}`,
		`{"inputs":[{"name":"conv1d_1_input","shape":[1,7,5],"datatype":"FP32","data":[` + strings.Repeat("0,", 34) + `0]}],"outputs":[{"name":"` + huge + `"}]}`,
		`{"inputs":[{"name":"conv1d_1_input","shape":[1,7,5],"datatype":"FP32","data":[` + strings.Repeat("0,", 34) + `0],"parameters":{"` + huge + `":1}}]}`,
	}
	for i, b := range bodies {
		resp := ts.sendEarly(t, post("/v2/models/tagger/infer", b))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || len(body) > 1024 {
			t.Errorf("case %d: status %d, %d bytes: %.200s", i, resp.StatusCode, len(body), body)
		}
	}
	// A model name under the header limit is a bounded 404; past it, the
	// request line is refused whole (431).
	for _, c := range []struct{ n, code int }{{60 << 10, 404}, {1 << 20, 431}} {
		resp := ts.sendEarly(t, post("/v2/models/"+strings.Repeat("m", c.n)+"/infer", `{}`))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.code || len(body) > 1024 {
			t.Errorf("model name of %d bytes: status %d, %d bytes", c.n, resp.StatusCode, len(body))
		}
	}
	for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		if len(line) > 4096 {
			t.Errorf("a log line of %d bytes: %.200s", len(line), line)
		}
	}
}

// TestUnknownParametersRefused: a parameter the server does not implement
// is a 400 that names it, never ignored.
func TestUnknownParametersRefused(t *testing.T) {
	ts := start(t, nil, map[string]Model{"tagger": load(t, "tagger")})
	data := `"data":[` + strings.Repeat("0,", 34) + `0]`
	for _, c := range []struct{ body, want string }{
		{`{"parameters":{"priority":1},"inputs":[{"name":"conv1d_1_input","shape":[1,7,5],"datatype":"FP32",` + data + `}]}`, `parameter \"priority\" is not supported`},
		{`{"inputs":[{"name":"conv1d_1_input","shape":[1,7,5],"datatype":"FP32",` + data + `,"parameters":{"shared_memory_region":"r"}}]}`, `parameter \"shared_memory_region\" is not supported`},
		{`{"inputs":[{"name":"conv1d_1_input","shape":[1,7,5],"datatype":"FP32",` + data + `}],"outputs":[{"name":"dense_1","parameters":{"class_count":2}}]}`, `parameter \"class_count\" is not supported`},
		{`{"inputs":[{"name":"conv1d_1_input","shape":[1,7,5],"datatype":"FP32",` + data + `}],"outputs":[{"name":"dense_1","parameters":{"classification":0}}]}`, `positive count`},
		{`{"inputs":[{"name":"conv1d_1_input","shape":[1,7,5],"datatype":"BYTES","data":[` + strings.Repeat(`"a",`, 34) + `"a"]}]}`, `is BYTES, but the model takes numbers`},
	} {
		code, _, body := ts.do(t, "POST", "/v2/models/tagger/infer", []byte(c.body), nil)
		if code != 400 || !bytes.Contains(body, []byte(c.want)) {
			t.Errorf("%s: status %d %s", c.want, code, body)
		}
	}
}

// constModel is a Model with input "x" [-1, 1] whose output "y" is
// [rows, len(out)/rows] of fixed values; it counts its calls.
type constModel struct {
	out   []float32
	calls atomic.Int64
}

func (m *constModel) Inputs() []runtime.IO {
	return []runtime.IO{{Name: "x", Shape: []int{-1, 1}, DType: "float32"}}
}

func (m *constModel) Outputs() []runtime.IO {
	return []runtime.IO{{Name: "y", Shape: []int{-1, len(m.out) / 32}, DType: "float32"}}
}

func (m *constModel) PredictContext(ctx context.Context, in ...*runtime.Tensor) ([]*runtime.Tensor, error) {
	m.calls.Add(1)
	rows := in[0].Shape[0]
	per := len(m.out) / 32
	y := runtime.Zeros(rows, per)
	for r := range rows {
		copy(y.Data[r*per:], m.out[:per])
	}
	return []*runtime.Tensor{y}, nil
}

// TestClassification: the classification parameter of an output returns
// its top classes as Triton does: "<value>:<index>", highest first, value
// as "%f", shape [rows, k], k clipped to the classes there are.
func TestClassification(t *testing.T) {
	// The example of Triton's classification extension: [1, 5, 10, 4] has
	// top-2 classes 2 then 1.
	m := &constModel{out: make([]float32, 32*4)}
	copy(m.out, []float32{1, 5, 10, 4})
	ts := start(t, nil, map[string]Model{"cls": m})
	x := oip.NewFP32("x", []int64{2, 1}, []float32{0, 0})
	for _, c := range []struct {
		k    int
		want []string
	}{
		{2, []string{"10.000000:2", "5.000000:1", "10.000000:2", "5.000000:1"}},
		{9, []string{"10.000000:2", "5.000000:1", "4.000000:3", "1.000000:0", "10.000000:2", "5.000000:1", "4.000000:3", "1.000000:0"}},
	} {
		for _, binary := range []bool{false, true} {
			res, err := ts.c.Infer(context.Background(), "cls", &oip.InferRequest{Inputs: []oip.Tensor{x},
				Outputs: []oip.RequestedOutput{{Name: "y", Binary: binary, Parameters: oip.Parameters{"classification": c.k}}}})
			if err != nil {
				t.Fatal(err)
			}
			y := res.Outputs[0]
			got, _ := y.Data.([][]byte)
			var s []string
			for _, b := range got {
				s = append(s, string(b))
			}
			k := int64(len(c.want) / 2)
			if y.Datatype != oip.BYTES || len(y.Shape) != 2 || y.Shape[0] != 2 || y.Shape[1] != k || strings.Join(s, " ") != strings.Join(c.want, " ") {
				t.Errorf("k=%d binary=%v: %s %v %q", c.k, binary, y.Datatype, y.Shape, s)
			}
		}
	}
}

// TestAppendCFloat: the values of classification strings are written as
// C's printf("%f") writes them (the reference strings are glibc's).
func TestAppendCFloat(t *testing.T) {
	for _, c := range []struct {
		v    float32
		want string
	}{
		{0.1, "0.100000"}, {-2.5, "-2.500000"}, {1e-7, "0.000000"}, {123456.789, "123456.789062"},
		{float32(math.Inf(1)), "inf"}, {float32(math.Inf(-1)), "-inf"}, {3.4028235e38, "340282346638528859811704183484516925440.000000"},
	} {
		if got := string(appendCFloat(nil, c.v)); got != c.want {
			t.Errorf("%g: %s, want %s", c.v, got, c.want)
		}
	}
}

// stubborn is a model whose Predict waits for a token on gate, whatever
// its context says, as a Predict deep in a layer does.
type stubborn struct {
	Model
	started chan struct{}
	gate    chan struct{}
}

func (m *stubborn) PredictContext(ctx context.Context, in ...*runtime.Tensor) ([]*runtime.Tensor, error) {
	m.started <- struct{}{}
	<-m.gate
	return m.Model.PredictContext(ctx, in...)
}

// TestInflightLimit: past MaxInflight a request waits, unread, for a
// place, and gets 503 if none frees before its timeout. A request that
// timed out while its batch runs keeps its place until the batch ends,
// since the batch still holds its data.
func TestInflightLimit(t *testing.T) {
	m := &stubborn{Model: load(t, "tagger"), started: make(chan struct{}, 4), gate: make(chan struct{}, 4)}
	ts := start(t, &Options{MaxInflight: 1, Timeout: 300 * time.Millisecond, MaxBatch: 1}, map[string]Model{"tagger": m})
	x := oip.NewFP32("conv1d_1_input", []int64{1, 7, 5}, make([]float32, 35))
	first := ts.inferAsync(context.Background(), "tagger", x)
	<-m.started
	_, err := ts.c.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}})
	var e *oip.Error
	if !errors.As(err, &e) || e.StatusCode != 503 || e.RetryAfter != 1 || !strings.Contains(e.Message, "too many requests in flight") {
		t.Fatalf("second request: %v", err)
	}
	if err := waitErr(t, first); statusOf(err) != 504 {
		t.Fatalf("first request: %v", err)
	}
	if len(ts.slots) != 1 {
		t.Error("the timed-out request gave its place back while its batch ran")
	}
	m.gate <- struct{}{}
	waitFor(t, "the place to free when the batch ends", func() bool { return len(ts.slots) == 0 })
	m.gate <- struct{}{}
	if _, err := ts.c.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}}); err != nil {
		t.Fatal(err)
	}
}

// TestConnectionLimit: at MaxConns the health endpoints still answer on
// the reserve connections, inference there gets 503, and idle keep-alive
// connections are closed to make room.
func TestConnectionLimit(t *testing.T) {
	ts := start(t, &Options{MaxConns: 8}, map[string]Model{"tagger": load(t, "tagger")})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Eight connections that each made one request and stay idle.
	for range 8 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// Once the server has seen them all idle (or closed: past seven
	// eighths of the limit, a response asks for the connection's close),
	// a new client gets through, health and inference alike, as idle
	// connections are closed to make room.
	waitFor(t, "the connections to turn idle", func() bool {
		l := ts.lns[0]
		l.mu.Lock()
		defer l.mu.Unlock()
		for c := range l.conns {
			c.mu.Lock()
			st := c.state
			c.mu.Unlock()
			if st != http.StateIdle {
				return false
			}
		}
		return true
	})
	x := oip.NewFP32("conv1d_1_input", []int64{1, 7, 5}, make([]float32, 35))
	c := oip.NewClient(ts.url, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}})
	if ok, err := c.Live(context.Background()); !ok || err != nil {
		t.Fatalf("live: %v %v", ok, err)
	}
	if _, err := c.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}}); err != nil {
		t.Fatalf("infer: %v", err)
	}
	closed := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	if closed == 0 {
		t.Error("no idle connection was closed under pressure")
	}
}

// TestReserveConnections: connections past MaxConns that are busy (not
// idle) leave only the reserve, which serves health and refuses
// inference.
func TestReserveConnections(t *testing.T) {
	ts := start(t, &Options{MaxConns: 4}, map[string]Model{"tagger": load(t, "tagger")})
	// Four connections in the middle of a request (headers unfinished): not
	// idle, so never shed before silentGrace.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 4 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		io.WriteString(c, "GET /v2/health/live HTTP/1.1\r\n")
	}
	waitFor(t, "four connections held", func() bool { return ts.connCount() >= 4 })
	resp := ts.rawRequest(t, "GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Errorf("ready at the limit: %d", resp.StatusCode)
	}
	data := `"data":[` + strings.Repeat("0,", 34) + `0]`
	resp = ts.rawRequest(t, post("/v2/models/tagger/infer", `{"inputs":[{"name":"conv1d_1_input","shape":[1,7,5],"datatype":"FP32",`+data+`}]}`))
	// The reserve connection may be the one that a shed freed: either it
	// ran, or it was refused as a reserve one.
	if resp.StatusCode != 200 && resp.StatusCode != 503 {
		t.Errorf("infer at the limit: %d", resp.StatusCode)
	}
}

// TestSlowReaderCutOff: a client that stops reading a large response is
// cut off after WriteTimeout, freeing its place among the requests in
// flight.
func TestSlowReaderCutOff(t *testing.T) {
	m := &constModel{out: make([]float32, 32*20000)}
	ts := start(t, &Options{WriteTimeout: 200 * time.Millisecond, MaxResponseBytes: 1 << 30}, map[string]Model{"big": m})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A small receive buffer, and never a read.
	c.(*net.TCPConn).SetReadBuffer(4096)
	io.WriteString(c, post("/v2/models/big/infer", `{"inputs":[{"name":"x","shape":[32,1],"datatype":"FP32","data":[`+strings.Repeat("0,", 31)+`0]}]}`))
	waitFor(t, "the request to run", func() bool { return m.calls.Load() == 1 })
	waitFor(t, "the slow reader's place to free", func() bool { return len(ts.slots) == 0 })
}

// TestStatsAndRepository: the statistics and model repository extensions.
func TestStatsAndRepository(t *testing.T) {
	ts := start(t, nil, map[string]Model{"tagger": load(t, "tagger"), "sum": timeSumModel(t)})
	x := oip.NewFP32("conv1d_1_input", []int64{3, 7, 5}, make([]float32, 3*35))
	if _, err := ts.c.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}}); err != nil {
		t.Fatal(err)
	}
	ts.do(t, "POST", "/v2/models/tagger/infer", []byte(`{}`), nil)
	code, _, body := ts.do(t, "GET", "/v2/models/tagger/stats", nil, nil)
	var st struct {
		ModelStats []statsJSON `json:"model_stats"`
	}
	if err := json.Unmarshal(body, &st); code != 200 || err != nil || len(st.ModelStats) != 1 {
		t.Fatalf("stats: %d %s", code, body)
	}
	s := st.ModelStats[0]
	if s.Name != "tagger" || s.InferenceCount != 3 || s.ExecutionCount != 1 || s.InferenceStats.Success.Count != 1 ||
		s.InferenceStats.Fail.Count != 1 || s.InferenceStats.Queue.Count != 1 || s.InferenceStats.ComputeInfer.Count != 1 || s.LastInference == 0 {
		t.Errorf("stats %s", body)
	}
	code, _, body = ts.do(t, "GET", "/v2/models/stats", nil, nil)
	if code != 200 || !bytes.Contains(body, []byte(`"name":"sum"`)) || !bytes.Contains(body, []byte(`"name":"tagger"`)) {
		t.Errorf("all stats: %d %s", code, body)
	}
	code, _, body = ts.do(t, "POST", "/v2/repository/index", []byte(`{}`), nil)
	if code != 200 || string(body) != `[{"name":"sum","version":"1","state":"READY"},{"name":"tagger","version":"1","state":"READY"}]` {
		t.Errorf("index: %d %s", code, body)
	}
}
