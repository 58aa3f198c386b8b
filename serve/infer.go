package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/oip"
	"github.com/kerasrun/kerasrun/runtime"
)

// statusClientClosed is logged and counted for a request whose client went
// away before the answer (nginx's 499). It never goes on the wire: there
// is no one to read it.
const statusClientClosed = 499

// Protocols, as the metrics label them.
const (
	protoREST = "rest"
	protoGRPC = "grpc"
)

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

var (
	errDraining = &httpError{code: http.StatusServiceUnavailable, msg: "the server is shutting down", retryAfter: 1}
	errBusy     = &httpError{code: http.StatusServiceUnavailable, msg: "the server has too many requests in flight; retry later", retryAfter: 1}
)

// inferHook, when set by a test, runs at the start of every inference
// request's handling, to check that a panic there is answered.
var inferHook func()

// outcome is what the metrics and the log line of one inference request
// say.
type outcome struct {
	protocol string
	name     string // as the client gave it
	m        *model // the model, once name is known to be one
	id       string
	rows     int
	code     int
	// clientDeadline: the client's own deadline (gRPC) was earlier than
	// the server's timeout.
	clientDeadline bool
	err            *httpError
	start          time.Time
}

// record counts and logs a finished inference request.
func (s *Server) record(o *outcome) {
	d := time.Since(o.start)
	label := ""
	if o.m != nil {
		label = o.name
		if o.code == http.StatusOK {
			o.m.stats.success(d, o.rows)
		} else {
			o.m.stats.fail(d)
		}
	}
	s.met.requests.WithLabelValues(label, strconv.Itoa(o.code), o.protocol).Inc()
	s.met.latency.WithLabelValues(label).Observe(d.Seconds())
	attrs := []any{"protocol", o.protocol, "model", clip(o.name), "id", clip(o.id), "status", o.code, "rows", o.rows, "ms", float64(d.Microseconds()) / 1000}
	switch {
	case o.code >= 500 && o.code != http.StatusServiceUnavailable && o.code != http.StatusGatewayTimeout:
		s.log.Error("infer", append(attrs, "error", o.err.msg)...)
	case o.code != http.StatusOK:
		s.log.Warn("infer", append(attrs, "error", o.err.msg)...)
	default:
		s.log.Debug("infer", attrs...)
	}
}

// panicked answers a panic in a handler: a 500 whose message carries an
// incident id, one log line with the panic and the place it came from
// (no stack: one bad request must not flood the log), and the metric.
func (s *Server) panicked(v any) *httpError {
	id := incidentID()
	s.met.panics.Inc()
	s.log.Error("panic in a handler", "incident", id, "panic", clip(fmt.Sprint(v)), "at", panicSite())
	return errorf(http.StatusInternalServerError, "internal error %s", id)
}

// panicSite is where the panic being recovered happened: the first frame
// outside the runtime below runtime.gopanic on the recovering goroutine.
func panicSite() string {
	pc := make([]uintptr, 64)
	n := goruntime.Callers(2, pc)
	frames := goruntime.CallersFrames(pc[:n])
	seenPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			seenPanic = true
		case seenPanic && !strings.HasPrefix(f.Function, "runtime."):
			return fmt.Sprintf("%s (%s:%d)", f.Function, f.File, f.Line)
		}
		if !more {
			return "unknown"
		}
	}
}

// recoverer answers a panic in any handler but infer's (which answers its
// own, to count it) with a 500. It also asks the client to close a
// connection from the health reserve, or any connection while its listener
// is near its limit.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := connOf(r); c != nil && (c.reserve || c.l.pressure()) {
			w.Header().Set("Connection", "close")
		}
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				e := s.panicked(v)
				if !tw.wrote {
					writeError(w, e.code, e.msg)
				}
			}
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter notes whether the header has been written.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// place is a request's place among those in flight: it counts for
// Shutdown and among Options.MaxInflight.
type place struct {
	s    *Server
	once sync.Once
	// kept: the queue gives the place back, since the request left while
	// a running batch still used its data. Only the request's goroutine
	// touches it.
	kept bool
}

// give gives the place back; calls past the first do nothing.
func (p *place) give() {
	p.once.Do(func() {
		<-p.s.slots
		p.s.leave()
	})
}

// done gives the place back unless the queue keeps it.
func (p *place) done() {
	if !p.kept {
		p.give()
	}
}

// admit counts a request in flight and takes its place among
// Options.MaxInflight, waiting for one until ctx ends.
func (s *Server) admit(ctx context.Context) (*place, *httpError) {
	if !s.enter() {
		return nil, errDraining
	}
	select {
	case s.slots <- struct{}{}:
	default:
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			s.leave()
			return nil, errBusy
		}
	}
	return &place{s: s}, nil
}

