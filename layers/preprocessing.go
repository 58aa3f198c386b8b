package layers

import (
	"fmt"
	"math"
	"slices"

	"github.com/tidwall/gjson"

	"github.com/kerasrun/kerasrun/runtime"
)

// The preprocessing layers Rescaling and Normalization. Both are
// element-wise with parameters that broadcast over some axes, keep their
// input's shape and pass its mask on (Keras: supports_masking = True).

// paramMap places parameters over a tensor: parameter index of each flat
// position, by the rank-sized shape small (1 on the broadcast axes).
type paramMap struct {
	small []int // rank of the input; 1 where the parameters broadcast
	n     int   // number of parameters
}

// index returns the parameter index of every flat position of shape in a
// table from getInts (to give back with putInts), or nil when the
// parameters are one scalar (n == 1) or cycle along the last axis.
func (m paramMap) index(shape []int) (*[]int, bool, error) {
	if len(shape) != len(m.small) {
		return nil, false, fmt.Errorf("input shape %v, want rank %d", shape, len(m.small))
	}
	lastOnly := true
	for i, s := range m.small {
		if s != 1 && s != shape[i] {
			return nil, false, fmt.Errorf("input shape %v: axis %d has size %d, want %d", shape, i, shape[i], s)
		}
		if s != 1 && i != len(shape)-1 {
			lastOnly = false
		}
	}
	if m.n == 1 || lastOnly {
		return nil, m.n == 1, nil
	}
	return broadcastIndex(shape, m.small), false, nil
}

// apply writes f(x[i], p(i)) for every position into a new tensor, where p
// is the parameter index.
func (m paramMap) apply(name, class string, x *runtime.Tensor, f func(v float32, p int) float32) (*runtime.Tensor, error) {
	idx, scalar, err := m.index(x.Shape)
	if err != nil {
		return nil, fmt.Errorf("layers: layer %q (%s): %w", name, class, err)
	}
	out := runtime.Empty(x.Shape...)
	switch {
	case scalar:
		for i, v := range x.Data {
			out.Data[i] = f(v, 0)
		}
	case idx == nil:
		for i, v := range x.Data {
			out.Data[i] = f(v, i%m.n)
		}
	default:
		for i, v := range x.Data {
			out.Data[i] = f(v, (*idx)[i])
		}
		putInts(idx)
	}
	return withMask(out, x), nil
}

// ---- Rescaling ------------------------------------------------------------------

// rescalingLayer computes x·scale + offset in float32. scale and offset are
// numbers or lists that broadcast over the last axis, as numpy broadcasts
// them.
//
// Keras: Keras 3 reshapes a list scale to [n, 1, 1] when the global image
// data format is channels_first; a file does not record that setting, and
// we follow the channels_last default.
type rescalingLayer struct {
	base
	scale, offset []float32 // one value, or one per position of the last axis
	pm            paramMap
}

type rescalingConfig struct {
	passMask
	spec          Spec
	scale, offset []float32
}

// floatsOption reads a number or a flat list of numbers.
func floatsOption(r *Reader, key string, def float64) []float32 {
	v := r.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return []float32{float32(def)}
	}
	if v.Type == gjson.Number {
		return []float32{float32(v.Num)}
	}
	if v.IsArray() && len(v.Array()) > 0 {
		var out []float32
		for _, e := range v.Array() {
			if e.Type != gjson.Number {
				r.Unsupported(key, "value %s (supported: a number or a flat list of numbers)", clip(v.Raw))
				return []float32{float32(def)}
			}
			out = append(out, float32(e.Num))
		}
		return out
	}
	r.Unsupported(key, "value %s (supported: a number or a flat list of numbers)", clip(v.Raw))
	return []float32{float32(def)}
}

func decodeRescaling(r *Reader) (Config, error) {
	c := &rescalingConfig{spec: r.Spec()}
	if !r.Has("scale") {
		r.Errorf("scale", "missing")
	}
	c.scale = floatsOption(r, "scale", 1)
	c.offset = floatsOption(r, "offset", 0)
	return c, nil
}

