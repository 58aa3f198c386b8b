package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The main server's limits: small, so that each case is cheap.
const (
	mainTimeout      = 2 * time.Second
	mainWriteTimeout = 2 * time.Second
	mainGrace        = 3 * time.Second
	mainMaxRows      = 4096
	mainMaxConns     = 256
	mainMaxInflight  = 8
	// logBound and bodyBound bound a log line and an error body that echo
	// a client's string.
	logBound  = 4 << 10
	bodyBound = 4 << 10
)

// runMain starts the main server (a single-input, a large-output and a
// two-input model) and runs the cases of want that use it; the shutdown
// case, or else a plain SIGTERM, stops it.
func runMain(cfg *config, want []string, report func(result)) {
	args, dropped := cfg.serverArgs(
		"--model", "example="+cfg.fixture("example"),
		"--model", "convt="+cfg.fixture("i4_convt_valid_s_gt_k"),
		"--model", "multi="+cfg.fixture("functional_multi_io"),
		"--addr", "127.0.0.1:0", "--max-batch", "32",
		"--max-rows", strconv.Itoa(mainMaxRows), "--max-inflight", strconv.Itoa(mainMaxInflight),
		"--max-conns", strconv.Itoa(mainMaxConns),
		"--timeout", mainTimeout.String(), "--write-timeout", mainWriteTimeout.String(), "--grace", mainGrace.String(),
	)
	if len(dropped) > 0 {
		fmt.Printf("     (main server without %s: this binary lacks them)\n", strings.Join(dropped, ", "))
	}
	s, err := startServer("main", cfg.bin, args, false)
	if err != nil {
		for _, c := range want {
			if c != "flood" && c != "rss" && c != "latency" {
				report(fail(c, "the server did not start: %v", err))
			}
		}
		return
	}
	type mainCase struct {
		name string
		run  func(*config, *server) result
	}
	for _, c := range []mainCase{
		{"slowloris", caseSlowloris}, {"slow-body", caseSlowBody}, {"slow-reader", caseSlowReader},
		{"oversize", caseOversize}, {"overflow", caseOverflow}, {"huge-names", caseHugeNames}, {"rows", caseRows},
	} {
		if !slices.Contains(want, c.name) {
			continue
		}
		if !s.alive() {
			report(fail(c.name, "the server is gone (%v); its log:\n%s", s.exitErr, s.logs.tail(15)))
			continue
		}
		mark := s.logs.mark()
		r := c.run(cfg, s)
		s.logs.settle(100*time.Millisecond, 2*time.Second)
		if _, _, alarm := s.logs.since(mark); alarm != "" && r.status != "FAIL" {
			r = fail(c.name, "%s; but the server logged: %s", r.detail, alarm)
		}
		report(r)
	}
	if slices.Contains(want, "shutdown") {
		report(caseShutdown(cfg, s))
	} else if err := s.stop(); err != nil {
		report(fail("main", "the server's exit after SIGTERM: %v", err))
	}
}

// live reports whether /v2/health/live answers 200 on a fresh connection.
func live(s *server) bool {
	return send(s, http.MethodGet, "/v2/health/live", nil).status == http.StatusOK
}

