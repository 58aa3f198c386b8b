package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kerasrun/kerasrun"
	"github.com/kerasrun/kerasrun/serve"
)

const serveUsage = `usage: kerasrun serve --model [NAME=]MODEL.h5 [--model ...] [--arch NAME=ARCH.json]
                      [--addr :8080] [--grpc-addr ADDR] [--max-batch 32] [--max-delay 2ms]
                      [--queue 1024] [--workers N] [--max-rows N] [--max-body auto]
                      [--max-response auto] [--max-inflight N] [--max-conns N]
                      [--timeout 30s] [--write-timeout 30s] [--grace 30s]
                      [--memory-limit auto] [--log-level info] [--log-format json]
                      [--pin-threads]

Serve the models with the Open Inference Protocol (KServe V2): over HTTP,
/v2/health/{live,ready}, /v2, /v2/models/NAME[/ready|/stats],
POST /v2/models/NAME/infer (JSON or binary tensors), /v2/repository/index
and /metrics; with --grpc-addr, also the protocol's gRPC service
(inference.GRPCInferenceService) on that address.

NAME defaults to the file name without its extension. Concurrent requests
for a model are merged into batches of up to --max-batch samples, the
oldest waiting at most --max-delay (--max-batch 1: no batching); --queue
bounds the waiting requests per model (503 past it); --workers is the
number of batches a model runs at once (default: 1 with batching, the
number of cores without).

Limits: a request of more than --max-rows samples gets 413 (default: the
larger of --max-batch and 32). --max-body bounds a request body or gRPC
message and --max-response an encoded response (413 past either); auto
derives them per model from --max-rows rows of its inputs or outputs as
JSON (16 bytes a number, a free dimension counted as 1024), within 1 MiB
and 256 MiB. Byte counts take an optional unit: KiB, MiB, GiB, TiB (powers
of 1024) or KB, MB, GB, TB (powers of 1000), so 64MB is 64,000,000 bytes.
--max-inflight bounds the inference requests being read, queued or run
at once (default: the larger of 64 and 2 x --max-batch x workers); more
wait, unread, for a place until --timeout, then get 503. The log line
"listening" gives request_memory, the most those requests may hold.
--max-conns bounds the connections held (default: 3/4 of the descriptor
limit, at most 4096); past it a few more are served for the health
endpoints only. A body not received within --timeout gets 408, an
inference past it 504; a client that does not read its response within
--write-timeout is cut off. --memory-limit sets the Go memory limit
(GOMEMLIMIT): auto takes 90% of the cgroup's memory limit when there is
one and GOMEMLIMIT is unset; off leaves it; or a byte count.
--pin-threads lets kerasrun move its helper threads off the CPU of the
goroutine they help while another process keeps a core busy
(sched_setaffinity, Linux only; kerasrun.SetThreadPinning): a busy core
then costs less of the latency. Off by default: kerasrun then never
changes a thread's CPU affinity.

Every flag is checked before a model loads. On SIGTERM or SIGINT the
server stops taking requests and finishes those in flight; after --grace
it closes the connections still open. Either way it exits 0.
`

func cmdServe(args []string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return serveMain(ctx, args, stdout, nil)
}

