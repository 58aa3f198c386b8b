package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/kerasrun/kerasrun/layers"
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
	// MaxBodyBytes bounds a request body (default 64 MiB); larger ones get
	// 413.
	MaxBodyBytes int64
	// Timeout bounds a whole inference request, body read included
	// (default 30 s; negative means none). Past it the request gets 504.
	Timeout time.Duration
	// Logger gets the server's structured logs (default: none). Requests
	// are logged at Debug level, client errors at Warn, server errors at
	// Error.
	Logger *slog.Logger
}

// Version is the model version every model reports.
const Version = "1"

// Server serves models. Create it with New, add models with Add, then
// serve with Serve or Handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	reg     *prometheus.Registry
	met     *metrics
	handler http.Handler

	mu       sync.Mutex
	models   map[string]*model
	draining bool
	inflight int
	idle     chan struct{} // closed when draining and inflight reaches 0
	hs       *http.Server
}

type model struct {
	name    string
	m       Model
	inputs  []runtime.IO
	outputs []runtime.IO
	meta    oip.ModelMetadata
	q       *queue
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
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 20
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: o, log: o.Logger, models: map[string]*model{}, idle: make(chan struct{})}
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.met = newMetrics(s.reg, o.MaxBatch)
	s.handler = s.routes()
	return s
}

// Add serves m under name. The name must be non-empty and hold no '/'.
// Add starts the model's workers; the model is ready at once.
func (s *Server) Add(name string, m Model) error {
	if name == "" || strings.ContainsAny(name, "/?#%") || strings.TrimSpace(name) != name {
		return fmt.Errorf("serve: bad model name %q: it must be non-empty, without '/', '?', '#', '%%' or surrounding spaces", name)
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
	md := &model{name: name, m: m, inputs: ins, outputs: outs}
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
	s.log.Info("model added", "model", name, "inputs", ioString(ins), "outputs", ioString(outs), "max_batch", maxBatch, "workers", s.opts.Workers)
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

// Registry returns the Prometheus registry that /metrics serves, for
// adding collectors.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler returns the server's HTTP handler: the protocol's endpoints and
// /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until Shutdown. It returns nil after
// Shutdown, and the listener's error otherwise.
func (s *Server) Serve(ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		ln.Close()
		return errors.New("serve: Serve after Shutdown")
	}
	s.hs = hs
	s.mu.Unlock()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the server gracefully: readiness turns to 503 and new
// inference requests are refused with 503 at once; the listener of Serve
// closes; requests in flight, queued ones included, run to the end. Then
// the workers stop, and connections still open close. If ctx ends first,
// Shutdown closes every connection and returns ctx's error.
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
	select {
	case <-s.idle:
	case <-ctx.Done():
		if hs != nil {
			hs.Close()
		}
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
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
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
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(methods, ", ")))
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
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	writeJSON(w, http.StatusOK, oip.ServerMetadata{Name: "kerasrun", Version: version, Extensions: []string{oip.ExtensionBinaryData}})
}

