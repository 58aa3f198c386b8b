package oip

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// ErrTooLarge is the error, wrapped, of a body over the limit given to
// ReadRequest.
var ErrTooLarge = errors.New("oip: the body is over the limit")

// DecodeRequest reads a request body whose JSON part is its first jsonLen
// bytes, the binary data of the tensors following; jsonLen < 0 means the
// whole body is JSON. Its errors describe what is wrong with the request.
func DecodeRequest(body []byte, jsonLen int) (*InferRequest, error) {
	return ReadRequest(bytes.NewReader(body), int64(jsonLen), -1)
}

// ReadRequest reads a request body from r: its JSON part (the first jsonLen
// bytes, or all of r when jsonLen < 0), then each binary tensor's bytes
// straight into its typed slice. It reads at most limit bytes in all (more
// is an error wrapping ErrTooLarge; limit < 0 means no limit), and
// allocates nothing beyond the bytes it has read plus the typed slices
// those bytes fill: a typed slice grows, doubling, as its bytes arrive, so
// a header that announces more data than comes costs nothing. An error
// from r other than io.EOF is returned wrapped. The other errors describe
// what is wrong with the request, as for DecodeRequest.
func ReadRequest(r io.Reader, jsonLen int64, limit int64) (*InferRequest, error) {
	br := newBodyReader(r, limit)
	var w wireRequest
	if err := br.readJSON(jsonLen, &w); err != nil {
		return nil, err
	}
	req := &InferRequest{ID: w.ID, Parameters: w.Parameters}
	if v, ok := w.Parameters[paramBinaryOutput]; ok {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("oip: parameter %q is %s, want a boolean", paramBinaryOutput, clip(jsonString(v)))
		}
		req.BinaryOutput = b
		req.Parameters = without(w.Parameters, paramBinaryOutput)
	}
	if len(w.Inputs) == 0 {
		return nil, errors.New("oip: the request has no inputs")
	}
	req.Inputs = make([]Tensor, len(w.Inputs))
	if err := br.readTensors(w.Inputs, req.Inputs, jsonLen >= 0, "input"); err != nil {
		return nil, err
	}
	for _, o := range w.Outputs {
		ro := RequestedOutput{Name: o.Name, Binary: req.BinaryOutput, Parameters: o.Parameters}
		if v, ok := o.Parameters[paramBinary]; ok {
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("oip: output %q: parameter %q is %s, want a boolean", clip(o.Name), paramBinary, clip(jsonString(v)))
			}
			ro.Binary = b
			ro.Parameters = without(o.Parameters, paramBinary)
		}
		req.Outputs = append(req.Outputs, ro)
	}
	return req, nil
}

// DecodeResponse reads a response body, as DecodeRequest reads a request.
func DecodeResponse(body []byte, jsonLen int) (*InferResponse, error) {
	br := newBodyReader(bytes.NewReader(body), -1)
	var w wireResponse
	if err := br.readJSON(int64(jsonLen), &w); err != nil {
		return nil, err
	}
	resp := &InferResponse{ModelName: w.ModelName, ModelVersion: w.ModelVersion, ID: w.ID, Parameters: w.Parameters}
	resp.Outputs = make([]Tensor, len(w.Outputs))
	if err := br.readTensors(w.Outputs, resp.Outputs, jsonLen >= 0, "output"); err != nil {
		return nil, err
	}
	return resp, nil
}

// bodyReader reads a body, counting its bytes against a limit.
type bodyReader struct {
	r     io.Reader
	n     int64 // bytes read
	limit int64 // math.MaxInt64 for none
	over  bool  // r has more than limit bytes
	eof   bool  // r returned io.EOF
	err   error // the first error of r other than io.EOF
}

func newBodyReader(r io.Reader, limit int64) *bodyReader {
	if limit < 0 {
		limit = math.MaxInt64
	}
	return &bodyReader{r: r, limit: limit}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.n >= b.limit {
		// At the limit: one more byte means the body is over it.
		var one [1]byte
		k, err := io.ReadFull(b.r, one[:])
		if k > 0 {
			b.over = true
			return 0, b.tooLarge()
		}
		return 0, b.note(err)
	}
	if int64(len(p)) > b.limit-b.n {
		p = p[:b.limit-b.n]
	}
	k, err := b.r.Read(p)
	b.n += int64(k)
	return k, b.note(err)
}

// note records an error of r and returns it.
func (b *bodyReader) note(err error) error {
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.err = err
	}
	return err
}

// available returns how many bytes the body is known to hold from here
// without reading them, when the reader tells (a bytes.Reader does): data
// that is all in memory already is then read into memory of its final size
// at once.
func (b *bodyReader) available() int64 {
	if l, ok := b.r.(interface{ Len() int }); ok {
		return min(int64(l.Len()), b.limit-b.n)
	}
	return 0
}

