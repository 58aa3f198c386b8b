package oip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// binaryBody returns a request body with JSON and binary tensors of
// several datatypes, and its JSON length.
func binaryBody(t *testing.T) ([]byte, int) {
	t.Helper()
	f := make([]float32, 50000) // more than one first read
	for i := range f {
		f[i] = float32(i) / 3
	}
	in := []Tensor{
		NewFP32("a", []int64{50000}, f),
		NewBOOL("b", []int64{2}, []bool{true, false}),
		NewBYTES("c", []int64{2}, [][]byte{[]byte("xy"), {0xff}}),
		NewINT64("d", []int64{1}, []int64{-5}),
		NewFP16("e", []int64{1}, []Float16{0x3c00}),
	}
	for i := range in {
		in[i].Binary = i != 3
	}
	body, n, err := EncodeRequest(&InferRequest{ID: "x", Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	return body, n
}

// TestReadRequestStream: ReadRequest reads the same request from a reader
// that returns a byte at a time, or its data with its EOF, as
// DecodeRequest reads from the bytes.
func TestReadRequestStream(t *testing.T) {
	body, n := binaryBody(t)
	want, err := DecodeRequest(body, n)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]io.Reader{
		"one byte": iotest.OneByteReader(bytes.NewReader(body)),
		"data+EOF": iotest.DataErrReader(bytes.NewReader(body)),
		"half":     iotest.HalfReader(bytes.NewReader(body)),
	} {
		got, err := ReadRequest(r, int64(n), int64(len(body)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkTensors(t, got.Inputs, want.Inputs)
	}
}

// TestReadRequestLimit: a body over the limit is an error wrapping
// ErrTooLarge, found before the data is read where the headers announce
// it; a body at the limit is read.
func TestReadRequestLimit(t *testing.T) {
	body, n := binaryBody(t)
	if _, err := ReadRequest(bytes.NewReader(body), int64(n), int64(len(body))); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	js := []byte(`{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,2]}]}`)
	if _, err := ReadRequest(bytes.NewReader(js), -1, int64(len(js))); err != nil {
		t.Fatalf("JSON at the limit: %v", err)
	}
	for _, c := range []struct {
		name    string
		body    []byte
		jsonLen int
		limit   int
		maxRead int // the most bytes the reader may give
	}{
		{"json", js, -1, len(js) - 1, len(js)},
		{"json header", body, n, n - 1, 1},
		{"binary announced", body, n, len(body) - 1, n},
		{"trailing", append(bytes.Clone(js), "    x"...), len(js), len(js) + 2, len(js) + 3},
		{"trailing json", append(bytes.Clone(js), "          "...), -1, len(js) + 2, len(js) + 3},
	} {
		r := &countingReader{r: bytes.NewReader(c.body)}
		_, err := ReadRequest(r, int64(c.jsonLen), int64(c.limit))
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: error %v, want ErrTooLarge", c.name, err)
		}
		if r.n > c.maxRead {
			t.Errorf("%s: read %d bytes, want at most %d", c.name, r.n, c.maxRead)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += k
	return k, err
}

// TestReadRequestReadError: an error of the reader, such as a read
// deadline, comes back wrapped wherever it happens.
func TestReadRequestReadError(t *testing.T) {
	body, n := binaryBody(t)
	timeout := fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)
	for _, at := range []int{0, 10, n, n + 100, len(body)} {
		r := io.MultiReader(bytes.NewReader(body[:at]), iotest.ErrReader(timeout))
		_, err := ReadRequest(r, int64(n), 1<<30)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("error after %d bytes: %v", at, err)
		}
	}
	js := `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]}]}`
	for _, at := range []int{5, len(js)} {
		r := io.MultiReader(strings.NewReader(js[:at]), iotest.ErrReader(timeout))
		if _, err := ReadRequest(r, -1, 1<<30); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("JSON body, error after %d bytes: %v", at, err)
		}
	}
}

// TestReadRequestAllocation: a header that announces a gigabyte that never
// comes costs memory in proportion to the bytes that came.
func TestReadRequestAllocation(t *testing.T) {
	for _, dt := range []string{FP32, BOOL, BYTES} {
		js := `{"inputs":[{"name":"a","shape":[268435456],"datatype":"` + dt + `","parameters":{"binary_data_size":1073741824}}]}`
		if dt == BOOL {
			js = strings.Replace(js, "268435456", "1073741824", 1)
		}
		body := append([]byte(js), make([]byte, 1000)...)
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		_, err := ReadRequest(bytes.NewReader(body), int64(len(js)), 2<<30)
		goruntime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "only 1000 bytes of binary data are left") {
			t.Errorf("%s: error %v", dt, err)
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > 4<<20 {
			t.Errorf("%s: allocated %d bytes for a body of %d", dt, a, len(body))
		}
	}
}
