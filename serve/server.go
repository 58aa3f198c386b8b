package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	goruntime "runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kerasrun/kerasrun/oip"
	"github.com/kerasrun/kerasrun/runtime"
)

// Model is what the server runs. *runtime.Model implements it.
type Model interface {
	Inputs() []runtime.IO
	Outputs() []runtime.IO
	PredictContext(ctx context.Context, inputs ...*runtime.Tensor) ([]*runtime.Tensor, error)
}

// Options configures a Server. A nil *Options, and each zero field, means
// the default.
type Options struct {
	// MaxBatch is the most rows one Predict takes from merged requests
	// (default 32); 1 turns batching off.
	MaxBatch int
	// MaxDelay is how long the oldest queued request may wait for others
	// to merge with; 0 merges only what is already queued.
	MaxDelay time.Duration
	// QueueSize bounds the requests waiting per model (default 1024).
	// Past it, requests get 503 with Retry-After.
	QueueSize int
	// Workers is the number of batches a model runs at once. The default
	// is 1 with batching, since Predict spreads a batch over GOMAXPROCS
	// cores itself, and GOMAXPROCS without (MaxBatch 1), so that
	// single-sample requests keep every core busy.
	Workers int
	// MaxRows bounds the rows (samples) of one request (default: the
	// larger of MaxBatch and 32). A request with more gets 413 before it
	// runs.
	MaxRows int
	// MaxBodyBytes bounds a request body or gRPC message. The default is
	// derived per model: MaxRows rows of its inputs as JSON (16 bytes a
	// number, a free dimension counted as 1024) plus 64 KiB, within 1 MiB
	// and 256 MiB. Larger bodies get 413, a chunked one as soon as it
	// passes the limit.
	MaxBodyBytes int64
	// MaxResponseBytes bounds an encoded response; a request whose
	// response would be larger gets 413 before it is encoded. The default
	// is derived per model as for MaxBodyBytes, from its outputs.
	MaxResponseBytes int64
	// MaxInflight bounds the inference requests being read, queued or run
	// at once, over every model and transport (default: the larger of 64
	// and 2 × MaxBatch × Workers). A request past it waits for a place,
	// its body unread, until Timeout, then gets 503. With the body and
	// response limits, it bounds the memory requests hold: MemoryBound.
	MaxInflight int
	// MaxConns bounds the connections each listener of Serve holds
	// (default: three quarters of the process's descriptor limit, at most
	// 4096). At the limit a few more connections are accepted for the
	// health endpoints only, and from seven eighths of it idle keep-alive
	// connections are closed to make room.
	MaxConns int
	// Timeout bounds a whole inference request, body read included
	// (default 30 s; negative means none). A body not received within it
	// gets 408; an inference that runs past it gets 504.
	Timeout time.Duration
	// WriteTimeout bounds the writing of one response (default 30 s;
	// negative means none): a client that stops reading is cut off after
	// it, freeing its handler and response.
	WriteTimeout time.Duration
	// Logger gets the server's structured logs (default: none). Requests
	// are logged at Debug level, client errors at Warn, server errors at
	// Error.
	Logger *slog.Logger
}

// Version is the model version every model reports.
const Version = "1"

// Server serves models. Create it with New, add models with Add, then
// serve with Serve (REST), ServeGRPC (gRPC) or Handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	reg     *prometheus.Registry
	met     *metrics
	handler http.Handler
	slots   chan struct{} // one per inference request in flight
	g       grpcSide

	mu       sync.Mutex
	models   map[string]*model
	draining bool
	inflight int
	idle     chan struct{} // closed when draining and inflight reaches 0
	hs       *http.Server
	lns      []*limitListener
}

type model struct {
	name    string
	m       Model
	inputs  []runtime.IO
	outputs []runtime.IO
	meta    oip.ModelMetadata
	lim     limits
	q       *queue
	stats   modelStats
}

// New returns a server with no models.
func New(opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 32
	}
	if o.MaxDelay < 0 {
		o.MaxDelay = 0
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Workers <= 0 {
		o.Workers = 1
		if o.MaxBatch == 1 {
			o.Workers = goruntime.GOMAXPROCS(0)
		}
	}
	if o.MaxRows <= 0 {
		o.MaxRows = max(o.MaxBatch, 32)
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = max(64, 2*o.MaxBatch*o.Workers)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = defaultMaxConns()
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: o, log: o.Logger, models: map[string]*model{}, idle: make(chan struct{}), slots: make(chan struct{}, o.MaxInflight)}
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.met = newMetrics(s.reg, o.MaxBatch)
	s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kerasrun_inflight_requests",
		Help: "Inference requests being read, queued or run.",
	}, func() float64 { return float64(len(s.slots)) }))
	s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kerasrun_connections",
		Help: "Connections held by the REST listeners.",
	}, func() float64 { return float64(s.connCount()) }))
	s.handler = s.recoverer(s.routes())
	return s
}

