package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/oip"
	"github.com/kerasrun/kerasrun/runtime"
)

// syncWriter collects output written from several goroutines.
type syncWriter struct {
	ch chan []byte
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.ch <- append([]byte(nil), p...)
	return len(p), nil
}

// lockedBuffer collects output written from goroutines that may outlive
// the test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fixtureCase returns a fixture case by id.
func fixtureCase(t *testing.T, id string) *golden.Case {
	t.Helper()
	cases, err := golden.Load(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		if cases[i].ID == id {
			return &cases[i]
		}
	}
	t.Fatalf("no fixture %q", id)
	return nil
}

// inferCase sends a fixture's inputs and checks the outputs against the
// fixture's expected outputs.
func inferCase(t *testing.T, c *oip.Client, model string, fc *golden.Case) {
	t.Helper()
	ins, err := fc.ReadInputs()
	if err != nil {
		t.Fatal(err)
	}
	req := &oip.InferRequest{ID: fc.ID}
	for k, x := range ins {
		shape := make([]int64, len(x.Shape))
		for i, d := range x.Shape {
			shape[i] = int64(d)
		}
		req.Inputs = append(req.Inputs, oip.NewFP32(fc.Inputs[k].Name, shape, x.Data))
	}
	res, err := c.Infer(context.Background(), model, req)
	if err != nil {
		t.Fatal(err)
	}
	var got []*runtime.Tensor
	for _, o := range res.Outputs {
		d, err := o.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		shape := make([]int, len(o.Shape))
		for i, v := range o.Shape {
			shape[i] = int(v)
		}
		x, err := runtime.NewTensor(shape, d)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	if err := fc.Check(got); err != nil {
		t.Fatalf("%s: %v", model, err)
	}
}

// TestServe runs the serve command on loopback with two models, one of
// them a weights-only file with --arch and one named after its file,
// checks their outputs against the fixtures, and stops it by cancelling
// its context (what SIGTERM does).
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := syncWriter{make(chan []byte, 1000)}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	wo := fixtureCase(t, "f3_wo_keras2_sequential")
	args := []string{
		"--model", "ex=" + filepath.Join(fixtures, "example", "model.h5"),
		"--model", filepath.Join(fixtures, "tagger", "model.h5"),
		"--model", "wo=" + wo.Model(), "--arch", "wo=" + wo.Arch(),
		"--addr", "127.0.0.1:0", "--max-batch", "8", "--max-delay", "1ms", "--log-level", "debug",
	}
	go func() { done <- serveMain(ctx, args, out, func(a string) { addr <- a }) }()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	c := oip.NewClient(base, nil)
	if ok, err := c.Ready(ctx); !ok || err != nil {
		t.Fatalf("ready: %v %v", ok, err)
	}
	for _, name := range []string{"ex", "model", "wo"} {
		if _, err := c.ModelMetadata(ctx, name); err != nil {
			t.Fatalf("metadata %s: %v", name, err)
		}
	}
	inferCase(t, c, "ex", fixtureCase(t, "example"))
	inferCase(t, c, "model", fixtureCase(t, "tagger"))
	inferCase(t, c, "wo", wo)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	close(out.ch)
	var logs strings.Builder
	for b := range out.ch {
		logs.Write(b)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		msgs = append(msgs, rec["msg"].(string))
	}
	all := strings.Join(msgs, "|")
	for _, want := range []string{"model loaded", "listening", "infer", "signal received; shutting down", "shutdown complete"} {
		if !strings.Contains(all, want) {
			t.Errorf("logs lack %q: %s", want, all)
		}
	}
}

