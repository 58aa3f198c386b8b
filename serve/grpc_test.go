package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/oip"
	pb "github.com/kerasrun/kerasrun/oip/inferencepb"
	"github.com/kerasrun/kerasrun/runtime"
)

// grpcTestServer is a testServer that also serves gRPC on loopback, with a
// Go client and the raw generated one.
type grpcTestServer struct {
	*testServer
	gaddr string
	gc    *oip.GRPCClient
	pc    pb.GRPCInferenceServiceClient
}

// startGRPC serves models over REST and gRPC on 127.0.0.1 and shuts the
// server down at the end of the test.
func startGRPC(t *testing.T, opts *Options, models map[string]Model) *grpcTestServer {
	t.Helper()
	s := New(opts)
	for name, m := range models {
		if err := s.Add(name, m); err != nil {
			t.Fatal(err)
		}
	}
	return serveGRPC(t, s)
}

func serveGRPC(t *testing.T, s *Server) *grpcTestServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: this one after startServer's Shutdown.
	t.Cleanup(func() {
		cc.Close()
		if err := waitErr(t, served); err != nil {
			t.Errorf("ServeGRPC: %v", err)
		}
	})
	go func() { served <- s.ServeGRPC(ln) }()
	ts := startServer(t, s)
	return &grpcTestServer{testServer: ts, gaddr: ln.Addr().String(), gc: oip.NewGRPCClient(cc), pc: pb.NewGRPCInferenceServiceClient(cc)}
}

