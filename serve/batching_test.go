package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/oip"
	"github.com/kerasrun/kerasrun/runtime"
)

// TestBatching64: 64 concurrent clients with different inputs (1 to 3
// samples each, half of them in binary) each get exactly their own rows:
// bit-identical to the rows of the Predict that ran their batch, and
// bit-identical to a serial Predict of their own input (internal/kernels
// computes a row the same way at every batch size). Requests were merged,
// and no batch exceeded MaxBatch.
func TestBatching64(t *testing.T) {
	base := load(t, "example")
	rec := &recorder{Model: base}
	const maxBatch = 16
	ts := start(t, &Options{MaxBatch: maxBatch, MaxDelay: 20 * time.Millisecond, Workers: 2}, map[string]Model{"example": rec})
	const clients = 64
	rng := newRand(64)
	inputs := make([]*runtime.Tensor, clients)
	for i := range inputs {
		n := 1 + i%3
		inputs[i] = tensor(t, []int{n, 5, 10}, randData(rng, n*50))
	}
	got := make([][]float32, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			x := oip.NewFP32("bidirectional_1_input", shapeOf(inputs[i].Shape), inputs[i].Data)
			x.Binary = i%2 == 1
			res, err := ts.c.Infer(context.Background(), "example", &oip.InferRequest{ID: fmt.Sprint(i), Inputs: []oip.Tensor{x}, BinaryOutput: i%4 == 1})
			if err == nil && res.ID != fmt.Sprint(i) {
				err = fmt.Errorf("id %q", res.ID)
			}
			if err == nil {
				got[i], err = res.Outputs[0].Float32s()
				if len(res.Outputs[0].Shape) != 2 || res.Outputs[0].Shape[0] != int64(inputs[i].Shape[0]) {
					err = fmt.Errorf("output shape %v", res.Outputs[0].Shape)
				}
			}
			errs[i] = err
		}()
	}
	close(startGate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	calls := rec.snapshot()
	merged, totalRows := 0, 0
	for _, c := range calls {
		rows := c.in[0].Shape[0]
		totalRows += rows
		if rows > maxBatch {
			t.Errorf("a batch of %d rows; MaxBatch is %d", rows, maxBatch)
		}
		if rows > 3 {
			merged++
		}
	}
	wantRows := 0
	for _, x := range inputs {
		wantRows += x.Shape[0]
	}
	if totalRows != wantRows {
		t.Errorf("Predict saw %d rows in all, the clients sent %d", totalRows, wantRows)
	}
	if merged == 0 {
		t.Errorf("no batch merged requests (%d Predict calls)", len(calls))
	}
	t.Logf("%d requests ran in %d Predict calls", clients, len(calls))
	for i, x := range inputs {
		// Where the client's rows ran: find them in a recorded batch.
		found := false
		for _, c := range calls {
			in, out := c.in[0], c.out[0]
			row := len(x.Data) / x.Shape[0]
			orow := len(out.Data) / out.Shape[0]
			for r := 0; r+x.Shape[0] <= in.Shape[0]; r++ {
				if sameBits(in.Data[r*row:(r+x.Shape[0])*row], x.Data) {
					found = true
					if !sameBits(got[i], out.Data[r*orow:(r+x.Shape[0])*orow]) {
						t.Fatalf("client %d did not get exactly rows %d..%d of its batch", i, r, r+x.Shape[0])
					}
				}
			}
		}
		if !found {
			t.Fatalf("client %d: its input is in no Predict call", i)
		}
		want, err := base.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if d, n := maxAbsDiff(got[i], want[0].Data); n != 0 {
			t.Fatalf("client %d: %d values differ from a serial Predict (max abs difference %g)", i, n, d)
		}
	}
}