// serveMain runs the server until ctx ends, then shuts it down gracefully.
// listening, when set, gets the address once the server accepts
// connections.
func serveMain(ctx context.Context, args []string, stdout io.Writer, listening func(addr string)) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var models, archs listFlag
	fs.Var(&models, "model", "a model as [NAME=]MODEL.h5 (repeat for several)")
	fs.Var(&archs, "arch", "NAME=ARCH.json: architecture JSON for the weights-only file of model NAME")
	addr := fs.String("addr", ":8080", "address to listen on")
	grpcAddr := fs.String("grpc-addr", "", "address for the gRPC service (empty: no gRPC)")
	maxBatch := fs.Int("max-batch", 32, "most samples per merged batch (1: no batching)")
	maxDelay := fs.Duration("max-delay", 2*time.Millisecond, "longest a request waits for others to merge with")
	queue := fs.Int("queue", 1024, "most requests waiting per model")
	workers := fs.Int("workers", 0, "batches a model runs at once (0: 1 with batching, the number of cores without)")
	maxRows := fs.Int("max-rows", 0, "most samples a request may hold (0: the larger of --max-batch and 32)")
	maxBody := fs.String("max-body", "auto", "largest request body (auto, or bytes with KiB, MiB, GiB)")
	maxResponse := fs.String("max-response", "auto", "largest encoded response (auto, or bytes with KiB, MiB, GiB)")
	maxInflight := fs.Int("max-inflight", 0, "most inference requests read, queued or run at once (0: default)")
	maxConns := fs.Int("max-conns", 0, "most connections held (0: 3/4 of the descriptor limit, at most 4096)")
	timeout := fs.Duration("timeout", 30*time.Second, "longest an inference request may take (0: no limit)")
	writeTimeout := fs.Duration("write-timeout", 30*time.Second, "longest the writing of a response may take (0: no limit)")
	memLimit := fs.String("memory-limit", "auto", "Go memory limit: auto (90% of the cgroup limit), off, or bytes")
	grace := fs.Duration("grace", 30*time.Second, "longest to wait for requests in flight at shutdown")
	logLevel := fs.String("log-level", "info", "debug (every request), info, warn or error")
	logFormat := fs.String("log-format", "json", "json or text")
	pin := fs.Bool("pin-threads", false, "keep helper threads off their caller's CPU while another process competes for the cores (Linux)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("takes no positional arguments (use --model [NAME=]MODEL.h5), got %q", pos)
	}
	if len(models) == 0 {
		return usagef("needs at least one --model")
	}
	if *maxBatch < 1 || *queue < 1 || *workers < 0 || *maxDelay < 0 || *timeout < 0 || *writeTimeout < 0 || *grace < 0 ||
		*maxRows < 0 || *maxInflight < 0 || *maxConns < 0 {
		return usagef("--max-batch and --queue must be positive, and --workers, the other limits and durations not negative")
	}
	bodyLimit, err := parseBytesOr(*maxBody, "auto")
	if err != nil {
		return usagef("--max-body: %v", err)
	}
	responseLimit, err := parseBytesOr(*maxResponse, "auto")
	if err != nil {
		return usagef("--max-response: %v", err)
	}
	memory, err := parseMemoryLimit(*memLimit)
	if err != nil {
		return usagef("--memory-limit: %v", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	switch *logFormat {
	case "json":
		log = slog.New(slog.NewJSONHandler(stdout, hopts))
	case "text":
		log = slog.New(slog.NewTextHandler(stdout, hopts))
	default:
		return usagef("--log-format %q: want json or text", *logFormat)
	}

	if err := checkAddr(*addr); err != nil {
		return usagef("--addr %q: %v", *addr, err)
	}
	if *grpcAddr != "" {
		if err := checkAddr(*grpcAddr); err != nil {
			return usagef("--grpc-addr %q: %v", *grpcAddr, err)
		}
	}
	archOf := map[string]string{}
	for _, a := range archs {
		name, file, ok := strings.Cut(a, "=")
		if !ok || name == "" || file == "" {
			return usagef("--arch %q: want NAME=ARCH.json", a)
		}
		archOf[name] = file
	}
	// Every flag is checked before a model loads, which can take long.
	named := map[string]bool{}
	for _, spec := range models {
		name, _ := modelSpec(spec)
		if named[name] {
			return usagef("--model: the name %q is given twice (use NAME=MODEL.h5)", name)
		}
		named[name] = true
	}
	for name := range archOf {
		if !named[name] {
			return usagef("--arch for %q, but no --model has that name", name)
		}
	}
	// In the options, 0 means the default and a negative duration none.
	to, wto := *timeout, *writeTimeout
	if to == 0 {
		to = -1
	}
	if wto == 0 {
		wto = -1
	}
	if limit, source := memory.apply(); limit > 0 {
		log.Info("memory limit set", "bytes", limit, "source", source)
	}
	kerasrun.SetThreadPinning(*pin)
	srv := serve.New(&serve.Options{
		MaxBatch: *maxBatch, MaxDelay: *maxDelay, QueueSize: *queue, Workers: *workers,
		MaxRows: *maxRows, MaxBodyBytes: bodyLimit, MaxResponseBytes: responseLimit,
		MaxInflight: *maxInflight, MaxConns: *maxConns,
		Timeout: to, WriteTimeout: wto, Logger: log,
	})
	for _, spec := range models {
		name, path := modelSpec(spec)
		start := time.Now()
		m, err := loadModel(path, archOf[name])
		if err != nil {
			return fmt.Errorf("model %q: %w", name, err)
		}
		if err := srv.Add(name, m); err != nil {
			return err
		}
		log.Info("model loaded", "model", name, "path", path, "load_ms", time.Since(start).Milliseconds())
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var gln net.Listener
	if *grpcAddr != "" {
		if gln, err = net.Listen("tcp", *grpcAddr); err != nil {
			ln.Close()
			return err
		}
	}
	opts := srv.Options()
	attrs := []any{"addr", ln.Addr().String(), "max_batch", *maxBatch, "max_delay", maxDelay.String(),
		"queue", *queue, "max_inflight", opts.MaxInflight, "max_conns", opts.MaxConns,
		"request_memory", srv.MemoryBound(), "timeout", timeout.String(), "write_timeout", writeTimeout.String(),
		"pin_threads", *pin}
	if gln != nil {
		attrs = append(attrs, "grpc_addr", gln.Addr().String())
	}
	log.Info("listening", attrs...)
	if lim := debug.SetMemoryLimit(-1); lim < math.MaxInt64 && srv.MemoryBound() > lim/4*3 {
		log.Warn("the in-flight requests may hold more than 3/4 of the memory limit; lower --max-inflight, --max-body or --max-response",
			"request_memory", srv.MemoryBound(), "memory_limit", lim)
	}
	if listening != nil {
		listening(ln.Addr().String())
	}
	served := make(chan error, 2)
	n := 1
	go func() { served <- srv.Serve(ln) }()
	if gln != nil {
		n++
		go func() { served <- srv.ServeGRPC(gln) }()
	}
	select {
	case err := <-served:
		// A listener failed: stop the other, and report the failure.
		sctx, cancel := context.WithTimeout(context.Background(), *grace)
		defer cancel()
		srv.Shutdown(sctx)
		for n--; n > 0; n-- {
			<-served
		}
		return err
	case <-ctx.Done():
	}
	log.Info("signal received; shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	// After --grace the server has closed the connections still open:
	// the exit is clean either way.
	var first error
	for ; n > 0; n-- {
		if e := <-served; e != nil && first == nil {
			first = e
		}
	}
	return first
}

// modelSpec splits [NAME=]PATH; NAME defaults to the file name without its
// extension.
func modelSpec(s string) (name, path string) {
	if n, p, ok := strings.Cut(s, "="); ok && n != "" && !strings.ContainsRune(n, os.PathSeparator) {
		return n, p
	}
	base := filepath.Base(s)
	return strings.TrimSuffix(base, filepath.Ext(base)), s
}

// checkAddr checks a listen address before any model loads: host:port,
// with a port number or service name, as net.Listen takes it.
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 0 || n > 65535 {
			return fmt.Errorf("port %d is out of range 0-65535", n)
		}
		return nil
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("unknown port %q", port)
	}
	return nil
}

// byteUnits are the units parseBytes takes: binary with an i, decimal
// without, as in IEC 80000-13.
var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// parseBytesOr reads a byte count, or word, meaning 0 (the default).
func parseBytesOr(s, word string) (int64, error) {
	if s == word {
		return 0, nil
	}
	n, err := parseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%w, or %s", err, word)
	}
	return n, nil
}

// parseBytes reads a byte count: 1048576, 512KiB, 64MiB, 1GiB (powers of
// 1024) or 64MB, 1GB (powers of 1000). A unit without the B (64M) or in
// another case (64mb) is refused as ambiguous.
func parseBytes(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q is not a positive byte count such as 1048576 or 64MiB (units: KiB, MiB, GiB, TiB for powers of 1024; KB, MB, GB, TB for powers of 1000; at most 1PiB)", s)
	}
	return n * mult, nil
}
