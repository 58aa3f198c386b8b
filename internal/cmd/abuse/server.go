package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is one `kerasrun serve` subprocess on loopback.
type server struct {
	label     string
	cmd       *exec.Cmd
	pid       int
	addr      string // host:port of the HTTP listener
	grpcAddr  string // host:port of the gRPC listener, or ""
	listening map[string]any
	models    map[string]map[string]any // the "model added" record of each model
	logs      *logWatch
	exited    chan struct{}
	exitErr   error
}

// serveFlags lists the flags `kerasrun serve --help` names, so that a case
// whose flag the binary lacks is skipped with a reason rather than failing
// at startup.
func serveFlags(bin string) (map[string]bool, error) {
	out, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if len(out) == 0 && err != nil {
		return nil, fmt.Errorf("%s serve --help: %v", bin, err)
	}
	return parseFlagNames(string(out)), nil
}

var flagLine = regexp.MustCompile(`(?m)^[ \t]+--?([a-z][a-z0-9-]*)`)

// parseFlagNames returns the flag names of a flag.PrintDefaults listing.
func parseFlagNames(help string) map[string]bool {
	names := map[string]bool{}
	for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
		names[m[1]] = true
	}
	return names
}

// startServer starts bin serve with args (each "--flag", "value" pair or
// "--model", spec) and waits for its "listening" record, and for the gRPC
// listener's address when wantGRPC.
func startServer(label, bin string, args []string, wantGRPC bool) (*server, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	args = append([]string{"serve", "--log-format", "json", "--log-level", "info"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	pw.Close()
	s := &server{label: label, cmd: cmd, pid: cmd.Process.Pid, models: map[string]map[string]any{}, exited: make(chan struct{})}
	s.logs = newLogWatch(pr)
	go func() {
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	deadline := time.After(30 * time.Second)
	for {
		for _, rec := range s.logs.records() {
			switch rec["msg"] {
			case "listening":
				s.listening = rec
				if a, ok := rec["addr"].(string); ok {
					s.addr = a
				}
			case "model added":
				if m, ok := rec["model"].(string); ok {
					s.models[m] = rec
				}
			}
			if a, ok := rec["grpc_addr"].(string); ok && a != "" {
				s.grpcAddr = a
			} else if msg, _ := rec["msg"].(string); strings.Contains(strings.ToLower(msg), "grpc") {
				if a, ok := rec["addr"].(string); ok {
					s.grpcAddr = a
				}
			}
		}
		if s.addr != "" && (!wantGRPC || s.grpcAddr != "") {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s server exited at startup (%v); its log:\n%s", label, s.exitErr, s.logs.tail(20))
		case <-deadline:
			s.stop()
			return nil, fmt.Errorf("%s server: no listening record within 30 s; its log:\n%s", label, s.logs.tail(20))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// url returns the server's base URL.
func (s *server) url() string { return "http://" + s.addr }

// stop sends SIGTERM and waits for the exit (SIGKILL after 30 s); it
// returns the exit error.
func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return errors.New("no exit 30 s after SIGTERM; killed")
	}
	return s.exitErr
}

// alive reports whether the process is still running.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// intAttr returns a numeric attribute of a log record (a JSON number, or a
// string holding one), and false when it is absent.
func intAttr(rec map[string]any, key string) (int64, bool) {
	switch v := rec[key].(type) {
	case float64:
		return int64(v), true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// modelLimit returns a per-model limit from the model's "model added"
// record, falling back to the "listening" record.
func (s *server) modelLimit(model, key string) (int64, bool) {
	if n, ok := intAttr(s.models[model], key); ok {
		return n, true
	}
	return intAttr(s.listening, key)
}

// durationAttr returns a duration attribute ("2s") of the listening record.
func (s *server) durationAttr(key string) (time.Duration, bool) {
	v, ok := s.listening[key].(string)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	return d, err == nil
}

// procStatus returns a field of /proc/PID/status in bytes (VmRSS, VmHWM).
func (s *server) procStatus(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return 0, err
	}
	return parseStatusField(string(b), field)
}

// parseStatusField reads "Field:   1234 kB" from a /proc/PID/status text.
func parseStatusField(status, field string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		return n, nil
	}
	return 0, fmt.Errorf("no %s in /proc/PID/status", field)
}

// readChars returns rchar of /proc/PID/io: the bytes the process has read
// with read-like system calls, sockets included.
func (s *server) readChars() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", s.pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("no rchar in /proc/PID/io")
}

// sockets counts the process's open socket descriptors.
func (s *server) sockets() (int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", s.pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n, nil
}

// metrics scrapes /metrics into a map from a sample's name with its labels,
// as the text format writes them, to its value.
func (s *server) metrics(ctx context.Context) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url()+"/metrics", nil)
	resp, err := plainClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	return parseMetrics(string(b)), nil
}

// parseMetrics reads the Prometheus text format: "name{labels} value" lines.
func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// sumMetric adds the samples of a metric whose labels contain every one of
// the given label="value" pairs.
func sumMetric(m map[string]float64, name string, labels ...string) float64 {
	var sum float64
	for k, v := range m {
		base, lab, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(lab, l) {
				ok = false
				break
			}
		}
		if ok {
			sum += v
		}
	}
	return sum
}

