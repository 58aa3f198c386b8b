package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// The shape layers: Reshape, Permute, RepeatVector, ZeroPadding1D,
// Cropping1D and UpSampling1D. None of them supports masking in Keras
// (supports_masking is left False), so none has a MaskRule: a masked input
// is refused at load.

// kerasAxis resolves a Keras axis (negative counts from the end) for a
// tensor of the given rank.
func kerasAxis(axis, rank int) (int, bool) {
	if axis < 0 {
		axis += rank
	}
	return axis, axis >= 0 && axis < rank
}

// pairOption reads an int or a list of one or two non-negative ints.
func pairOption(r *Reader, key string, def int) (int, int) {
	v := r.Ints(key, []int{def})
	switch {
	case len(v) == 1:
		v = []int{v[0], v[0]}
	case len(v) != 2:
		r.Errorf(key, "want an integer or a pair, got %v", v)
		return def, def
	}
	if v[0] < 0 || v[1] < 0 {
		r.Errorf(key, "must not be negative, got %v", v)
		return def, def
	}
	return v[0], v[1]
}

// channelsFirstOption reads the optional data_format key.
func channelsFirstOption(r *Reader) bool {
	return r.OneOf("data_format", "channels_last", "channels_last", "channels_first") == "channels_first"
}

// maxFastRank is the largest rank whose index bookkeeping (permuteInto,
// the shapes of some layers) lives on the stack.
const maxFastRank = 8

// intsIn returns n zeroed ints: buf[:n] when they fit (a caller's array on
// its stack), new ones otherwise.
func intsIn(buf []int, n int) []int {
	if n > len(buf) {
		return make([]int, n)
	}
	clear(buf[:n])
	return buf[:n]
}

// permutedShape writes into dst (of length len(shape)) the shape of x
// permuted by perm: output axis i is input axis perm[i].
func permutedShape(dst, shape, perm []int) []int {
	for i, p := range perm {
		dst[i] = shape[p]
	}
	return dst
}

// permuteInto writes x (of shape) into dst (len(x) values) with its axes
// reordered: output axis i is input axis perm[i].
func permuteInto(dst, x []float32, shape, perm []int) {
	rank := len(shape)
	if len(x) == 0 {
		return
	}
	var buf [4 * maxFastRank]int
	ints := intsIn(buf[:], 4*rank)
	oshape, istr, ostr, pos := ints[:rank], ints[rank:2*rank], ints[2*rank:3*rank], ints[3*rank:]
	st := 1
	for i := rank - 1; i >= 0; i-- {
		istr[i] = st
		st *= shape[i]
	}
	for i, p := range perm {
		oshape[i] = shape[p]
		ostr[i] = istr[p] // input stride of each output axis
	}
	src := 0
	for i := range dst[:len(x)] {
		dst[i] = x[src]
		for k := rank - 1; k >= 0; k-- {
			pos[k]++
			src += ostr[k]
			if pos[k] < oshape[k] {
				break
			}
			src -= ostr[k] * oshape[k]
			pos[k] = 0
		}
	}
}

// permuteTensor returns x with its axes reordered (permuteInto) in a
// tensor of its own.
func permuteTensor(x *runtime.Tensor, perm []int) *runtime.Tensor {
	var buf [maxFastRank]int
	out := runtime.Empty(permutedShape(intsIn(buf[:], len(perm)), x.Shape, perm)...)
	permuteInto(out.Data, x.Data, x.Shape, perm)
	return out
}

// ---- Reshape ------------------------------------------------------------

type reshapeLayer struct {
	base
	target []int // without the batch axis; at most one -1
}

type reshapeConfig struct {
	spec   Spec
	target []int
}

func decodeReshape(r *Reader) (Config, error) {
	c := &reshapeConfig{spec: r.Spec()}
	if !r.Has("target_shape") {
		r.Errorf("target_shape", "missing")
	}
	c.target = r.Ints("target_shape", nil)
	free := 0
	for _, d := range c.target {
		switch {
		case d == -1:
			free++
		case d <= 0:
			r.Errorf("target_shape", "bad dimension %d in %v", d, c.target)
		}
	}
	if free > 1 {
		r.Errorf("target_shape", "more than one -1 in %v", c.target)
	}
	return c, nil
}

