package oip

import (
	"compress/gzip"
	"encoding/binary"
	"io"
	"math"
	"os"
	"testing"
)

// TestFloat16Numpy compares Float16 with numpy's binary16 conversions,
// written by tools/float16_numpy.py (its docstring gives the layout of the
// file): every binary16 to float32, float32 values around every kind of
// rounding to binary16, and decimals read as FP16 JSON reads them.
func TestFloat16Numpy(t *testing.T) {
	f, err := os.Open("testdata/float16_numpy.bin.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	next := func(n int) []byte {
		t.Helper()
		if len(b) < n {
			t.Fatalf("the reference file ends early")
		}
		x := b[:n]
		b = b[n:]
		return x
	}
	le := binary.LittleEndian

	bad := 0
	a := next(4 * 65536)
	for h := range 65536 {
		want := le.Uint32(a[4*h:])
		if got := math.Float32bits(Float16(h).Float32()); got != want && bad < 10 {
			t.Errorf("Float16(%#04x).Float32() = %#08x, numpy %#08x", h, got, want)
			bad++
		}
		// Every binary16 survives the trip through float32, NaN bits
		// included.
		if back := Float16FromFloat32(Float16(h).Float32()); back != Float16(h) && bad < 10 {
			t.Errorf("Float16FromFloat32(Float16(%#04x).Float32()) = %#04x", h, back)
			bad++
		}
	}

	n := int(le.Uint32(next(4)))
	in, out := next(4*n), next(2*n)
	for i := range n {
		fb, want := le.Uint32(in[4*i:]), Float16(le.Uint16(out[2*i:]))
		if got := Float16FromFloat32(math.Float32frombits(fb)); got != want && bad < 20 {
			t.Errorf("Float16FromFloat32(%#08x = %g) = %#04x, numpy %#04x", fb, math.Float32frombits(fb), got, want)
			bad++
		}
	}

	m := int(le.Uint32(next(4)))
	for range m {
		s := string(next(int(next(1)[0])))
		want := Float16(le.Uint16(next(2)))
		got, err := parseFloat16(s)
		if err != nil {
			// Only a range error, which gives the infinity or zero.
			if got != want || !(math.IsInf(float64(got.Float32()), 0) || got&0x7fff == 0) {
				t.Errorf("parseFloat16(%q): %v", s, err)
			}
			continue
		}
		if got != want && bad < 30 {
			t.Errorf("parseFloat16(%q) = %#04x, numpy %#04x", s, got, want)
			bad++
		}
	}
	if len(b) != 0 {
		t.Errorf("%d bytes after the last section", len(b))
	}
	t.Logf("%d binary16 patterns, %d float32 roundings, %d decimals", 65536, n, m)
}

// TestFloat16JSON: the shortest decimal written for every binary16 reads
// back as the same bits, and is no longer than the float32 form.
func TestFloat16JSON(t *testing.T) {
	for h := range 0x10000 {
		x := Float16(h)
		s := string(appendFloat16(nil, x))
		f := float64(x.Float32())
		if math.IsNaN(f) {
			if s != `"NaN"` {
				t.Fatalf("%#04x: %s", h, s)
			}
			continue
		}
		if math.IsInf(f, 0) {
			if s != `"Infinity"` && s != `"-Infinity"` {
				t.Fatalf("%#04x: %s", h, s)
			}
			continue
		}
		got, err := parseFloat16(s)
		if err != nil || got != x {
			t.Fatalf("%#04x written as %s reads back as %#04x, %v", h, s, got, err)
		}
		if l32 := len(appendFloat(nil, f, 32)); len(s) > l32 {
			t.Fatalf("%#04x: %s is longer than its float32 form", h, s)
		}
	}
}
