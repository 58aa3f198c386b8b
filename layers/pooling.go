package layers

import (
	"fmt"
	"math"

	"github.com/kerasrun/kerasrun/internal/kernels"
	"github.com/kerasrun/kerasrun/runtime"
)

// The pooling layers over time: MaxPooling1D, AveragePooling1D,
// GlobalMaxPooling1D and GlobalAveragePooling1D, plus the global 2-D
// poolings, GlobalMaxPooling2D and GlobalAveragePooling2D.
//
// Keras: pool_size and strides (default pool_size) act on the steps axis.
// "same" padding pads floor(total/2) on the left and the rest on the right,
// as TensorFlow does; max pooling ignores padded positions and average
// pooling divides by the number of real (non-padded) positions in each
// window. MaxPooling1D and AveragePooling1D do not support masking.

type pool1DLayer struct {
	base
	avg           bool
	k, stride     int
	padding       string
	channelsFirst bool
}

type pool1DConfig struct {
	spec          Spec
	avg           bool
	k, stride     int
	padding       string
	channelsFirst bool
}

func decodePool1D(avg bool) Decoder {
	return func(r *Reader) (Config, error) {
		c := &pool1DConfig{spec: r.Spec(), avg: avg}
		// Keras: Keras 1 called pool_size pool_length and strides stride.
		pk, sk := "pool_size", "strides"
		if !r.Has(pk) && r.Has("pool_length") {
			pk = "pool_length"
		}
		if !r.Has(sk) && r.Has("stride") {
			sk = "stride"
		}
		r.Ignore("pool_size", "pool_length", "strides", "stride")
		c.k = single(r, pk, 2)
		c.stride = single(r, sk, c.k)
		pad := "padding"
		if !r.Has(pad) && r.Has("border_mode") {
			pad = "border_mode"
		}
		r.Ignore("padding", "border_mode")
		c.padding = r.OneOf(pad, "valid", "valid", "same")
		c.channelsFirst = channelsFirstOption(r)
		return c, nil
	}
}

// poolPadLeft is the left padding of a "same" 1-D pooling or convolution of
// span k over n steps with the given output length.
func poolPadLeft(n, outLen, k, stride int) int {
	total := (outLen-1)*stride + k - n
	if total <= 0 {
		return 0
	}
	return total / 2
}

func (c *pool1DConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != 3 {
		return nil, nil, fmt.Errorf("input shape %s: %s needs rank 3", runtime.FormatShape(s), c.spec.Class)
	}
	ax := 1
	if c.channelsFirst {
		ax = 2
	}
	out := append([]int(nil), s...)
	if s[ax] >= 0 {
		out[ax] = convOutLen(s[ax], c.k, c.stride, 1, c.padding)
		if out[ax] <= 0 {
			return nil, nil, fmt.Errorf("input of %d steps is shorter than the pool size %d", s[ax], c.k)
		}
	}
	l := &pool1DLayer{base: newBase(c.spec, w), avg: c.avg, k: c.k, stride: c.stride, padding: c.padding, channelsFirst: c.channelsFirst}
	return l, [][]int{out}, nil
}

func (l *pool1DLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 3 {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank 3", l.name, l.class, x.Shape)
	}
	b, n, ch := x.Shape[0], x.Shape[1], x.Shape[2]
	data := x.Data
	if l.channelsFirst {
		n, ch = ch, n
		data = transpose12(x.Data, b, x.Shape[1], x.Shape[2])
		defer putScratch(data)
	}
	m := convOutLen(n, l.k, l.stride, 1, l.padding)
	if m <= 0 {
		return nil, fmt.Errorf("layers: layer %q (%s): input of %d steps is shorter than the pool size %d", l.name, l.class, n, l.k)
	}
	left := 0
	if l.padding == "same" {
		left = poolPadLeft(n, m, l.k, l.stride)
	}
	out := runtime.Zeros(b, m, ch)
	pool1DSamples.forSamples(b, n*ch, pool1DArgs{l: l, data: data, out: out.Data, n: n, m: m, ch: ch, left: left})
	if l.channelsFirst {
		cf := runtime.Empty(b, ch, m)
		transpose12Into(cf.Data, out.Data, b, m, ch)
		runtime.Recycle(out)
		out = cf
	}
	return runtime.One(out), nil
}

