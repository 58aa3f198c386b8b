package oip

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	pb "github.com/kerasrun/kerasrun/oip/inferencepb"
)

// grpcTensors are tensors of every datatype, for the round trips.
func grpcTensors() []Tensor {
	return []Tensor{
		NewFP32("f32", []int64{2, 2}, []float32{1.5, -2, float32(math.Inf(1)), 3e-40}),
		NewFP64("f64", []int64{2}, []float64{math.Pi, -0.0}),
		NewFP16("f16", []int64{3}, []Float16{Float16FromFloat32(1), Float16FromFloat32(-0.5), Float16FromFloat32(65504)}),
		NewINT8("i8", []int64{3}, []int8{-128, 0, 127}),
		NewINT16("i16", []int64{2}, []int16{-32768, 32767}),
		NewINT32("i32", []int64{1, 3}, []int32{math.MinInt32, 0, math.MaxInt32}),
		NewINT64("i64", []int64{2}, []int64{math.MinInt64, math.MaxInt64}),
		NewUINT8("u8", []int64{2}, []uint8{0, 255}),
		NewUINT16("u16", []int64{2}, []uint16{0, 65535}),
		NewUINT32("u32", []int64{2}, []uint32{0, math.MaxUint32}),
		NewUINT64("u64", []int64{2}, []uint64{0, math.MaxUint64}),
		NewBOOL("b", []int64{3}, []bool{true, false, true}),
		NewBYTES("s", []int64{2}, [][]byte{[]byte("héllo"), {}}),
	}
}

func checkSameTensors(t *testing.T, got, want []Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Datatype != w.Datatype || !reflect.DeepEqual(g.Shape, w.Shape) || !reflect.DeepEqual(g.Parameters, w.Parameters) {
			t.Fatalf("tensor %d: got %+v, want %+v", i, g, w)
		}
		if !reflect.DeepEqual(g.Data, w.Data) {
			t.Fatalf("tensor %q: data %v, want %v", w.Name, g.Data, w.Data)
		}
	}
}

// TestProtoRoundTrip: a request and a response of every datatype, with
// parameters, read back the same from their gRPC messages.
func TestProtoRoundTrip(t *testing.T) {
	ins := grpcTensors()
	ins[0].Parameters = Parameters{"note": "x"}
	req := &InferRequest{
		ID:         "r1",
		Parameters: Parameters{"flag": true, "n": json.Number("7"), "big": json.Number("18446744073709551615"), "f": json.Number("0.25"), "s": "v"},
		Inputs:     ins,
		Outputs:    []RequestedOutput{{Name: "o", Parameters: Parameters{"class_count": json.Number("3")}}},
	}
	p, err := RequestToProto("m", req)
	if err != nil {
		t.Fatal(err)
	}
	if p.ModelName != "m" || len(p.RawInputContents) != len(ins) {
		t.Fatalf("model %q, %d raw contents", p.ModelName, len(p.RawInputContents))
	}
	for _, in := range p.Inputs {
		if in.Contents != nil {
			t.Fatalf("input %q has typed contents", in.Name)
		}
	}
	got, err := RequestFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != req.ID || !reflect.DeepEqual(got.Parameters, req.Parameters) || !reflect.DeepEqual(got.Outputs, req.Outputs) {
		t.Fatalf("got %+v\nwant %+v", got, req)
	}
	checkSameTensors(t, got.Inputs, req.Inputs)

	resp := &InferResponse{ModelName: "m", ModelVersion: "1", ID: "r1", Parameters: Parameters{"k": false}, Outputs: grpcTensors()}
	rp, err := ResponseToProto(resp)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ResponseFromProto(rp)
	if err != nil {
		t.Fatal(err)
	}
	if back.ModelName != "m" || back.ModelVersion != "1" || back.ID != "r1" || !reflect.DeepEqual(back.Parameters, resp.Parameters) {
		t.Fatalf("got %+v", back)
	}
	checkSameTensors(t, back.Outputs, resp.Outputs)
}

