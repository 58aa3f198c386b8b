package oip

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/kerasrun/kerasrun/oip/inferencepb"
)

// GRPCClient calls a server over the protocol's gRPC API
// (inference.GRPCInferenceService). It has the methods of Client, with the
// same types; it is safe for concurrent use.
//
// Inputs travel as raw_input_contents, and outputs are read from
// raw_output_contents, or from the typed contents of a server that answers
// with those. Tensor.Binary, InferRequest.BinaryOutput and
// RequestedOutput.Binary choose an encoding of the REST API only, so the
// gRPC client ignores them. A gRPC status other than OK is a *GRPCError.
type GRPCClient struct {
	c pb.GRPCInferenceServiceClient
}

// NewGRPCClient returns a client over cc, such as a *grpc.ClientConn from
// grpc.NewClient. The caller keeps cc and closes it.
func NewGRPCClient(cc grpc.ClientConnInterface) *GRPCClient {
	return &GRPCClient{c: pb.NewGRPCInferenceServiceClient(cc)}
}

// Live reports whether the server is live (ServerLive).
func (c *GRPCClient) Live(ctx context.Context) (bool, error) {
	r, err := c.c.ServerLive(ctx, &pb.ServerLiveRequest{})
	if err != nil {
		return false, grpcError(ctx, err)
	}
	return r.GetLive(), nil
}

// Ready reports whether the server is ready for inference (ServerReady).
func (c *GRPCClient) Ready(ctx context.Context) (bool, error) {
	r, err := c.c.ServerReady(ctx, &pb.ServerReadyRequest{})
	if err != nil {
		return false, grpcError(ctx, err)
	}
	return r.GetReady(), nil
}

// ModelReady reports whether a model is ready (ModelReady). kerasrun
// answers NotFound for a model it does not know.
func (c *GRPCClient) ModelReady(ctx context.Context, model string) (bool, error) {
	r, err := c.c.ModelReady(ctx, &pb.ModelReadyRequest{Name: model})
	if err != nil {
		return false, grpcError(ctx, err)
	}
	return r.GetReady(), nil
}

// ServerMetadata returns the server's metadata (ServerMetadata).
func (c *GRPCClient) ServerMetadata(ctx context.Context) (*ServerMetadata, error) {
	r, err := c.c.ServerMetadata(ctx, &pb.ServerMetadataRequest{})
	if err != nil {
		return nil, grpcError(ctx, err)
	}
	return &ServerMetadata{Name: r.GetName(), Version: r.GetVersion(), Extensions: r.GetExtensions()}, nil
}

// ModelMetadata returns a model's metadata (ModelMetadata). The gRPC
// answer's free-form properties have no place in ModelMetadata and are
// dropped.
func (c *GRPCClient) ModelMetadata(ctx context.Context, model string) (*ModelMetadata, error) {
	r, err := c.c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: model})
	if err != nil {
		return nil, grpcError(ctx, err)
	}
	m := &ModelMetadata{Name: r.GetName(), Versions: r.GetVersions(), Platform: r.GetPlatform()}
	for _, t := range r.GetInputs() {
		m.Inputs = append(m.Inputs, TensorMetadata{Name: t.GetName(), Datatype: t.GetDatatype(), Shape: t.GetShape()})
	}
	for _, t := range r.GetOutputs() {
		m.Outputs = append(m.Outputs, TensorMetadata{Name: t.GetName(), Datatype: t.GetDatatype(), Shape: t.GetShape()})
	}
	return m, nil
}

// Infer runs an inference on model (ModelInfer).
func (c *GRPCClient) Infer(ctx context.Context, model string, req *InferRequest) (*InferResponse, error) {
	p, err := RequestToProto(model, req)
	if err != nil {
		return nil, err
	}
	r, err := c.c.ModelInfer(ctx, p)
	if err != nil {
		return nil, grpcError(ctx, err)
	}
	return ResponseFromProto(r)
}