// ---- global pooling -------------------------------------------------------

// globalPoolLayer reduces every spatial axis of [batch, spatial..., ch]
// (channels_last) or [batch, ch, spatial...] (channels_first).
type globalPoolLayer struct {
	base
	avg           bool
	rank          int
	channelsFirst bool
	keepdims      bool
}

type globalPoolConfig struct {
	spec          Spec
	avg           bool
	rank          int
	channelsFirst bool
	keepdims      bool
}

// globalPoolMaskConfig is the GlobalAveragePooling1D that accepts a mask:
// it averages over the unmasked steps and its output carries no mask.
type globalPoolMaskConfig struct {
	*globalPoolConfig
}

func (globalPoolMaskConfig) OutputMasks(in []bool, nout int) []bool { return make([]bool, nout) }

func decodeGlobalPool(avg bool, rank int) Decoder {
	return func(r *Reader) (Config, error) {
		c := &globalPoolConfig{spec: r.Spec(), avg: avg, rank: rank}
		c.channelsFirst = channelsFirstOption(r)
		// Keras: keepdims appears in tf.keras 2.6 and Keras 3.
		c.keepdims = r.Bool("keepdims", false)
		if avg && rank == 3 && gap1DMasks(r.Spec().Env, c.channelsFirst) {
			return &globalPoolMaskConfig{c}, nil
		}
		return c, nil
	}
}

// gap1DMasks reports whether GlobalAveragePooling1D accepts a masked input
// under env.
//
// Keras: masking came to GlobalAveragePooling1D in Keras 2.2.3
// (keras-team/keras#10913) and tf.keras at the same time; Keras 1 and 2.0
// to 2.2.2 refuse a mask. With channels_first, Keras 2.2.3+ and early
// tf.keras reshape the mask to [batch, steps, 1], which does not fit a
// [batch, features, steps] input, so there we refuse a masked input; Keras 3
// expands the mask on the right axis and is supported. GlobalMaxPooling1D
// never supports masking (before Keras 3 it has no supports_masking; Keras 3
// likewise).
func gap1DMasks(env Env, channelsFirst bool) bool {
	switch {
	case env.Major() >= 3:
		return true
	case env.Major() < 2 || channelsFirst:
		return false
	}
	return env.TFKeras() || env.atLeast(2, 2, 3)
}

func (c *globalPoolConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != c.rank {
		return nil, nil, fmt.Errorf("input shape %s: %s needs rank %d", runtime.FormatShape(s), c.spec.Class, c.rank)
	}
	ch := s[len(s)-1]
	if c.channelsFirst {
		ch = s[1]
	}
	out := []int{s[0], ch}
	if c.keepdims {
		out = []int{s[0]}
		if c.channelsFirst {
			out = append(out, ch)
		}
		for i := 0; i < c.rank-2; i++ {
			out = append(out, 1)
		}
		if !c.channelsFirst {
			out = append(out, ch)
		}
	}
	l := &globalPoolLayer{base: newBase(c.spec, w), avg: c.avg, rank: c.rank, channelsFirst: c.channelsFirst, keepdims: c.keepdims}
	return l, [][]int{out}, nil
}