// caseSlowloris: connections that send a request header a byte at a time
// are closed by the server, and health answers meanwhile.
func caseSlowloris(cfg *config, s *server) result {
	const name = "slowloris"
	const limit = 20 * time.Second
	n := min(cfg.slowConns, mainMaxConns/2)
	start := time.Now()
	closedAt := make([]atomic.Int64, n) // nanoseconds after start; 0: open
	var wg sync.WaitGroup
	stop := make(chan struct{})
	dialed := 0
	for i := range n {
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			close(stop)
			wg.Wait()
			return fail(name, "dial %d: %v", i, err)
		}
		dialed++
		wg.Add(2)
		done := make(chan struct{})
		go func() { // the reader: returns when the server closes
			defer wg.Done()
			defer close(done)
			c.SetReadDeadline(time.Now().Add(limit + 5*time.Second))
			io.Copy(io.Discard, c)
			closedAt[i].Store(int64(time.Since(start)))
		}()
		go func() { // the trickle: one byte every 300 ms, never ending the header
			defer wg.Done()
			defer c.Close()
			head := "GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
			t := time.NewTicker(300 * time.Millisecond)
			defer t.Stop()
			for k := 0; ; k++ {
				b := byte('a')
				if k < len(head) {
					b = head[k]
				}
				if _, err := c.Write([]byte{b}); err != nil {
					<-done
					return
				}
				select {
				case <-done:
					return
				case <-stop:
					return
				case <-t.C:
				}
				if time.Since(start) > limit {
					return
				}
			}
		}()
	}
	// Health probes on fresh connections while the trickles go on.
	probes, failed := 0, 0
	var slowest time.Duration
	allClosed := func() bool {
		for i := range closedAt {
			if closedAt[i].Load() == 0 {
				return false
			}
		}
		return true
	}
	for time.Since(start) < limit+time.Second {
		a := send(s, http.MethodGet, "/v2/health/live", nil)
		probes++
		if a.status != http.StatusOK {
			failed++
		}
		slowest = max(slowest, a.elapsed)
		time.Sleep(250 * time.Millisecond)
		if allClosed() {
			break
		}
	}
	close(stop)
	wg.Wait()
	var first, last time.Duration
	open := 0
	for i := range closedAt {
		d := time.Duration(closedAt[i].Load())
		if d == 0 || d > limit+time.Second {
			open++
			continue
		}
		if first == 0 || d < first {
			first = d
		}
		last = max(last, d)
	}
	detail := fmt.Sprintf("%d connections trickling a header byte every 300 ms: %d closed by the server after %.1f-%.1f s, %d still open at %v; %d/%d health probes answered meanwhile (slowest %v)",
		dialed, dialed-open, first.Seconds(), last.Seconds(), open, limit, probes-failed, probes, slowest.Round(time.Millisecond))
	if open > 0 || failed > 0 {
		return fail(name, "%s", detail)
	}
	return pass(name, "%s", detail)
}

// caseSlowBody: a body that trickles past --timeout gets 408 (or 504, or a
// closed connection), never 499, and is not counted as 499.
func caseSlowBody(cfg *config, s *server) result {
	const name = "slow-body"
	timeout := mainTimeout
	if d, ok := s.durationAttr("timeout"); ok && d > 0 {
		timeout = d
	}
	before, err := s.metrics(context.Background())
	if err != nil {
		return fail(name, "metrics: %v", err)
	}
	var parts []string
	ok := true
	for _, chunked := range []bool{false, true} {
		a := slowBody(s, chunked, timeout+8*time.Second)
		kind := "Content-Length"
		if chunked {
			kind = "chunked"
		}
		switch {
		case a.err == nil && (a.status == http.StatusRequestTimeout || a.status == http.StatusGatewayTimeout):
			parts = append(parts, fmt.Sprintf("%s: %d after %.1f s", kind, a.status, a.elapsed.Seconds()))
		case a.err != nil && errors.Is(a.err, errClosedEarly):
			parts = append(parts, fmt.Sprintf("%s: connection closed after %.1f s", kind, a.elapsed.Seconds()))
		default:
			ok = false
			parts = append(parts, fmt.Sprintf("%s: %v after %.1f s (want 408)", kind, a, a.elapsed.Seconds()))
		}
	}
	after, err := s.metrics(context.Background())
	if err != nil {
		return fail(name, "metrics: %v", err)
	}
	n499 := sumMetric(after, "kerasrun_requests_total", `code="499"`) - sumMetric(before, "kerasrun_requests_total", `code="499"`)
	detail := fmt.Sprintf("a body trickling past --timeout %v: %s; 499s counted: %.0f", timeout, strings.Join(parts, "; "), n499)
	if !ok || n499 != 0 {
		return fail(name, "%s", detail)
	}
	return pass(name, "%s", detail)
}

var errClosedEarly = errors.New("the server closed the connection without an answer")