// GRPCError is a gRPC status other than OK. errors.As also finds an *Error
// in it, whose StatusCode is the HTTP status that kerasrun's REST API
// answers for the same failure, so that code written against InferClient
// can treat both transports alike: InvalidArgument 400, NotFound 404,
// DeadlineExceeded 504, ResourceExhausted 413, Unimplemented 422, Canceled
// 499, Unavailable 503, and for the other codes the HTTP mapping of
// google.rpc.Code (Internal, Unknown and DataLoss are 500). When the
// caller's context ended, the error also wraps the context's error.
type GRPCError struct {
	Code    codes.Code
	Message string
	ctxErr  error
}

func (e *GRPCError) Error() string {
	return fmt.Sprintf("oip: grpc status %s: %s", e.Code, e.Message)
}

// GRPCStatus returns the status, for status.FromError and status.Code.
func (e *GRPCError) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// Unwrap returns the context's error when the caller's context ended.
func (e *GRPCError) Unwrap() error { return e.ctxErr }

// HTTPStatus returns the HTTP status of the REST API's answer to the same
// failure.
func (e *GRPCError) HTTPStatus() int {
	switch e.Code {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.NotFound:
		return http.StatusNotFound
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.ResourceExhausted:
		return http.StatusRequestEntityTooLarge
	case codes.Unimplemented:
		return http.StatusUnprocessableEntity
	case codes.Canceled:
		return 499 // nginx's "client closed request"
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// As sets an **Error target to the error's REST form (see HTTPStatus).
func (e *GRPCError) As(target any) bool {
	if p, ok := target.(**Error); ok {
		*p = &Error{StatusCode: e.HTTPStatus(), Message: e.Message}
		return true
	}
	return false
}

// grpcError turns an error of a gRPC call into a *GRPCError.
func grpcError(ctx context.Context, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &GRPCError{Code: st.Code(), Message: st.Message()}
	if ctx.Err() != nil && (e.Code == codes.Canceled || e.Code == codes.DeadlineExceeded) {
		e.ctxErr = ctx.Err()
	}
	return e
}

// RequestToProto returns the ModelInferRequest of req for model, with every
// input in raw_input_contents. It only reads req.
func RequestToProto(model string, req *InferRequest) (*pb.ModelInferRequest, error) {
	p := &pb.ModelInferRequest{ModelName: model, Id: req.ID}
	var err error
	if p.Parameters, err = paramsToProto(req.Parameters, "request"); err != nil {
		return nil, err
	}
	p.Inputs = make([]*pb.ModelInferRequest_InferInputTensor, len(req.Inputs))
	p.RawInputContents = make([][]byte, len(req.Inputs))
	for i := range req.Inputs {
		t := &req.Inputs[i]
		in := &pb.ModelInferRequest_InferInputTensor{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		if in.Parameters, err = paramsToProto(t.Parameters, "input "+pbQuote(t.Name)); err != nil {
			return nil, err
		}
		if p.RawInputContents[i], err = EncodeRaw(t); err != nil {
			return nil, err
		}
		p.Inputs[i] = in
	}
	for _, o := range req.Outputs {
		out := &pb.ModelInferRequest_InferRequestedOutputTensor{Name: o.Name}
		if out.Parameters, err = paramsToProto(o.Parameters, "output "+pbQuote(o.Name)); err != nil {
			return nil, err
		}
		p.Outputs = append(p.Outputs, out)
	}
	return p, nil
}

// RequestFromProto reads a ModelInferRequest, as DecodeRequest reads a
// body; the caller reads the model name and version from p. Inputs come
// from raw_input_contents when it is given, and then it must hold one
// entry per input and no input may have typed contents; otherwise every
// input must have typed contents. Parameters become Parameters as
// DecodeRequest gives them: booleans and strings as they are, numbers as
// json.Number. Its errors describe what is wrong with the request.
func RequestFromProto(p *pb.ModelInferRequest) (*InferRequest, error) {
	req := &InferRequest{ID: p.GetId()}
	var err error
	if req.Parameters, err = paramsFromProto(p.GetParameters(), "the request"); err != nil {
		return nil, err
	}
	if len(p.GetInputs()) == 0 {
		return nil, errors.New("oip: the request has no inputs")
	}
	if req.Inputs, err = tensorsFromProto(p.GetInputs(), p.GetRawInputContents(), "input"); err != nil {
		return nil, err
	}
	for _, o := range p.GetOutputs() {
		ro := RequestedOutput{Name: o.GetName()}
		if ro.Parameters, err = paramsFromProto(o.GetParameters(), "output "+pbQuote(o.GetName())); err != nil {
			return nil, err
		}
		req.Outputs = append(req.Outputs, ro)
	}
	return req, nil
}

// ResponseToProto returns the ModelInferResponse of resp, with every output
// in raw_output_contents. It only reads resp.
func ResponseToProto(resp *InferResponse) (*pb.ModelInferResponse, error) {
	p := &pb.ModelInferResponse{ModelName: resp.ModelName, ModelVersion: resp.ModelVersion, Id: resp.ID}
	var err error
	if p.Parameters, err = paramsToProto(resp.Parameters, "response"); err != nil {
		return nil, err
	}
	p.Outputs = make([]*pb.ModelInferResponse_InferOutputTensor, len(resp.Outputs))
	p.RawOutputContents = make([][]byte, len(resp.Outputs))
	for i := range resp.Outputs {
		t := &resp.Outputs[i]
		out := &pb.ModelInferResponse_InferOutputTensor{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		if out.Parameters, err = paramsToProto(t.Parameters, "output "+pbQuote(t.Name)); err != nil {
			return nil, err
		}
		if p.RawOutputContents[i], err = EncodeRaw(t); err != nil {
			return nil, err
		}
		p.Outputs[i] = out
	}
	return p, nil
}

// ResponseFromProto reads a ModelInferResponse, as DecodeResponse reads a
// body: outputs come from raw_output_contents or from typed contents, as
// RequestFromProto reads inputs.
func ResponseFromProto(p *pb.ModelInferResponse) (*InferResponse, error) {
	resp := &InferResponse{ModelName: p.GetModelName(), ModelVersion: p.GetModelVersion(), ID: p.GetId()}
	var err error
	if resp.Parameters, err = paramsFromProto(p.GetParameters(), "the response"); err != nil {
		return nil, err
	}
	if resp.Outputs, err = tensorsFromProto(p.GetOutputs(), p.GetRawOutputContents(), "output"); err != nil {
		return nil, err
	}
	return resp, nil
}

// pbTensor is what the input and output tensor messages share.
type pbTensor interface {
	GetName() string
	GetDatatype() string
	GetShape() []int64
	GetParameters() map[string]*pb.InferParameter
	GetContents() *pb.InferTensorContents
}

func tensorsFromProto[T pbTensor](ts []T, raw [][]byte, what string) ([]Tensor, error) {
	if len(raw) != 0 && len(raw) != len(ts) {
		return nil, fmt.Errorf("oip: %d raw contents for %d %ss; give one for each %s or none", len(raw), len(ts), what, what)
	}
	out := make([]Tensor, len(ts))
	for i, pt := range ts {
		t := &out[i]
		t.Name, t.Datatype, t.Shape = pt.GetName(), pt.GetDatatype(), pt.GetShape()
		where := what + " " + pbQuote(t.Name)
		var err error
		if t.Parameters, err = paramsFromProto(pt.GetParameters(), where); err != nil {
			return nil, err
		}
		c := pt.GetContents()
		var b []byte
		switch {
		case len(raw) != 0 && c != nil:
			return nil, fmt.Errorf("oip: %s has typed contents, but raw contents are given too; use one or the other", where)
		case len(raw) != 0:
			b = raw[i]
		case c == nil:
			return nil, fmt.Errorf("oip: %s has no contents and there are no raw contents", where)
		default:
			if b, err = contentsToRaw(t, c, where); err != nil {
				return nil, err
			}
		}
		if t.Data, err = DecodeRaw(clip(t.Name), t.Datatype, t.Shape, b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// contentsToRaw returns the raw form of typed contents, checking that only
// the field of the tensor's datatype is set and that it holds one value per
// element of the shape.
func contentsToRaw(t *Tensor, c *pb.InferTensorContents, where string) ([]byte, error) {
	fields := []struct {
		name string
		n    int
	}{
		{"bool_contents", len(c.GetBoolContents())},
		{"int_contents", len(c.GetIntContents())},
		{"int64_contents", len(c.GetInt64Contents())},
		{"uint_contents", len(c.GetUintContents())},
		{"uint64_contents", len(c.GetUint64Contents())},
		{"fp32_contents", len(c.GetFp32Contents())},
		{"fp64_contents", len(c.GetFp64Contents())},
		{"bytes_contents", len(c.GetBytesContents())},
	}
	want := ""
	switch t.Datatype {
	case BOOL:
		want = "bool_contents"
	case INT8, INT16, INT32:
		want = "int_contents"
	case INT64:
		want = "int64_contents"
	case UINT8, UINT16, UINT32:
		want = "uint_contents"
	case UINT64:
		want = "uint64_contents"
	case FP32:
		want = "fp32_contents"
	case FP64:
		want = "fp64_contents"
	case BYTES:
		want = "bytes_contents"
	case FP16, "BF16":
		return nil, fmt.Errorf("oip: %s is %s, which only raw contents can carry", where, t.Datatype)
	default:
		return nil, fmt.Errorf("oip: %s: %s", where, unsupported(t.Datatype))
	}
	n, err := shapeCount(t.Shape)
	if err != nil {
		return nil, fmt.Errorf("oip: %s: %v", where, err)
	}
	for _, f := range fields {
		if f.name != want && f.n != 0 {
			return nil, fmt.Errorf("oip: %s is %s, but its contents are in %s; want %s", where, t.Datatype, f.name, want)
		}
	}
	for _, f := range fields {
		if f.name == want && f.n != n {
			return nil, fmt.Errorf("oip: %s has shape %s (%d elements) but %d values in %s", where, clip(fmt.Sprint(t.Shape)), n, f.n, f.name)
		}
	}
	// Each field holds n values in memory already, so these sizes are
	// bounded by the message.
	var b []byte
	switch t.Datatype {
	case BOOL:
		b = make([]byte, n)
		for i, v := range c.GetBoolContents() {
			if v {
				b[i] = 1
			}
		}
	case INT8, INT16, INT32:
		size := map[string]int{INT8: 1, INT16: 2, INT32: 4}[t.Datatype]
		lo, hi := int64(math.MinInt32), int64(math.MaxInt32)
		if size < 4 {
			hi = 1<<(8*size-1) - 1
			lo = -hi - 1
		}
		b = make([]byte, 0, n*size)
		for i, v := range c.GetIntContents() {
			if int64(v) < lo || int64(v) > hi {
				return nil, fmt.Errorf("oip: %s is %s, but value %d at index %d is out of its range", where, t.Datatype, v, i)
			}
			b = appendLow(b, uint32(v), size)
		}
	case UINT8, UINT16, UINT32:
		size := map[string]int{UINT8: 1, UINT16: 2, UINT32: 4}[t.Datatype]
		hi := uint64(1)<<(8*size) - 1
		b = make([]byte, 0, n*size)
		for i, v := range c.GetUintContents() {
			if uint64(v) > hi {
				return nil, fmt.Errorf("oip: %s is %s, but value %d at index %d is out of its range", where, t.Datatype, v, i)
			}
			b = appendLow(b, v, size)
		}
	case INT64:
		b = make([]byte, 0, n*8)
		for _, v := range c.GetInt64Contents() {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	case UINT64:
		b = make([]byte, 0, n*8)
		for _, v := range c.GetUint64Contents() {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
	case FP32:
		b = make([]byte, 0, n*4)
		for _, v := range c.GetFp32Contents() {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	case FP64:
		b = make([]byte, 0, n*8)
		for _, v := range c.GetFp64Contents() {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	case BYTES:
		total := 0
		for _, v := range c.GetBytesContents() {
			if uint64(len(v)) > math.MaxUint32 {
				return nil, fmt.Errorf("oip: %s has an element of %d bytes, past the 4 GiB a BYTES element can hold", where, len(v))
			}
			total += 4 + len(v)
		}
		b = make([]byte, 0, total)
		for _, v := range c.GetBytesContents() {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		}
	}
	return b, nil
}

// appendLow appends the size low bytes of v, little-endian: the two's
// complement form of a value that fits in size bytes.
func appendLow(b []byte, v uint32, size int) []byte {
	var tmp [4]byte
	binary.LittleEndian.PutUint32(tmp[:], v)
	return append(b, tmp[:size]...)
}

// paramsToProto converts parameters to their gRPC form: a bool, a string,
// an integer (json.Number included) or a float.
func paramsToProto(ps Parameters, where string) (map[string]*pb.InferParameter, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	m := make(map[string]*pb.InferParameter, len(ps))
	for k, v := range ps {
		p := &pb.InferParameter{}
		switch v := v.(type) {
		case bool:
			p.ParameterChoice = &pb.InferParameter_BoolParam{BoolParam: v}
		case string:
			p.ParameterChoice = &pb.InferParameter_StringParam{StringParam: v}
		case int:
			p.ParameterChoice = &pb.InferParameter_Int64Param{Int64Param: int64(v)}
		case int32:
			p.ParameterChoice = &pb.InferParameter_Int64Param{Int64Param: int64(v)}
		case int64:
			p.ParameterChoice = &pb.InferParameter_Int64Param{Int64Param: v}
		case uint64:
			p.ParameterChoice = &pb.InferParameter_Uint64Param{Uint64Param: v}
		case float32:
			p.ParameterChoice = &pb.InferParameter_DoubleParam{DoubleParam: float64(v)}
		case float64:
			p.ParameterChoice = &pb.InferParameter_DoubleParam{DoubleParam: v}
		case json.Number:
			if i, err := v.Int64(); err == nil {
				p.ParameterChoice = &pb.InferParameter_Int64Param{Int64Param: i}
			} else if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
				p.ParameterChoice = &pb.InferParameter_Uint64Param{Uint64Param: u}
			} else if f, err := v.Float64(); err == nil {
				p.ParameterChoice = &pb.InferParameter_DoubleParam{DoubleParam: f}
			} else {
				return nil, fmt.Errorf("oip: %s: parameter %s is the number %s, which has no gRPC form", where, pbQuote(k), pbQuote(string(v)))
			}
		default:
			return nil, fmt.Errorf("oip: %s: parameter %s is a %T; the gRPC API takes a bool, an integer, a float or a string", where, pbQuote(k), v)
		}
		m[k] = p
	}
	return m, nil
}

// paramsFromProto converts parameters from their gRPC form: a bool or a
// string as it is, a number as the json.Number that the JSON form would
// give. A parameter without a value, or a float that JSON cannot hold, is
// an error.
func paramsFromProto(m map[string]*pb.InferParameter, where string) (Parameters, error) {
	if len(m) == 0 {
		return nil, nil
	}
	ps := make(Parameters, len(m))
	for k, p := range m {
		switch v := p.GetParameterChoice().(type) {
		case *pb.InferParameter_BoolParam:
			ps[k] = v.BoolParam
		case *pb.InferParameter_StringParam:
			ps[k] = v.StringParam
		case *pb.InferParameter_Int64Param:
			ps[k] = json.Number(strconv.FormatInt(v.Int64Param, 10))
		case *pb.InferParameter_Uint64Param:
			ps[k] = json.Number(strconv.FormatUint(v.Uint64Param, 10))
		case *pb.InferParameter_DoubleParam:
			if math.IsNaN(v.DoubleParam) || math.IsInf(v.DoubleParam, 0) {
				return nil, fmt.Errorf("oip: %s: parameter %s is %v, which is not a number the protocol takes", where, pbQuote(k), v.DoubleParam)
			}
			ps[k] = json.Number(strconv.FormatFloat(v.DoubleParam, 'g', -1, 64))
		default:
			return nil, fmt.Errorf("oip: %s: parameter %s has no value", where, pbQuote(k))
		}
	}
	return ps, nil
}

// pbQuote quotes a name from the wire for an error message, clipped so
// that a huge name does not make a huge error.
func pbQuote(s string) string { return strconv.Quote(clip(s)) }