func (l *globalPoolLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != l.rank {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank %d", l.name, l.class, x.Shape, l.rank)
	}
	b := x.Shape[0]
	var ch, steps int
	if l.channelsFirst {
		ch, steps = x.Shape[1], runtime.NumElements(x.Shape[2:])
	} else {
		ch, steps = x.Shape[l.rank-1], runtime.NumElements(x.Shape[1:l.rank-1])
	}
	var mask []bool
	if x.Mask != nil {
		if !l.avg || l.rank != 3 || len(x.Mask) != b*x.Shape[1] || l.channelsFirst {
			return nil, fmt.Errorf("layers: layer %q (%s): cannot apply a mask of %d values to input shape %v", l.name, l.class, len(x.Mask), x.Shape)
		}
		mask = x.Mask
	}
	res := getScratch(b * ch) // every value is written
	accp, cntp := getF64(ch), getF64(ch)
	defer putF64(accp)
	defer putF64(cntp)
	acc, cnt := *accp, *cntp
	for i := 0; i < b; i++ {
		src := x.Data[i*ch*steps : (i+1)*ch*steps]
		clear(acc)
		clear(cnt)
		if !l.avg {
			for c := range acc {
				acc[c] = math.Inf(-1)
			}
		}
		if l.avg && mask == nil && !l.channelsFirst {
			// The common case, without the per-value branches below: the
			// same sums, in the same order.
			for t := 0; t < steps; t++ {
				for c, v := range src[t*ch : (t+1)*ch] {
					acc[c] += float64(v)
				}
			}
			n := float64(steps)
			for c, v := range acc {
				res[i*ch+c] = float32(v / n)
			}
			continue
		}
		for t := 0; t < steps; t++ {
			if mask != nil && !mask[i*steps+t] {
				continue
			}
			for c := 0; c < ch; c++ {
				var v float32
				if l.channelsFirst {
					v = src[c*steps+t]
				} else {
					v = src[t*ch+c]
				}
				if l.avg {
					acc[c] += float64(v)
					cnt[c]++
				} else if float64(v) > acc[c] || v != v {
					acc[c] = float64(v)
				}
			}
		}
		for c := 0; c < ch; c++ {
			if l.avg {
				// Keras: an all-masked sample gives 0/0 = NaN.
				res[i*ch+c] = float32(acc[c] / cnt[c])
			} else {
				res[i*ch+c] = float32(acc[c])
			}
		}
	}
	var shapeBuf [maxFastRank]int
	shape := append(shapeBuf[:0], b, ch)
	if l.keepdims {
		shape = append(shapeBuf[:0], b)
		if l.channelsFirst {
			shape = append(shape, ch)
		}
		for i := 0; i < l.rank-2; i++ {
			shape = append(shape, 1)
		}
		if !l.channelsFirst {
			shape = append(shape, ch)
		}
	}
	return runtime.One(runtime.View(res, shape...)), nil
}

// pool1DArgs is what a sample of a 1D pooling needs (pool1DSample).
type pool1DArgs struct {
	l              *pool1DLayer
	data, out      []float32
	n, m, ch, left int
}

var pool1DSamples = newSamplePool(pool1DSample)

// pool1DSample pools sample i: n steps of ch channels into m.
func pool1DSample(a *pool1DArgs, i int) {
	l, n, m, ch, left, data := a.l, a.n, a.m, a.ch, a.left, a.data
	var acc []float64
	if l.avg {
		accp := getF64(ch)
		defer putF64(accp)
		acc = *accp
	}
	src := data[i*n*ch : (i+1)*n*ch]
	for t := 0; t < m; t++ {
		lo := max(t*l.stride-left, 0)
		hi := min(t*l.stride-left+l.k, n)
		dst := a.out[(i*m+t)*ch : (i*m+t+1)*ch]
		if l.avg {
			clear(acc)
			for p := lo; p < hi; p++ {
				for c, v := range src[p*ch : (p+1)*ch] {
					acc[c] += float64(v)
				}
			}
			for c := range dst {
				dst[c] = float32(acc[c] / float64(hi-lo))
			}
			continue
		}
		copy(dst, src[lo*ch:(lo+1)*ch])
		for p := lo + 1; p < hi; p++ {
			// Go's max: a NaN in the window wins.
			kernels.MaxInto(dst, src[p*ch:(p+1)*ch])
		}
	}
}

func init() {
	Register("MaxPooling1D", decodePool1D(false))
	Register("AveragePooling1D", decodePool1D(true))
	Register("GlobalMaxPooling1D", decodeGlobalPool(false, 3))
	Register("GlobalAveragePooling1D", decodeGlobalPool(true, 3))
	Register("GlobalMaxPooling2D", decodeGlobalPool(false, 4))
	Register("GlobalAveragePooling2D", decodeGlobalPool(true, 4))
}
