package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// separableConv1DLayer is a depthwise 1-D convolution followed by a
// pointwise (1x1) one.
//
// Keras: depthwise_kernel is stored [k, in, depth_multiplier]: depthwise
// output channel c·depth_multiplier+m is input channel c convolved with
// depthwise_kernel[:, c, m]. pointwise_kernel is [1, in·depth_multiplier,
// filters], then bias [filters] and the activation. Padding, strides and
// dilation act on the depthwise step as in Conv1D ("causal" pads
// (k-1)·dilation zeros on the left). The layer does not support masking.
type separableConv1DLayer struct {
	base
	conv1dGeom
	mult, filters int
	dw            *depthwise2D // the depthwise step, as one row of a 2-D one
	pointwise     []float32    // [in*mult, filters]
	pointwiseP    packed
	bias          []float32
	act           ActFunc
}

type separableConv1DConfig struct {
	spec          Spec
	filters, k    int
	mult          int
	stride, dil   int
	padding       string
	channelsFirst bool
	useBias       bool
	act           ActFunc
}

func decodeSeparableConv1D(r *Reader) (Config, error) {
	c := &separableConv1DConfig{spec: r.Spec()}
	c.filters = r.PositiveInt("filters", 0)
	if !r.Has("kernel_size") {
		r.Errorf("kernel_size", "missing")
	}
	c.k = single(r, "kernel_size", 1)
	c.stride = single(r, "strides", 1)
	c.dil = single(r, "dilation_rate", 1)
	c.mult = r.PositiveInt("depth_multiplier", 1)
	c.padding = r.OneOf("padding", "valid", "valid", "same", "causal")
	c.channelsFirst = channelsFirstOption(r)
	c.useBias = r.Bool("use_bias", true)
	_, c.act = r.activation("activation", "linear")
	r.Ignore("depthwise_initializer", "pointwise_initializer", "depthwise_regularizer",
		"pointwise_regularizer", "depthwise_constraint", "pointwise_constraint")
	// Keras: TensorFlow's separable convolution rejects strides > 1 with a
	// dilation rate > 1.
	if c.stride > 1 && c.dil > 1 {
		r.Errorf("dilation_rate", "dilation_rate %d together with strides %d: Keras rejects strides > 1 with dilation > 1", c.dil, c.stride)
	}
	return c, nil
}

func (c *separableConv1DConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != 3 {
		return nil, nil, fmt.Errorf("input shape %s: SeparableConv1D needs rank 3", runtime.FormatShape(s))
	}
	steps, ch := s[1], s[2]
	if c.channelsFirst {
		steps, ch = s[2], s[1]
	}
	dw, err := w.Take("depthwise_kernel", c.k, ch, c.mult)
	if err != nil {
		return nil, nil, err
	}
	ch = dw.Shape[1]
	pw, err := w.Take("pointwise_kernel", 1, ch*c.mult, c.filters)
	if err != nil {
		return nil, nil, err
	}
	l := &separableConv1DLayer{conv1dGeom: conv1dGeom{k: c.k, in: ch, stride: c.stride, dil: c.dil, padding: c.padding, channelsFirst: c.channelsFirst},
		mult: c.mult, filters: c.filters, pointwise: pw.Data, act: c.act,
		dw: &depthwise2D{k: [2]int{1, c.k}, stride: [2]int{1, c.stride}, dil: [2]int{1, c.dil}, in: ch, mult: c.mult,
			padding: c.padding, kernel: dw.Data}}
	if l.bias, err = takeBias(w, c.useBias, c.filters); err != nil {
		return nil, nil, err
	}
	l.base = newBase(c.spec, w)
	out, err := l.outShape(s[0], steps, c.filters)
	if err != nil {
		return nil, nil, err
	}
	return l, out, nil
}

func (l *separableConv1DLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	data, b, steps, outLen, padLeft, err := l.input(l.name, l.class, in[0])
	if err != nil {
		return nil, err
	}
	defer l.doneInput(data)
	// Depthwise step: [b*outLen, in*mult], one row of a 2-D depthwise
	// convolution per sample.
	dm := l.in * l.mult
	depth := getScratch(b * outLen * dm) // every value is written
	defer putScratch(depth)
	l.dw.run(data, depth, nil, b, 1, steps, 0, padLeft, nil)
	out := runtime.Zeros(b, outLen, l.filters)
	l.pointwiseP.mul(b*outLen, l.filters, dm, depth, dm, l.pointwise, out.Data, l.filters, false)
	if l.bias != nil {
		addBias(out.Data, l.bias)
	}
	l.act(out.Data, l.filters)
	return runtime.One(l.finish(out)), nil
}

func init() {
	Register("SeparableConv1D", decodeSeparableConv1D)
}