func (b *bodyReader) tooLarge() error {
	return fmt.Errorf("%w of %d bytes", ErrTooLarge, b.limit)
}

// failure returns the error of the reading itself, if it failed: the body
// over the limit, or an error of r.
func (b *bodyReader) failure() error {
	switch {
	case b.over:
		return b.tooLarge()
	case b.err != nil:
		return fmt.Errorf("oip: reading the body: %w", b.err)
	}
	return nil
}

// readJSON decodes the JSON part of the body into v: its first jsonLen
// bytes, or all of it when jsonLen < 0. The decoder reads the body as a
// stream, buffering one JSON value.
func (b *bodyReader) readJSON(jsonLen int64, v any) error {
	var src io.Reader = b
	if jsonLen >= 0 {
		if jsonLen > b.limit {
			return fmt.Errorf("%w of %d bytes: %s is %d", ErrTooLarge, b.limit, HeaderContentLength, jsonLen)
		}
		src = io.LimitReader(b, jsonLen)
	}
	short := func() error {
		if jsonLen >= 0 && b.n < jsonLen && b.eof {
			return fmt.Errorf("oip: %s is %d but the body has %d bytes", HeaderContentLength, jsonLen, b.n)
		}
		return nil
	}
	dec := json.NewDecoder(src)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if f := b.failure(); f != nil {
			return f
		}
		if f := short(); f != nil {
			return f
		}
		return fmt.Errorf("oip: bad JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if f := b.failure(); f != nil {
			return f
		}
		return errors.New("oip: bad JSON: data after the top-level value")
	}
	return short()
}

// readTensors fills ts from their wire forms ws, reading the binary data
// of those that have it from the body in order (there is none unless
// binary), and then checks that no data is left.
func (b *bodyReader) readTensors(ws []wireTensor, ts []Tensor, binary bool, what string) error {
	// Check every header first, so that a body whose binary data together
	// is over the limit is refused before any of it is read. Without a
	// limit, reading finds data that is not there.
	counts := make([]int, len(ws))
	sizes := make([]int64, len(ws))
	var total int64
	for i := range ws {
		n, nb, err := checkHeader(&ws[i], what)
		if err != nil {
			return err
		}
		counts[i], sizes[i] = n, nb
		if nb > 0 && binary && b.limit != math.MaxInt64 {
			if nb > b.limit-b.n-total {
				total += min(nb, math.MaxInt64-total)
				return fmt.Errorf("%w of %d bytes: the binary data of the %ss is at least %d bytes after a JSON part of %d", ErrTooLarge, b.limit, what, total, b.n)
			}
			total += nb
		}
	}
	for i := range ws {
		if err := b.readTensor(&ws[i], &ts[i], counts[i], sizes[i], what); err != nil {
			return err
		}
	}
	// What follows the last tensor's data is counted to report it.
	extra, _ := io.Copy(io.Discard, b)
	if f := b.failure(); f != nil {
		return f
	}
	if extra != 0 {
		return fmt.Errorf("oip: %d bytes of binary data follow the JSON header but no %s claims them", extra, what)
	}
	return nil
}

// checkHeader checks the name, shape, datatype and data parameters of a
// wire tensor, and returns its element count and the byte count of its
// binary data, or -1 for a tensor with JSON data.
func checkHeader(w *wireTensor, what string) (n int, nb int64, err error) {
	if w.Name == "" {
		return 0, 0, fmt.Errorf("oip: an %s has no name", what)
	}
	name := clip(w.Name)
	if w.Shape == nil {
		return 0, 0, fmt.Errorf("oip: %s %q has no shape", what, name)
	}
	n, err = shapeCount(w.Shape)
	if err != nil {
		return 0, 0, fmt.Errorf("oip: %s %q: %v", what, name, err)
	}
	if !knownDatatype(w.Datatype) {
		return 0, 0, fmt.Errorf("oip: %s %q: %s", what, name, unsupported(clip(w.Datatype)))
	}
	v, ok := w.Parameters[paramBinarySize]
	if !ok {
		if w.Data == nil {
			return 0, 0, fmt.Errorf("oip: %s %q has no data (neither \"data\" nor the %q parameter)", what, name, paramBinarySize)
		}
		return n, -1, nil
	}
	if w.Data != nil {
		return 0, 0, fmt.Errorf("oip: %s %q has both %q and \"data\"", what, name, paramBinarySize)
	}
	nb, ok = jsonInt(v)
	if !ok {
		return 0, 0, fmt.Errorf("oip: %s %q: %q is %s, want a byte count", what, name, paramBinarySize, clip(jsonString(v)))
	}
	if w.Datatype == BYTES {
		// Each element takes its 4-byte length and its bytes.
		if min4, ok := mulInt(n, 4); !ok || nb < int64(min4) {
			return 0, 0, fmt.Errorf("oip: %s %q: %q is %d, too few bytes for the %d BYTES elements of shape %s", what, name, paramBinarySize, nb, n, shapeString(w.Shape))
		}
		return n, nb, nil
	}
	want, ok := mulInt(n, elemSize(w.Datatype))
	if !ok {
		return 0, 0, fmt.Errorf("oip: %s %q: shape %s of %s is %w", what, name, shapeString(w.Shape), w.Datatype, errTooLargeShape)
	}
	if nb != int64(want) {
		return 0, 0, fmt.Errorf("oip: %s %q: %q is %d, but shape %s of %s takes %d bytes", what, name, paramBinarySize, nb, shapeString(w.Shape), w.Datatype, want)
	}
	return n, nb, nil
}