// findModel finds the model of the request path, or answers 404.
func (s *Server) findModel(w http.ResponseWriter, r *http.Request) *model {
	name := r.PathValue("name")
	m := s.lookup(name)
	if m == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown model %q (models: %s)", name, s.modelNames()))
		return nil
	}
	if v := r.PathValue("version"); v != "" && v != Version {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model %q has no version %q (versions: %s)", name, v, Version))
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

// statusClientClosed is logged and counted for a request whose client went
// away before the answer (nginx's 499).
const statusClientClosed = 499

// httpError is an error with the status it answers.
type httpError struct {
	code       int
	msg        string
	retryAfter int
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("name")
	m := s.lookup(name)
	label := ""
	if m != nil {
		label = name
	}
	id, rows := "", 0
	code := http.StatusOK
	var herr *httpError
	defer func() {
		d := time.Since(start)
		s.met.requests.WithLabelValues(label, strconv.Itoa(code)).Inc()
		s.met.latency.WithLabelValues(label).Observe(d.Seconds())
		attrs := []any{"model", name, "id", id, "status", code, "rows", rows, "ms", float64(d.Microseconds()) / 1000}
		switch {
		case code >= 500 && code != http.StatusServiceUnavailable && code != http.StatusGatewayTimeout:
			s.log.Error("infer", append(attrs, "error", herr.msg)...)
		case code != http.StatusOK:
			s.log.Warn("infer", append(attrs, "error", herr.msg)...)
		default:
			s.log.Debug("infer", attrs...)
		}
	}()
	fail := func(e *httpError) {
		herr, code = e, e.code
		if e.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
		}
		if code == http.StatusServiceUnavailable && s.isDraining() {
			w.Header().Set("Connection", "close")
		}
		writeError(w, code, e.msg)
	}
	if m == nil {
		fail(errorf(http.StatusNotFound, "unknown model %q (models: %s)", name, s.modelNames()))
		return
	}
	if v := r.PathValue("version"); v != "" && v != Version {
		fail(errorf(http.StatusNotFound, "model %q has no version %q (versions: %s)", name, v, Version))
		return
	}
	if !s.enter() {
		fail(&httpError{code: http.StatusServiceUnavailable, msg: "the server is shutting down", retryAfter: 1})
		return
	}
	defer s.leave()
	ctx := r.Context()
	if s.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
		// The timeout covers reading the body too.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opts.Timeout))
	}
	body, jsonLen, e := s.readBody(r, w)
	if e != nil {
		if ctx.Err() != nil {
			e = s.ctxError(ctx, r)
		}
		fail(e)
		return
	}
	req, err := oip.DecodeRequest(body, jsonLen)
	if err != nil {
		fail(errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "oip: ")))
		return
	}
	id = req.ID
	j, sel, e := m.prepare(req)
	if e != nil {
		fail(e)
		return
	}
	j.ctx = ctx
	rows = j.rows
	out, err := m.q.do(j)
	switch {
	case errors.Is(err, errQueueFull):
		fail(&httpError{code: http.StatusServiceUnavailable, msg: fmt.Sprintf("model %q: the queue is full (%d requests); retry later", name, s.opts.QueueSize), retryAfter: 1})
		return
	case errors.Is(err, errClosed):
		fail(&httpError{code: http.StatusServiceUnavailable, msg: "the server is shutting down", retryAfter: 1})
		return
	case ctx.Err() != nil && (err != nil || r.Context().Err() != nil):
		fail(s.ctxError(ctx, r))
		return
	case err != nil:
		fail(predictError(name, err))
		return
	}
	resp := &oip.InferResponse{ModelName: name, ModelVersion: Version, ID: req.ID, Outputs: make([]oip.Tensor, len(sel))}
	for i, o := range sel {
		t := out[o.index]
		resp.Outputs[i] = oip.Tensor{Name: m.outputs[o.index].Name, Datatype: oip.FP32, Shape: shape64(t.Shape), Data: t.Data, Binary: o.binary}
	}
	b, jsonLen, err := oip.EncodeResponse(resp)
	if err != nil {
		fail(errorf(http.StatusInternalServerError, "%v", err))
		return
	}
	h := w.Header()
	if jsonLen != len(b) {
		h.Set("Content-Type", "application/octet-stream")
		h.Set(oip.HeaderContentLength, strconv.Itoa(jsonLen))
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// predictError answers a failed Predict by the class of its error: 500 for
// a kerasrun bug (runtime.ErrInternal: a layer panicked), with an id that
// the log repeats; 413 for something over a limit (runtime.ErrLimit); 422
// for something the model does not support (layers.ErrUnsupported); and
// 400 for the request's data (runtime.ErrInvalidInput) and anything else
// a model refuses.
func predictError(name string, err error) *httpError {
	switch {
	case errors.Is(err, runtime.ErrInternal):
		return errorf(http.StatusInternalServerError, "model %q: internal error %s: %v", name, incidentID(), err)
	case errors.Is(err, runtime.ErrLimit):
		return errorf(http.StatusRequestEntityTooLarge, "model %q: %v", name, err)
	case errors.Is(err, layers.ErrUnsupported):
		return errorf(http.StatusUnprocessableEntity, "model %q: %v", name, err)
	}
	return errorf(http.StatusBadRequest, "model %q: %v", name, err)
}

// incidentID returns a random id that ties a 500 answer to its log line
// (the request's own id is the client's, and may be empty or reused).
func incidentID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ctxError answers a request whose context ended: 499 when the client went
// away, 504 when it timed out.
func (s *Server) ctxError(ctx context.Context, r *http.Request) *httpError {
	if r.Context().Err() != nil {
		return errorf(statusClientClosed, "the client went away")
	}
	return errorf(http.StatusGatewayTimeout, "the request took longer than %v", s.opts.Timeout)
}

// readBody reads the body within the size limit and the JSON length of the
// binary tensor data extension (-1 without it).
func (s *Server) readBody(r *http.Request, w http.ResponseWriter) ([]byte, int, *httpError) {
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, 0, errorf(http.StatusUnsupportedMediaType, "Content-Encoding %q is not supported; send the body uncompressed", ce)
	}
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, 0, errorf(http.StatusRequestEntityTooLarge, "the body is %d bytes; the limit is %d", r.ContentLength, limit)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, 0, errorf(http.StatusRequestEntityTooLarge, "the body is over the limit of %d bytes", limit)
		}
		return nil, 0, errorf(http.StatusBadRequest, "reading the body: %v", err)
	}
	jsonLen := -1
	if v := r.Header.Get(oip.HeaderContentLength); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > buf.Len() {
			return nil, 0, errorf(http.StatusBadRequest, "bad %s header %q for a body of %d bytes", oip.HeaderContentLength, v, buf.Len())
		}
		jsonLen = n
	}
	return buf.Bytes(), jsonLen, nil
}