// plainClient is for the suite's own probes: short timeouts, fresh
// connections, so that a probe measures the server and not a pool.
var plainClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// logWatch reads the server's log: it keeps each line's length and its
// first maxKept bytes, parses the short ones as JSON records, and counts
// lines that mark a crash or descriptor exhaustion.
type logWatch struct {
	mu      sync.Mutex
	lens    []int
	heads   []string
	recs    []map[string]any
	recNext int
}

const maxKept = 64 << 10

// alarms are log substrings that a healthy server never writes.
var alarms = []string{"panic", "goroutine ", "too many open files", "fatal error"}

func newLogWatch(r io.ReadCloser) *logWatch {
	w := &logWatch{}
	go func() {
		defer r.Close()
		br := bufio.NewReaderSize(r, 64<<10)
		var head bytes.Buffer
		n := 0
		for {
			chunk, err := br.ReadSlice('\n')
			n += len(chunk)
			if room := maxKept - head.Len(); room > 0 {
				head.Write(chunk[:min(room, len(chunk))])
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if n > 0 {
				w.add(n, head.String())
			}
			head.Reset()
			n = 0
			if err != nil {
				return
			}
		}
	}()
	return w
}

func (w *logWatch) add(n int, head string) {
	head = strings.TrimRight(head, "\n")
	var rec map[string]any
	if n <= maxKept && json.Unmarshal([]byte(head), &rec) != nil {
		rec = nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lens = append(w.lens, n)
	w.heads = append(w.heads, head)
	if rec != nil {
		w.recs = append(w.recs, rec)
	}
}

// records returns the records parsed since the last call.
func (w *logWatch) records() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.recs[w.recNext:]
	w.recNext = len(w.recs)
	return r
}

// mark returns the number of lines read so far, for since.
func (w *logWatch) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lens)
}

// since returns, for the lines after mark: how many, the longest one's
// length, and the first line holding an alarm ("" if none).
func (w *logWatch) since(mark int) (lines, longest int, alarm string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := mark; i < len(w.lens); i++ {
		lines++
		longest = max(longest, w.lens[i])
		if alarm == "" {
			low := strings.ToLower(w.heads[i])
			for _, a := range alarms {
				if strings.Contains(low, a) {
					alarm = clip(w.heads[i], 300)
					break
				}
			}
		}
	}
	return lines, longest, alarm
}

// tail returns the last n lines, each clipped.
func (w *logWatch) tail(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for i := max(0, len(w.heads)-n); i < len(w.heads); i++ {
		b.WriteString("    ")
		b.WriteString(clip(w.heads[i], 400))
		b.WriteByte('\n')
	}
	return b.String()
}

// settle waits until no log line has arrived for quiet, or for at most
// limit, so that the lines a request causes have been read.
func (w *logWatch) settle(quiet, limit time.Duration) {
	end := time.Now().Add(limit)
	last := w.mark()
	for time.Now().Before(end) {
		time.Sleep(quiet)
		n := w.mark()
		if n == last {
			return
		}
		last = n
	}
}

// clip shortens s to at most n bytes for a report line.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("...(%d bytes)", len(s))
}