// resolveReshape fills in the -1 of target for n elements per sample.
func resolveReshape(target []int, n int) ([]int, error) {
	return resolveReshapeTo(nil, target, n)
}

// resolveReshapeTo is resolveReshape appending the shape to out.
func resolveReshapeTo(out, target []int, n int) ([]int, error) {
	at := len(out)
	out = append(out, target...)
	known, free := 1, -1
	for i, d := range target {
		if d == -1 {
			free = i
		} else {
			known *= d
		}
	}
	if free >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("cannot reshape %d values per sample to %v", n, target)
		}
		out[at+free] = n / known
	} else if known != n {
		return nil, fmt.Errorf("cannot reshape %d values per sample to %v", n, target)
	}
	return out, nil
}

func (c *reshapeConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) < 1 {
		return nil, nil, fmt.Errorf("input of rank 0: Reshape needs a batch axis")
	}
	out := append([]int{s[0]}, c.target...)
	if !hasFree(s[1:]) {
		t, err := resolveReshape(c.target, runtime.NumElements(s[1:]))
		if err != nil {
			return nil, nil, fmt.Errorf("input shape %s: %w", runtime.FormatShape(s), err)
		}
		out = append([]int{s[0]}, t...)
	}
	return &reshapeLayer{base: newBase(c.spec, w), target: c.target}, [][]int{out}, nil
}

func hasFree(s []int) bool {
	for _, d := range s {
		if d < 0 {
			return true
		}
	}
	return false
}

func (l *reshapeLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() < 1 {
		return nil, fmt.Errorf("layers: layer %q (Reshape): input of rank 0", l.name)
	}
	var buf [maxFastRank]int
	shape, err := resolveReshapeTo(append(buf[:0], x.Shape[0]), l.target, runtime.NumElements(x.Shape[1:]))
	if err != nil {
		return nil, fmt.Errorf("layers: layer %q (Reshape): input shape %v: %w", l.name, x.Shape, err)
	}
	return runtime.One(runtime.View(x.Data, shape...)), nil
}

// ---- Permute ------------------------------------------------------------

type permuteLayer struct {
	base
	perm []int // over all axes, batch first
}

type permuteConfig struct {
	spec Spec
	dims []int // 1-based, over the non-batch axes
}

func decodePermute(r *Reader) (Config, error) {
	c := &permuteConfig{spec: r.Spec()}
	if !r.Has("dims") {
		r.Errorf("dims", "missing")
	}
	c.dims = r.Ints("dims", nil)
	seen := map[int]bool{}
	for _, d := range c.dims {
		if d < 1 || d > len(c.dims) || seen[d] {
			r.Errorf("dims", "%v is not a permutation of 1..%d", c.dims, len(c.dims))
			break
		}
		seen[d] = true
	}
	return c, nil
}

func (c *permuteConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != len(c.dims)+1 {
		return nil, nil, fmt.Errorf("option \"dims\": %v does not fit input shape %s", c.dims, runtime.FormatShape(s))
	}
	perm := append([]int{0}, c.dims...)
	out := make([]int, len(s))
	for i, p := range perm {
		out[i] = s[p]
	}
	return &permuteLayer{base: newBase(c.spec, w), perm: perm}, [][]int{out}, nil
}

func (l *permuteLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != len(l.perm) {
		return nil, fmt.Errorf("layers: layer %q (Permute): input shape %v, want rank %d", l.name, x.Shape, len(l.perm))
	}
	return runtime.One(permuteTensor(x, l.perm)), nil
}

// ---- RepeatVector ---------------------------------------------------------

type repeatVectorLayer struct {
	base
	n int
}

type repeatVectorConfig struct {
	spec Spec
	n    int
}

func decodeRepeatVector(r *Reader) (Config, error) {
	return &repeatVectorConfig{spec: r.Spec(), n: r.PositiveInt("n", 0)}, nil
}

func (c *repeatVectorConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != 2 {
		return nil, nil, fmt.Errorf("input shape %s: RepeatVector needs rank 2", runtime.FormatShape(s))
	}
	return &repeatVectorLayer{base: newBase(c.spec, w), n: c.n}, [][]int{{s[0], c.n, s[1]}}, nil
}