// TestGRPCAPI: every RPC of the gRPC API answers what REST answers for
// the same question, and an inference over gRPC gives the same bits as
// over REST.
func TestGRPCAPI(t *testing.T) {
	ctx := context.Background()
	ts := startGRPC(t, nil, map[string]Model{"example": load(t, "example"), "multi": load(t, "functional_multi_io")})
	if live, err := ts.gc.Live(ctx); err != nil || !live {
		t.Fatalf("Live: %v %v", live, err)
	}
	if ready, err := ts.gc.Ready(ctx); err != nil || !ready {
		t.Fatalf("Ready: %v %v", ready, err)
	}
	if ready, err := ts.gc.ModelReady(ctx, "example"); err != nil || !ready {
		t.Fatalf("ModelReady: %v %v", ready, err)
	}
	if _, err := ts.pc.ModelReady(ctx, &pb.ModelReadyRequest{Name: "example", Version: "2"}); status.Code(err) != codes.NotFound {
		t.Fatalf("ModelReady of version 2: %v", err)
	}
	gm, err := ts.gc.ServerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := ts.c.ServerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gm, rm) {
		t.Fatalf("ServerMetadata: gRPC %+v, REST %+v", gm, rm)
	}
	for _, name := range []string{"example", "multi"} {
		gmd, err := ts.gc.ModelMetadata(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		rmd, err := ts.c.ModelMetadata(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gmd, rmd) {
			t.Fatalf("ModelMetadata: gRPC %+v, REST %+v", gmd, rmd)
		}
	}

	// Multi-input, multi-output, outputs selected in reverse order.
	rng := newRand(3)
	req := &oip.InferRequest{ID: "mm", Inputs: []oip.Tensor{
		oip.NewFP32("input_2", []int64{3, 3}, randData(rng, 9)),
		oip.NewFP32("input_1", []int64{3, 6, 4}, randData(rng, 72)),
	}}
	md, _ := ts.c.ModelMetadata(ctx, "multi")
	for i := len(md.Outputs) - 1; i >= 0; i-- {
		req.Outputs = append(req.Outputs, oip.RequestedOutput{Name: md.Outputs[i].Name})
	}
	var clients []oip.InferClient = []oip.InferClient{ts.gc, ts.c}
	var got [2]*oip.InferResponse
	for i, c := range clients {
		if got[i], err = c.Infer(ctx, "multi", req); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	g, r := got[0], got[1]
	if g.ModelName != "multi" || g.ModelVersion != Version || g.ID != "mm" || len(g.Outputs) != len(md.Outputs) {
		t.Fatalf("gRPC response %+v", g)
	}
	for k := range g.Outputs {
		if g.Outputs[k].Name != req.Outputs[k].Name || !reflect.DeepEqual(g.Outputs[k].Shape, r.Outputs[k].Shape) || g.Outputs[k].Datatype != oip.FP32 {
			t.Fatalf("output %d: gRPC %s %v, REST %s %v", k, g.Outputs[k].Name, g.Outputs[k].Shape, r.Outputs[k].Name, r.Outputs[k].Shape)
		}
		if !sameBits(outFloats(t, g, k), outFloats(t, r, k)) {
			t.Fatalf("output %q: gRPC and REST differ", g.Outputs[k].Name)
		}
	}

	// Typed contents (no raw), as some clients send them.
	x := randData(rng, 50)
	p := &pb.ModelInferRequest{ModelName: "example", Inputs: []*pb.ModelInferRequest_InferInputTensor{{
		Name: "bidirectional_1_input", Datatype: "FP32", Shape: []int64{1, 5, 10}, Contents: &pb.InferTensorContents{Fp32Contents: x},
	}}}
	pr, err := ts.pc.ModelInfer(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	typed, err := oip.ResponseFromProto(pr)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.RawOutputContents) != 1 || pr.Outputs[0].Contents != nil {
		t.Fatalf("the response is not in raw_output_contents: %v", pr)
	}
	want, err := load(t, "example").Predict(tensor(t, []int{1, 5, 10}, x))
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(outFloats(t, typed, 0), want[0].Data) {
		t.Fatal("typed contents: wrong output")
	}
	for _, w := range []string{
		`kerasrun_requests_total{code="200",model="multi",protocol="grpc"} 1`,
		`kerasrun_requests_total{code="200",model="multi",protocol="rest"} 1`,
		`kerasrun_requests_total{code="200",model="example",protocol="grpc"} 1`,
	} {
		if !ts.metricsHas(t, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
}

// TestGRPCErrors: each failure has the gRPC code of its REST status and
// REST's message, bounded in length, and is counted.
func TestGRPCErrors(t *testing.T) {
	ctx := context.Background()
	var logs syncBuffer
	// The body limits are derived: 1 MiB for tagger, more for sum (free
	// dimensions), so the gRPC message limit lets through a tagger request
	// that tagger's own limit refuses.
	ts := startGRPC(t, &Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, map[string]Model{"tagger": load(t, "tagger"), "sum": timeSumModel(t)})
	x := func(shape ...int64) *pb.ModelInferRequest_InferInputTensor {
		return &pb.ModelInferRequest_InferInputTensor{Name: "conv1d_1_input", Datatype: "FP32", Shape: shape}
	}
	zeros := func(n int) []byte { return make([]byte, 4*n) }
	long := strings.Repeat("m", 1<<20)
	cases := []struct {
		name string
		p    *pb.ModelInferRequest
		code codes.Code
		want string
	}{
		{"unknown model", &pb.ModelInferRequest{ModelName: "nope"}, codes.NotFound, `unknown model "nope"`},
		{"huge model name", &pb.ModelInferRequest{ModelName: long[:1<<19]}, codes.NotFound, "unknown model"},
		{"unknown version", &pb.ModelInferRequest{ModelName: "tagger", ModelVersion: "9"}, codes.NotFound, `no version "9"`},
		{"no inputs", &pb.ModelInferRequest{ModelName: "tagger"}, codes.InvalidArgument, "no inputs"},
		{"bad shape", &pb.ModelInferRequest{ModelName: "tagger", Inputs: []*pb.ModelInferRequest_InferInputTensor{x(1, 8, 5)}, RawInputContents: [][]byte{zeros(40)}}, codes.InvalidArgument, "want [-1,7,5]"},
		{"raw and typed", &pb.ModelInferRequest{ModelName: "tagger", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "conv1d_1_input", Datatype: "FP32", Shape: []int64{1, 7, 5}, Contents: &pb.InferTensorContents{Fp32Contents: make([]float32, 35)}}}, RawInputContents: [][]byte{zeros(35)}}, codes.InvalidArgument, "raw contents are given too"},
		{"neither raw nor typed", &pb.ModelInferRequest{ModelName: "tagger", Inputs: []*pb.ModelInferRequest_InferInputTensor{x(1, 7, 5)}}, codes.InvalidArgument, "no contents"},
		{"raw size", &pb.ModelInferRequest{ModelName: "tagger", Inputs: []*pb.ModelInferRequest_InferInputTensor{x(1, 7, 5)}, RawInputContents: [][]byte{zeros(34)}}, codes.InvalidArgument, "takes 140 bytes"},
		{"overflowing shape", &pb.ModelInferRequest{ModelName: "tagger", Inputs: []*pb.ModelInferRequest_InferInputTensor{x(1<<62, 7, 5)}, RawInputContents: [][]byte{{}}}, codes.InvalidArgument, "too large"},
		{"unknown input", &pb.ModelInferRequest{ModelName: "tagger", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: long[:1<<16], Datatype: "FP32", Shape: []int64{1}}}, RawInputContents: [][]byte{zeros(1)}}, codes.InvalidArgument, "unknown input"},
		{"unknown parameter", &pb.ModelInferRequest{ModelName: "tagger", Parameters: map[string]*pb.InferParameter{"priority": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 1}}},
			Inputs: []*pb.ModelInferRequest_InferInputTensor{x(1, 7, 5)}, RawInputContents: [][]byte{zeros(35)}}, codes.InvalidArgument, `"priority"`},
		{"REST-only parameter", &pb.ModelInferRequest{ModelName: "tagger", Parameters: map[string]*pb.InferParameter{"binary_data_output": {ParameterChoice: &pb.InferParameter_BoolParam{BoolParam: true}}},
			Inputs: []*pb.ModelInferRequest_InferInputTensor{x(1, 7, 5)}, RawInputContents: [][]byte{zeros(35)}}, codes.InvalidArgument, `"binary_data_output"`},
		{"too many rows", &pb.ModelInferRequest{ModelName: "tagger", Inputs: []*pb.ModelInferRequest_InferInputTensor{x(1000, 7, 5)}, RawInputContents: [][]byte{zeros(35000)}}, codes.ResourceExhausted, "rows"},
		{"over the model's body limit", &pb.ModelInferRequest{ModelName: "tagger", Inputs: []*pb.ModelInferRequest_InferInputTensor{x(8000, 7, 5)}, RawInputContents: [][]byte{zeros(280000)}}, codes.ResourceExhausted, `the limit for model "tagger"`},
	}
	for _, c := range cases {
		_, err := ts.pc.ModelInfer(ctx, c.p)
		st, _ := status.FromError(err)
		if st.Code() != c.code || !strings.Contains(st.Message(), c.want) {
			t.Errorf("%s: %v %.300q, want %v with %q", c.name, st.Code(), st.Message(), c.code, c.want)
		}
		if len(st.Message()) > 1024 {
			t.Errorf("%s: a message of %d bytes", c.name, len(st.Message()))
		}
	}
	// Through the Go client, the same failure reads as REST's.
	_, err := ts.gc.Infer(ctx, "nope", &oip.InferRequest{Inputs: []oip.Tensor{marked(1)}})
	_, rerr := ts.c.Infer(ctx, "nope", &oip.InferRequest{Inputs: []oip.Tensor{marked(1)}})
	var ge, re *oip.Error
	if !errors.As(err, &ge) || !errors.As(rerr, &re) || ge.StatusCode != 404 || ge.Message != re.Message {
		t.Errorf("unknown model: gRPC %v, REST %v", err, rerr)
	}
	if _, err := ts.gc.ModelMetadata(ctx, "nope"); status.Code(err) != codes.NotFound {
		t.Errorf("ModelMetadata of an unknown model: %v", err)
	}
	for _, w := range []string{
		`kerasrun_requests_total{code="404",model="",protocol="grpc"} 4`,
		`kerasrun_requests_total{code="400",model="tagger",protocol="grpc"} 9`,
		`kerasrun_requests_total{code="413",model="tagger",protocol="grpc"} 2`,
	} {
		if !ts.metricsHas(t, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		if len(line) > 4096 {
			t.Errorf("a log line of %d bytes: %.200s", len(line), line)
		}
	}
}