// TestTypedContents reads every datatype that has a typed field from it,
// as a client such as tritonclient sends it without raw contents.
func TestTypedContents(t *testing.T) {
	in := func(name, dt string, shape []int64, c *pb.InferTensorContents) *pb.ModelInferRequest_InferInputTensor {
		return &pb.ModelInferRequest_InferInputTensor{Name: name, Datatype: dt, Shape: shape, Contents: c}
	}
	p := &pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{
		in("f32", FP32, []int64{2, 2}, &pb.InferTensorContents{Fp32Contents: []float32{1.5, -2, float32(math.Inf(1)), 3e-40}}),
		in("f64", FP64, []int64{2}, &pb.InferTensorContents{Fp64Contents: []float64{math.Pi, -0.0}}),
		in("i8", INT8, []int64{3}, &pb.InferTensorContents{IntContents: []int32{-128, 0, 127}}),
		in("i16", INT16, []int64{2}, &pb.InferTensorContents{IntContents: []int32{-32768, 32767}}),
		in("i32", INT32, []int64{1, 3}, &pb.InferTensorContents{IntContents: []int32{math.MinInt32, 0, math.MaxInt32}}),
		in("i64", INT64, []int64{2}, &pb.InferTensorContents{Int64Contents: []int64{math.MinInt64, math.MaxInt64}}),
		in("u8", UINT8, []int64{2}, &pb.InferTensorContents{UintContents: []uint32{0, 255}}),
		in("u16", UINT16, []int64{2}, &pb.InferTensorContents{UintContents: []uint32{0, 65535}}),
		in("u32", UINT32, []int64{2}, &pb.InferTensorContents{UintContents: []uint32{0, math.MaxUint32}}),
		in("u64", UINT64, []int64{2}, &pb.InferTensorContents{Uint64Contents: []uint64{0, math.MaxUint64}}),
		in("b", BOOL, []int64{3}, &pb.InferTensorContents{BoolContents: []bool{true, false, true}}),
		in("s", BYTES, []int64{2}, &pb.InferTensorContents{BytesContents: [][]byte{[]byte("héllo"), {}}}),
	}}
	got, err := RequestFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	var want []Tensor
	for _, x := range grpcTensors() {
		if x.Datatype != FP16 {
			want = append(want, x)
		}
	}
	checkSameTensors(t, got.Inputs, want)
}

// TestProtoErrors: malformed messages are errors that say what is wrong,
// never a panic or an allocation sized by the shape.
func TestProtoErrors(t *testing.T) {
	fp := func(shape []int64, c *pb.InferTensorContents) *pb.ModelInferRequest {
		return &pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: FP32, Shape: shape, Contents: c}}}
	}
	raw := func(dt string, shape []int64, b ...[]byte) *pb.ModelInferRequest {
		return &pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: dt, Shape: shape}}, RawInputContents: b}
	}
	long := strings.Repeat("n", 1<<20)
	cases := []struct {
		name string
		p    *pb.ModelInferRequest
		want string
	}{
		{"no inputs", &pb.ModelInferRequest{}, "no inputs"},
		{"neither", fp([]int64{1}, nil), "no contents"},
		{"both", func() *pb.ModelInferRequest {
			p := fp([]int64{1}, &pb.InferTensorContents{Fp32Contents: []float32{1}})
			p.RawInputContents = [][]byte{{0, 0, 0, 0}}
			return p
		}(), "raw contents are given too"},
		{"raw count", &pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "a", Datatype: FP32, Shape: []int64{1}}, {Name: "b", Datatype: FP32, Shape: []int64{1}}}, RawInputContents: [][]byte{{0, 0, 0, 0}}}, "1 raw contents for 2 inputs"},
		{"raw size", raw(FP32, []int64{2}, []byte{0, 0, 0, 0}), "8 bytes"},
		{"raw overflow", raw(FP32, []int64{1 << 62}, []byte{}), "too large"},
		{"raw overflow product", raw(FP32, []int64{1 << 32, 1 << 32}, []byte{}), "too large"},
		{"raw negative", raw(FP32, []int64{-1}, []byte{}), "negative"},
		{"raw bool byte", raw(BOOL, []int64{1}, []byte{2}), "want 0 or 1"},
		{"raw bytes overrun", raw(BYTES, []int64{1}, []byte{9, 0, 0, 0, 'a'}), "length 9"},
		{"raw bytes count", raw(BYTES, []int64{1 << 40}, []byte{0, 0, 0, 0}), "cannot hold"},
		{"unknown datatype", raw("FP8", []int64{1}, []byte{0}), "not supported"},
		{"typed count", fp([]int64{3}, &pb.InferTensorContents{Fp32Contents: []float32{1}}), "3 elements"},
		{"typed overflow", fp([]int64{1 << 62, 4}, &pb.InferTensorContents{}), "too large"},
		{"typed wrong field", fp([]int64{1}, &pb.InferTensorContents{Fp64Contents: []float64{1}}), "fp64_contents; want fp32_contents"},
		{"typed extra field", fp([]int64{1}, &pb.InferTensorContents{Fp32Contents: []float32{1}, IntContents: []int32{1}}), "int_contents"},
		{"typed int8 range", &pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: INT8, Shape: []int64{1}, Contents: &pb.InferTensorContents{IntContents: []int32{128}}}}}, "out of its range"},
		{"typed uint16 range", &pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: UINT16, Shape: []int64{1}, Contents: &pb.InferTensorContents{UintContents: []uint32{65536}}}}}, "out of its range"},
		{"typed fp16", &pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: FP16, Shape: []int64{1}, Contents: &pb.InferTensorContents{}}}}, "only raw contents"},
		{"empty parameter", &pb.ModelInferRequest{Parameters: map[string]*pb.InferParameter{"p": {}}}, `parameter "p" has no value`},
		{"nan parameter", &pb.ModelInferRequest{Parameters: map[string]*pb.InferParameter{"p": {ParameterChoice: &pb.InferParameter_DoubleParam{DoubleParam: math.NaN()}}}}, "not a number"},
		{"huge name", &pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: long, Datatype: FP32, Shape: []int64{1}}}}, "no contents"},
	}
	for _, c := range cases {
		_, err := RequestFromProto(c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if err != nil && len(err.Error()) > 1000 {
			t.Errorf("%s: the error is %d bytes long", c.name, len(err.Error()))
		}
	}
	// The same checks guard responses.
	_, err := ResponseFromProto(&pb.ModelInferResponse{Outputs: []*pb.ModelInferResponse_InferOutputTensor{{Name: "y", Datatype: FP32, Shape: []int64{1 << 62}}}, RawOutputContents: [][]byte{{}}})
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("response with an overflowing shape: %v", err)
	}
}