// Add serves m under name. The name must be non-empty and hold no '/'.
// Add starts the model's workers; the model is ready at once.
func (s *Server) Add(name string, m Model) error {
	if name == "" || strings.ContainsAny(name, "/?#%") || strings.TrimSpace(name) != name || len(name) > clipLen {
		return fmt.Errorf("serve: bad model name %s: it must be non-empty, at most %d bytes, without '/', '?', '#', '%%' or surrounding spaces", quote(name), clipLen)
	}
	ins, outs := m.Inputs(), m.Outputs()
	if len(ins) == 0 || len(outs) == 0 {
		return fmt.Errorf("serve: model %q has %d inputs and %d outputs", name, len(ins), len(outs))
	}
	batchable := true
	for _, io := range ins {
		if len(io.Shape) == 0 {
			return fmt.Errorf("serve: model %q: input %q has no batch axis", name, io.Name)
		}
		// Keras: a model built with a fixed batch size (batch_input_shape)
		// may depend on it, so its requests are never merged.
		if io.Shape[0] >= 0 {
			batchable = false
		}
	}
	md := &model{name: name, m: m, inputs: ins, outputs: outs, lim: s.opts.modelLimits(ins, outs)}
	md.meta = oip.ModelMetadata{Name: name, Versions: []string{Version}, Platform: "keras_h5"}
	for _, io := range ins {
		md.meta.Inputs = append(md.meta.Inputs, oip.TensorMetadata{Name: io.Name, Datatype: datatype(io.DType), Shape: shape64(io.Shape)})
	}
	for _, io := range outs {
		md.meta.Outputs = append(md.meta.Outputs, oip.TensorMetadata{Name: io.Name, Datatype: oip.FP32, Shape: shape64(io.Shape)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return errors.New("serve: Add after Shutdown")
	}
	if _, dup := s.models[name]; dup {
		return fmt.Errorf("serve: model %q added twice", name)
	}
	maxBatch := s.opts.MaxBatch
	if !batchable {
		maxBatch = 1
	}
	md.q = newQueue(md, queueOptions{
		maxBatch: maxBatch, maxDelay: s.opts.MaxDelay, size: s.opts.QueueSize, workers: s.opts.Workers,
	}, s.met, s.log)
	s.models[name] = md
	s.log.Info("model added", "model", name, "inputs", ioString(ins), "outputs", ioString(outs), "max_batch", maxBatch, "workers", s.opts.Workers,
		"max_rows", md.lim.rows, "max_body", md.lim.body, "max_response", md.lim.response)
	return nil
}

// datatype is the protocol datatype a model input declares.
func datatype(dtype string) string {
	switch {
	case dtype == "int64" || dtype == "uint64":
		return oip.INT64
	case strings.HasPrefix(dtype, "int") || strings.HasPrefix(dtype, "uint"):
		return oip.INT32
	case dtype == "float64":
		return oip.FP64
	}
	return oip.FP32
}

func shape64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
		if d < 0 {
			out[i] = -1
		}
	}
	return out
}

func ioString(s []runtime.IO) string {
	var parts []string
	for _, io := range s {
		parts = append(parts, io.Name+runtime.FormatShape(io.Shape))
	}
	return strings.Join(parts, " ")
}

// Options returns the options in force, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// Registry returns the Prometheus registry that /metrics serves, for
// adding collectors.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler returns the server's HTTP handler: the protocol's endpoints and
// /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until Shutdown, holding at most
// Options.MaxConns of them. It returns nil after Shutdown, and the
// listener's error otherwise.
func (s *Server) Serve(ln net.Listener) error {
	ll := newLimitListener(ln, s.opts.MaxConns, healthReserve)
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		ln.Close()
		return errors.New("serve: Serve after Shutdown")
	}
	if s.hs == nil {
		s.hs = &http.Server{
			Handler:           s.handler,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ConnContext:       connContext,
			ConnState:         connState,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
	}
	hs := s.hs
	s.lns = append(s.lns, ll)
	s.mu.Unlock()
	err := hs.Serve(ll)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// connCount is the connections the REST listeners hold.
func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lns {
		n += l.count()
	}
	return n
}

// underPressure reports whether the connection of r came through a
// listener near its limit.
func underPressure(r *http.Request) bool {
	c := connOf(r)
	return c != nil && c.l.pressure()
}

// MemoryBound returns the most memory the requests in flight may hold, in
// bytes, for the largest model: Options.MaxInflight requests holding a
// place, each within 6 body limits (the body or gRPC message as read and
// decoded, the decoded inputs, their copy in a merged batch) and 3 response
// limits (the outputs, the response, its encoding); plus, for gRPC, which
// reads a message before its request waits for a place, as many requests
// again each holding 2 body limits. It leaves out the models' own working memory for a batch,
// which a load test measures.
func (s *Server) MemoryBound() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var per int64
	for _, m := range s.models {
		per = max(per, satAdd(m.lim.requestMemory(), m.lim.readAheadMemory()))
	}
	return satMul(int64(s.opts.MaxInflight), per)
}

