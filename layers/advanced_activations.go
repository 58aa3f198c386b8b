package layers

import (
	"fmt"
	"math"

	"github.com/kerasrun/kerasrun/internal/kernels"
	"github.com/kerasrun/kerasrun/runtime"
)

// The advanced activation layers: LeakyReLU, PReLU, ELU, ThresholdedReLU,
// ReLU and Softmax. Each is element-wise except Softmax, keeps its input's
// shape and, as in Keras (supports_masking = True), passes its input's mask
// on (Softmax: see decodeSoftmax).

// pointwiseLayer applies a float32 function to every element.
type pointwiseLayer struct {
	base
	f   func(float32) float32
	vec func(dst, src []float32) // nil: f one value at a time
}

type pointwiseConfig struct {
	passMask
	spec Spec
	f    func(float32) float32
	// vec, when set, computes dst[i] = f(src[i]) over a whole slice, with
	// the bits of f; dst may be src (Fuse applies it in place).
	vec func(dst, src []float32)
}

func (c *pointwiseConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	return &pointwiseLayer{base: newBase(c.spec, w), f: c.f, vec: c.vec}, [][]int{in[0]}, nil
}

// pointwiseChunk is the number of values a goroutine of a pointwise layer
// takes at a time.
const pointwiseChunk = 1 << 14

func (l *pointwiseLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	out := runtime.Empty(x.Shape...)
	n := len(x.Data)
	pointwiseChunks.forSamples((n+pointwiseChunk-1)/pointwiseChunk, pointwiseChunk, pointwiseArgs{l: l, src: x.Data, dst: out.Data})
	return runtime.One(withMask(out, x)), nil
}

// pointwiseArgs is what a chunk of a pointwise layer needs (pointwiseRun).
type pointwiseArgs struct {
	l        *pointwiseLayer
	src, dst []float32
}

var pointwiseChunks = newSamplePool(pointwiseRun)

// pointwiseRun computes chunk i of a pointwise layer.
func pointwiseRun(a *pointwiseArgs, i int) {
	lo, hi := i*pointwiseChunk, min((i+1)*pointwiseChunk, len(a.src))
	src, dst := a.src[lo:hi], a.dst[lo:hi]
	if a.l.vec != nil {
		a.l.vec(dst, src)
		return
	}
	for j, v := range src {
		dst[j] = a.l.f(v)
	}
}

// decodeLeakyReLU: f(x) = x for x > 0, alpha·x otherwise.
//
// Keras: Keras 1 and 2 call the slope "alpha" (default 0.3); Keras 3 calls
// it "negative_slope" (same default).
func decodeLeakyReLU(r *Reader) (Config, error) {
	key := "alpha"
	if r.Has("negative_slope") {
		key = "negative_slope"
		if r.Has("alpha") {
			r.Errorf("alpha", "given together with negative_slope")
		}
	}
	r.Ignore("alpha", "negative_slope")
	alpha := float32(r.Float(key, 0.3))
	return &pointwiseConfig{spec: r.Spec(), f: func(x float32) float32 {
		if x > 0 {
			return x
		}
		return alpha * x
	}}, nil
}

// decodeELU: f(x) = x for x > 0, alpha·(exp(x)-1) otherwise.
func decodeELU(r *Reader) (Config, error) {
	alpha := r.Float("alpha", 1.0)
	return &pointwiseConfig{spec: r.Spec(), f: func(x float32) float32 {
		if x > 0 {
			return x
		}
		return float32(alpha * math.Expm1(float64(x)))
	}}, nil
}

// decodeThresholdedReLU: f(x) = x for x > theta, 0 otherwise. The
// comparison is made in float32, as Keras makes it.
func decodeThresholdedReLU(r *Reader) (Config, error) {
	theta := float32(r.Float("theta", 1.0))
	return &pointwiseConfig{spec: r.Spec(), f: func(x float32) float32 {
		if x > theta {
			return x
		}
		return 0
	}}, nil
}

