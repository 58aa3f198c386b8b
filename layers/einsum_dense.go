package layers

import (
	"fmt"
	"strings"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

// einsumDenseLayer is Keras's EinsumDense for the equations that are a
// matrix product: the input's labels are free labels P followed by the
// contracted labels C, the kernel's are C followed by its own labels W, and
// the output's are P followed by W ("ab,bc->ac", "abc,cd->abd",
// "abc,cde->abde", "...b,bc->...c"). The input is then [rows, K] with
// rows = prod(P) and K = prod(C), the kernel [K, N] with N = prod(W), and
// the output [rows, N], to which the bias (broadcast over the trailing
// output axes, as Keras's bias_axes make it) is added before the
// activation. A Keras int8 EinsumDense (q set) contracts as Dense's int8
// mode does (quantized.go): Keras quantizes the input over its contracted
// axes and the kernel per output column, which for these equations are the
// rows and columns of the two matrices.
type einsumDenseLayer struct {
	base
	k, n     int
	nc       int       // the number of contracted (trailing) input axes
	outTail  []int     // the W dimensions of the output
	kernel   []float32 // [k, n]; nil when q is set
	kernelP  packed
	q        *int8Matmul
	biasFull []float32 // the bias broadcast over the trailing output axes it covers, or nil
	act      ActFunc
}

type einsumDenseConfig struct {
	spec     Spec
	equation string
	in, kern string // the labels of the input (without an ellipsis) and of the kernel
	out      string
	ellipsis bool // "...": the input's leading axes pass through
	nc       int  // the number of contracted labels (C)
	outShape []int
	biasAxes string
	hasBias  bool
	act      ActFunc
	quant    string
}

func decodeEinsumDense(r *Reader) (Config, error) {
	c := &einsumDenseConfig{spec: r.Spec()}
	c.equation = r.String("equation", "")
	if c.equation == "" {
		r.Errorf("equation", "missing")
	} else if err := c.parseEquation(); err != nil {
		r.Unsupported("equation", "%q: %v", c.equation, err)
	}
	v := r.Get("output_shape")
	switch {
	case !v.Exists() || v.Type == gjson.Null:
		r.Errorf("output_shape", "missing")
	case v.IsArray():
		s, ok := r.Shape("output_shape")
		if ok {
			c.outShape = s
		}
	default:
		c.outShape = []int{r.PositiveInt("output_shape", 1)}
	}
	if r.Has("bias_axes") {
		c.biasAxes = r.String("bias_axes", "")
		c.hasBias = c.biasAxes != ""
		for _, ch := range c.biasAxes {
			if !strings.ContainsRune(c.out, ch) {
				r.Errorf("bias_axes", "%q is not a label of the output %q", string(ch), c.out)
			}
		}
	} else {
		r.Ignore("bias_axes")
	}
	_, c.act = r.activation("activation", "linear")
	c.quant = r.Quantization()
	return c, nil
}

// parseEquation accepts "P C,C W->P W" with an optional leading "..." on
// the input and output, every label a letter used once per operand.
func (c *einsumDenseConfig) parseEquation() error {
	eq := strings.ReplaceAll(c.equation, " ", "")
	lhs, out, ok := strings.Cut(eq, "->")
	if !ok {
		return fmt.Errorf("want inputs->output")
	}
	in, kern, ok := strings.Cut(lhs, ",")
	if !ok || strings.Contains(kern, ",") {
		return fmt.Errorf("want two operands")
	}
	if strings.HasPrefix(in, "...") != strings.HasPrefix(out, "...") || strings.Contains(kern, ".") {
		return fmt.Errorf("an ellipsis is supported only at the start of the input and the output")
	}
	if strings.HasPrefix(in, "...") {
		c.ellipsis = true
		in, out = in[3:], out[3:]
	}
	for _, s := range []string{in, kern, out} {
		if s == "" {
			return fmt.Errorf("an operand without labels")
		}
		seen := map[rune]bool{}
		for _, ch := range s {
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') || seen[ch] {
				return fmt.Errorf("labels must be distinct letters")
			}
			seen[ch] = true
		}
	}
	// C: the input's trailing labels that the output lacks; they must lead
	// the kernel in the same order.
	nc := 0
	for nc < len(in) && !strings.ContainsRune(out, rune(in[len(in)-1-nc])) {
		nc++
	}
	p, cl := in[:len(in)-nc], in[len(in)-nc:]
	if nc == 0 || !strings.HasPrefix(kern, cl) {
		return fmt.Errorf("kerasrun runs equations whose input ends with the contracted labels and whose kernel starts with them (e.g. \"abc,cd->abd\")")
	}
	w := kern[nc:]
	if out != p+w {
		return fmt.Errorf("kerasrun runs equations whose output is the input's free labels then the kernel's (want %q)", p+w)
	}
	if strings.ContainsAny(p, w) || strings.ContainsAny(w, in) {
		return fmt.Errorf("a label shared by the input, kernel and output")
	}
	c.in, c.kern, c.out, c.nc = in, kern, out, nc
	return nil
}

