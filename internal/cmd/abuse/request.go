package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kerasrun/kerasrun/oip"
)

// answer is what a request got: the status (0: none), the body's first
// bytes and its full length.
type answer struct {
	status  int
	head    []byte
	bodyLen int64
	err     error
	elapsed time.Duration
}

// String is the status and the body's start, for a report line.
func (a answer) String() string {
	if a.err != nil {
		return "error: " + clip(a.err.Error(), 200)
	}
	return fmt.Sprintf("%d (%d-byte body %s)", a.status, a.bodyLen, clip(string(a.head), 160))
}

// keepHead is how much of a response body answer keeps.
const keepHead = 8 << 10

// send posts body to path on a fresh connection, with the headers given as
// "Name: value" pairs, and reads the answer without keeping more than
// keepHead bytes of it.
func send(s *server, method, path string, body []byte, headers ...string) answer {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url()+path, rd)
	if err != nil {
		return answer{err: err}
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := plainClient.Do(req)
	if err != nil {
		return answer{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	var head bytes.Buffer
	n, err := io.Copy(&capWriter{buf: &head, max: keepHead}, resp.Body)
	return answer{status: resp.StatusCode, head: head.Bytes(), bodyLen: n, err: err, elapsed: time.Since(start)}
}

// capWriter keeps the first max bytes written and counts the rest.
type capWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *capWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// modelIO is what the suite needs of a model's metadata.
type modelIO struct {
	name    string
	inputs  []oip.TensorMetadata
	outputs []oip.TensorMetadata
}

func metadata(s *server, model string) (*modelIO, error) {
	c := oip.NewClient(s.url(), plainClient)
	md, err := c.ModelMetadata(context.Background(), model)
	if err != nil {
		return nil, fmt.Errorf("metadata of %q: %w", model, err)
	}
	return &modelIO{name: model, inputs: md.Inputs, outputs: md.Outputs}, nil
}

// rowElems is the element count of one row (sample) of input i; free
// dimensions other than the batch count 1.
func (m *modelIO) rowElems(i int) int {
	n := 1
	for _, d := range m.inputs[i].Shape[1:] {
		n *= int(max(d, 1))
	}
	return n
}

// shape returns input i's shape with rows in the batch axis.
func (m *modelIO) shape(i, rows int) []int64 {
	s := append([]int64{int64(rows)}, m.inputs[i].Shape[1:]...)
	for k := range s {
		s[k] = max(s[k], 1)
	}
	return s
}

// binaryBody returns a binary-extension request of rows rows of value v for
// every input, asking for binary outputs when binOut, and its JSON length.
func (m *modelIO) binaryBody(rows int, v float32, binOut bool) ([]byte, int) {
	type in struct {
		Name       string         `json:"name"`
		Shape      []int64        `json:"shape"`
		Datatype   string         `json:"datatype"`
		Parameters map[string]any `json:"parameters"`
	}
	type out struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters,omitempty"`
	}
	var hdr struct {
		Inputs  []in  `json:"inputs"`
		Outputs []out `json:"outputs,omitempty"`
	}
	var data bytes.Buffer
	for i, t := range m.inputs {
		n := rows * m.rowElems(i)
		hdr.Inputs = append(hdr.Inputs, in{t.Name, m.shape(i, rows), oip.FP32, map[string]any{"binary_data_size": 4 * n}})
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		data.Write(bytes.Repeat(b[:], n))
	}
	if binOut {
		for _, t := range m.outputs {
			hdr.Outputs = append(hdr.Outputs, out{t.Name, map[string]any{"binary_data": true}})
		}
	}
	j, _ := json.Marshal(hdr)
	return append(j, data.Bytes()...), len(j)
}

// jsonBody returns a JSON request of rows rows for every input, each value
// written as num, padded with spaces after the JSON to pad bytes in all
// when pad is larger.
func (m *modelIO) jsonBody(rows int, num string, pad int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"inputs":[`)
	for i, t := range m.inputs {
		if i > 0 {
			b.WriteByte(',')
		}
		sh, _ := json.Marshal(m.shape(i, rows))
		fmt.Fprintf(&b, `{"name":%q,"shape":%s,"datatype":"FP32","data":[`, t.Name, sh)
		n := rows * m.rowElems(i)
		for k := range n {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(num)
		}
		b.WriteString("]}")
	}
	b.WriteString("]}")
	if pad > b.Len() {
		b.Write(bytes.Repeat([]byte{' '}, pad-b.Len()))
	}
	return b.Bytes()
}

// rowValues is the number of values one row holds over every input.
func (m *modelIO) rowValues() int {
	n := 0
	for i := range m.inputs {
		n += m.rowElems(i)
	}
	return n
}

// jsonRowBytes is how many bytes jsonBody spends per row with num.
func (m *modelIO) jsonRowBytes(num string) int {
	return m.rowValues() * (len(num) + 1)
}

// inferPath is the model's infer endpoint.
func inferPath(model string) string { return "/v2/models/" + model + "/infer" }

// binaryHeaders are the headers of a binary-extension body.
func binaryHeaders(jsonLen int) []string {
	return []string{"Content-Type: application/octet-stream", oip.HeaderContentLength + ": " + strconv.Itoa(jsonLen)}
}

// dialSmallBuffer connects with a small receive buffer, so that a client
// that stops reading makes the server's writes block soon.
func dialSmallBuffer(addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return d.Dial("tcp", addr)
}

// rawHead is an HTTP/1.1 request head for a raw connection.
func rawHead(method, path string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path)
	for _, h := range headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// goroutines returns the server's go_goroutines, the least of a few
// samples so that a probe's own connection counts as little as possible.
func goroutines(s *server) (int, error) {
	best := -1
	for range 3 {
		m, err := s.metrics(context.Background())
		if err != nil {
			return 0, err
		}
		g := int(m["go_goroutines"])
		if best < 0 || g < best {
			best = g
		}
		time.Sleep(50 * time.Millisecond)
	}
	return best, nil
}