// slowBody sends an infer request whose body (valid JSON so far: then only
// spaces) trickles a byte every 250 ms, and waits at most limit for the
// answer.
func slowBody(s *server, chunked bool, limit time.Duration) answer {
	start := time.Now()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		return answer{err: err}
	}
	defer c.Close()
	first := `{"inputs":`
	var head string
	if chunked {
		head = rawHead("POST", inferPath("example"), "Content-Type: application/json", "Transfer-Encoding: chunked") +
			fmt.Sprintf("%x\r\n%s\r\n", len(first), first)
	} else {
		head = rawHead("POST", inferPath("example"), "Content-Type: application/json", "Content-Length: 100000") + first
	}
	if _, err := io.WriteString(c, head); err != nil {
		return answer{err: err}
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			b := " "
			if chunked {
				b = "1\r\n \r\n"
			}
			if _, err := io.WriteString(c, b); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(start.Add(limit))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	el := time.Since(start)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return answer{err: fmt.Errorf("no answer within %v", limit), elapsed: el}
		}
		return answer{err: fmt.Errorf("%w (%v)", errClosedEarly, err), elapsed: el}
	}
	defer resp.Body.Close()
	var h bytes.Buffer
	n, _ := io.Copy(&capWriter{buf: &h, max: keepHead}, resp.Body)
	return answer{status: resp.StatusCode, head: h.Bytes(), bodyLen: n, elapsed: el}
}

