package layers

import (
	"fmt"
	"math"

	"github.com/kerasrun/kerasrun/runtime"
)

// The merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum,
// Concatenate and Dot.
//
// Keras (_Merge): the element-wise merges broadcast their inputs: an input
// of lower rank gets size-1 axes inserted after the batch axis, then sizes
// of 1 stretch, as in numpy. Every merge layer supports masking; the output
// mask of an element-wise merge is the AND of the input masks that are
// present, Concatenate concatenates the masks along its axis (treating an
// unmasked input as all valid) and reduces them over the last axis, and Dot
// drops the mask.

// anyMasked is the mask rule of the merges that keep a mask.
type anyMasked struct{}

func (anyMasked) OutputMasks(in []bool, nout int) []bool {
	m := false
	for _, x := range in {
		m = m || x
	}
	out := make([]bool, nout)
	for i := range out {
		out[i] = m
	}
	return out
}

// dropMask is the mask rule of layers that accept masked inputs and output
// no mask.
type dropMask struct{}

func (dropMask) OutputMasks(in []bool, nout int) []bool { return make([]bool, nout) }

// ---- element-wise merges -----------------------------------------------

type mergeOp int

const (
	opAdd mergeOp = iota
	opSubtract
	opMultiply
	opAverage
	opMaximum
	opMinimum
)

type mergeLayer struct {
	base
	op mergeOp
}

type mergeConfig struct {
	anyMasked
	spec Spec
	op   mergeOp
}

func decodeMerge(op mergeOp) Decoder {
	return func(r *Reader) (Config, error) {
		return &mergeConfig{spec: r.Spec(), op: op}, nil
	}
}

// broadcastShapes is Keras's _compute_elemwise_op_output_shape on shapes
// without the batch axis, aligned on the right; -1 is a free size.
func broadcastShapes(a, b []int) ([]int, bool) {
	if len(a) < len(b) {
		a, b = b, a
	}
	out := append([]int(nil), a[:len(a)-len(b)]...)
	for k, j := range b {
		i := a[len(a)-len(b)+k]
		switch {
		case i < 0 || j < 0:
			out = append(out, -1)
		case i == 1:
			out = append(out, j)
		case j == 1 || i == j:
			out = append(out, i)
		default:
			return nil, false
		}
	}
	return out, true
}

func (c *mergeConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if len(in) < 2 {
		return nil, nil, fmt.Errorf("takes a list of at least 2 inputs, got %d", len(in))
	}
	if c.op == opSubtract && len(in) != 2 {
		return nil, nil, fmt.Errorf("takes exactly 2 inputs, got %d", len(in))
	}
	var out []int
	batch := -1
	for i, s := range in {
		if len(s) < 1 {
			return nil, nil, fmt.Errorf("input %d has rank 0", i)
		}
		if s[0] >= 0 {
			if batch >= 0 && s[0] != batch {
				return nil, nil, fmt.Errorf("inputs have different batch sizes %d and %d", batch, s[0])
			}
			batch = s[0]
		}
		if i == 0 {
			out = append([]int(nil), s[1:]...)
			continue
		}
		var ok bool
		if out, ok = broadcastShapes(out, s[1:]); !ok {
			return nil, nil, fmt.Errorf("input shapes %s cannot be broadcast together", shapesString(in))
		}
	}
	return &mergeLayer{base: newBase(c.spec, w), op: c.op}, [][]int{append([]int{batch}, out...)}, nil
}

func shapesString(in [][]int) string {
	s := ""
	for i, x := range in {
		if i > 0 {
			s += ", "
		}
		s += runtime.FormatShape(x)
	}
	return s
}

