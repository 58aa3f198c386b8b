package kernels

import (
	"fmt"
	"math"
)

// MulAddCols computes, for every column j < cols and channel i < n,
//
//	o[j·n + i] += x[j·xstep + i] · k[i]
//
// the step of a depthwise convolution that adds one kernel tap to a run of
// output positions: o holds cols positions of n channels, x the input
// positions they read, xstep floats apart (the stride times the input
// channels), and k the tap's weight of each channel. o must not overlap x
// or k. The AVX2 kernel rounds each step once (FMA), the pure-Go fallback
// twice (multiply, then add).
func MulAddCols(o, x, k []float32, n, cols, xstep int) {
	if n <= 0 || cols <= 0 {
		return
	}
	if xstep < 0 || len(k) < n || len(o) < cols*n || len(x) < (cols-1)*xstep+n {
		panic(fmt.Sprintf("kernels: MulAddCols: len(o)=%d len(x)=%d len(k)=%d too short for n=%d cols=%d xstep=%d", len(o), len(x), len(k), n, cols, xstep))
	}
	n8 := 0
	if useAVX2 {
		n8 = n &^ 7
		if n8 > 0 {
			mulAddColsAVX2(&o[0], &x[0], &k[0], n8, cols, xstep, n)
		}
		if n8 == n {
			return
		}
	}
	for j := 0; j < cols; j++ {
		mulAdd(o[j*n+n8:(j+1)*n], x[j*xstep+n8:j*xstep+n], k[n8:n])
	}
}

// MulAddWindow3 adds whole kernel windows of a depthwise convolution with
// three kernel columns: for every column j < cols and channel i < n,
//
//	o[j·ostep + i] += Σ over u < kh, v < 3 of x[j·xstep + u·rstep + v·cstep + i] · k[(3u+v)·n + i]
//
// with the taps added one at a time in the order u, v, so the result is
// that of MulAddCols called tap by tap (bit for bit on either path). The
// AVX2 kernel keeps the sums in registers across the taps. o must not
// overlap x or k.
func MulAddWindow3(o, x, k []float32, n, cols, ostep, xstep, kh, rstep, cstep int) {
	if n <= 0 || cols <= 0 || kh <= 0 {
		return
	}
	if ostep < 0 || xstep < 0 || rstep < 0 || cstep < 0 || len(k) < 3*kh*n ||
		len(o) < (cols-1)*ostep+n || len(x) < (cols-1)*xstep+(kh-1)*rstep+2*cstep+n {
		panic(fmt.Sprintf("kernels: MulAddWindow3: len(o)=%d len(x)=%d len(k)=%d too short for n=%d cols=%d ostep=%d xstep=%d kh=%d rstep=%d cstep=%d",
			len(o), len(x), len(k), n, cols, ostep, xstep, kh, rstep, cstep))
	}
	n8 := 0
	if useAVX2 {
		n8 = n &^ 7
		if n8 > 0 {
			mulAddWindow3AVX2(&o[0], &x[0], &k[0], n8, cols, 4*ostep, 4*xstep, kh, 4*cstep, 4*(rstep-2*cstep), 4*n)
		}
		if n8 == n {
			return
		}
	}
	for j := 0; j < cols; j++ {
		oj := o[j*ostep+n8 : j*ostep+n]
		for u := 0; u < kh; u++ {
			for v := 0; v < 3; v++ {
				xo := j*xstep + u*rstep + v*cstep
				t := (3*u + v) * n
				mulAdd(oj, x[xo+n8:xo+n], k[t+n8:t+n])
			}
		}
	}
}

// mulAdd computes o[i] += x[i]·k[i] over len(o); x and k are at least as
// long.
func mulAdd(o, x, k []float32) {
	n := len(o)
	x, k = x[:n], k[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		o0, o1, o2, o3 := o[i]+x[i]*k[i], o[i+1]+x[i+1]*k[i+1], o[i+2]+x[i+2]*k[i+2], o[i+3]+x[i+3]*k[i+3]
		o[i], o[i+1], o[i+2], o[i+3] = o0, o1, o2, o3
	}
	for ; i < n; i++ {
		o[i] += x[i] * k[i]
	}
}

// ReluClip sets dst[i] = min(src[i], top) where src[i] > 0, and +0
// elsewhere (NaN and -0 included): Keras' relu clipped at max_value, and
// relu itself with top = +Inf. top must be >= 0 and not NaN. dst may be
// src; otherwise the two must not overlap. Both paths give the same bits.
func ReluClip(dst, src []float32, top float32) {
	if len(dst) < len(src) {
		panic(fmt.Sprintf("kernels: ReluClip: len(dst)=%d < len(src)=%d", len(dst), len(src)))
	}
	if !(top >= 0) {
		panic(fmt.Sprintf("kernels: ReluClip: top %v, want >= 0", top))
	}
	n8 := 0
	if useAVX2 {
		n8 = len(src) &^ 7
		if n8 > 0 {
			reluClipAVX2(&dst[0], &src[0], n8, top)
		}
	}
	reluClipGo(dst[n8:len(src)], src[n8:], top)
}

// reluClipGo is ReluClip on the bits, without branches: positive floats
// order as their bits do as integers, negative ones have the sign bit set
// (a negative int32), and a positive NaN is above the bits of +Inf.
func reluClipGo(dst, src []float32, top float32) {
	tb := int32(math.Float32bits(top))
	dst = dst[:len(src)]
	for i, v := range src {
		b := int32(math.Float32bits(v))
		nan := int32((int64(0x7F800000) - int64(b)) >> 63) // all ones for a positive NaN
		dst[i] = math.Float32frombits(uint32(max(min(b, tb), 0) &^ nan))
	}
}

// MaxInto sets dst[i] = max(dst[i], src[i]) for every i < len(src), with
// Go's max on floats: NaN when either value is NaN, and max(+0, -0) = +0.
// It panics if dst is shorter than src.
func MaxInto(dst, src []float32) {
	if len(dst) < len(src) {
		panic(fmt.Sprintf("kernels: MaxInto: len(dst)=%d < len(src)=%d", len(dst), len(src)))
	}
	n := 0
	switch {
	case useAVX2:
		n = len(src) &^ 7
		if n > 0 {
			maxIntoAVX2(&dst[0], &src[0], n)
		}
	case curISA == isaNEON:
		n = len(src) &^ 3
		if n > 0 {
			maxIntoNEON(&dst[0], &src[0], n)
		}
	}
	dst = dst[n:len(src)]
	for i, v := range src[n:] {
		dst[i] = max(dst[i], v)
	}
}