// TestParamsToProtoErrors: a parameter the gRPC API cannot carry is an
// error, and so is data that does not match its tensor.
func TestParamsToProtoErrors(t *testing.T) {
	if _, err := RequestToProto("m", &InferRequest{Parameters: Parameters{"x": []int{1}}}); err == nil || !strings.Contains(err.Error(), `parameter "x"`) {
		t.Errorf("a slice parameter: %v", err)
	}
	if _, err := RequestToProto("m", &InferRequest{Inputs: []Tensor{NewFP32("x", []int64{3}, []float32{1})}}); err == nil {
		t.Error("data shorter than its shape: no error")
	}
}

// fakeInference is a GRPCInferenceService that answers what a test sets.
type fakeInference struct {
	pb.UnimplementedGRPCInferenceServiceServer
	infer func(context.Context, *pb.ModelInferRequest) (*pb.ModelInferResponse, error)
}

func (f *fakeInference) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

func (f *fakeInference) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	return nil, status.Errorf(codes.NotFound, "unknown model %q", r.Name)
}

func (f *fakeInference) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	return &pb.ModelMetadataResponse{Name: r.Name, Versions: []string{"1"}, Platform: "p",
		Inputs:  []*pb.ModelMetadataResponse_TensorMetadata{{Name: "x", Datatype: FP32, Shape: []int64{-1, 2}}},
		Outputs: []*pb.ModelMetadataResponse_TensorMetadata{{Name: "y", Datatype: INT64, Shape: []int64{-1}}}}, nil
}

func (f *fakeInference) ModelInfer(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	return f.infer(ctx, r)
}

// fakeClient serves f over an in-memory connection.
func fakeClient(t *testing.T, f *fakeInference) *GRPCClient {
	t.Helper()
	ln := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	pb.RegisterGRPCInferenceServiceServer(srv, f)
	go srv.Serve(ln)
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		srv.Stop()
	})
	return NewGRPCClient(cc)
}