// readTensor fills t from its wire form, which checkHeader accepted with n
// elements and nb bytes of binary data (-1: JSON data).
func (b *bodyReader) readTensor(w *wireTensor, t *Tensor, n int, nb int64, what string) error {
	*t = Tensor{Name: w.Name, Datatype: w.Datatype, Shape: w.Shape, Parameters: w.Parameters}
	name := clip(w.Name)
	if nb < 0 {
		var err error
		if t.Data, err = parseData(w.Data, w.Datatype, n); err != nil {
			return fmt.Errorf("oip: %s %q: %v", what, name, err)
		}
		if got := dataCount(t.Data); got != n {
			return fmt.Errorf("oip: %s %q: shape %s holds %d elements, \"data\" has %d", what, name, shapeString(w.Shape), n, got)
		}
		return nil
	}
	data, got, err := b.readRaw(w.Datatype, n, nb)
	if err != nil {
		if f := b.failure(); f != nil {
			return f
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("oip: %s %q: %q is %d, but only %d bytes of binary data are left", what, name, paramBinarySize, nb, got)
		}
		return fmt.Errorf("oip: %s %q: %v", what, name, err)
	}
	t.Data = data
	t.Binary = true
	t.Parameters = without(w.Parameters, paramBinarySize)
	return nil
}

// firstRead is the most bytes read at once into a tensor's memory before
// the bytes read so far justify more.
const firstRead = 64 << 10

// readRaw reads nb bytes of raw data holding n elements of a datatype into
// its typed slice, which grows as the bytes arrive. It returns the bytes it
// got too, for an error.
func (b *bodyReader) readRaw(datatype string, n int, nb int64) (any, int64, error) {
	if datatype == BYTES || datatype == BOOL {
		// Read the bytes, then split or check them: they need a look
		// before they are data.
		buf, err := b.readBytes(nb)
		if err != nil {
			return nil, int64(len(buf)), err
		}
		d, err := fromRaw(datatype, buf, n, false)
		return d, nb, err
	}
	size := elemSize(datatype)
	d := makeData(datatype, min(n, int(max(firstRead, b.available())/int64(size))))
	got := 0
	for {
		mem := byteView(d)
		k, err := io.ReadFull(b, mem[got:])
		got += k
		if err != nil {
			return nil, int64(got), err
		}
		if int64(got) == nb {
			break
		}
		next := makeData(datatype, min(n, 2*len(mem)/size))
		copy(byteView(next), mem)
		d = next
	}
	if !littleEndian {
		swapBytes(byteView(d), size)
	}
	return d, nb, nil
}

// readBytes reads nb bytes into a buffer that grows as they arrive.
func (b *bodyReader) readBytes(nb int64) ([]byte, error) {
	buf := make([]byte, min(nb, max(firstRead, b.available())))
	got := 0
	for {
		k, err := io.ReadFull(b, buf[got:])
		got += k
		if err != nil {
			return buf[:got], err
		}
		if int64(got) == nb {
			return buf, nil
		}
		next := make([]byte, min(nb, 2*int64(len(buf))))
		copy(next, buf)
		buf = next
	}
}

func without(p Parameters, key string) Parameters {
	if len(p) == 1 {
		return nil
	}
	out := make(Parameters, len(p)-1)
	for k, v := range p {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonInt reads a non-negative integer parameter.
func jsonInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil && n >= 0
	case float64:
		if x >= 0 && x == math.Trunc(x) && x < 1<<53 {
			return int64(x), true
		}
	case int:
		return int64(x), x >= 0
	case int64:
		return x, x >= 0
	}
	return 0, false
}
