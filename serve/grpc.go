package serve

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/proto"

	"github.com/kerasrun/kerasrun/oip"
	pb "github.com/kerasrun/kerasrun/oip/inferencepb"
)

// The gRPC transport's fixed settings.
const (
	// grpcStreams bounds the RPCs one connection runs at once; past it the
	// client queues them (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS).
	grpcStreams = 128
	// grpcIdle closes a connection that has run no RPC for this long, as
	// the REST listener closes an idle keep-alive connection.
	grpcIdle = 2 * time.Minute
	// grpcHandshake bounds a new connection's handshake, as
	// ReadHeaderTimeout bounds a REST request's header.
	grpcHandshake = 10 * time.Second
)

// grpcSide is the server's gRPC transport state: one grpc.Server for
// every ServeGRPC listener, made by the first call, guarded by Server.mu;
// and the ModelInfer RPCs accepted, whose messages gRPC reads before any
// handler runs.
type grpcSide struct {
	srv      *grpc.Server
	accepted atomic.Int64
}

// grpcAccepted bounds the ModelInfer RPCs accepted at once: twice
// Options.MaxInflight, so that a burst waits for places, as REST
// requests do, while the messages read ahead of their place stay bounded.
func (s *Server) grpcAccepted() int64 { return 2 * int64(s.opts.MaxInflight) }

const modelInferMethod = "/inference.GRPCInferenceService/ModelInfer"

// acceptance is a ModelInfer RPC's count among grpcAccepted, given back
// once when the RPC ends.
type acceptance struct {
	s    *Server
	once sync.Once
}

func (a *acceptance) end() { a.once.Do(func() { a.s.g.accepted.Add(-1) }) }

type acceptanceKey struct{}

// grpcTap runs before gRPC reads an RPC's message. Past grpcAccepted
// ModelInfer RPCs it refuses one with ResourceExhausted at once (it must
// not block: it runs on the connection's reader), before its message takes
// any memory.
func (s *Server) grpcTap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if info.FullMethodName != modelInferMethod {
		return ctx, nil
	}
	if s.g.accepted.Add(1) > s.grpcAccepted() {
		s.g.accepted.Add(-1)
		s.met.requests.WithLabelValues("", "503", protoGRPC).Inc()
		return nil, status.Errorf(codes.ResourceExhausted, "the server has %d inference requests in flight; retry later", s.grpcAccepted())
	}
	return context.WithValue(ctx, acceptanceKey{}, &acceptance{s: s}), nil
}

// grpcStats gives an accepted ModelInfer's count back when the RPC ends,
// however it ends: gRPC calls HandleRPC with a *stats.End for every RPC
// that got past the tap.
type grpcStats struct{}

func (grpcStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (grpcStats) HandleRPC(ctx context.Context, st stats.RPCStats) {
	if _, ok := st.(*stats.End); ok {
		if a, ok := ctx.Value(acceptanceKey{}).(*acceptance); ok {
			a.end()
		}
	}
}
func (grpcStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (grpcStats) HandleConn(context.Context, stats.ConnStats)                       {}

// ServeGRPC serves the protocol's gRPC API (inference.GRPCInferenceService)
// on ln until Shutdown, with the same models, batching queues, limits and
// metrics (labelled protocol="grpc") as Serve. It returns nil after
// Shutdown, and the listener's error otherwise. Call it after adding the
// models: the gRPC message size limits are the largest body and response
// limits of the models added by the first call.
//
// ServeGRPC holds at most a quarter of Options.MaxConns connections (at
// least 16) on ln: a gRPC client multiplexes its RPCs over one connection.
// A connection runs at most 128 RPCs at once, and closes after two minutes
// without one.
func (s *Server) ServeGRPC(ln net.Listener) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		ln.Close()
		return errors.New("serve: ServeGRPC after Shutdown")
	}
	if s.g.srv == nil {
		s.g.srv = s.newGRPCServer()
	}
	srv := s.g.srv
	s.mu.Unlock()
	err := srv.Serve(netutil.LimitListener(ln, max(16, s.opts.MaxConns/4)))
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// newGRPCServer makes the grpc.Server; the caller holds s.mu.
func (s *Server) newGRPCServer() *grpc.Server {
	srv := grpc.NewServer(
		grpc.MaxRecvMsgSize(s.grpcMaxRecvLocked()),
		grpc.MaxSendMsgSize(s.grpcMaxSendLocked()),
		grpc.MaxConcurrentStreams(grpcStreams),
		grpc.ConnectionTimeout(grpcHandshake),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			// Clients that ping to keep a connection alive are welcome,
			// at most every 10 s; one that pings faster is cut off.
			MinTime:             10 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: grpcIdle,
			// Ping a silent client after a minute, and drop it when the
			// ping goes unanswered for 20 s: a vanished peer does not hold
			// a connection for ever.
			Time:    time.Minute,
			Timeout: 20 * time.Second,
		}),
		grpc.ChainUnaryInterceptor(s.grpcRecover),
		grpc.InTapHandle(s.grpcTap),
		grpc.StatsHandler(grpcStats{}),
	)
	pb.RegisterGRPCInferenceServiceServer(srv, &grpcService{s: s})
	return srv
}

