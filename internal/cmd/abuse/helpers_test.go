package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/oip"
)

func TestParseFlagNames(t *testing.T) {
	help := "usage: kerasrun serve --model [NAME=]MODEL.h5\n  [--addr :8080]\n\n" +
		"--max-conns bounds the connections\n\nflags:\n  --addr string\n    \taddress (default \":8080\")\n" +
		"  --max-rows int\n    \tmost samples\n  -grace duration\n"
	got := parseFlagNames(help)
	for _, want := range []string{"addr", "max-rows", "grace"} {
		if !got[want] {
			t.Errorf("flag %q not found in %v", want, got)
		}
	}
	if got["max-conns"] || got["model"] || len(got) != 3 {
		t.Errorf("got %v, want only addr, max-rows and grace", got)
	}
}

func TestParseStatusField(t *testing.T) {
	status := "Name:\tkerasrun\nVmPeak:\t  123 kB\nVmHWM:\t   4096 kB\nVmRSS:\t   2048 kB\nThreads:\t7\n"
	for _, c := range []struct {
		field string
		want  int64
	}{{"VmHWM", 4096 << 10}, {"VmRSS", 2048 << 10}, {"Threads", 7}} {
		got, err := parseStatusField(status, c.field)
		if err != nil || got != c.want {
			t.Errorf("%s: got %d, %v; want %d", c.field, got, err, c.want)
		}
	}
	if _, err := parseStatusField(status, "VmSwap"); err == nil {
		t.Error("VmSwap: no error for a missing field")
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 13
kerasrun_requests_total{code="200",model="example"} 5
kerasrun_requests_total{code="400",model="example"} 2
kerasrun_requests_total{code="400",model="multi"} 1
kerasrun_batch_size_count{model="example"} 4
bad line
`
	m := parseMetrics(text)
	if m["go_goroutines"] != 13 {
		t.Errorf("go_goroutines = %v", m["go_goroutines"])
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{nil, 8},
		{[]string{`code="400"`}, 3},
		{[]string{`code="400"`, `model="example"`}, 2},
		{[]string{`code="499"`}, 0},
	} {
		if got := sumMetric(m, "kerasrun_requests_total", c.labels...); got != c.want {
			t.Errorf("sum %v = %v, want %v", c.labels, got, c.want)
		}
	}
}

func TestPercentileMs(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := percentileMs(ds, 50); p != 50 {
		t.Errorf("p50 = %v, want 50", p)
	}
	if p := percentileMs(ds, 99); p != 99 {
		t.Errorf("p99 = %v, want 99", p)
	}
	if p := percentileMs([]time.Duration{3 * time.Millisecond}, 99); p != 3 {
		t.Errorf("p99 of one = %v, want 3", p)
	}
	if p := percentileMs(nil, 50); p != 0 {
		t.Errorf("p50 of none = %v, want 0", p)
	}
}

func testModel() *modelIO {
	return &modelIO{
		name: "m",
		inputs: []oip.TensorMetadata{
			{Name: "a", Datatype: oip.FP32, Shape: []int64{-1, 2, 3}},
			{Name: "b", Datatype: oip.FP32, Shape: []int64{-1, -1}},
		},
		outputs: []oip.TensorMetadata{{Name: "y", Datatype: oip.FP32, Shape: []int64{-1, 4}}},
	}
}

// The bodies the suite builds decode as the requests they claim to be.
func TestBodies(t *testing.T) {
	m := testModel()
	body := m.jsonBody(3, "0.500", 4000)
	if len(body) != 4000 {
		t.Fatalf("padded body is %d bytes, want 4000", len(body))
	}
	req, err := oip.DecodeRequest(body, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Inputs) != 2 || len(req.Inputs[0].Shape) != 3 || req.Inputs[0].Shape[0] != 3 || req.Inputs[1].Shape[1] != 1 {
		t.Fatalf("decoded %+v", req.Inputs)
	}
	v, err := req.Inputs[0].Float32s()
	if err != nil || len(v) != 18 || v[17] != 0.5 {
		t.Errorf("input a: %v, %v", v, err)
	}
	if got, want := len(m.jsonBody(5, "0.5", 0))-len(m.jsonBody(4, "0.5", 0)), m.jsonRowBytes("0.5"); got != want {
		t.Errorf("a row takes %d bytes, jsonRowBytes says %d", got, want)
	}

	bin, jl := m.binaryBody(2, 1.5, true)
	req, err = oip.DecodeRequest(bin, jl)
	if err != nil {
		t.Fatal(err)
	}
	v, err = req.Inputs[1].Float32s()
	if err != nil || len(v) != 2 || v[1] != 1.5 {
		t.Errorf("input b: %v, %v", v, err)
	}
	if len(req.Outputs) != 1 || !req.Outputs[0].Binary {
		t.Errorf("outputs %+v, want y as binary", req.Outputs)
	}
}

func TestLongNumber(t *testing.T) {
	for _, c := range []struct {
		per  int64
		want int
	}{{1, 3}, {4, 3}, {11, 10}, {1000, 64}} {
		s := longNumber(c.per)
		if len(s) != c.want {
			t.Errorf("longNumber(%d) = %q, want %d bytes", c.per, s, c.want)
		}
		var f float64
		if err := json.Unmarshal([]byte(s), &f); err != nil || f != 0.5 {
			t.Errorf("longNumber(%d) = %q reads as %v, %v", c.per, s, f, err)
		}
	}
}

// The overflow cases are well-formed JSON, so that the server's answer is
// about their numbers and not their syntax.
func TestOverflowCasesAreJSON(t *testing.T) {
	for _, c := range overflowCases {
		d := json.NewDecoder(strings.NewReader(c.json))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Errorf("%s: %v", c.what, err)
		}
	}
}

func TestLogWatch(t *testing.T) {
	long := strings.Repeat("x", 3*maxKept)
	text := `{"msg":"listening","addr":"127.0.0.1:1234","request_memory":1024}` + "\n" +
		long + "\n" +
		"panic: runtime error\n" +
		`{"msg":"model added","model":"m","max_rows":32}` + "\n"
	w := newLogWatch(io.NopCloser(bytes.NewReader([]byte(text))))
	deadline := time.Now().Add(10 * time.Second)
	for w.mark() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	lines, longest, alarm := w.since(0)
	if lines != 4 || longest != len(long)+1 || !strings.HasPrefix(alarm, "panic") {
		t.Errorf("since(0) = %d lines, longest %d, alarm %q; want 4, %d, panic...", lines, longest, alarm, len(long)+1)
	}
	if _, _, alarm := w.since(3); alarm != "" {
		t.Errorf("since(3): alarm %q", alarm)
	}
	recs := w.records()
	if len(recs) != 2 || recs[0]["addr"] != "127.0.0.1:1234" {
		t.Fatalf("records %v", recs)
	}
	if n, ok := intAttr(recs[0], "request_memory"); !ok || n != 1024 {
		t.Errorf("request_memory = %d, %v", n, ok)
	}
	if n, ok := intAttr(recs[1], "max_rows"); !ok || n != 32 {
		t.Errorf("max_rows = %d, %v", n, ok)
	}
	if len(w.records()) != 0 {
		t.Error("records returned the same records twice")
	}
	if _, ok := intAttr(recs[1], "absent"); ok {
		t.Error("intAttr of an absent key")
	}
}
