package kernels

import (
	goruntime "runtime"
	"testing"
	"time"
	"unsafe"
)

// TestWeightFloats checks the weight buffers: zeroed, 64-byte aligned and
// usable for every size; large ones in huge-page mappings on Linux (when
// the rounding to whole pages wastes at most an eighth), released once
// their owner is collected.
func TestWeightFloats(t *testing.T) {
	type owner struct{ buf []float32 }
	for _, c := range []struct {
		n    int
		huge bool
	}{
		{0, false}, {1, false}, {1000, false},
		{(2 << 20) / 4, true},  // exactly one huge page
		{(4 << 20) / 4, true},  // a 512x2048 LSTM kernel
		{(3 << 20) / 4, false}, // 4 MiB for 3: a third wasted
		{(17 << 20) / 4, true}, // 18 MiB for 17
		{(2<<20)/4 - 1, false}, // under hugeMin
		{(16<<20)/4 + 1, true}, // 18 MiB for 16 MiB and 4 bytes: an eighth
	} {
		if got := useHuge(c.n * 4); got != c.huge {
			t.Errorf("useHuge(%d bytes) = %v, want %v", c.n*4, got, c.huge)
		}
		before := hugeLive.Load()
		o := &owner{}
		o.buf = WeightFloats(o, c.n)
		if len(o.buf) != c.n {
			t.Fatalf("n=%d: len %d", c.n, len(o.buf))
		}
		if c.n > 0 && uintptr(unsafe.Pointer(&o.buf[0]))%64 != 0 {
			t.Errorf("n=%d: not 64-byte aligned", c.n)
		}
		for i, v := range o.buf {
			if v != 0 {
				t.Fatalf("n=%d: element %d = %v, want 0", c.n, i, v)
			}
			o.buf[i] = float32(i)
		}
		mapped := hugeLive.Load() - before
		if want := c.huge && goruntime.GOOS == "linux"; (mapped == 1) != want {
			t.Errorf("n=%d: %d new huge-page mappings, want %v", c.n, mapped, want)
		}
		if mapped == 0 {
			continue
		}
		goruntime.KeepAlive(o)
		o = nil
		deadline := time.Now().Add(5 * time.Second)
		for hugeLive.Load() != before {
			if time.Now().After(deadline) {
				t.Fatalf("n=%d: the mapping was not released after its owner was collected", c.n)
			}
			goruntime.GC()
			time.Sleep(time.Millisecond)
		}
	}
}