func (l *mergeLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("layers: layer %q (%s): takes at least 2 inputs, got %d", l.name, l.class, len(in))
	}
	mask, err := andMasks(in)
	if err != nil {
		return nil, fmt.Errorf("layers: layer %q (%s): %w", l.name, l.class, err)
	}
	// Keras: output = x0; output = f(output, xi) for each later input, in
	// float32; Average divides the sum by the number of inputs at the end.
	var f func(a, b float32) float32
	switch l.op {
	case opAdd, opAverage:
		f = func(a, b float32) float32 { return a + b }
	case opSubtract:
		f = func(a, b float32) float32 { return a - b }
	case opMultiply:
		f = func(a, b float32) float32 { return a * b }
	case opMaximum:
		f = func(a, b float32) float32 { return float32(math.Max(float64(a), float64(b))) }
	case opMinimum:
		f = func(a, b float32) float32 { return float32(math.Min(float64(a), float64(b))) }
	}
	if l.op == opAdd && len(in) == 2 && equalShapes(in[0].Shape, in[1].Shape) && len(in[0].Data) == len(in[1].Data) {
		// Two inputs of one shape (a residual connection): the same sums,
		// without a call per value, in chunks over the cores.
		out := runtime.Empty(in[0].Shape...) // every value is written
		n := len(out.Data)
		addChunks.forSamples((n+pointwiseChunk-1)/pointwiseChunk, pointwiseChunk, addArgs{a: in[0].Data, b: in[1].Data, dst: out.Data})
		out.Mask = mask
		return runtime.One(out), nil
	}
	acc := in[0]
	for _, x := range in[1:] {
		prev := acc
		acc, err = broadcastBinary(acc, x, f)
		if prev != in[0] {
			runtime.Recycle(prev) // an earlier partial result
		}
		if err != nil {
			return nil, fmt.Errorf("layers: layer %q (%s): %w", l.name, l.class, err)
		}
	}
	if acc == in[0] {
		acc = acc.Clone()
	}
	if l.op == opAverage {
		n := float32(len(in))
		for i := range acc.Data {
			acc.Data[i] /= n
		}
	}
	acc.Mask = mask
	return runtime.One(acc), nil
}

// addArgs is what a chunk of a two-input Add needs (addRun).
type addArgs struct{ a, b, dst []float32 }

var addChunks = newSamplePool(addRun)

// addRun writes chunk i of a + b.
func addRun(x *addArgs, i int) {
	lo, hi := i*pointwiseChunk, min((i+1)*pointwiseChunk, len(x.dst))
	d, a, b := x.dst[lo:hi], x.a[lo:hi], x.b[lo:hi]
	for k := range d {
		d[k] = a[k] + b[k]
	}
}

// andMasks returns the AND of the masks present on in, or nil.
func andMasks(in []*runtime.Tensor) ([]bool, error) {
	var out []bool
	for _, x := range in {
		if x.Mask == nil {
			continue
		}
		if out == nil {
			out = runtime.MaskBuffer(len(x.Mask))
			copy(out, x.Mask)
			continue
		}
		if len(x.Mask) != len(out) {
			return nil, fmt.Errorf("input masks of different sizes (%d and %d values)", len(out), len(x.Mask))
		}
		for i, m := range x.Mask {
			out[i] = out[i] && m
		}
	}
	return out, nil
}

// broadcastBinary returns f(a, b) element-wise, broadcasting as Keras's
// _Merge does. It returns a new tensor.
func broadcastBinary(a, b *runtime.Tensor, f func(x, y float32) float32) (*runtime.Tensor, error) {
	if a.Rank() < 1 || b.Rank() < 1 || a.Shape[0] != b.Shape[0] {
		return nil, fmt.Errorf("inputs of shapes %v and %v cannot be merged", a.Shape, b.Shape)
	}
	if equalShapes(a.Shape, b.Shape) {
		out := runtime.Zeros(a.Shape...)
		for i, v := range a.Data {
			out.Data[i] = f(v, b.Data[i])
		}
		return out, nil
	}
	// Expand the lower rank after the batch axis, then broadcast sizes of 1.
	rank := max(a.Rank(), b.Rank())
	var asBuf, bsBuf, shapeBuf [maxFastRank]int
	as, bs := expandAfterBatch(asBuf[:0], a.Shape, rank), expandAfterBatch(bsBuf[:0], b.Shape, rank)
	shape := intsIn(shapeBuf[:], rank)
	for i := range shape {
		switch {
		case as[i] == bs[i] || bs[i] == 1:
			shape[i] = as[i]
		case as[i] == 1:
			shape[i] = bs[i]
		default:
			return nil, fmt.Errorf("inputs of shapes %v and %v cannot be broadcast together", a.Shape, b.Shape)
		}
	}
	out := runtime.Empty(shape...) // every value is written
	ai, bi := broadcastIndex(shape, as), broadcastIndex(shape, bs)
	defer putInts(ai)
	defer putInts(bi)
	for i := range out.Data {
		out.Data[i] = f(a.Data[(*ai)[i]], b.Data[(*bi)[i]])
	}
	return out, nil
}