// findInfer finds the model and version of a request.
func (s *Server) findInfer(name, version string) (*model, *httpError) {
	m := s.lookup(name)
	if m == nil {
		return nil, errorf(http.StatusNotFound, "unknown model %s (models: %s)", quote(name), s.modelNames())
	}
	if version != "" && version != Version {
		return nil, errorf(http.StatusNotFound, "model %q has no version %s (versions: %s)", name, quote(version), Version)
	}
	return m, nil
}

// inferOIP runs a request on the model name (version "" or Version) for a
// transport whose messages arrive whole (gRPC): draining, the in-flight
// limit, then decode (which gets the model, to check its limits), the
// request checks, the queue, classification, the response limit, the
// metrics and the log line. id is the request's id, for the log. The
// error's code is an HTTP status.
func (s *Server) inferOIP(ctx context.Context, protocol, name, version, id string, decode func(*model) (*oip.InferRequest, *httpError)) (resp *oip.InferResponse, e *httpError) {
	o := &outcome{protocol: protocol, name: name, id: id, start: time.Now(), code: http.StatusOK}
	defer func() {
		if v := recover(); v != nil {
			resp, e = nil, s.panicked(v)
		}
		if e != nil {
			o.code, o.err = e.code, e
		}
		s.record(o)
	}()
	m, e := s.findInfer(name, version)
	if e != nil {
		return nil, e
	}
	o.m = m
	if inferHook != nil {
		inferHook()
	}
	if dl, ok := ctx.Deadline(); ok && (s.opts.Timeout <= 0 || time.Until(dl) < s.opts.Timeout) {
		// The client's deadline comes first: say so if it passes.
		o.clientDeadline = true
	}
	if s.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
	}
	p, e := s.admit(ctx)
	if e != nil {
		return nil, e
	}
	defer p.done()
	req, e := decode(m)
	if e != nil {
		return nil, e
	}
	return s.run(ctx, m, req, o, false, p)
}

// run checks a request against model m, runs it and builds the response,
// checking its size against the model's response limit (with jsonOK, the
// outputs not asked for in binary count as JSON). o gets the rows. If
// the request leaves while a running batch still uses its data, the queue
// keeps p and gives it back when the batch ends.
func (s *Server) run(ctx context.Context, m *model, req *oip.InferRequest, o *outcome, jsonOK bool, p *place) (*oip.InferResponse, *httpError) {
	j, sel, e := m.prepare(req)
	if e != nil {
		return nil, e
	}
	j.release = p.give
	o.rows = j.rows
	if e := m.checkResponse(sel, j.rows, jsonOK, nil); e != nil {
		return nil, e
	}
	j.ctx = ctx
	out, err := m.q.do(j)
	p.kept = j.abandoned
	switch {
	case errors.Is(err, errQueueFull):
		e = &httpError{code: http.StatusServiceUnavailable, msg: fmt.Sprintf("model %q: the queue is full (%d requests); retry later", m.name, s.opts.QueueSize), retryAfter: 1}
	case errors.Is(err, errClosed):
		e = errDraining
	case ctx.Err() != nil && err != nil:
		e = s.ctxError(ctx, o.clientDeadline)
	case err != nil:
		e = predictError(m.name, err)
	}
	if e != nil {
		return nil, e
	}
	resp := &oip.InferResponse{ModelName: m.name, ModelVersion: Version, ID: req.ID, Outputs: make([]oip.Tensor, len(sel))}
	for i, o := range sel {
		t := out[o.index]
		if o.classes > 0 {
			resp.Outputs[i] = classify(m.outputs[o.index].Name, t, o.classes)
		} else {
			resp.Outputs[i] = oip.Tensor{Name: m.outputs[o.index].Name, Datatype: oip.FP32, Shape: shape64(t.Shape), Data: t.Data}
		}
		resp.Outputs[i].Binary = o.binary
	}
	if e := m.checkResponse(sel, j.rows, jsonOK, resp); e != nil {
		return nil, e
	}
	return resp, nil
}

// ctxError answers a request whose context ended: 499 when the client went
// away, 504 when it timed out, by the server's timeout or, with
// clientDeadline, by the client's own deadline.
func (s *Server) ctxError(ctx context.Context, clientDeadline bool) *httpError {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if clientDeadline {
			return errorf(http.StatusGatewayTimeout, "the request ran past the client's deadline")
		}
		return errorf(http.StatusGatewayTimeout, "the request took longer than %v", s.opts.Timeout)
	}
	return errorf(statusClientClosed, "the client went away")
}