// TestGRPCBatching: concurrent gRPC and REST requests merge into the same
// batches, and each client gets exactly its own rows.
func TestGRPCBatching(t *testing.T) {
	base := load(t, "example")
	rec := &recorder{Model: base}
	ts := startGRPC(t, &Options{MaxBatch: 16, MaxDelay: 20 * time.Millisecond}, map[string]Model{"example": rec})
	const clients = 48
	rng := newRand(48)
	inputs := make([]*runtime.Tensor, clients)
	for i := range inputs {
		n := 1 + i%3
		inputs[i] = tensor(t, []int{n, 5, 10}, randData(rng, n*50))
	}
	got := make([][]float32, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			var c oip.InferClient = ts.gc
			if i%4 == 3 {
				c = ts.c
			}
			res, err := c.Infer(context.Background(), "example", &oip.InferRequest{ID: fmt.Sprint(i), Inputs: []oip.Tensor{oip.NewFP32("bidirectional_1_input", shapeOf(inputs[i].Shape), inputs[i].Data)}})
			if err == nil && res.ID != fmt.Sprint(i) {
				err = fmt.Errorf("id %q", res.ID)
			}
			if err == nil {
				got[i], err = res.Outputs[0].Float32s()
			}
			errs[i] = err
		}()
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	merged := 0
	for _, c := range rec.snapshot() {
		if c.in[0].Shape[0] > 3 {
			merged++
		}
	}
	if merged == 0 {
		t.Error("no batch merged requests")
	}
	for i, x := range inputs {
		want, err := base.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if d, n := maxAbsDiff(got[i], want[0].Data); n != 0 {
			t.Fatalf("client %d: %d values differ from a serial Predict (max abs difference %g)", i, n, d)
		}
	}
}