// expandAfterBatch appends to out the shape s with sizes of 1 inserted
// after the batch axis up to rank.
func expandAfterBatch(out, s []int, rank int) []int {
	out = append(out, s[0])
	for i := len(s); i < rank; i++ {
		out = append(out, 1)
	}
	return append(out, s[1:]...)
}

func equalShapes(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ---- Concatenate ----------------------------------------------------------

type concatLayer struct {
	base
	axis int // as configured, may be negative
}

type concatConfig struct {
	anyMasked
	spec Spec
	axis int
}

func decodeConcatenate(r *Reader) (Config, error) {
	// Keras: Keras 1 Merge(mode="concat") used concat_axis; Keras 2 and 3
	// call it axis (default -1).
	return &concatConfig{spec: r.Spec(), axis: r.Int("axis", -1)}, nil
}

func (c *concatConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if len(in) < 1 {
		return nil, nil, fmt.Errorf("takes a list of inputs, got none")
	}
	rank := len(in[0])
	ax, ok := kerasAxis(c.axis, rank)
	if !ok {
		return nil, nil, fmt.Errorf("option \"axis\": axis %d is out of range for input shape %s", c.axis, runtime.FormatShape(in[0]))
	}
	if ax == 0 {
		return nil, nil, fmt.Errorf("option \"axis\": concatenating along the batch axis: %w", ErrUnsupported)
	}
	out := append([]int(nil), in[0]...)
	for _, s := range in[1:] {
		if len(s) != rank {
			return nil, nil, fmt.Errorf("inputs of different ranks: %s", shapesString(in))
		}
		for i, d := range s {
			switch {
			case i == ax:
				if out[i] < 0 || d < 0 {
					out[i] = -1
				} else {
					out[i] += d
				}
			case d >= 0 && out[i] >= 0 && d != out[i]:
				return nil, nil, fmt.Errorf("input shapes %s differ outside the concatenation axis %d", shapesString(in), c.axis)
			case out[i] < 0:
				out[i] = d
			}
		}
	}
	return &concatLayer{base: newBase(c.spec, w), axis: c.axis}, [][]int{out}, nil
}

func (l *concatLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x0 := in[0]
	rank := x0.Rank()
	ax, ok := kerasAxis(l.axis, rank)
	if !ok || ax == 0 {
		return nil, fmt.Errorf("layers: layer %q (Concatenate): axis %d does not fit input shape %v", l.name, l.axis, x0.Shape)
	}
	var shapeBuf [maxFastRank]int
	shape := append(shapeBuf[:0], x0.Shape...)
	shape[ax] = 0
	for _, x := range in {
		if x.Rank() != rank {
			return nil, fmt.Errorf("layers: layer %q (Concatenate): inputs of different ranks", l.name)
		}
		for i, d := range x.Shape {
			if i != ax && d != x0.Shape[i] {
				return nil, fmt.Errorf("layers: layer %q (Concatenate): input shapes %v and %v differ outside axis %d", l.name, x0.Shape, x.Shape, l.axis)
			}
		}
		shape[ax] += x.Shape[ax]
	}
	outer := runtime.NumElements(shape[:ax])
	inner := runtime.NumElements(shape[ax+1:])
	out := runtime.Empty(shape...) // every value is written
	row := shape[ax] * inner
	off := 0
	for _, x := range in {
		n := x.Shape[ax] * inner
		for o := 0; o < outer; o++ {
			copy(out.Data[o*row+off:o*row+off+n], x.Data[o*n:(o+1)*n])
		}
		off += n
	}
	mask, err := concatMasks(in, ax)
	if err != nil {
		return nil, fmt.Errorf("layers: layer %q (Concatenate): %w", l.name, err)
	}
	out.Mask = mask
	return runtime.One(out), nil
}

// concatMasks is Keras's Concatenate.compute_mask for masks over
// [batch, time]: along the time axis the masks are concatenated (an
// unmasked input counts as all valid); along a later axis the result is the
// AND of the masks.
func concatMasks(in []*runtime.Tensor, ax int) ([]bool, error) {
	masked := false
	for _, x := range in {
		if x.Mask != nil {
			masked = true
			if x.Rank() < 3 || len(x.Mask) != x.Shape[0]*x.Shape[1] {
				return nil, fmt.Errorf("cannot concatenate a mask of %d values on input shape %v", len(x.Mask), x.Shape)
			}
		}
	}
	if !masked {
		return nil, nil
	}
	if ax != 1 {
		return andMasks(in)
	}
	b := in[0].Shape[0]
	total := 0
	for _, x := range in {
		total += x.Shape[1]
	}
	out := runtime.MaskBuffer(b * total) // every value is written
	off := 0
	for _, x := range in {
		t := x.Shape[1]
		for i := 0; i < b; i++ {
			for j := 0; j < t; j++ {
				out[i*total+off+j] = x.Mask == nil || x.Mask[i*t+j]
			}
		}
		off += t
	}
	return out, nil
}

// ---- Dot -----------------------------------------------------------------

// dotLayer is Keras's batch_dot of two rank-2 or rank-3 inputs over one
// axis of each.
type dotLayer struct {
	base
	axes      [2]int // resolved, > 0
	normalize bool
}

type dotConfig struct {
	dropMask
	spec      Spec
	axes      []int
	normalize bool
}

func decodeDot(r *Reader) (Config, error) {
	c := &dotConfig{spec: r.Spec()}
	if !r.Has("axes") {
		r.Errorf("axes", "missing")
	}
	c.axes = r.Ints("axes", []int{-1})
	if len(c.axes) == 1 {
		c.axes = []int{c.axes[0], c.axes[0]}
	}
	if len(c.axes) != 2 {
		r.Errorf("axes", "want an integer or a pair, got %v", c.axes)
		c.axes = []int{-1, -1}
	}
	c.normalize = r.Bool("normalize", false)
	return c, nil
}

func (c *dotConfig) resolve(in [][]int) ([2]int, error) {
	var ax [2]int
	if len(in) != 2 {
		return ax, fmt.Errorf("takes exactly 2 inputs, got %d", len(in))
	}
	r := len(in[0])
	if len(in[1]) != r || r < 2 || r > 3 {
		return ax, fmt.Errorf("input shapes %s: Dot supports two inputs of rank 2 or two of rank 3: %w", shapesString(in), ErrUnsupported)
	}
	for i := 0; i < 2; i++ {
		a, ok := kerasAxis(c.axes[i], r)
		if !ok || a == 0 {
			return ax, fmt.Errorf("option \"axes\": %v does not fit input shapes %s (the batch axis cannot be reduced)", c.axes, shapesString(in))
		}
		ax[i] = a
	}
	return ax, nil
}

func (c *dotConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	ax, err := c.resolve(in)
	if err != nil {
		return nil, nil, err
	}
	a, b := in[0], in[1]
	if a[ax[0]] >= 0 && b[ax[1]] >= 0 && a[ax[0]] != b[ax[1]] {
		return nil, nil, fmt.Errorf("option \"axes\": sizes %d and %d differ (input shapes %s)", a[ax[0]], b[ax[1]], shapesString(in))
	}
	out := dotShape(a, b, ax)
	return &dotLayer{base: newBase(c.spec, w), axes: ax, normalize: c.normalize}, [][]int{out}, nil
}

// dotShape: the batch axis, the other axes of a, then the other axes of b;
// [batch, 1] when nothing else is left.
func dotShape(a, b []int, ax [2]int) []int {
	return dotShapeInto(make([]int, 0, len(a)+len(b)), a, b, ax)
}

// dotShapeInto is dotShape appending to out[:0].
func dotShapeInto(out, a, b []int, ax [2]int) []int {
	out = append(out[:0], a[0])
	for i := 1; i < len(a); i++ {
		if i != ax[0] {
			out = append(out, a[i])
		}
	}
	for i := 1; i < len(b); i++ {
		if i != ax[1] {
			out = append(out, b[i])
		}
	}
	if len(out) == 1 {
		out = append(out, 1)
	}
	return out
}

// moveLast returns the rank-3 x ([b, n1, n2]) as [b, rest, k] with axis ax
// last, in float64, L2-normalised along k when normalize: in scratch from
// getF64, to give back.
func moveLast(x *runtime.Tensor, ax int, normalize bool) (rest, k int, outp *[]float64) {
	b := x.Shape[0]
	if x.Rank() == 2 {
		rest, k = 1, x.Shape[1]
	} else {
		rest, k = x.Shape[3-ax], x.Shape[ax]
	}
	outp = getF64(len(x.Data))
	out := *outp
	for i := 0; i < b; i++ {
		for p := 0; p < rest; p++ {
			for q := 0; q < k; q++ {
				var v float32
				switch {
				case x.Rank() == 2:
					v = x.Data[i*k+q]
				case ax == 2:
					v = x.Data[(i*rest+p)*k+q]
				default:
					v = x.Data[(i*k+q)*rest+p]
				}
				out[(i*rest+p)*k+q] = float64(v)
			}
			if normalize {
				// Keras: l2_normalize divides by sqrt(max(sum(x²), 1e-12)).
				row := out[(i*rest+p)*k : (i*rest+p+1)*k]
				var ss float64
				for _, v := range row {
					ss += v * v
				}
				inv := 1 / math.Sqrt(math.Max(ss, 1e-12))
				for j := range row {
					row[j] *= inv
				}
			}
		}
	}
	return rest, k, outp
}

func (l *dotLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	if len(in) != 2 || in[0].Rank() != in[1].Rank() || in[0].Shape[0] != in[1].Shape[0] ||
		in[0].Shape[l.axes[0]] != in[1].Shape[l.axes[1]] {
		return nil, fmt.Errorf("layers: layer %q (Dot): inputs of shapes %v and %v do not fit axes %v", l.name, in[0].Shape, in[1].Shape, l.axes)
	}
	b := in[0].Shape[0]
	p, k, xap := moveLast(in[0], l.axes[0], l.normalize)
	q, _, xbp := moveLast(in[1], l.axes[1], l.normalize)
	defer putF64(xap)
	defer putF64(xbp)
	xa, xb := *xap, *xbp
	var shape [2 * maxFastRank]int
	out := runtime.Empty(dotShapeInto(shape[:0], in[0].Shape, in[1].Shape, l.axes)...) // every value is written
	for i := 0; i < b; i++ {
		for u := 0; u < p; u++ {
			ra := xa[(i*p+u)*k : (i*p+u+1)*k]
			for v := 0; v < q; v++ {
				rb := xb[(i*q+v)*k : (i*q+v+1)*k]
				var s float64
				for j, x := range ra {
					s += x * rb[j]
				}
				out.Data[(i*p+u)*q+v] = float32(s)
			}
		}
	}
	return runtime.One(out), nil
}

func init() {
	Register("Add", decodeMerge(opAdd))
	Register("Subtract", decodeMerge(opSubtract))
	Register("Multiply", decodeMerge(opMultiply))
	Register("Average", decodeMerge(opAverage))
	Register("Maximum", decodeMerge(opMaximum))
	Register("Minimum", decodeMerge(opMinimum))
	Register("Concatenate", decodeConcatenate)
	Register("Dot", decodeDot)
}