// grpcMaxRecvLocked is the gRPC message size limit for requests: the
// largest body limit of the models (at least 1 MiB). Each model's own limit
// is checked again in ModelInfer. The caller holds s.mu.
func (s *Server) grpcMaxRecvLocked() int {
	n := int64(minDerived)
	for _, m := range s.models {
		n = max(n, m.lim.body)
	}
	return int(min(n, math.MaxInt32))
}

// grpcMaxSendLocked is the gRPC message size limit for responses: the
// largest response limit of the models (at least 1 MiB), past which
// inferOIP has refused a response already. The caller holds s.mu.
func (s *Server) grpcMaxSendLocked() int {
	n := int64(minDerived)
	for _, m := range s.models {
		n = max(n, m.lim.response)
	}
	return int(min(n, math.MaxInt32))
}

// shutdownGRPC stops the gRPC server: gracefully (no new RPCs, those in
// flight run to the end), then at once when ctx ends.
func (s *Server) shutdownGRPC(ctx context.Context) {
	s.mu.Lock()
	srv := s.g.srv
	s.mu.Unlock()
	if srv == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		srv.Stop()
		<-done
	}
}

// grpcRecover answers a panic in a handler with codes.Internal and an
// incident id, logged once, as the REST handlers do. inferOIP answers its
// own panics; this catches the rest (a ModelInfer panic here is counted as
// a 500 too).
func (s *Server) grpcRecover(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			e := s.panicked(v)
			if r, ok := req.(*pb.ModelInferRequest); ok {
				s.recordGRPC(r, s.lookup(r.GetModelName()), e, start)
			}
			resp, err = nil, status.Error(codes.Internal, e.msg)
		}
	}()
	return handler(ctx, req)
}

// recordGRPC counts and logs a ModelInfer that failed before inferOIP; m
// is its model, or nil when the request names none that is served.
func (s *Server) recordGRPC(p *pb.ModelInferRequest, m *model, e *httpError, start time.Time) {
	s.record(&outcome{protocol: protoGRPC, name: p.GetModelName(), m: m, id: p.GetId(), code: e.code, err: e, start: start})
}

// grpcCode is the gRPC code of an HTTP status that inferOIP answers.
func grpcCode(code int) codes.Code {
	switch code {
	case http.StatusOK:
		return codes.OK
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	case http.StatusUnprocessableEntity:
		return codes.Unimplemented
	case statusClientClosed:
		return codes.Canceled
	case http.StatusInternalServerError:
		return codes.Internal
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	return codes.Unknown
}

func grpcStatus(e *httpError) error {
	return status.Error(grpcCode(e.code), e.msg)
}

// grpcService implements inference.GRPCInferenceService over a Server.
type grpcService struct {
	pb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

func (g *grpcService) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

// ServerReady is false while the server drains or before a model is added.
func (g *grpcService) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	g.s.mu.Lock()
	ready := !g.s.draining && len(g.s.models) > 0
	g.s.mu.Unlock()
	return &pb.ServerReadyResponse{Ready: ready}, nil
}

// ModelReady answers NotFound for a model the server does not serve, as
// REST answers 404, and false while the server drains.
func (g *grpcService) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	if _, e := g.s.findInfer(r.GetName(), r.GetVersion()); e != nil {
		return nil, grpcStatus(e)
	}
	return &pb.ModelReadyResponse{Ready: !g.s.isDraining()}, nil
}

func (g *grpcService) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	md := g.s.metadata()
	return &pb.ServerMetadataResponse{Name: md.Name, Version: md.Version, Extensions: md.Extensions}, nil
}

func (g *grpcService) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	m, e := g.s.findInfer(r.GetName(), r.GetVersion())
	if e != nil {
		return nil, grpcStatus(e)
	}
	md := &pb.ModelMetadataResponse{Name: m.meta.Name, Versions: m.meta.Versions, Platform: m.meta.Platform}
	for _, t := range m.meta.Inputs {
		md.Inputs = append(md.Inputs, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	for _, t := range m.meta.Outputs {
		md.Outputs = append(md.Outputs, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	return md, nil
}

// ModelInfer runs the request through inferOIP as REST requests run, and
// answers every output in raw_output_contents. The request's message is
// converted once it holds a place among Options.MaxInflight. Every gRPC
// status it answers has the message REST would give (see grpcCode for the
// mapping).
func (g *grpcService) ModelInfer(ctx context.Context, p *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	s := g.s
	resp, e := s.inferOIP(ctx, protoGRPC, p.GetModelName(), p.GetModelVersion(), p.GetId(), func(m *model) (*oip.InferRequest, *httpError) {
		if n := int64(proto.Size(p)); n > m.lim.body {
			return nil, errorf(http.StatusRequestEntityTooLarge, "the message is %d bytes; the limit for model %q is %d", n, m.name, m.lim.body)
		}
		req, err := oip.RequestFromProto(p)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "oip: "))
		}
		return req, nil
	})
	if e != nil {
		return nil, grpcStatus(e)
	}
	out, err := oip.ResponseToProto(resp)
	if err != nil {
		s.log.Error("grpc infer: encoding the response", "model", clip(p.GetModelName()), "id", clip(p.GetId()), "error", err)
		return nil, status.Errorf(codes.Internal, "encoding the response: %v", err)
	}
	return out, nil
}