// TestGRPCShutdown: Shutdown with a gRPC request in flight lets it finish,
// refuses new ones, and makes ServeGRPC return nil.
func TestGRPCShutdown(t *testing.T) {
	m := load(t, "tagger")
	g := newGated(m)
	s := New(nil)
	if err := s.Add("tagger", g); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.ServeGRPC(ln) }()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := oip.NewGRPCClient(cc)
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The server says it is not ready, or is already unreachable; new
	// inference requests are refused either way.
	if ready, err := c.Ready(ctx); err == nil && ready {
		t.Fatal("ready while draining")
	}
	if _, err := c.Infer(ctx, "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}}); status.Code(err) != codes.Unavailable {
		t.Fatalf("infer while draining: %v", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
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
		t.Fatalf("ServeGRPC: %v", err)
	}
	if err := s.ServeGRPC(ln); err == nil {
		t.Fatal("ServeGRPC after Shutdown: no error")
	}
}

// TestGRPCShutdownDeadline: when the grace period ends with a gRPC request
// stuck, Shutdown closes its connection and returns.
func TestGRPCShutdownDeadline(t *testing.T) {
	g := newGated(load(t, "tagger"))
	s := New(nil)
	if err := s.Add("tagger", g); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.ServeGRPC(ln) }()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	failed := make(chan error, 1)
	go func() {
		_, err := oip.NewGRPCClient(cc).Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{marked(1)}})
		failed <- err
	}()
	<-g.started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := waitErr(t, failed); status.Code(err) != codes.Unavailable {
		t.Fatalf("the stuck request: %v", err)
	}
	if err := waitErr(t, served); err != nil {
		t.Fatalf("ServeGRPC: %v", err)
	}
}