// decodeReLU follows the backend relu(x, alpha=negative_slope, max_value,
// threshold) of Keras 2, tf.keras and Keras 3, all alike, step by step in
// float32:
//
//	pos = x if x > threshold else 0   (relu(x) when threshold is 0)
//	pos = clip(pos, 0, max_value)      (when max_value is set)
//	out = pos - negative_slope·relu(threshold - x)
//
// Keras: so with a negative threshold and a max_value, inputs between the
// threshold and 0 give 0, not x; we keep that quirk.
func decodeReLU(r *Reader) (Config, error) {
	hasMax := r.Has("max_value")
	maxV := float32(r.Float("max_value", 0))
	if hasMax && maxV < 0 {
		r.Errorf("max_value", "must not be negative, got %v", maxV)
	}
	slope := float32(r.Float("negative_slope", 0))
	if slope < 0 {
		r.Errorf("negative_slope", "must not be negative, got %v", slope)
	}
	th := float32(r.Float("threshold", 0))
	var vec func(dst, src []float32)
	if th == 0 && slope == 0 {
		// relu, or relu clipped at max_value (ReLU(6) of MobileNet), with
		// the bits of f below: NaN gives 0.
		top := float32(math.Inf(1))
		if hasMax {
			top = maxV
		}
		vec = func(dst, src []float32) { kernels.ReluClip(dst, src, top) }
	}
	return &pointwiseConfig{spec: r.Spec(), vec: vec, f: func(x float32) float32 {
		var pos float32
		if x > th {
			pos = x
		}
		if hasMax {
			pos = min(max(pos, 0), maxV)
		}
		if slope != 0 {
			pos -= slope * max(th-x, 0)
		}
		return pos
	}}, nil
}

// preluLayer: f(x) = x for x > 0, alpha·x otherwise, with a learned alpha
// of the input's shape (batch axis excluded) where shared_axes have size 1.
type preluLayer struct {
	base
	alpha  []float32
	ashape []int // alpha's shape, rank = input rank - 1
}

type preluConfig struct {
	passMask
	spec   Spec
	shared []int // 1-based axes
}

func decodePReLU(r *Reader) (Config, error) {
	c := &preluConfig{spec: r.Spec()}
	c.shared = r.Ints("shared_axes", nil)
	for _, a := range c.shared {
		if a < 1 {
			r.Errorf("shared_axes", "axis %d: want axes from 1 (the batch axis is 0)", a)
		}
	}
	r.Ignore("alpha_initializer", "alpha_regularizer", "alpha_constraint")
	return c, nil
}

func (c *preluConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) < 2 {
		return nil, nil, fmt.Errorf("input of rank %d: PReLU needs rank 2 or more", len(s))
	}
	ashape := append([]int(nil), s[1:]...)
	for _, a := range c.shared {
		if a >= len(s) {
			return nil, nil, fmt.Errorf("option \"shared_axes\": axis %d is out of range for input shape %s", a, runtime.FormatShape(s))
		}
		ashape[a-1] = 1
	}
	for i, d := range ashape {
		if d < 0 {
			return nil, nil, fmt.Errorf("input shape %s: PReLU needs axis %d fixed or shared", runtime.FormatShape(s), i+1)
		}
	}
	a, err := w.Take("alpha", ashape...)
	if err != nil {
		return nil, nil, err
	}
	return &preluLayer{base: newBase(c.spec, w), alpha: a.Data, ashape: ashape}, [][]int{s}, nil
}

func (l *preluLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != len(l.ashape)+1 {
		return nil, fmt.Errorf("layers: layer %q (PReLU): input shape %v, want rank %d", l.name, x.Shape, len(l.ashape)+1)
	}
	for i, d := range l.ashape {
		if d != 1 && d != x.Shape[i+1] {
			return nil, fmt.Errorf("layers: layer %q (PReLU): input shape %v does not fit alpha shape %v", l.name, x.Shape, l.ashape)
		}
	}
	out := runtime.Zeros(x.Shape...)
	idxp := broadcastIndex(x.Shape[1:], l.ashape)
	defer putInts(idxp)
	idx := *idxp
	n := len(idx)
	for i, v := range x.Data {
		if v > 0 {
			out.Data[i] = v
		} else {
			out.Data[i] = l.alpha[idx[i%n]] * v
		}
	}
	return runtime.One(withMask(out, x)), nil
}