// Shutdown stops the server gracefully: readiness turns to 503 and new
// inference requests are refused with 503 at once; the listeners close;
// requests in flight, queued ones included, run to the end. Then the
// workers stop, and connections still open close. If ctx ends first,
// Shutdown closes every connection, which ends the requests still in
// flight, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.draining {
		s.draining = true
		if s.inflight == 0 {
			close(s.idle)
		}
	}
	hs := s.hs
	s.mu.Unlock()
	s.log.Info("shutting down: refusing new requests, finishing those in flight")
	httpDone := make(chan error, 1)
	if hs != nil {
		go func() { httpDone <- hs.Shutdown(ctx) }()
	} else {
		httpDone <- nil
	}
	grpcDone := make(chan struct{})
	go func() {
		s.shutdownGRPC(ctx)
		close(grpcDone)
	}()
	select {
	case <-s.idle:
	case <-ctx.Done():
		n := s.connCount()
		if hs != nil {
			hs.Close()
		}
		<-grpcDone
		s.log.Warn("shutdown: the grace period ended with requests in flight; connections closed", "connections", n)
		return ctx.Err()
	}
	// Every inference request has been answered. Other requests take
	// microseconds; a connection that has sent nothing yet would only get
	// a 503 now, and net/http waits 5 s for such connections: close them.
	var err error
	select {
	case err = <-httpDone:
	case <-time.After(250 * time.Millisecond):
		hs.Close()
		<-httpDone
	}
	<-grpcDone
	s.mu.Lock()
	models := make([]*model, 0, len(s.models))
	for _, m := range s.models {
		models = append(models, m)
	}
	s.mu.Unlock()
	for _, m := range models {
		m.q.close()
	}
	s.log.Info("shutdown complete")
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// enter counts a request in flight, or reports false while draining.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.inflight++
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if s.draining && s.inflight == 0 {
		close(s.idle)
	}
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

func (s *Server) lookup(name string) *model {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.models[name]
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	get := func(h http.HandlerFunc) http.HandlerFunc { return only(h, http.MethodGet, http.MethodHead) }
	post := func(h http.HandlerFunc) http.HandlerFunc { return only(h, http.MethodPost) }
	mux.HandleFunc("/v2/health/live", get(s.live))
	mux.HandleFunc("/v2/health/ready", get(s.ready))
	mux.HandleFunc("/v2", get(s.serverMetadata))
	mux.HandleFunc("/v2/models/{name}", get(s.modelMetadata))
	mux.HandleFunc("/v2/models/{name}/versions/{version}", get(s.modelMetadata))
	mux.HandleFunc("/v2/models/{name}/ready", get(s.modelReady))
	mux.HandleFunc("/v2/models/{name}/versions/{version}/ready", get(s.modelReady))
	mux.HandleFunc("/v2/models/{name}/infer", post(s.infer))
	mux.HandleFunc("/v2/models/{name}/versions/{version}/infer", post(s.infer))
	mux.HandleFunc("/v2/models/stats", get(s.modelStats))
	mux.HandleFunc("/v2/models/{name}/stats", get(s.modelStats))
	mux.HandleFunc("/v2/models/{name}/versions/{version}/stats", get(s.modelStats))
	mux.HandleFunc("/v2/repository/index", post(s.repositoryIndex))
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", clip(r.Method), quote(r.URL.Path)))
	})
	return mux
}

// only answers 405 to methods other than those given.
func only(h http.HandlerFunc, methods ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(methods, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", clip(r.Method), quote(r.URL.Path), strings.Join(methods, ", ")))
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"serve: cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"live": true})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	draining, n := s.draining, len(s.models)
	s.mu.Unlock()
	switch {
	case draining:
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down")
	case n == 0:
		writeError(w, http.StatusServiceUnavailable, "no model is loaded")
	default:
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	}
}

func (s *Server) serverMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.metadata())
}

// metadata is the server metadata both transports give.
func (s *Server) metadata() oip.ServerMetadata {
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	return oip.ServerMetadata{Name: "kerasrun", Version: version, Extensions: []string{oip.ExtensionBinaryData, extensionClassification, extensionStatistics, extensionRepository}}
}

// findModel finds the model of the request path, or answers 404.
func (s *Server) findModel(w http.ResponseWriter, r *http.Request) *model {
	name := r.PathValue("name")
	m := s.lookup(name)
	if m == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown model %s (models: %s)", quote(name), s.modelNames()))
		return nil
	}
	if v := r.PathValue("version"); v != "" && v != Version {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model %q has no version %s (versions: %s)", name, quote(v), Version))
		return nil
	}
	return m
}

func (s *Server) modelNames() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.models))
	for n := range s.models {
		names = append(names, strconv.Quote(n))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	if m := s.findModel(w, r); m != nil {
		writeJSON(w, http.StatusOK, m.meta)
	}
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	m := s.findModel(w, r)
	if m == nil {
		return
	}
	if s.isDraining() {
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": m.name, "ready": true})
}