// TestGRPCRecover: a panic in a handler is codes.Internal with an incident
// id, logged once without a stack, and a panic in ModelInfer is counted as
// a 500.
func TestGRPCRecover(t *testing.T) {
	var logs syncBuffer
	s := New(&Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err := s.Add("tagger", load(t, "tagger")); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, s)
	info := &grpc.UnaryServerInfo{FullMethod: "/inference.GRPCInferenceService/ModelInfer"}
	_, err := s.grpcRecover(context.Background(), &pb.ModelInferRequest{ModelName: "tagger"}, info, func(context.Context, any) (any, error) {
		panic("boom")
	})
	st, _ := status.FromError(err)
	id, ok := strings.CutPrefix(st.Message(), "internal error ")
	if st.Code() != codes.Internal || !ok || len(id) != 16 {
		t.Fatalf("%v", err)
	}
	if n := bytes.Count(logs.Bytes(), []byte(`"panic":"boom"`)); n != 1 || !bytes.Contains(logs.Bytes(), []byte(`"incident":"`+id+`"`)) {
		t.Errorf("the panic is logged %d times, or without its incident id:\n%s", n, logs.Bytes())
	}
	if bytes.Contains(logs.Bytes(), []byte("goroutine ")) {
		t.Errorf("the log has a stack dump:\n%s", logs.Bytes())
	}
	if !ts.metricsHas(t, `kerasrun_requests_total{code="500",model="tagger",protocol="grpc"} 1`) || !ts.metricsHas(t, "kerasrun_panics_total 1") {
		t.Error("the panic is not counted as a 500")
	}
}

// TestGRPCFixtures serves fixtures that have expected outputs (from tools/)
// over gRPC, and checks each answer against them and against REST's answer
// to the same request, bit for bit.
func TestGRPCFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("loads every fixture")
	}
	s, served := fixtureServer(t)
	ts := serveGRPC(t, s)
	for _, fc := range served {
		req := fixtureRequest(t, fc)
		res, err := ts.gc.Infer(context.Background(), fc.ID, req)
		if err != nil {
			t.Errorf("%s: %v", fc.ID, err)
			continue
		}
		rres, err := ts.c.Infer(context.Background(), fc.ID, req)
		if err != nil {
			t.Fatalf("%s over REST: %v", fc.ID, err)
		}
		got := responseTensors(t, res)
		if err := fc.Check(got); err != nil {
			t.Errorf("%s: %v", fc.ID, err)
		}
		for k, x := range responseTensors(t, rres) {
			if !reflect.DeepEqual(x.Shape, got[k].Shape) || !sameBits(x.Data, got[k].Data) {
				t.Errorf("%s: output %d differs between gRPC and REST", fc.ID, k)
			}
		}
	}
	t.Logf("%d fixtures served over gRPC and checked", len(served))
}

// fixtureRequest is the request of a fixture's inputs.
func fixtureRequest(t *testing.T, fc *golden.Case) *oip.InferRequest {
	t.Helper()
	ins, err := fc.ReadInputs()
	if err != nil {
		t.Fatal(err)
	}
	req := &oip.InferRequest{ID: fc.ID}
	for k, x := range ins {
		in := oip.NewFP32(fc.Inputs[k].Name, shapeOf(x.Shape), x.Data)
		if fc.Inputs[k].DType == "int32" {
			ids := make([]int32, len(x.Data))
			for j, v := range x.Data {
				ids[j] = int32(v)
			}
			in = oip.NewINT32(fc.Inputs[k].Name, shapeOf(x.Shape), ids)
		}
		req.Inputs = append(req.Inputs, in)
	}
	return req
}

func responseTensors(t *testing.T, res *oip.InferResponse) []*runtime.Tensor {
	t.Helper()
	var out []*runtime.Tensor
	for k := range res.Outputs {
		shape := make([]int, len(res.Outputs[k].Shape))
		for j, v := range res.Outputs[k].Shape {
			shape[j] = int(v)
		}
		out = append(out, tensor(t, shape, outFloats(t, res, k)))
	}
	return out
}