// broadcastIndex maps every flat position of a tensor of shape full to the
// flat position of the same element in a tensor of shape small (same rank,
// each dimension equal or 1) broadcast over it. The table is scratch from
// getInts, to give back with putInts.
func broadcastIndex(full, small []int) *[]int {
	n := runtime.NumElements(full)
	idxp := getInts(n)
	idx := *idxp
	var buf [2 * maxFastRank]int
	ints := intsIn(buf[:], len(small)+len(full))
	sstr, pos := ints[:len(small)], ints[len(small):]
	st := 1
	for i := len(small) - 1; i >= 0; i-- {
		if small[i] == 1 {
			sstr[i] = 0
		} else {
			sstr[i] = st
		}
		st *= small[i]
	}
	for i := 0; i < n; i++ {
		off := 0
		for k, p := range pos {
			off += p * sstr[k]
		}
		idx[i] = off
		for k := len(full) - 1; k >= 0; k-- {
			pos[k]++
			if pos[k] < full[k] {
				break
			}
			pos[k] = 0
		}
	}
	return idxp
}

// softmaxLayer normalises over one axis.
type softmaxLayer struct {
	base
	axis int // as configured, may be negative
}

type softmaxConfig struct {
	spec Spec
	axis int
}

// softmaxMaskConfig is a softmaxConfig that passes masks on.
type softmaxMaskConfig struct {
	passMask
	*softmaxConfig
}

// decodeSoftmax reads the Softmax layer.
//
// Keras: in multi-backend Keras 2, Softmax ignores and passes on the mask.
// tf.keras and Keras 3 add the mask to the logits as an attention mask
// ((1-mask)·-1e9, broadcast against the input), which does not fit a
// [batch, time] sequence mask, so a masked input is refused there.
func decodeSoftmax(r *Reader) (Config, error) {
	c := &softmaxConfig{spec: r.Spec(), axis: -1}
	axes := r.Ints("axis", []int{-1})
	if len(axes) != 1 {
		r.Unsupported("axis", "softmax over several axes %v", axes)
	} else {
		c.axis = axes[0]
	}
	env := r.Spec().Env
	if env.Major() == 2 && !env.TFKeras() {
		return &softmaxMaskConfig{softmaxConfig: c}, nil
	}
	return c, nil
}

func (c *softmaxConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	if _, ok := kerasAxis(c.axis, len(in[0])); !ok {
		return nil, nil, fmt.Errorf("option \"axis\": axis %d is out of range for input shape %s", c.axis, runtime.FormatShape(in[0]))
	}
	return &softmaxLayer{base: newBase(c.spec, w), axis: c.axis}, [][]int{in[0]}, nil
}

func (l *softmaxLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	ax, ok := kerasAxis(l.axis, x.Rank())
	if !ok {
		return nil, fmt.Errorf("layers: layer %q (Softmax): axis %d is out of range for input shape %v", l.name, l.axis, x.Shape)
	}
	out := runtime.Empty(x.Shape...)
	copy(out.Data, x.Data)
	softmaxAxis(out.Data, out.Shape, ax)
	return runtime.One(withMask(out, x)), nil
}

// softmaxAxis applies softmax in place over axis ax of a tensor of shape.
func softmaxAxis(x []float32, shape []int, ax int) {
	n := shape[ax]
	inner := runtime.NumElements(shape[ax+1:])
	outer := runtime.NumElements(shape[:ax])
	if n == 0 {
		return
	}
	bufp := getF64(n)
	defer putF64(bufp)
	buf := *bufp
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			off := o*n*inner + i
			m := math.Inf(-1)
			for k := 0; k < n; k++ {
				m = math.Max(m, float64(x[off+k*inner]))
			}
			var sum float64
			for k := 0; k < n; k++ {
				buf[k] = math.Exp(float64(x[off+k*inner]) - m)
				sum += buf[k]
			}
			for k := 0; k < n; k++ {
				x[off+k*inner] = float32(buf[k] / sum)
			}
		}
	}
}

func init() {
	Register("LeakyReLU", decodeLeakyReLU)
	Register("PReLU", decodePReLU)
	Register("ELU", decodeELU)
	Register("ThresholdedReLU", decodeThresholdedReLU)
	Register("ReLU", decodeReLU)
	Register("Softmax", decodeSoftmax)
}