func (c *einsumDenseConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	lead := len(s) - len(c.in) // axes covered by "..."
	if lead < 0 || (!c.ellipsis && lead != 0) {
		return nil, nil, fmt.Errorf("input of rank %d for the equation %q", len(s), c.equation)
	}
	nw := len(c.kern) - c.nc
	// Keras: output_shape lists the output's axes but the batch axis: the
	// labelled ones after the first, or, with "...", every labelled one.
	free := s[1 : len(s)-c.nc]
	if c.ellipsis {
		free = s[lead : len(s)-c.nc]
	}
	if len(c.outShape) != len(free)+nw {
		return nil, nil, fmt.Errorf("output_shape %v: want %d dimensions for the equation %q", c.outShape, len(free)+nw, c.equation)
	}
	for i, d := range free {
		if o := c.outShape[i]; o >= 0 && d >= 0 && o != d {
			return nil, nil, fmt.Errorf("output_shape %v: dimension %d is %d in the input %s", c.outShape, i, d, runtime.FormatShape(s))
		}
	}
	tail := c.outShape[len(free):]
	k, n := 1, 1
	for _, d := range s[len(s)-c.nc:] {
		if d < 0 {
			return nil, nil, fmt.Errorf("input shape %s: the contracted axes must be known", runtime.FormatShape(s))
		}
		k *= d
	}
	for i, d := range tail {
		if d < 0 {
			return nil, nil, fmt.Errorf("output_shape %v: the size of kernel axis %q must be known", c.outShape, string(c.kern[c.nc+i]))
		}
		n *= d
	}
	kshape := append(append([]int(nil), s[len(s)-c.nc:]...), tail...)
	outShape := append(append([]int(nil), s[:len(s)-c.nc]...), tail...)
	// The bias: the output axes from the first bias label to the last axis,
	// each its size when it is a bias label, else 1 (keras/src/layers/core/
	// einsum_dense.py _analyze_split_string).
	var bshape []int
	if c.hasBias {
		first := len(c.out)
		for _, ch := range c.biasAxes {
			first = min(first, strings.IndexRune(c.out, ch))
		}
		off := len(outShape) - len(c.out)
		for i := first; i < len(c.out); i++ {
			d := 1
			if strings.IndexByte(c.biasAxes, c.out[i]) >= 0 {
				d = outShape[off+i]
				if d < 0 {
					return nil, nil, fmt.Errorf("bias axis %q has no known size", string(c.out[i]))
				}
			}
			bshape = append(bshape, d)
		}
	}
	l := &einsumDenseLayer{k: k, n: n, nc: c.nc, outTail: tail, act: c.act}
	var bias Weight
	if c.quant == "int8" {
		kw, b, sc, err := takeQuantizedKernel(w, kshape, bshape, n)
		if err != nil {
			return nil, nil, err
		}
		bias = b
		if l.q, err = newInt8Matmul(k, n, kw.Data, sc.Data); err != nil {
			return nil, nil, err
		}
	} else {
		kw, err := w.Take("kernel", kshape...)
		if err != nil {
			return nil, nil, err
		}
		l.kernel = kw.Data
		if c.hasBias {
			if bias, err = w.Take("bias", bshape...); err != nil {
				return nil, nil, err
			}
		}
	}
	if c.hasBias {
		l.biasFull = broadcastBias(outShape, bshape, bias.Data)
	}
	l.base = newBase(c.spec, w)
	return l, [][]int{outShape}, nil
}

// broadcastBias expands a bias of shape bshape, aligned with the trailing
// axes of out, to the full block of those axes.
func broadcastBias(out, bshape []int, b []float32) []float32 {
	tail := out[len(out)-len(bshape):]
	n := runtimeNumElements(tail)
	full := make([]float32, n)
	idx := make([]int, len(tail))
	for f := 0; f < n; f++ {
		bi := 0
		for a := range tail {
			bi *= bshape[a]
			if bshape[a] != 1 {
				bi += idx[a]
			}
		}
		full[f] = b[bi]
		for a := len(tail) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < tail[a] {
				break
			}
			idx[a] = 0
		}
	}
	return full
}

func (l *einsumDenseLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	kept := x.Rank() - l.nc // the output keeps the input's free axes
	if kept < 1 || runtime.NumElements(x.Shape[kept:]) != l.k {
		return nil, fmt.Errorf("layers: layer %q (EinsumDense): input shape %v does not end with axes of %d values in all", l.name, x.Shape, l.k)
	}
	rows := runtime.NumElements(x.Shape[:kept])
	shape := make([]int, 0, kept+len(l.outTail))
	shape = append(append(shape, x.Shape[:kept]...), l.outTail...)
	out := runtime.Zeros(shape...)
	if l.q != nil {
		l.q.forward(rows, x.Data, out.Data)
	} else {
		l.kernelP.mul(rows, l.n, l.k, x.Data, l.k, l.kernel, out.Data, l.n, false)
	}
	if l.biasFull != nil {
		addBias(out.Data, l.biasFull)
	}
	last := 1
	if len(shape) > 0 {
		last = shape[len(shape)-1]
	}
	l.act(out.Data, last)
	return runtime.One(out), nil
}

func init() {
	Register("EinsumDense", decodeEinsumDense)
}