// infer is POST /v2/models/{name}/infer.
func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	o := &outcome{protocol: protoREST, name: r.PathValue("name"), start: time.Now(), code: http.StatusOK}
	rc := http.NewResponseController(w)
	var resp *oip.InferResponse
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			e := s.panicked(v)
			o.code, o.err = e.code, e
			writeError(w, e.code, e.msg)
		}
		s.record(o)
	}()
	fail := func(e *httpError) {
		o.code, o.err = e.code, e
		if e.code == statusClientClosed {
			return
		}
		if e.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
		}
		// A body over the limit is not read further: the connection
		// closes, rather than net/http reading on to reuse it.
		if (e.code == http.StatusServiceUnavailable && s.isDraining()) || e.code == http.StatusRequestTimeout ||
			e.code == http.StatusRequestEntityTooLarge || underPressure(r) {
			w.Header().Set("Connection", "close")
		}
		s.writeDeadline(rc)
		writeError(w, e.code, e.msg)
	}
	if c := connOf(r); c != nil && c.reserve {
		fail(&httpError{code: http.StatusServiceUnavailable, msg: "the server is at its connection limit; retry later", retryAfter: 1})
		return
	}
	m, e := s.findInfer(o.name, r.PathValue("version"))
	if e != nil {
		fail(e)
		return
	}
	o.m = m
	if inferHook != nil {
		inferHook()
	}
	ctx := r.Context()
	if s.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
		// The timeout covers reading the body too.
		rc.SetReadDeadline(time.Now().Add(s.opts.Timeout))
	}
	// Refuse what is known to be too large before waiting for a place.
	if r.ContentLength > m.lim.body {
		fail(errorf(http.StatusRequestEntityTooLarge, "the body is %d bytes; the limit for model %q is %d", r.ContentLength, m.name, m.lim.body))
		return
	}
	p, e := s.admit(ctx)
	if e != nil {
		if e == errBusy && r.Context().Err() != nil {
			e = errorf(statusClientClosed, "the client went away")
		}
		fail(e)
		return
	}
	// The place is held until the response is written: it bounds the
	// memory of the encoded response too.
	defer p.done()
	req, e := s.readRequest(r, m)
	if e != nil {
		fail(e)
		return
	}
	o.id = req.ID
	resp, e = s.run(ctx, m, req, o, true, p)
	if e != nil {
		if e.code == http.StatusGatewayTimeout && r.Context().Err() != nil {
			e = errorf(statusClientClosed, "the client went away")
		}
		fail(e)
		return
	}
	b, jsonLen, err := oip.EncodeResponse(resp)
	if err != nil {
		fail(errorf(http.StatusInternalServerError, "%v", err))
		return
	}
	resp = nil
	h := w.Header()
	if jsonLen != len(b) {
		h.Set("Content-Type", "application/octet-stream")
		h.Set(oip.HeaderContentLength, strconv.Itoa(jsonLen))
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if underPressure(r) {
		h.Set("Connection", "close")
	}
	s.writeDeadline(rc)
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(b); err != nil {
		s.log.Warn("infer: writing the response", "model", m.name, "id", clip(o.id), "error", err)
	}
}

// writeDeadline bounds the writing of the response about to start.
func (s *Server) writeDeadline(rc *http.ResponseController) {
	if s.opts.WriteTimeout > 0 {
		rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	}
}

// readRequest reads and decodes the body of an inference request within
// the model's body limit. A body that does not arrive within the timeout
// is a 408.
func (s *Server) readRequest(r *http.Request, m *model) (*oip.InferRequest, *httpError) {
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, errorf(http.StatusUnsupportedMediaType, "Content-Encoding %s is not supported; send the body uncompressed", quote(ce))
	}
	jsonLen := int64(-1)
	if v := r.Header.Get(oip.HeaderContentLength); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || (r.ContentLength >= 0 && n > r.ContentLength) {
			return nil, errorf(http.StatusBadRequest, "bad %s header %s for a body of %d bytes", oip.HeaderContentLength, quote(v), r.ContentLength)
		}
		jsonLen = n
	}
	req, err := oip.ReadRequest(r.Body, jsonLen, m.lim.body)
	switch {
	case err == nil:
		return req, nil
	case errors.Is(err, oip.ErrTooLarge):
		return nil, errorf(http.StatusRequestEntityTooLarge, "the body is over the limit of %d bytes for model %q", m.lim.body, m.name)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, errorf(http.StatusRequestTimeout, "the body did not arrive within %v", s.opts.Timeout)
	case errors.Is(err, io.ErrUnexpectedEOF) && r.Context().Err() != nil:
		return nil, errorf(statusClientClosed, "the client went away")
	}
	return nil, errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "oip: "))
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