// TestServeUsage checks the command-line errors of serve.
func TestServeUsage(t *testing.T) {
	ex := filepath.Join(fixtures, "example", "model.h5")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve"}, 2, "kerasrun: serve: needs at least one --model\nrun 'kerasrun serve --help'\n"},
		{[]string{"serve", ex}, 2, "no positional arguments"},
		{[]string{"serve", "--model", ex, "--max-batch", "0"}, 2, "must be positive"},
		{[]string{"serve", "--model", ex, "--max-body", "lots"}, 2, `"lots" is not a positive byte count`},
		{[]string{"serve", "--model", ex, "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"serve", "--model", ex, "--log-format", "xml"}, 2, "--log-format"},
		{[]string{"serve", "--model", ex, "--arch", "other=x.json"}, 2, `--arch for "other"`},
		{[]string{"serve", "--model", ex, "--arch", "nonsense"}, 2, "want NAME=ARCH.json"},
		{[]string{"serve", "--model", "x=/nonexistent.h5"}, 1, `model "x"`},
		{[]string{"serve", "--model", "a=" + ex, "--model", "a=" + ex}, 2, "given twice"},
		{[]string{"serve", "--model", ex, "--addr", "256.0.0.1:99999"}, 2, "out of range"},
		// Flags are checked before a model loads: a model that does not
		// exist is not reached.
		{[]string{"serve", "--model", "/nonexistent.h5", "--addr", "nocolon"}, 2, "--addr"},
		{[]string{"serve", "--model", "/nonexistent.h5", "--arch", "other=x.json"}, 2, `--arch for "other"`},
		{[]string{"serve", "--model", "/nonexistent.h5", "--max-body", "64M"}, 2, "--max-body"},
	} {
		code, _, stderr := runCLI(c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for s, want := range map[string]int64{
		"1048576": 1 << 20, "17B": 17,
		"512KiB": 512 << 10, "64MiB": 64 << 20, "1GiB": 1 << 30, "1TiB": 1 << 40,
		"2KB": 2e3, "64MB": 64e6, "3GB": 3e9, "1TB": 1e12,
	} {
		if got, err := parseBytes(s); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	// A unit without its B, or in another case, is ambiguous.
	for _, s := range []string{"", "0", "-1", "x", "3K", "64M", "64mb", "64Mib", "1.5MiB", "MiB", "2000TiB", "99999999999GiB"} {
		if _, err := parseBytes(s); err == nil {
			t.Errorf("parseBytes(%q): no error", s)
		}
	}
}

// TestServeSIGTERM runs kerasrun serve in a child process (this test
// binary), sends it SIGTERM, and checks that it exits 0 after a clean
// shutdown.
func TestServeSIGTERM(t *testing.T) {
	if os.Getenv("KERASRUN_SERVE_CHILD") == "1" {
		os.Exit(run([]string{"serve", "--model", filepath.Join(fixtures, "example", "model.h5"), "--addr", "127.0.0.1:0"}, strings.NewReader(""), os.Stdout, os.Stderr))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeSIGTERM$")
	cmd.Env = append(os.Environ(), "KERASRUN_SERVE_CHILD=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var addr string
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
			addr = rec.Addr
			break
		}
	}
	if addr == "" {
		t.Fatalf("no listening line: %q %s", lines, stderr.String())
	}
	c := oip.NewClient("http://"+addr, nil)
	inferCase(t, c, "model", fixtureCase(t, "example"))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s\n%s", err, strings.Join(lines, "\n"), stderr.String())
	}
	if !strings.Contains(strings.Join(lines, "\n"), `"msg":"shutdown complete"`) {
		t.Fatalf("no clean shutdown in the logs:\n%s", strings.Join(lines, "\n"))
	}
}

// TestServeStuckClientAtShutdown: on SIGTERM with a client that stopped
// reading its response, serve closes that connection after --grace and
// still exits 0.
func TestServeStuckClientAtShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	args := []string{
		"--model", "tagger=" + filepath.Join(fixtures, "tagger", "model.h5"),
		"--addr", "127.0.0.1:0", "--max-rows", "20000", "--write-timeout", "0", "--grace", "300ms",
	}
	// Handlers may still log after serveMain returns: a locked buffer.
	var logs lockedBuffer
	go func() { done <- serveMain(ctx, args, &logs, func(a string) { addr <- a }) }()
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	c, err := net.Dial("tcp", a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	// 20000 rows: a response of megabytes, never read.
	body := `{"inputs":[{"name":"conv1d_1_input","shape":[20000,7,5],"datatype":"FP32","data":[` + strings.Repeat("0,", 20000*35-1) + `0]}]}`
	fmt.Fprintf(c, "POST /v2/models/tagger/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	// Wait until the request is in flight, then a little for its
	// response to fill the connection's buffers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + a + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "kerasrun_inflight_requests 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the request never got in flight")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v, want nil after --grace", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(logs.String(), "the grace period ended with requests in flight; connections closed") {
		t.Errorf("no log of the connections closed after --grace:\n%s", logs.String())
	}
}

// TestMemoryLimitFlag: --memory-limit parses auto, off and byte counts,
// and a cgroup limit file reads as the limit, "max" as none.
func TestMemoryLimitFlag(t *testing.T) {
	for in, want := range map[string]memoryLimit{"auto": {auto: true}, "off": {}, "1GiB": {bytes: 1 << 30}} {
		got, err := parseMemoryLimit(in)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	if _, err := parseMemoryLimit("lots"); err == nil {
		t.Error("lots: no error")
	}
	dir := t.TempDir()
	for content, want := range map[string]int64{"2147483648\n": 2 << 30, "max\n": 0, "9223372036854771712\n": 0, "": 0} {
		f := filepath.Join(dir, "memory.max")
		os.WriteFile(f, []byte(content), 0o600)
		if got := cgroupLimit(f); got != want {
			t.Errorf("%q: %d, want %d", content, got, want)
		}
	}
	if got := cgroupLimit(filepath.Join(dir, "none")); got != 0 {
		t.Errorf("missing file: %d", got)
	}
}