// TestGRPCThirdPartyClient runs tools/oip_grpc_client.py, a client built the
// way tritonclient.grpc builds its messages (from protoc's Python output of
// the vendored .proto, with grpcio and numpy), against a fixture with two
// inputs and two outputs, and checks its numbers against the fixture's
// expected outputs. It skips when protoc, python3 grpcio or numpy is
// missing, except under CI=true.
func TestGRPCThirdPartyClient(t *testing.T) {
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		skip("protoc is not installed (Debian: protobuf-compiler)")
		return
	}
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		if python, err = exec.LookPath("python3"); err != nil {
			skip("python3 is not installed")
			return
		}
	}
	if out, err := exec.Command(python, "-c", "import grpc, google.protobuf, numpy").CombinedOutput(); err != nil {
		skip("python3 lacks grpcio, protobuf or numpy (Debian: python3-grpcio python3-protobuf python3-numpy): %s", out)
		return
	}
	gen := t.TempDir()
	if out, err := exec.Command(protoc, "-I", "../oip/inferencepb", "--python_out="+gen, "grpc_predict_v2.proto").CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	cases, err := golden.Load("../fixtures")
	if err != nil {
		t.Fatal(err)
	}
	var fc *golden.Case
	for i := range cases {
		if cases[i].ID == "functional_multi_io" {
			fc = &cases[i]
		}
	}
	if fc == nil {
		t.Fatal("no fixture functional_multi_io")
	}
	ts := startGRPC(t, nil, map[string]Model{"multi": load(t, "functional_multi_io")})
	args := []string{"../tools/oip_grpc_client.py", "--proto-dir", gen, ts.gaddr, "multi"}
	for _, in := range fc.Inputs {
		args = append(args, in.Name+"="+filepath.Join("../fixtures", fc.ID, in.File))
	}
	cmd := exec.Command(python, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.Bytes())
	}
	var res struct {
		Live     bool `json:"live"`
		Metadata struct {
			Name   string `json:"name"`
			Inputs []struct {
				Name string `json:"name"`
			} `json:"inputs"`
		} `json:"metadata"`
		ModelName string `json:"model_name"`
		Outputs   []struct {
			Name     string    `json:"name"`
			Datatype string    `json:"datatype"`
			Shape    []int     `json:"shape"`
			Data     []float32 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !res.Live || res.Metadata.Name != "multi" || len(res.Metadata.Inputs) != 2 || res.ModelName != "multi" {
		t.Fatalf("the client printed %s", out)
	}
	var got []*runtime.Tensor
	for _, o := range res.Outputs {
		if o.Datatype != "FP32" {
			t.Fatalf("output %q is %s", o.Name, o.Datatype)
		}
		got = append(got, tensor(t, o.Shape, o.Data))
	}
	if err := fc.Check(got); err != nil {
		t.Fatal(err)
	}
	t.Logf("tools/oip_grpc_client.py: %d outputs match %s's expected outputs", len(got), fc.ID)
}

// TestGRPCAcceptLimit: gRPC reads a message before any handler runs, so
// past twice MaxInflight a ModelInfer is refused with ResourceExhausted
// before its message is read; the RPCs accepted wait for a place, as REST
// requests do, and each gives its count back when it ends.
func TestGRPCAcceptLimit(t *testing.T) {
	m := &stubborn{Model: load(t, "tagger"), started: make(chan struct{}, 4), gate: make(chan struct{}, 4)}
	ts := startGRPC(t, &Options{MaxInflight: 1, MaxBatch: 1}, map[string]Model{"tagger": m})
	x := oip.NewFP32("conv1d_1_input", []int64{1, 7, 5}, make([]float32, 35))
	infer := func() chan error {
		ch := make(chan error, 1)
		go func() {
			_, err := ts.gc.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}})
			ch <- err
		}()
		return ch
	}
	first := infer()
	<-m.started
	second := infer()
	waitFor(t, "the second RPC to be accepted", func() bool { return ts.g.accepted.Load() == 2 })
	_, err := ts.gc.Infer(context.Background(), "tagger", &oip.InferRequest{Inputs: []oip.Tensor{x}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third RPC: %v", err)
	}
	m.gate <- struct{}{}
	m.gate <- struct{}{}
	if err := waitErr(t, first); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the counts to be given back", func() bool { return ts.g.accepted.Load() == 0 })
}