func (c *rescalingConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	n := max(len(c.scale), len(c.offset))
	for _, p := range [][]float32{c.scale, c.offset} {
		if len(p) != 1 && len(p) != n {
			return nil, nil, fmt.Errorf("scale (%d values) and offset (%d values) do not broadcast", len(c.scale), len(c.offset))
		}
	}
	l := &rescalingLayer{base: newBase(c.spec, w), scale: c.scale, offset: c.offset, pm: paramMap{small: make([]int, len(s)), n: n}}
	for i := range l.pm.small {
		l.pm.small[i] = 1
	}
	if n > 1 {
		if len(s) < 2 || (s[len(s)-1] >= 0 && s[len(s)-1] != n) {
			return nil, nil, fmt.Errorf("input shape %s: %d scale or offset values do not fit its last axis", runtime.FormatShape(s), n)
		}
		l.pm.small[len(s)-1] = n
		l.scale, l.offset = stretch(c.scale, n), stretch(c.offset, n)
	}
	return l, [][]int{s}, nil
}

// stretch repeats a one-value list n times; other lists are returned as
// they are.
func stretch(p []float32, n int) []float32 {
	if len(p) != 1 {
		return p
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = p[0]
	}
	return out
}

func (l *rescalingLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	out, err := l.pm.apply(l.name, l.class, in[0], func(v float32, p int) float32 { return v*l.scale[p] + l.offset[p] })
	if err != nil {
		return nil, err
	}
	return runtime.One(out), nil
}

// ---- Normalization --------------------------------------------------------------

// normalizationLayer computes (x - mean) / max(sqrt(variance), epsilon), or
// with invert mean + x·max(sqrt(variance), epsilon), in float32, with
// epsilon Keras' backend epsilon 1e-7. mean and variance have the sizes of
// the kept axes (axis) and broadcast over the others.
//
// Keras: the statistics come from the config (mean, variance: a number or
// nested lists aligned to the kept axes from the right, as in
// Normalization.build) or else from the weights mean, variance and count
// (count is unused at inference).
type normalizationLayer struct {
	base
	mean, div []float32
	invert    bool
	pm        paramMap
}

type normalizationConfig struct {
	passMask
	spec           Spec
	axes           []int // nil: axis null, nothing kept
	mean, variance gjson.Result
	fromConfig     bool
	invert         bool
}

func decodeNormalization(r *Reader) (Config, error) {
	c := &normalizationConfig{spec: r.Spec()}
	if r.Has("axis") {
		c.axes = r.Ints("axis", []int{-1})
	} else if !r.Get("axis").Exists() {
		c.axes = []int{-1}
	}
	r.Ignore("axis")
	c.invert = r.Bool("invert", false)
	c.mean, c.variance = r.Get("mean"), r.Get("variance")
	hasMean, hasVar := r.Has("mean"), r.Has("variance")
	if hasMean != hasVar {
		r.Errorf("mean", "mean and variance must be given together")
	}
	c.fromConfig = hasMean && hasVar
	return c, nil
}

// nestedShape returns the shape of a number (none) or of nested lists of
// numbers, and their values in row-major order.
func nestedShape(v gjson.Result) ([]int, []float64, error) {
	if v.Type == gjson.Number {
		return nil, []float64{v.Num}, nil
	}
	if !v.IsArray() || len(v.Array()) == 0 {
		return nil, nil, fmt.Errorf("want a number or nested lists of numbers, got %s", clip(v.Raw))
	}
	var shape []int
	var vals []float64
	for i, e := range v.Array() {
		s, vs, err := nestedShape(e)
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			shape = s
		} else if !slices.Equal(s, shape) {
			return nil, nil, fmt.Errorf("ragged lists %s", clip(v.Raw))
		}
		vals = append(vals, vs...)
	}
	return append([]int{len(v.Array())}, shape...), vals, nil
}

