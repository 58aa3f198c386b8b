package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/oip"
)

// caseFlood: idle keep-alive connections up to and past --max-conns; the
// health endpoints still answer at the limit, and no descriptor runs out.
func caseFlood(cfg *config, fig *figures) result {
	const name = "flood"
	if miss := cfg.needFlags("max-conns"); len(miss) > 0 {
		return skip(name, "needs %s", strings.Join(miss, ", "))
	}
	n := cfg.floodConns
	extra := max(64, n/4)
	// The suite holds n+extra connections itself, with room for probes.
	if lim := int(cfg.nofile) - 200 - n; extra > lim {
		extra = max(lim, 0)
	}
	args, _ := cfg.serverArgs("--model", "example="+cfg.fixture("example"), "--addr", "127.0.0.1:0",
		"--max-conns", strconv.Itoa(n), "--timeout", "5s")
	s, err := startServer("flood", cfg.bin, args, false)
	if err != nil {
		return fail(name, "%v", err)
	}
	defer s.stop()
	mark := s.logs.mark()
	base, err := s.sockets()
	if err != nil {
		return fail(name, "counting the server's sockets: %v", err)
	}
	total := n + extra
	// The most sockets the server holds, sampled through the flood.
	var peak atomic.Int64
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if h, err := s.sockets(); err == nil && int64(h) > peak.Load() {
				peak.Store(int64(h))
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	conns := make([]net.Conn, total)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	// Phase 1: connect and send one health request on each, 64 at a time.
	var dialFailed atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range total {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", s.addr, 3*time.Second)
			if err == nil {
				_, err = io.WriteString(c, rawHead("GET", "/v2/health/live"))
			}
			if err != nil {
				dialFailed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				if c != nil {
					c.Close()
				}
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	dialTime := time.Since(start)
	// Phase 2: read the answers, all at once, for at most 3 s; the
	// connections stay open and idle afterwards.
	var answered, unanswered, closed atomic.Int64
	deadline := time.Now().Add(3 * time.Second)
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(deadline)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			var ne net.Error
			switch {
			case err == nil:
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				answered.Add(1)
			case errors.As(err, &ne) && ne.Timeout():
				unanswered.Add(1)
			default:
				closed.Add(1)
			}
			c.SetReadDeadline(time.Time{})
		}()
	}
	wg.Wait()
	// Health on fresh connections while every connection is held.
	probes, ok := 5, 0
	var slowest time.Duration
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range probes {
		t0 := time.Now()
		resp, err := hc.Get(s.url() + "/v2/health/live")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok++
			}
		}
		slowest = max(slowest, time.Since(t0))
		time.Sleep(100 * time.Millisecond)
	}
	ready := send(s, http.MethodGet, "/v2/health/ready", nil)
	close(stopSampling)
	<-sampled
	held := int(peak.Load()) - base
	// Which idle connections has the server closed meanwhile?
	var idleClosed atomic.Int64
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			var b [1]byte
			_, err := c.Read(b[:])
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				idleClosed.Add(1)
			}
		}()
	}
	wg.Wait()
	for i, c := range conns {
		if c != nil {
			c.Close()
			conns[i] = nil
		}
	}
	// Once the flood is gone, inference is served again.
	var after answer
	md, err := metadata(s, "example")
	if err == nil {
		body, jl := md.binaryBody(1, 0.5, true)
		for range 20 {
			if after = send(s, http.MethodPost, inferPath("example"), body, binaryHeaders(jl)...); after.status == http.StatusOK {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	s.logs.settle(100*time.Millisecond, 2*time.Second)
	_, _, alarm := s.logs.since(mark)
	fig.maxConns, fig.heldConns, fig.healthOK = n, held, ok == probes
	detail := fmt.Sprintf("--max-conns %d, %d connections opened in %.1f s (%d failed): %d answered and left idle, %d waiting unanswered, %d closed by the server before answering, %d idle ones closed by the server later; the server held at most %d sockets; %d/%d health probes answered (slowest %v), ready %d; inference after the flood %d",
		n, total, dialTime.Seconds(), dialFailed.Load(), answered.Load(), unanswered.Load(), closed.Load(), idleClosed.Load(), held, ok, probes, slowest.Round(time.Millisecond), ready.status, after.status)
	if v := firstErr.Load(); v != nil {
		detail += "; first dial error: " + v.(string)
	}
	// A few connections past the limit serve health only.
	margin := max(64, n/16)
	switch {
	case ok != probes:
		return fail(name, "%s; health not answered at the limit", detail)
	case held > n+margin:
		return fail(name, "%s; more than --max-conns + %d held", detail, margin)
	case alarm != "":
		return fail(name, "%s; the server logged: %s", detail, alarm)
	case after.status != http.StatusOK:
		return fail(name, "%s; inference not served after the flood: %v", detail, after)
	}
	return pass(name, "%s", detail)
}

// caseRSS: the largest accepted request, sent by 2 x --max-inflight
// clients at once for a few seconds: the server's peak RSS stays under its
// idle RSS + the request_memory it reports + the slack.
func caseRSS(cfg *config, fig *figures) result {
	const name = "rss"
	if miss := cfg.needFlags("max-rows", "max-inflight"); len(miss) > 0 {
		return skip(name, "needs %s", strings.Join(miss, ", "))
	}
	args, _ := cfg.serverArgs(
		"--model", "example="+cfg.fixture("example"),
		"--model", "convt="+cfg.fixture("i4_convt_valid_s_gt_k"),
		"--addr", "127.0.0.1:0", "--max-batch", "32",
		"--max-rows", strconv.Itoa(cfg.rssMaxRows), "--max-inflight", strconv.Itoa(cfg.rssInflight),
	)
	s, err := startServer("rss", cfg.bin, args, false)
	if err != nil {
		return fail(name, "%v", err)
	}
	reqMem, ok := intAttr(s.listening, "request_memory")
	if !ok {
		s.stop()
		return fail(name, "no request_memory in the listening record")
	}
	// As in a pod whose memory limit is the documented bound: the Go
	// memory limit (which --memory-limit auto takes from the cgroup) makes
	// the collector return garbage before the heap doubles.
	memLimit := ""
	if cfg.flags["memory-limit"] && cfg.memLimit {
		s.stop()
		memLimit = strconv.FormatInt(reqMem+cfg.rssSlack/2, 10)
		s, err = startServer("rss", cfg.bin, append(args, "--memory-limit", memLimit), false)
		if err != nil {
			return fail(name, "%v", err)
		}
	}
	defer s.stop()
	// The requests, and one small request per model for the idle figure.
	type load struct {
		model string
		body  []byte
		rows  int
	}
	var loads []load
	for _, model := range []string{"example", "convt"} {
		md, err := metadata(s, model)
		if err != nil {
			return fail(name, "%v", err)
		}
		body, rows, err := largestRequest(s, md)
		if err != nil {
			return fail(name, "%v", err)
		}
		loads = append(loads, load{model, body, rows})
		if a := send(s, http.MethodPost, inferPath(model), md.jsonBody(1, "0.5", 0), "Content-Type: application/json"); a.status != http.StatusOK {
			return fail(name, "a one-row request to %s: %v", model, a)
		}
	}
	time.Sleep(200 * time.Millisecond)
	idle, err := s.procStatus("VmRSS")
	if err != nil {
		return fail(name, "%v", err)
	}
	workers := 2 * cfg.rssInflight
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var mu sync.Mutex
	codes := map[string]int{}
	end := time.Now().Add(cfg.rssTime)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := loads[w%len(loads)]
			for time.Now().Before(end) {
				code := "error"
				resp, err := hc.Post(s.url()+inferPath(l.model), "application/json", strings.NewReader(string(l.body)))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = strconv.Itoa(resp.StatusCode)
				}
				mu.Lock()
				codes[l.model+" "+code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	peak, err := s.procStatus("VmHWM")
	if err != nil {
		return fail(name, "%v", err)
	}
	bound := idle + reqMem + cfg.rssSlack
	fig.idleRSS, fig.peakRSS, fig.requestMemory, fig.rssBound = idle, peak, reqMem, bound
	var sizes []string
	for _, l := range loads {
		sizes = append(sizes, fmt.Sprintf("%s %d rows in %.2f MB", l.model, l.rows, float64(len(l.body))/1e6))
	}
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var tally []string
	bad := false
	for _, k := range keys {
		tally = append(tally, fmt.Sprintf("%s: %d", k, codes[k]))
		if !strings.HasSuffix(k, " 200") && !strings.HasSuffix(k, " 503") {
			bad = true
		}
	}
	for _, l := range loads {
		if codes[l.model+" 200"] == 0 {
			bad = true
		}
	}
	detail := fmt.Sprintf("largest accepted JSON requests (%s), %d clients for %v (--max-inflight %d): %s; peak RSS %s, idle %s + request_memory %s + slack %s = bound %s",
		strings.Join(sizes, ", "), workers, cfg.rssTime, cfg.rssInflight, strings.Join(tally, ", "), mib(peak), mib(idle), mib(reqMem), mib(cfg.rssSlack), mib(bound))
	switch {
	case bad:
		return fail(name, "%s; want only 200 and 503, and some 200s per model", detail)
	case peak > bound:
		return fail(name, "%s; over the bound", detail)
	}
	return pass(name, "%s", detail)
}

// largestRequest builds the model's largest accepted JSON request: rows =
// its max_rows (fewer where max_response or max_body allows fewer), every
// number written long and the body padded to one byte under max_body.
func largestRequest(s *server, md *modelIO) ([]byte, int, error) {
	maxBody, ok := s.modelLimit(md.name, "max_body")
	if !ok {
		return nil, 0, fmt.Errorf("no max_body for %s", md.name)
	}
	maxRows, ok := s.modelLimit(md.name, "max_rows")
	if !ok {
		return nil, 0, fmt.Errorf("no max_rows for %s", md.name)
	}
	rows := maxRows
	if mr, ok := s.modelLimit(md.name, "max_response"); ok {
		const probeRows = 16
		a := send(s, http.MethodPost, inferPath(md.name), md.jsonBody(probeRows, "0.5", 0), "Content-Type: application/json")
		if a.status != http.StatusOK {
			return nil, 0, fmt.Errorf("a %d-row request to %s: %v", probeRows, md.name, a)
		}
		// JSON numbers vary in length; keep a tenth in reserve.
		rows = min(rows, mr*9/10/(a.bodyLen/probeRows))
	}
	const overhead = 1 << 10
	rows = min(rows, (maxBody-overhead)/int64(md.jsonRowBytes("0.5")))
	if rows < 1 {
		return nil, 0, fmt.Errorf("%s: max_body %d holds no row", md.name, maxBody)
	}
	num := longNumber((maxBody - overhead) / (rows * int64(md.rowValues())))
	body := md.jsonBody(int(rows), num, int(maxBody-1))
	if int64(len(body)) > maxBody-1 {
		body = md.jsonBody(int(rows), "0.5", int(maxBody-1))
	}
	return body, int(rows), nil
}

// longNumber returns 0.5 written in about perValue bytes (with its comma),
// at most 64: the decoder reads every digit.
func longNumber(perValue int64) string {
	n := min(max(perValue-1, 3), 64)
	return "0.5" + strings.Repeat("0", int(n-3))
}

// latencyReport is one latency run's figures.
type latencyReport struct {
	transport            string
	clients              int
	duration             time.Duration
	requests, errors     int
	p50, p99, throughput float64 // ms, ms, requests per second
	firstError           string
}

// caseLatency: 200 concurrent clients send single-sample requests for a
// few seconds, over REST and over gRPC; every answer is checked against the
// fixture's expected output.
func caseLatency(cfg *config, fig *figures) []result {
	wantGRPC := cfg.flags["grpc-addr"]
	args, _ := cfg.serverArgs("--model", "example="+cfg.fixture("example"), "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0",
		"--max-batch", "32", "--max-inflight", strconv.Itoa(4*cfg.clients), "--max-conns", strconv.Itoa(4*cfg.clients))
	s, err := startServer("latency", cfg.bin, args, wantGRPC)
	if err != nil {
		return []result{fail("latency", "%v", err)}
	}
	defer s.stop()
	in, _, err := npyfile.Read(cfg.fixtures + "/example/input_0.npy")
	if err != nil {
		return []result{fail("latency", "%v", err)}
	}
	ref, _, err := npyfile.Read(cfg.fixtures + "/example/expected_0.npy")
	if err != nil {
		return []result{fail("latency", "%v", err)}
	}
	md, err := metadata(s, "example")
	if err != nil {
		return []result{fail("latency", "%v", err)}
	}
	samples := in.Shape[0]
	rowIn, rowOut := len(in.Data)/samples, len(ref.Data)/samples
	reqs := make([]*oip.InferRequest, samples)
	for k := range samples {
		shape := append([]int64{1}, md.inputs[0].Shape[1:]...)
		t := oip.NewFP32(md.inputs[0].Name, shape, in.Data[k*rowIn:(k+1)*rowIn])
		t.Binary = true
		reqs[k] = &oip.InferRequest{Inputs: []oip.Tensor{t}, BinaryOutput: true}
	}
	check := func(k int, resp *oip.InferResponse) error {
		if len(resp.Outputs) != 1 {
			return fmt.Errorf("%d outputs", len(resp.Outputs))
		}
		got, err := resp.Outputs[0].Float32s()
		if err != nil {
			return err
		}
		want := ref.Data[k*rowOut : (k+1)*rowOut]
		if len(got) != len(want) {
			return fmt.Errorf("%d values, want %d", len(got), len(want))
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 {
				return fmt.Errorf("value %d: %g, want %g", i, got[i], want[i])
			}
		}
		return nil
	}
	var out []result
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.clients, MaxConnsPerHost: cfg.clients}
	defer tr.CloseIdleConnections()
	rest := oip.NewClient(s.url(), &http.Client{Transport: tr, Timeout: 30 * time.Second})
	r := drive("REST", cfg.clients, cfg.loadTime, samples, func(ctx context.Context, k int) error {
		resp, err := rest.Infer(ctx, "example", reqs[k])
		if err != nil {
			return err
		}
		return check(k, resp)
	})
	fig.rest = r
	out = append(out, latencyResult("latency-rest", r))
	if !wantGRPC {
		return append(out, skip("latency-grpc", "needs --grpc-addr"))
	}
	infer, closeFn, err := grpcInfer(s.grpcAddr)
	if err != nil {
		return append(out, fail("latency-grpc", "%v", err))
	}
	defer closeFn()
	r = drive("gRPC", cfg.clients, cfg.loadTime, samples, func(ctx context.Context, k int) error {
		resp, err := infer(ctx, "example", reqs[k])
		if err != nil {
			return err
		}
		return check(k, resp)
	})
	fig.grpc = r
	return append(out, latencyResult("latency-grpc", r))
}

func latencyResult(name string, r *latencyReport) result {
	detail := fmt.Sprintf("%d clients, single-sample binary requests, %v: p50 %.2f ms, p99 %.2f ms, %.0f req/s, %d requests, %d errors",
		r.clients, r.duration, r.p50, r.p99, r.throughput, r.requests, r.errors)
	if r.errors > 0 || r.requests == 0 {
		return fail(name, "%s; first error: %s", detail, r.firstError)
	}
	return pass(name, "%s", detail)
}

// drive runs clients closed loops of do for a 500 ms warm-up and then d,
// measuring the latter; client c sends sample (c + i) mod samples.
func drive(transport string, clients int, d time.Duration, samples int, do func(ctx context.Context, k int) error) *latencyReport {
	ctx := context.Background()
	warm := time.Now().Add(500 * time.Millisecond)
	end := warm.Add(d)
	lat := make([][]time.Duration, clients)
	errs := make([]int, clients)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := do(ctx, (c+i)%samples)
				if t0.Before(warm) {
					continue
				}
				if err != nil {
					errs[c]++
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	r := &latencyReport{transport: transport, clients: clients, duration: d}
	var all []time.Duration
	for c := range clients {
		all = append(all, lat[c]...)
		r.errors += errs[c]
	}
	r.requests = len(all) + r.errors
	r.p50, r.p99 = percentileMs(all, 50), percentileMs(all, 99)
	r.throughput = float64(r.requests) / d.Seconds()
	if v := firstErr.Load(); v != nil {
		r.firstError = clip(v.(string), 300)
	}
	return r
}

// percentileMs returns the p-th percentile (nearest rank) of ds in
// milliseconds, sorting ds; 0 for none.
func percentileMs(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(p / 100 * float64(len(ds))))
	rank = min(max(rank, 1), len(ds))
	return float64(ds[rank-1].Microseconds()) / 1000
}
