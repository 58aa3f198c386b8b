package layers

import (
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/kerasrun/kerasrun/runtime"
)

// ZeroPadding2D and Cropping2D over [batch, rows, cols, ch] (channels_last)
// or [batch, ch, rows, cols] (channels_first). Neither supports masking in
// Keras.
//
// Keras: padding and cropping are an int (the same on all four sides), a
// pair (rows, cols) (the same on both sides of each axis) or a pair of pairs
// ((top, bottom), (left, right)).

// edges2D reads the four-sided option key: top, bottom, left, right.
func edges2D(r *Reader, key string, def int) [4]int {
	v := r.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return [4]int{def, def, def, def}
	}
	bad := func() [4]int {
		r.Errorf(key, "want an integer, a pair or a pair of pairs of non-negative integers, got %s", clip(v.Raw))
		return [4]int{def, def, def, def}
	}
	num := func(x gjson.Result) (int, bool) {
		if x.Type != gjson.Number || x.Num != float64(int64(x.Num)) || x.Num < 0 || x.Num > 1<<30 {
			return 0, false
		}
		return int(x.Num), true
	}
	if n, ok := num(v); ok {
		return [4]int{n, n, n, n}
	}
	if !v.IsArray() || len(v.Array()) != 2 {
		return bad()
	}
	var out [4]int
	for i, axis := range v.Array() {
		if n, ok := num(axis); ok {
			out[2*i], out[2*i+1] = n, n
			continue
		}
		if !axis.IsArray() || len(axis.Array()) != 2 {
			return bad()
		}
		for j, e := range axis.Array() {
			n, ok := num(e)
			if !ok {
				return bad()
			}
			out[2*i+j] = n
		}
	}
	return out
}

// edges4 is top, bottom, left, right.
type edges4 [4]int

// pad2DLayer moves the image by (top, left) within an output of
// rows+top+bottom by cols+left+right, with zeros where nothing lands; the
// cropping layers use negative edges.
type pad2DLayer struct {
	base
	edges         edges4 // negative edges crop
	channelsFirst bool
}

type pad2DConfig struct {
	spec          Spec
	edges         edges4
	channelsFirst bool
}

func decodeZeroPadding2D(r *Reader) (Config, error) {
	c := &pad2DConfig{spec: r.Spec(), edges: edges4(edges2D(r, "padding", 1))}
	c.channelsFirst = channelsFirstOption(r)
	return c, nil
}

func decodeCropping2D(r *Reader) (Config, error) {
	e := edges2D(r, "cropping", 0)
	c := &pad2DConfig{spec: r.Spec(), edges: edges4{-e[0], -e[1], -e[2], -e[3]}}
	c.channelsFirst = channelsFirstOption(r)
	return c, nil
}

// outSize returns the output rows and columns, or an error when cropping
// leaves nothing. A free input size (-1) stays free.
func (e *edges4) outSize(h, w int) (int, int, error) {
	oh, ow := h, w
	if h >= 0 {
		oh = h + e[0] + e[1]
	}
	if w >= 0 {
		ow = w + e[2] + e[3]
	}
	if (h >= 0 && oh <= 0) || (w >= 0 && ow <= 0) {
		return 0, 0, fmt.Errorf("cropping %d x %d input by %v leaves nothing", h, w, [4]int{-e[0], -e[1], -e[2], -e[3]})
	}
	return oh, ow, nil
}

func (c *pad2DConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != 4 {
		return nil, nil, fmt.Errorf("input shape %s: %s needs rank 4", runtime.FormatShape(s), c.spec.Class)
	}
	h, wd, ch := spatial2D(s, c.channelsFirst)
	oh, ow, err := c.edges.outSize(h, wd)
	if err != nil {
		return nil, nil, fmt.Errorf("input shape %s: %w", runtime.FormatShape(s), err)
	}
	l := &pad2DLayer{base: newBase(c.spec, w), edges: c.edges, channelsFirst: c.channelsFirst}
	return l, [][]int{shape2D(s[0], oh, ow, ch, c.channelsFirst)}, nil
}

func (l *pad2DLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 4 {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank 4", l.name, l.class, x.Shape)
	}
	b := x.Shape[0]
	h, w, ch := spatial2D(x.Shape, l.channelsFirst)
	oh, ow, err := l.edges.outSize(h, w)
	if err != nil {
		return nil, fmt.Errorf("layers: layer %q (%s): %w", l.name, l.class, err)
	}
	top, left := l.edges[0], l.edges[2]
	// Output columns [j0, j1) come from input columns from j0-left on.
	j0, j1 := max(left, 0), min(ow, left+w)
	out := runtime.Empty(shape2D(b, oh, ow, ch, l.channelsFirst)...)
	planes, unit := b, ch // channels_last: per sample, rows of ow*ch
	if l.channelsFirst {
		planes, unit = b*ch, 1 // channels_first: per (sample, channel), rows of ow
	}
	padRows.forSamples(planes*oh, ow*unit, padArgs{src: x.Data, dst: out.Data, h: h, w: w, oh: oh, ow: ow,
		unit: unit, top: top, left: left, j0: j0, j1: j1})
	return runtime.One(out), nil
}

// padArgs is what an output row of ZeroPadding2D needs (padRow).
type padArgs struct {
	src, dst                              []float32
	h, w, oh, ow, unit, top, left, j0, j1 int
}

var padRows = newSamplePool(padRow)

// padRow writes output row r (plane r/oh, row r%oh): zeros, then input
// columns [j0-left, j1-left) of its input row, then zeros.
func padRow(a *padArgs, r int) {
	p, i := r/a.oh, r%a.oh
	row := a.dst[r*a.ow*a.unit : (r+1)*a.ow*a.unit]
	y := i - a.top
	if y < 0 || y >= a.h || a.j0 >= a.j1 {
		clear(row)
		return
	}
	src := a.src[(p*a.h+y)*a.w*a.unit : (p*a.h+y+1)*a.w*a.unit]
	clear(row[:a.j0*a.unit])
	copy(row[a.j0*a.unit:a.j1*a.unit], src[(a.j0-a.left)*a.unit:(a.j1-a.left)*a.unit])
	clear(row[a.j1*a.unit:])
}

func init() {
	Register("ZeroPadding2D", decodeZeroPadding2D)
	Register("Cropping2D", decodeCropping2D)
}