// TestMixedShapesNeverMerged: requests whose shapes differ past the batch
// axis are never merged; each gets the sum of its own samples.
func TestMixedShapesNeverMerged(t *testing.T) {
	rec := &recorder{Model: timeSumModel(t)}
	ts := start(t, &Options{MaxBatch: 64, MaxDelay: 30 * time.Millisecond}, map[string]Model{"sum": rec})
	const clients = 48
	steps := []int{2, 3, 5}
	rng := newRand(7)
	inputs := make([]*runtime.Tensor, clients)
	for i := range inputs {
		inputs[i] = tensor(t, []int{1 + i%2, steps[i%3], 3}, randData(rng, (1+i%2)*steps[i%3]*3))
	}
	var wg sync.WaitGroup
	errs := make([]error, clients)
	gate := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			x := inputs[i]
			res, err := ts.c.Infer(context.Background(), "sum", &oip.InferRequest{Inputs: []oip.Tensor{oip.NewFP32("x", shapeOf(x.Shape), x.Data)}})
			if err != nil {
				errs[i] = err
				return
			}
			want, _ := timeSum{}.Forward([]*runtime.Tensor{x})
			if g := outFloats(t, res, 0); !sameBits(g, want[0].Data) {
				errs[i] = fmt.Errorf("got %v, want %v", g, want[0].Data)
			}
		}()
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	calls := rec.snapshot()
	rows, merged := 0, 0
	for _, c := range calls {
		rows += c.in[0].Shape[0]
		if c.in[0].Shape[0] > 2 {
			merged++
		}
		// Every sample of a batch has the time length of the batch: find
		// each sample among the requests with that length.
		x := c.in[0]
		per := x.Shape[1] * 3
		for r := 0; r < x.Shape[0]; r++ {
			ok := false
			for _, in := range inputs {
				if in.Shape[1] != x.Shape[1] {
					continue
				}
				for k := 0; k < in.Shape[0]; k++ {
					ok = ok || sameBits(in.Data[k*per:(k+1)*per], x.Data[r*per:(r+1)*per])
				}
			}
			if !ok {
				t.Fatalf("a batch of time length %d holds a sample of no request of that length", x.Shape[1])
			}
		}
	}
	want := 0
	for _, x := range inputs {
		want += x.Shape[0]
	}
	if rows != want || merged == 0 || len(calls) < len(steps) {
		t.Fatalf("%d Predict calls, %d merged, %d rows (want %d)", len(calls), merged, rows, want)
	}
	t.Logf("%d requests of 3 shapes ran in %d Predict calls", clients, len(calls))
}