// TestGRPCClient: the client sends raw contents, reads typed contents from a
// server that answers with them, and turns a gRPC status into a
// *GRPCError that also reads as an *Error.
func TestGRPCClient(t *testing.T) {
	ctx := context.Background()
	var sent *pb.ModelInferRequest
	c := fakeClient(t, &fakeInference{infer: func(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
		switch r.ModelName {
		case "bad":
			return nil, status.Error(codes.InvalidArgument, "bad shape")
		case "slow":
			<-ctx.Done()
			return nil, ctx.Err()
		}
		sent = r
		return &pb.ModelInferResponse{ModelName: r.ModelName, Id: r.Id, Outputs: []*pb.ModelInferResponse_InferOutputTensor{
			{Name: "y", Datatype: INT64, Shape: []int64{2}, Contents: &pb.InferTensorContents{Int64Contents: []int64{4, -5}}},
		}}, nil
	}})
	if live, err := c.Live(ctx); err != nil || !live {
		t.Fatalf("Live: %v %v", live, err)
	}
	md, err := c.ModelMetadata(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := &ModelMetadata{Name: "m", Versions: []string{"1"}, Platform: "p",
		Inputs: []TensorMetadata{{Name: "x", Datatype: FP32, Shape: []int64{-1, 2}}}, Outputs: []TensorMetadata{{Name: "y", Datatype: INT64, Shape: []int64{-1}}}}
	if !reflect.DeepEqual(md, want) {
		t.Fatalf("ModelMetadata: %+v", md)
	}
	res, err := c.Infer(ctx, "m", &InferRequest{ID: "7", Inputs: []Tensor{NewFP32("x", []int64{1, 2}, []float32{1, 2})}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent.RawInputContents) != 1 || len(sent.RawInputContents[0]) != 8 || sent.Inputs[0].Contents != nil {
		t.Fatalf("the client sent %+v", sent)
	}
	if res.ID != "7" || !reflect.DeepEqual(res.Outputs[0].Data, []int64{4, -5}) {
		t.Fatalf("response %+v", res)
	}

	_, err = c.ModelReady(ctx, "nope")
	var ge *GRPCError
	if !errors.As(err, &ge) || ge.Code != codes.NotFound || status.Code(err) != codes.NotFound {
		t.Fatalf("ModelReady of an unknown model: %v", err)
	}
	var oe *Error
	if !errors.As(err, &oe) || oe.StatusCode != http.StatusNotFound || !strings.Contains(oe.Message, "nope") {
		t.Fatalf("as an *Error: %+v", oe)
	}
	_, err = c.Infer(ctx, "bad", &InferRequest{Inputs: []Tensor{NewFP32("x", []int64{1}, []float32{1})}})
	if !errors.As(err, &oe) || oe.StatusCode != http.StatusBadRequest || oe.Message != "bad shape" {
		t.Fatalf("InvalidArgument: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go cancel()
	_, err = c.Infer(cctx, "slow", &InferRequest{Inputs: []Tensor{NewFP32("x", []int64{1}, []float32{1})}})
	if !errors.Is(err, context.Canceled) || status.Code(err) != codes.Canceled {
		t.Fatalf("a cancelled call: %v", err)
	}
}

// FuzzProto: any ModelInferRequest or ModelInferResponse message is read
// without a panic or an allocation its shapes size; what is read writes
// back and reads again the same.
func FuzzProto(f *testing.F) {
	p, err := RequestToProto("m", &InferRequest{ID: "r", Parameters: Parameters{"b": true, "n": json.Number("-3"), "s": "x"}, Inputs: grpcTensors(),
		Outputs: []RequestedOutput{{Name: "o", Parameters: Parameters{"class_count": json.Number("2")}}}})
	if err != nil {
		f.Fatal(err)
	}
	b, err := proto.Marshal(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	typed := &pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{
		{Name: "x", Datatype: INT8, Shape: []int64{2, 1}, Contents: &pb.InferTensorContents{IntContents: []int32{-1, 2}}},
		{Name: "y", Datatype: BYTES, Shape: []int64{1}, Contents: &pb.InferTensorContents{BytesContents: [][]byte{[]byte("a")}}},
		{Name: "z", Datatype: FP64, Shape: []int64{1}, Contents: &pb.InferTensorContents{Fp64Contents: []float64{math.NaN()}}},
	}}
	if b, err = proto.Marshal(typed); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp pb.ModelInferResponse
		if proto.Unmarshal(b, &resp) == nil {
			ResponseFromProto(&resp)
		}
		var p pb.ModelInferRequest
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		req, err := RequestFromProto(&p)
		if err != nil {
			return
		}
		q, err := RequestToProto(p.GetModelName(), req)
		if err != nil {
			t.Fatalf("a request read from a message does not write back: %v", err)
		}
		again, err := RequestFromProto(q)
		if err != nil {
			t.Fatalf("a request written back does not read: %v", err)
		}
		if again.ID != req.ID || len(again.Inputs) != len(req.Inputs) || len(again.Outputs) != len(req.Outputs) || len(again.Parameters) != len(req.Parameters) {
			t.Fatalf("read back %+v, want %+v", again, req)
		}
		for i := range req.Inputs {
			x, y := &req.Inputs[i], &again.Inputs[i]
			bx, err := EncodeRaw(x)
			if err != nil {
				t.Fatal(err)
			}
			by, err := EncodeRaw(y)
			if err != nil {
				t.Fatal(err)
			}
			if x.Name != y.Name || x.Datatype != y.Datatype || !reflect.DeepEqual(x.Shape, y.Shape) || !bytes.Equal(bx, by) {
				t.Fatalf("input %d reads back as %+v, want %+v", i, y, x)
			}
		}
	})
}