// caseSlowReader: clients that stop reading a large response are cut off
// within --write-timeout: the server's goroutines return to their baseline,
// and other requests are served meanwhile.
func caseSlowReader(cfg *config, s *server) result {
	const name = "slow-reader"
	if miss := cfg.needFlags("write-timeout"); len(miss) > 0 {
		return skip(name, "needs %s", strings.Join(miss, ", "))
	}
	const clients = 4
	wt := mainWriteTimeout
	if d, ok := s.durationAttr("write_timeout"); ok && d > 0 {
		wt = d
	}
	body, respLen, err := largeResponseRequest(s, 16<<20)
	if err != nil {
		return fail(name, "%v", err)
	}
	g0, err := goroutines(s)
	if err != nil {
		return fail(name, "metrics: %v", err)
	}
	start := time.Now()
	conns := make([]net.Conn, 0, clients)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range clients {
		c, err := dialSmallBuffer(s.addr)
		if err != nil {
			return fail(name, "dial: %v", err)
		}
		conns = append(conns, c)
		head := rawHead("POST", inferPath("convt"), "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(body)))
		if _, err := io.WriteString(c, head); err != nil {
			return fail(name, "write: %v", err)
		}
		if _, err := c.Write(body); err != nil {
			return fail(name, "write: %v", err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	gPinned, _ := goroutines(s)
	served := send(s, http.MethodGet, "/v2/health/ready", nil)
	// Wait for the goroutines to come back to the baseline.
	deadline := start.Add(mainTimeout + wt + 10*time.Second)
	var freedAt time.Duration
	for time.Now().Before(deadline) {
		g, err := goroutines(s)
		if err == nil && g <= g0+1 {
			freedAt = time.Since(start)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	gEnd, _ := goroutines(s)
	// Drain what the server sent: a client cut off gets less than the
	// response.
	var got []int64
	cut := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.Copy(io.Discard, c)
		got = append(got, n)
		var ne net.Error
		if n < respLen && !(errors.As(err, &ne) && ne.Timeout()) {
			cut++
		}
	}
	emd, err := metadata(s, "example")
	if err != nil {
		return fail(name, "%v", err)
	}
	small, jl := emd.binaryBody(1, 0.5, true)
	after := send(s, http.MethodPost, inferPath("example"), small, binaryHeaders(jl)...)
	detail := fmt.Sprintf("%d clients stopped reading a %.1f MB response: goroutines %d -> %d -> %d, back to the baseline after %.1f s (--write-timeout %v); %d/%d cut off (read %s of it); meanwhile /v2/health/ready %d, later a request got %d",
		clients, float64(respLen)/1e6, g0, gPinned, gEnd, freedAt.Seconds(), wt, cut, clients, mbList(got), served.status, after.status)
	if freedAt == 0 || cut < clients || served.status != http.StatusOK || after.status != http.StatusOK {
		if freedAt == 0 {
			detail += fmt.Sprintf("; goroutines not back within %v", deadline.Sub(start).Round(time.Second))
		}
		return fail(name, "%s", detail)
	}
	return pass(name, "%s", detail)
}

func mbList(ns []int64) string {
	var p []string
	for _, n := range ns {
		p = append(p, fmt.Sprintf("%.1f", float64(n)/1e6))
	}
	return strings.Join(p, "/") + " MB"
}

// largeResponseRequest builds a JSON request to convt (the model with the
// largest output per input byte) whose JSON response is about target bytes,
// within the model's --max-rows and max_response; it returns the body and
// the response's size.
func largeResponseRequest(s *server, target int64) ([]byte, int64, error) {
	md, err := metadata(s, "convt")
	if err != nil {
		return nil, 0, err
	}
	const probeRows = 64
	a := send(s, http.MethodPost, inferPath("convt"), md.jsonBody(probeRows, "0.5", 0), "Content-Type: application/json")
	if a.status != http.StatusOK {
		return nil, 0, fmt.Errorf("a %d-row request to convt: %v", probeRows, a)
	}
	perRow := a.bodyLen / probeRows
	rows := target / perRow
	if mr, ok := s.modelLimit("convt", "max_rows"); ok {
		rows = min(rows, mr)
	}
	if mr, ok := s.modelLimit("convt", "max_response"); ok {
		rows = min(rows, mr*9/10/perRow)
	}
	if mb, ok := s.modelLimit("convt", "max_body"); ok {
		rows = min(rows, mb*9/10/int64(md.jsonRowBytes("0.5")))
	}
	size := rows * perRow
	// The server's send buffer and the client's receive buffer take a few
	// MB on loopback; past that the server's writes block.
	if size < 8<<20 {
		return nil, 0, fmt.Errorf("the largest response the limits allow is %.1f MB (%d rows), too small to outlast the socket buffers", float64(size)/1e6, rows)
	}
	body := md.jsonBody(int(rows), "0.5", 0)
	a = send(s, http.MethodPost, inferPath("convt"), body, "Content-Type: application/json")
	if a.status != http.StatusOK {
		return nil, 0, fmt.Errorf("a %d-row request to convt: %v", rows, a)
	}
	return body, a.bodyLen, nil
}

// caseShutdown: SIGTERM with a client stuck reading a large response exits
// 0 within --grace (plus a margin), having closed that connection.
func caseShutdown(cfg *config, s *server) result {
	const name = "shutdown"
	if !s.alive() {
		return fail(name, "the server is gone (%v)", s.exitErr)
	}
	body, respLen, err := largeResponseRequest(s, 16<<20)
	if err != nil {
		// Without a large response there is no stuck client: stop anyway.
		e := s.stop()
		return fail(name, "%v; exit after SIGTERM: %v", err, e)
	}
	c, err := dialSmallBuffer(s.addr)
	if err != nil {
		s.stop()
		return fail(name, "dial: %v", err)
	}
	defer c.Close()
	io.WriteString(c, rawHead("POST", inferPath("convt"), "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(body))))
	c.Write(body)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	exitErr := s.stop()
	took := time.Since(start)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, rerr := io.Copy(io.Discard, c)
	var ne net.Error
	closed := n < respLen && !(errors.As(rerr, &ne) && ne.Timeout())
	detail := fmt.Sprintf("SIGTERM with a client stuck on a %.1f MB response: exit %v after %.1f s (--grace %v); the stuck connection closed: %v (read %.1f MB)",
		float64(respLen)/1e6, exitStatus(exitErr), took.Seconds(), mainGrace, closed, float64(n)/1e6)
	if exitErr != nil || !closed || took > mainGrace+5*time.Second {
		return fail(name, "%s", detail)
	}
	return pass(name, "%s", detail)
}

func exitStatus(err error) string {
	if err == nil {
		return "0"
	}
	return err.Error()
}

// caseOversize: a Content-Length over the body limit gets 413 at once; a
// chunked body over it gets 413 after the server read at most the limit.
func caseOversize(cfg *config, s *server) result {
	const name = "oversize"
	limit, ok := s.modelLimit("example", "max_body")
	if !ok {
		return fail(name, "no max_body in the server's log records")
	}
	// Content-Length over the limit, no body sent.
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		return fail(name, "dial: %v", err)
	}
	start := time.Now()
	io.WriteString(c, rawHead("POST", inferPath("example"), "Content-Type: application/json", "Content-Length: "+strconv.FormatInt(limit+1, 10)))
	c.SetReadDeadline(time.Now().Add(mainTimeout + 5*time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	clStatus, clTook := 0, time.Since(start)
	if err == nil {
		clStatus = resp.StatusCode
		resp.Body.Close()
	}
	c.Close()

	// A chunked body streamed as fast as the server takes it, up to the
	// limit plus 8 MiB (at least twice the limit).
	r0, rerr := s.readChars()
	chStatus, sent, r1, chErr := chunkedFlood(s, max(2*limit, limit+8<<20))
	read := "n/a"
	readOK := true
	// The slack covers net/http, which reads and discards up to 256 KiB of
	// a body the handler left unread before it sends the answer (unless
	// the answer closes the connection), and two 64 KiB chunks: the one in
	// flight when the answer comes and the one rchar may count before the
	// suite reads it.
	slack := int64(384 << 10)
	if rerr == nil && r1 > 0 {
		read = fmt.Sprintf("%.2f MB (%d KiB past the limit)", float64(r1-r0)/1e6, (r1-r0-limit)>>10)
		readOK = r1-r0 <= limit+slack
	}
	detail := fmt.Sprintf("body limit %.2f MB: Content-Length %d -> %d after %v; a chunked stream -> %d, the server read %s of it (the client sent %.2f MB)",
		float64(limit)/1e6, limit+1, clStatus, clTook.Round(time.Millisecond), chStatus, read, float64(sent)/1e6)
	if chErr != nil {
		detail += "; " + chErr.Error()
	}
	if clStatus != http.StatusRequestEntityTooLarge || chStatus != http.StatusRequestEntityTooLarge || !readOK {
		if !readOK {
			detail += fmt.Sprintf("; over the limit + %d KiB", slack>>10)
		}
		return fail(name, "%s", detail)
	}
	return pass(name, "%s", detail)
}

// chunkedFlood streams a chunked JSON body of up to total bytes (spaces
// after a valid start) and returns the status of the answer, the bytes it
// sent, and the server's rchar when the answer arrived (0 if unknown).
func chunkedFlood(s *server, total int64) (status int, sent, rchar int64, err error) {
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	if _, err := io.WriteString(c, rawHead("POST", inferPath("example"), "Content-Type: application/json", "Transfer-Encoding: chunked")); err != nil {
		return 0, 0, 0, err
	}
	type answered struct {
		status int
		rchar  int64
	}
	done := make(chan answered, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		br := bufio.NewReader(c)
		// rchar is read as soon as the answer's first byte arrives,
		// before the server goes on to discard what follows.
		if _, err := br.Peek(1); err != nil {
			done <- answered{}
			return
		}
		rc, _ := s.readChars()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			done <- answered{rchar: rc}
			return
		}
		resp.Body.Close()
		done <- answered{resp.StatusCode, rc}
	}()
	chunk := bytes.Repeat([]byte{' '}, 64<<10)
	copy(chunk, `{"inputs":`)
	frame := append([]byte(fmt.Sprintf("%x\r\n", len(chunk))), chunk...)
	frame = append(frame, "\r\n"...)
	c.SetWriteDeadline(time.Now().Add(60 * time.Second))
	r0, rerr := s.readChars()
	for sent < total {
		select {
		case a := <-done:
			return a.status, sent, a.rchar, nil
		default:
		}
		if _, err := c.Write(frame); err != nil {
			break
		}
		sent += int64(len(frame))
		// Later chunks are spaces only.
		copy(frame[len(frame)-2-len(chunk):], bytes.Repeat([]byte{' '}, 16))
		// Paced: the next chunk goes once the server has read this one
		// (or stopped reading for 50 ms), so that little waits in its
		// socket buffer for net/http to read and discard after the answer,
		// and rchar at the answer is what the server read before it.
		for wait := time.Now().Add(50 * time.Millisecond); rerr == nil && time.Now().Before(wait); {
			if r, err := s.readChars(); err != nil || r-r0 >= sent {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	select {
	case a := <-done:
		return a.status, sent, a.rchar, nil
	case <-time.After(mainTimeout + 5*time.Second):
		return 0, sent, 0, errors.New("no answer after the whole stream")
	}
}

// overflowCases are infer requests whose shapes, byte sizes or header
// lengths overflow: each must get a 4xx, never a panic or a 200.
var overflowCases = []struct {
	what, model string
	json        string // the JSON part
	binary      bool   // sent with the binary extension (no data follows)
	headerLen   string // the Inference-Header-Content-Length, if not len(json)
}{
	{"binary [2^62] size 0", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[4611686018427387904],"datatype":"FP32","parameters":{"binary_data_size":0}}]}`, true, ""},
	{"binary [2^62,5,10] size 0", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[4611686018427387904,5,10],"datatype":"FP32","parameters":{"binary_data_size":0}}]}`, true, ""},
	{"binary [3037000500,3037000500]", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[3037000500,3037000500],"datatype":"FP32","parameters":{"binary_data_size":0}}]}`, true, ""},
	{"binary 64 x [2] (2^64)", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[` + strings.TrimSuffix(strings.Repeat("2,", 64), ",") + `],"datatype":"FP32","parameters":{"binary_data_size":0}}]}`, true, ""},
	{"binary size 2^63-1", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[1,5,10],"datatype":"FP32","parameters":{"binary_data_size":9223372036854775807}}]}`, true, ""},
	{"binary size -200", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[1,5,10],"datatype":"FP32","parameters":{"binary_data_size":-200}}]}`, true, ""},
	{"binary size 2^64", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[1,5,10],"datatype":"FP32","parameters":{"binary_data_size":18446744073709551616}}]}`, true, ""},
	{"binary [-1,5,10]", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[-1,5,10],"datatype":"FP32","parameters":{"binary_data_size":0}}]}`, true, ""},
	{"binary FP64 [2^60,2,2,2]", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[1152921504606846976,2,2,2],"datatype":"FP64","parameters":{"binary_data_size":0}}]}`, true, ""},
	{"header length 2^63-1", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[1,5,10],"datatype":"FP32","parameters":{"binary_data_size":200}}]}`, true, "9223372036854775807"},
	{"header length -1", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[1,5,10],"datatype":"FP32","parameters":{"binary_data_size":200}}]}`, true, "-1"},
	{"two inputs, second [2^62,3]", "multi", `{"inputs":[{"name":"input_1","shape":[1,6,4],"datatype":"FP32","parameters":{"binary_data_size":96}},{"name":"input_2","shape":[4611686018427387904,3],"datatype":"FP32","parameters":{"binary_data_size":0}}]}`, true, ""},
	{"JSON [2^62] data []", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[4611686018427387904],"datatype":"FP32","data":[]}]}`, false, ""},
	{"JSON [2^62,5,10] data [1]", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[4611686018427387904,5,10],"datatype":"FP32","data":[1]}]}`, false, ""},
	{"JSON [2^63-1] data []", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[9223372036854775807],"datatype":"FP32","data":[]}]}`, false, ""},
	{"JSON [2^64] data []", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[18446744073709551616],"datatype":"FP32","data":[]}]}`, false, ""},
	{"JSON 64 x [2] data []", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[` + strings.TrimSuffix(strings.Repeat("2,", 64), ",") + `],"datatype":"FP32","data":[]}]}`, false, ""},
	{"JSON [1e30]", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[1e30],"datatype":"FP32","data":[]}]}`, false, ""},
	{"JSON INT64 [2^61,2,2] data []", "example", `{"inputs":[{"name":"bidirectional_1_input","shape":[2305843009213693952,2,2],"datatype":"INT64","data":[]}]}`, false, ""},
	{"JSON two inputs, first [2^62,6,4]", "multi", `{"inputs":[{"name":"input_1","shape":[4611686018427387904,6,4],"datatype":"FP32","data":[]},{"name":"input_2","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}`, false, ""},
}

// caseOverflow: overflowing shapes and sizes get 400 (413 is taken for a
// row count over the limit); the server stays live and counts no 200.
func caseOverflow(cfg *config, s *server) result {
	const name = "overflow"
	before, err := s.metrics(context.Background())
	if err != nil {
		return fail(name, "metrics: %v", err)
	}
	codes := map[int]int{}
	var bad []string
	for _, c := range overflowCases {
		body := []byte(c.json)
		headers := []string{"Content-Type: application/json"}
		if c.binary {
			if c.model == "multi" {
				body = append(body, make([]byte, 96)...)
			}
			hl := c.headerLen
			if hl == "" {
				hl = strconv.Itoa(len(c.json))
			}
			headers = []string{"Content-Type: application/octet-stream", "Inference-Header-Content-Length: " + hl}
		}
		a := send(s, http.MethodPost, inferPath(c.model), body, headers...)
		codes[a.status]++
		if a.err != nil || (a.status != http.StatusBadRequest && a.status != http.StatusRequestEntityTooLarge) {
			bad = append(bad, fmt.Sprintf("%s: %v", c.what, a))
		}
	}
	after, err := s.metrics(context.Background())
	if err != nil {
		return fail(name, "metrics after: %v", err)
	}
	var n200, n5xx float64
	for _, code := range []string{"200", "500", "502", "503", "504"} {
		d := sumMetric(after, "kerasrun_requests_total", `code="`+code+`"`) - sumMetric(before, "kerasrun_requests_total", `code="`+code+`"`)
		if code == "200" {
			n200 = d
		} else {
			n5xx += d
		}
	}
	isLive := live(s)
	detail := fmt.Sprintf("%d overflowing requests (JSON and binary, shapes, sizes, header lengths): statuses %v; 200s counted %.0f, 5xx counted %.0f; live afterwards: %v",
		len(overflowCases), codes, n200, n5xx, isLive)
	if len(bad) > 0 || n200 != 0 || n5xx != 0 || !isLive {
		if len(bad) > 0 {
			detail += "; want 400: " + strings.Join(bad, "; ")
		}
		return fail(name, "%s", detail)
	}
	return pass(name, "%s", detail)
}

// caseHugeNames: megabyte strings in names, ids and the model name get an
// error body and a log line of bounded size.
func caseHugeNames(cfg *config, s *server) result {
	const name = "huge-names"
	size := int64(10 << 20)
	if mb, ok := s.modelLimit("example", "max_body"); ok {
		size = min(size, mb-(4<<10))
	}
	if size < 64<<10 {
		return fail(name, "the body limit leaves %d bytes for a name", size)
	}
	huge := strings.Repeat("n", int(size))
	valid := `{"name":"bidirectional_1_input","shape":[1,5,10],"datatype":"FP32","data":[` + strings.TrimSuffix(strings.Repeat("0.5,", 50), ",") + `]}`
	type sub struct {
		what, path, body string
		ok200            bool // a 200 may echo the string (the protocol echoes the id)
	}
	subs := []sub{
		{"input name", inferPath("example"), `{"inputs":[{"name":"` + huge + `","shape":[1,5,10],"datatype":"FP32","data":[` + strings.TrimSuffix(strings.Repeat("0.5,", 50), ",") + `]}]}`, false},
		{"request id, bad input", inferPath("example"), `{"id":"` + huge + `","inputs":[{"name":"x","shape":[1,5,10],"datatype":"FP32","data":[]}]}`, false},
		{"request id, valid request", inferPath("example"), `{"id":"` + huge + `","inputs":[` + valid + `]}`, true},
		{"output name", inferPath("example"), `{"inputs":[` + valid + `],"outputs":[{"name":"` + huge + `"}]}`, false},
		{"datatype", inferPath("example"), `{"inputs":[{"name":"bidirectional_1_input","shape":[1,5,10],"datatype":"` + huge + `","data":[]}]}`, false},
		{"parameter name", inferPath("example"), `{"inputs":[` + valid + `],"parameters":{"` + huge + `":1}}`, false},
		{"model name 64 KiB", inferPath(strings.Repeat("m", 64<<10)), `{"inputs":[` + valid + `]}`, false},
		{"model name 900 KiB", inferPath(strings.Repeat("m", 900<<10)), `{"inputs":[` + valid + `]}`, false},
	}
	var parts, bad []string
	mark := s.logs.mark()
	for _, x := range subs {
		a := send(s, http.MethodPost, x.path, []byte(x.body), "Content-Type: application/json")
		parts = append(parts, fmt.Sprintf("%s -> %d, %d-byte body", x.what, a.status, a.bodyLen))
		switch {
		// A status with an error after it is a server that answered and
		// closed the connection while the request was still arriving.
		case a.status == 0:
			bad = append(bad, fmt.Sprintf("%s: %v", x.what, a))
		case a.status >= 500:
			bad = append(bad, fmt.Sprintf("%s: %v", x.what, a))
		case a.status == http.StatusOK && !x.ok200:
			bad = append(bad, fmt.Sprintf("%s: 200", x.what))
		case a.status != http.StatusOK && a.bodyLen > bodyBound:
			bad = append(bad, fmt.Sprintf("%s: a %d-byte error body", x.what, a.bodyLen))
		}
	}
	s.logs.settle(100*time.Millisecond, 2*time.Second)
	lines, longest, _ := s.logs.since(mark)
	detail := fmt.Sprintf("strings of %.1f MB: %s; longest of %d log lines: %d bytes", float64(size)/1e6, strings.Join(parts, "; "), lines, longest)
	if longest > logBound {
		bad = append(bad, fmt.Sprintf("a %d-byte log line", longest))
	}
	if !live(s) {
		bad = append(bad, "not live afterwards")
	}
	if len(bad) > 0 {
		return fail(name, "%s; over the %d-byte bound or wrong: %s", detail, bodyBound, strings.Join(bad, "; "))
	}
	return pass(name, "%s", detail)
}

// caseRows: a request over --max-rows gets 413 before any batch runs; one
// at --max-rows is served.
func caseRows(cfg *config, s *server) result {
	const name = "rows"
	if miss := cfg.needFlags("max-rows"); len(miss) > 0 {
		return skip(name, "needs %s", strings.Join(miss, ", "))
	}
	var parts, bad []string
	for _, model := range []string{"example", "multi"} {
		maxRows, ok := s.modelLimit(model, "max_rows")
		if !ok {
			return fail(name, "no max_rows in the log records of model %q", model)
		}
		md, err := metadata(s, model)
		if err != nil {
			return fail(name, "%v", err)
		}
		before, _ := s.metrics(context.Background())
		body, jl := md.binaryBody(int(maxRows)+1, 0.5, true)
		over := send(s, http.MethodPost, inferPath(model), body, binaryHeaders(jl)...)
		after, _ := s.metrics(context.Background())
		ran := sumMetric(after, "kerasrun_batch_size_count", `model="`+model+`"`) - sumMetric(before, "kerasrun_batch_size_count", `model="`+model+`"`)
		body, jl = md.binaryBody(int(maxRows), 0.5, true)
		at := send(s, http.MethodPost, inferPath(model), body, binaryHeaders(jl)...)
		parts = append(parts, fmt.Sprintf("%s: %d rows -> %d (batches run: %.0f), %d rows -> %d", model, maxRows+1, over.status, ran, maxRows, at.status))
		if over.status != http.StatusRequestEntityTooLarge || ran != 0 {
			bad = append(bad, fmt.Sprintf("%s over: %v", model, over))
		}
		if at.status != http.StatusOK {
			bad = append(bad, fmt.Sprintf("%s at the limit: %v", model, at))
		}
	}
	detail := strings.Join(parts, "; ")
	if len(bad) > 0 {
		return fail(name, "%s; %s", detail, strings.Join(bad, "; "))
	}
	return pass(name, "%s", detail)
}