// TestOversizeRequestRunsAlone: a request of more rows than MaxBatch runs
// alone, whole.
func TestOversizeRequestRunsAlone(t *testing.T) {
	rec := &recorder{Model: timeSumModel(t)}
	ts := start(t, &Options{MaxBatch: 4}, map[string]Model{"sum": rec})
	x := tensor(t, []int{6, 2, 3}, randData(newRand(3), 36))
	res, err := ts.c.Infer(context.Background(), "sum", &oip.InferRequest{Inputs: []oip.Tensor{oip.NewFP32("x", shapeOf(x.Shape), x.Data)}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := timeSum{}.Forward([]*runtime.Tensor{x})
	if !sameBits(outFloats(t, res, 0), want[0].Data) {
		t.Fatal("wrong output")
	}
	if c := rec.snapshot(); len(c) != 1 || c[0].in[0].Shape[0] != 6 {
		t.Fatalf("%d calls", len(c))
	}
}

// TestBadRequestFailsAlone: when a merged batch fails on one request's data
// (a token id out of range), that request gets 400 and the others their
// outputs.
func TestBadRequestFailsAlone(t *testing.T) {
	embed := load(t, "f3_k11_conv1d_legacy_kernel")
	rec := &recorder{Model: embed}
	// The batch runs when all 8 are in.
	ts := start(t, &Options{MaxBatch: 8, MaxDelay: 5 * time.Second}, map[string]Model{"embed": rec})
	const clients = 8
	var wg sync.WaitGroup
	errs := make([]error, clients)
	gate := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := []int32{int32(i % 7), 1, 2, 3, 4, 5, 6, 0}
			if i == 5 {
				ids[3] = 99
			}
			f := make([]float32, 8)
			for k, v := range ids {
				f[k] = float32(v)
			}
			<-gate
			res, err := ts.c.Infer(context.Background(), "embed", &oip.InferRequest{Inputs: []oip.Tensor{oip.NewINT32("embedding_1_input", []int64{1, 8}, ids)}})
			if err != nil {
				errs[i] = err
				return
			}
			want, err := embed.Predict(tensor(t, []int{1, 8}, f))
			if err != nil {
				errs[i] = err
				return
			}
			if d, n := maxAbsDiff(outFloats(t, res, 0), want[0].Data); n != 0 {
				errs[i] = fmt.Errorf("%d values differ from a serial Predict (max abs difference %g)", n, d)
			}
		}()
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if i == 5 {
			var e *oip.Error
			if !errors.As(err, &e) || e.StatusCode != 400 || !strings.Contains(e.Message, "token id 99") {
				t.Fatalf("bad client: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	failed := 0
	for _, c := range rec.snapshot() {
		if c.err != nil && c.in[0].Shape[0] > 1 {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("the bad request was never in a merged batch")
	}
}

// infer sends one request for model m in the background.
func (ts *testServer) inferAsync(ctx context.Context, model string, x oip.Tensor) chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := ts.c.Infer(ctx, model, &oip.InferRequest{Inputs: []oip.Tensor{x}})
		ch <- err
	}()
	return ch
}

func marked(v float32) oip.Tensor {
	d := make([]float32, 35)
	d[0] = v
	return oip.NewFP32("conv1d_1_input", []int64{1, 7, 5}, d)
}

func waitErr(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("request did not finish")
	}
	return nil
}

// TestQueueFullAndCancel: with one worker busy and the queue (of 1) full,
// a request gets 503 with Retry-After; when the queued request's client
// goes away, it leaves the queue at once, never runs, and its place takes
// a new request.
func TestQueueFullAndCancel(t *testing.T) {
	g := newGated(load(t, "tagger"))
	ts := start(t, &Options{MaxBatch: 1, QueueSize: 1, Workers: 1}, map[string]Model{"tagger": g})
	bg := context.Background()

	a := ts.inferAsync(bg, "tagger", marked(1)) // runs, blocked in Predict
	if in := <-g.started; in[0].Data[0] != 1 {
		t.Fatal("A did not run first")
	}
	ctxB, cancelB := context.WithCancel(bg)
	b := ts.inferAsync(ctxB, "tagger", marked(2)) // queued
	waitFor(t, "B queued", func() bool { return ts.queued("tagger") == 1 })

	_, err := ts.c.Infer(bg, "tagger", &oip.InferRequest{Inputs: []oip.Tensor{marked(3)}})
	var e *oip.Error
	if !errors.As(err, &e) || e.StatusCode != 503 || e.RetryAfter != 1 || !strings.Contains(e.Message, "queue is full") {
		t.Fatalf("C: %v", err)
	}

	cancelB()
	if err := waitErr(t, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("B: %v", err)
	}
	waitFor(t, "B to leave the queue", func() bool { return ts.queued("tagger") == 0 })

	d := ts.inferAsync(bg, "tagger", marked(4)) // takes B's place
	waitFor(t, "D queued", func() bool { return ts.queued("tagger") == 1 })
	g.gate <- struct{}{} // A finishes
	if err := waitErr(t, a); err != nil {
		t.Fatalf("A: %v", err)
	}
	if in := <-g.started; in[0].Data[0] != 4 {
		t.Fatalf("after A ran the request marked %v, want D (4): B must never run", in[0].Data[0])
	}
	g.gate <- struct{}{}
	if err := waitErr(t, d); err != nil {
		t.Fatalf("D: %v", err)
	}
	select {
	case in := <-g.started:
		t.Fatalf("a request marked %v ran after D", in[0].Data[0])
	default:
	}
	waitFor(t, "the 499 of B in /metrics", func() bool {
		_, _, body := ts.do(t, "GET", "/metrics", nil, nil)
		return strings.Contains(string(body), `kerasrun_requests_total{code="499",model="tagger",protocol="rest"} 1`) &&
			strings.Contains(string(body), `kerasrun_requests_total{code="503",model="tagger",protocol="rest"} 1`)
	})
}

// TestCancelInFormingBatch: a request taken into a batch that is still
// waiting for MaxDelay, whose client then goes away, is dropped before the
// batch runs.
func TestCancelInFormingBatch(t *testing.T) {
	g := newGated(load(t, "tagger"))
	// B waits for a second request; C fills the batch, which then runs.
	ts := start(t, &Options{MaxBatch: 2, MaxDelay: 5 * time.Second}, map[string]Model{"tagger": g})
	bg := context.Background()
	ctxB, cancelB := context.WithCancel(bg)
	b := ts.inferAsync(ctxB, "tagger", marked(2))
	waitFor(t, "B taken into a forming batch", func() bool {
		q := ts.lookup("tagger").q
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.forming == 1
	})
	cancelB()
	if err := waitErr(t, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("B: %v", err)
	}
	// The client gives up at once; the server sees the connection go
	// (and counts B's 499) a moment later. Until then B is still live.
	waitFor(t, "the server to see B go", func() bool {
		return ts.metricsHas(t, `kerasrun_requests_total{code="499",model="tagger",protocol="rest"} 1`)
	})
	c := ts.inferAsync(bg, "tagger", marked(3))
	in := <-g.started
	if in[0].Shape[0] != 1 || in[0].Data[0] != 3 {
		t.Fatalf("the batch ran %d rows, first marked %v; want C alone", in[0].Shape[0], in[0].Data[0])
	}
	g.gate <- struct{}{}
	if err := waitErr(t, c); err != nil {
		t.Fatal(err)
	}
}

// TestBatchCancelledWhenAllGone: a merged batch whose clients all go away
// is cancelled while it runs.
func TestBatchCancelledWhenAllGone(t *testing.T) {
	g := newGated(load(t, "tagger"))
	ts := start(t, &Options{MaxBatch: 2, MaxDelay: 5 * time.Second}, map[string]Model{"tagger": g})
	ctx, cancel := context.WithCancel(context.Background())
	a := ts.inferAsync(ctx, "tagger", marked(1))
	b := ts.inferAsync(ctx, "tagger", marked(2))
	if in := <-g.started; in[0].Shape[0] != 2 {
		t.Fatalf("batch of %d rows, want A and B merged", in[0].Shape[0])
	}
	cancel()
	waitErr(t, a)
	waitErr(t, b)
	select {
	case <-g.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the batch was not cancelled")
	}
}

// TestGracefulShutdown: on Shutdown, readiness and new requests get 503,
// the listener refuses connections, the request in flight finishes with
// its output, and Serve and Shutdown return nil.
func TestGracefulShutdown(t *testing.T) {
	m := load(t, "tagger")
	g := newGated(m)
	s := New(&Options{})
	if err := s.Add("tagger", g); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c := oip.NewClient("http://"+ln.Addr().String(), nil)
	x := marked(1)
	type result struct {
		res *oip.InferResponse
		err error
	}
	inflight := make(chan result, 1)
	go func() {
		res, err := c.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}})
		inflight <- result{res, err}
	}()
	<-g.started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	waitFor(t, "draining", s.isDraining)

	// New requests are refused.
	waitFor(t, "the listener to close", func() bool {
		conn, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	h := s.Handler()
	for _, path := range []string{"/v2/health/ready", "/v2/models/tagger/ready"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 503 || !strings.Contains(w.Body.String(), "shutting down") {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/v2/models/tagger/infer", strings.NewReader(`{"inputs":[]}`)))
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "shutting down") {
		t.Fatalf("infer while draining: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v2/health/live", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("live while draining: %d", w.Code)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}

	// The request in flight finishes.
	g.gate <- struct{}{}
	r := <-inflight
	if r.err != nil {
		t.Fatalf("in-flight request: %v", r.err)
	}
	want, _ := m.Predict(tensor(t, []int{1, 7, 5}, x.Data.([]float32)))
	if !sameBits(outFloats(t, r.res, 0), want[0].Data) {
		t.Fatal("in-flight request: wrong output")
	}
	if err := waitErr(t, shut); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := waitErr(t, served); err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