// configStats broadcasts a config value over the kept sizes, aligning its
// axes to theirs from the right.
func configStats(key string, v gjson.Result, kept []int) ([]float64, error) {
	shape, vals, err := nestedShape(v)
	if err != nil {
		return nil, fmt.Errorf("option %q: %w", key, err)
	}
	if len(shape) > len(kept) {
		return nil, fmt.Errorf("option %q: shape %v has more axes than the %d kept ones", key, shape, len(kept))
	}
	off := len(kept) - len(shape)
	strides := make([]int, len(kept))
	st := 1
	for i := len(shape) - 1; i >= 0; i-- {
		switch shape[i] {
		case kept[off+i]:
			strides[off+i] = st
		case 1:
		default:
			return nil, fmt.Errorf("option %q: shape %v does not broadcast to the kept sizes %v", key, shape, kept)
		}
		st *= shape[i]
	}
	n := runtime.NumElements(kept)
	out := make([]float64, n)
	pos := make([]int, len(kept))
	for i := 0; i < n; i++ {
		at := 0
		for k, p := range pos {
			at += p * strides[k]
		}
		out[i] = vals[at]
		for k := len(kept) - 1; k >= 0; k-- {
			pos[k]++
			if pos[k] < kept[k] {
				break
			}
			pos[k] = 0
		}
	}
	return out, nil
}

func (c *normalizationConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	pm := paramMap{small: make([]int, len(s))}
	for i := range pm.small {
		pm.small[i] = 1
	}
	// Keras: the kept axes are sorted, and may include the batch axis.
	var keep []int
	for _, a := range c.axes {
		x, ok := kerasAxis(a, len(s))
		if !ok || slices.Contains(keep, x) {
			return nil, nil, fmt.Errorf("option \"axis\": %v does not fit an input of rank %d", c.axes, len(s))
		}
		if s[x] < 0 {
			return nil, nil, fmt.Errorf("input shape %s: the kept axis %d must have a fixed size", runtime.FormatShape(s), x)
		}
		keep = append(keep, x)
	}
	slices.Sort(keep)
	kept := make([]int, len(keep))
	for i, a := range keep {
		kept[i] = s[a]
		pm.small[a] = s[a]
	}
	pm.n = runtime.NumElements(kept)
	var mean, variance []float64
	if c.fromConfig {
		var err error
		if mean, err = configStats("mean", c.mean, kept); err != nil {
			return nil, nil, err
		}
		if variance, err = configStats("variance", c.variance, kept); err != nil {
			return nil, nil, err
		}
	} else {
		for _, name := range []string{"mean", "variance"} {
			next, _ := w.Peek()
			wt, err := w.Take(name, next.Shape...)
			if err != nil {
				return nil, nil, err
			}
			if len(wt.Data) != pm.n {
				return nil, nil, fmt.Errorf("weight %q: %d values (shape %v), want %d for the kept sizes %v", name, len(wt.Data), wt.Shape, pm.n, kept)
			}
			vs := make([]float64, pm.n)
			for i, v := range wt.Data {
				vs[i] = float64(v)
			}
			if name == "mean" {
				mean = vs
			} else {
				variance = vs
			}
		}
		if next, ok := w.Peek(); ok && next.Is("count") {
			if _, err := w.Take("count", next.Shape...); err != nil {
				return nil, nil, err
			}
		}
	}
	// Keras: the adapted mean, variance and count are non-trainable.
	w.nonTrainable(w.takenElements())
	l := &normalizationLayer{base: newBase(c.spec, w), invert: c.invert, pm: pm,
		mean: make([]float32, pm.n), div: make([]float32, pm.n)}
	for i := range mean {
		l.mean[i] = float32(mean[i])
		// Keras: max(sqrt(variance), epsilon) with epsilon 1e-7, in float32.
		l.div[i] = max(float32(math.Sqrt(float64(float32(variance[i])))), 1e-7)
	}
	return l, [][]int{s}, nil
}

func (l *normalizationLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	f := func(v float32, p int) float32 { return (v - l.mean[p]) / l.div[p] }
	if l.invert {
		f = func(v float32, p int) float32 { return l.mean[p] + v*l.div[p] }
	}
	out, err := l.pm.apply(l.name, l.class, in[0], f)
	if err != nil {
		return nil, err
	}
	return runtime.One(out), nil
}

func init() {
	Register("Rescaling", decodeRescaling)
	Register("Normalization", decodeNormalization)
}