func (l *repeatVectorLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 2 {
		return nil, fmt.Errorf("layers: layer %q (RepeatVector): input shape %v, want rank 2", l.name, x.Shape)
	}
	b, d := x.Shape[0], x.Shape[1]
	out := runtime.Zeros(b, l.n, d)
	for i := 0; i < b; i++ {
		row := x.Data[i*d : (i+1)*d]
		for t := 0; t < l.n; t++ {
			copy(out.Data[(i*l.n+t)*d:], row)
		}
	}
	return runtime.One(out), nil
}

// ---- ZeroPadding1D, Cropping1D, UpSampling1D -------------------------------

// steps1D is a layer that rewrites the steps axis of a rank-3 tensor: it
// maps [batch, steps, ch] (or [batch, ch, steps]) to a new steps length,
// where output step t takes input step src(t), or zeros when src(t) < 0.
type steps1DLayer struct {
	base
	channelsFirst bool
	outLen        func(n int) int
	src           func(t, n int) int
}

type steps1DConfig struct {
	spec          Spec
	channelsFirst bool
	outLen        func(n int) int // n >= 0
	src           func(t, n int) int
	minLen        int // the shortest input that gives a non-empty output
}

func decodeZeroPadding1D(r *Reader) (Config, error) {
	left, right := pairOption(r, "padding", 1)
	// Keras: Keras 2 and early Keras 3 pad axis 1; later Keras 3 adds a
	// data_format option.
	cf := channelsFirstOption(r)
	return &steps1DConfig{spec: r.Spec(), channelsFirst: cf,
		outLen: func(n int) int { return n + left + right },
		src: func(t, n int) int {
			if t < left || t >= left+n {
				return -1
			}
			return t - left
		},
	}, nil
}

func decodeCropping1D(r *Reader) (Config, error) {
	left, right := pairOption(r, "cropping", 1)
	return &steps1DConfig{spec: r.Spec(), minLen: left + right + 1,
		outLen: func(n int) int { return n - left - right },
		src:    func(t, n int) int { return t + left },
	}, nil
}

func decodeUpSampling1D(r *Reader) (Config, error) {
	key := "size"
	if !r.Has("size") && r.Has("length") {
		key = "length" // Keras 1
	}
	r.Ignore("size", "length")
	size := r.PositiveInt(key, 2)
	return &steps1DConfig{spec: r.Spec(),
		outLen: func(n int) int { return n * size },
		src:    func(t, n int) int { return t / size },
	}, nil
}

func (c *steps1DConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
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
		if s[ax] < c.minLen {
			return nil, nil, fmt.Errorf("input shape %s: %d steps leave nothing after cropping", runtime.FormatShape(s), s[ax])
		}
		out[ax] = c.outLen(s[ax])
	}
	l := &steps1DLayer{base: newBase(c.spec, w), channelsFirst: c.channelsFirst, outLen: c.outLen, src: c.src}
	return l, [][]int{out}, nil
}

func (l *steps1DLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 3 {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank 3", l.name, l.class, x.Shape)
	}
	b, n, ch := x.Shape[0], x.Shape[1], x.Shape[2]
	if l.channelsFirst {
		n, ch = ch, n
	}
	m := l.outLen(n)
	if m <= 0 {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v leaves no steps", l.name, l.class, x.Shape)
	}
	if !l.channelsFirst {
		out := runtime.Zeros(b, m, ch)
		for i := 0; i < b; i++ {
			for t := 0; t < m; t++ {
				if s := l.src(t, n); s >= 0 {
					copy(out.Data[(i*m+t)*ch:(i*m+t+1)*ch], x.Data[(i*n+s)*ch:(i*n+s+1)*ch])
				}
			}
		}
		return runtime.One(out), nil
	}
	out := runtime.Zeros(b, ch, m)
	for i := 0; i < b; i++ {
		for c := 0; c < ch; c++ {
			row := x.Data[(i*ch+c)*n : (i*ch+c+1)*n]
			dst := out.Data[(i*ch+c)*m : (i*ch+c+1)*m]
			for t := range dst {
				if s := l.src(t, n); s >= 0 {
					dst[t] = row[s]
				}
			}
		}
	}
	return runtime.One(out), nil
}

func init() {
	Register("Reshape", decodeReshape)
	Register("Permute", decodePermute)
	Register("RepeatVector", decodeRepeatVector)
	Register("ZeroPadding1D", decodeZeroPadding1D)
	Register("Cropping1D", decodeCropping1D)
	Register("UpSampling1D", decodeUpSampling1D)
}
