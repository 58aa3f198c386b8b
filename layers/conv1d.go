package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// conv1dLayer is a 1-D convolution over the time axis.
//
// Keras: the kernel is stored [kernel_size, in_channels, filters] for both
// data formats. "causal" padding pads (k-1)*dilation zeros on the left, then
// runs "valid"; "same" pads floor(total/2) on the left and the rest on the
// right.
type conv1dLayer struct {
	base
	conv1dGeom
	filters int
	kernel  []float32 // [k*in, filters]
	kernelP packed
	bias    []float32
	act     ActFunc
}

type conv1dConfig struct {
	spec          Spec
	filters, k    int
	stride, dil   int
	padding       string
	channelsFirst bool
	useBias       bool
	act           ActFunc
}

func decodeConv1D(r *Reader) (Config, error) {
	c := &conv1dConfig{spec: r.Spec()}
	c.filters = r.PositiveInt("filters", 0)
	c.k = single(r, "kernel_size", 1)
	c.stride = single(r, "strides", 1)
	c.dil = single(r, "dilation_rate", 1)
	c.padding = r.OneOf("padding", "valid", "valid", "same", "causal")
	c.channelsFirst = r.OneOf("data_format", "channels_last", "channels_last", "channels_first") == "channels_first"
	c.useBias = r.Bool("use_bias", true)
	_, c.act = r.activation("activation", "linear")
	if g := r.Int("groups", 1); g != 1 {
		r.Unsupported("groups", "grouped convolution (groups=%d)", g)
	}
	// Keras: "Specifying any stride value != 1 is incompatible with
	// specifying any dilation_rate value != 1" (keras/layers/convolutional.py).
	if c.stride > 1 && c.dil > 1 {
		r.Errorf("dilation_rate", "dilation_rate %d together with strides %d: Keras rejects strides > 1 with dilation > 1", c.dil, c.stride)
	}
	return c, nil
}

// single reads a positive int or a one-element list.
func single(r *Reader, key string, def int) int {
	v := r.Ints(key, []int{def})
	if len(v) != 1 {
		r.Errorf(key, "want one value, got %v", v)
		return def
	}
	if v[0] <= 0 {
		r.Errorf(key, "must be positive, got %d", v[0])
		return def
	}
	return v[0]
}

// convOutLen is the output length of a 1-D convolution or pooling.
func convOutLen(n, k, stride, dil int, padding string) int {
	if n < 0 {
		return -1
	}
	span := (k-1)*dil + 1
	switch padding {
	case "same", "causal":
		return (n + stride - 1) / stride
	default:
		if n < span {
			return 0
		}
		return (n-span)/stride + 1
	}
}

func (c *conv1dConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != 3 {
		return nil, nil, fmt.Errorf("input shape %s: Conv1D needs rank 3", runtime.FormatShape(s))
	}
	steps, ch := s[1], s[2]
	if c.channelsFirst {
		steps, ch = s[2], s[1]
	}
	l := &conv1dLayer{conv1dGeom: conv1dGeom{k: c.k, stride: c.stride, dil: c.dil, padding: c.padding, channelsFirst: c.channelsFirst}, filters: c.filters, act: c.act}
	kw, err := w.Take("kernel", c.k, ch, c.filters)
	if err != nil {
		return nil, nil, err
	}
	l.in, l.kernel = kw.Shape[1], kw.Data
	if c.spec.Env.Backend == "theano" {
		// Keras: a kernel saved by the Theano backend is flipped along its
		// spatial axis before TensorFlow uses it (saving.py
		// preprocess_weights_for_loading, conv_utils.convert_kernel).
		l.kernel = flipKernel(kw.Data, c.k)
	}
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

func (l *conv1dLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	data, b, steps, outLen, padLeft, err := l.input(l.name, l.class, in[0])
	if err != nil {
		return nil, err
	}
	defer l.doneInput(data)
	ch := l.in
	kc := l.k * l.in
	out := runtime.Empty(b, outLen, l.filters) // every element is written by the product
	if l.dil == 1 {
		// Without dilation the receptive field of output step t is the
		// contiguous run of k*in values from step t*stride of the (padded)
		// input, so the product reads the input in place, with a row
		// stride of stride*in: no im2col copy.
		need := (outLen-1)*l.stride + l.k // padded steps the last row reaches
		pad := padLeft > 0 || need > steps
		conv1dSamples.forSamples(b, outLen*l.filters*kc, conv1dArgs{l: l, data: data, out: out.Data,
			b: b, steps: steps, outLen: outLen, padLeft: padLeft, need: need, pad: pad})
		if b == 1 {
			l.act(out.Data, l.filters)
		}
	} else {
		// im2col: one row of k*in values per output step, zeros where padded.
		cols := zeroScratch(b * outLen * kc)
		defer putScratch(cols)
		for bi := 0; bi < b; bi++ {
			src := data[bi*steps*ch : (bi+1)*steps*ch]
			for t := 0; t < outLen; t++ {
				row := cols[(bi*outLen+t)*kc : (bi*outLen+t+1)*kc]
				for j := 0; j < l.k; j++ {
					pos := t*l.stride + j*l.dil - padLeft
					if pos >= 0 && pos < steps {
						copy(row[j*l.in:(j+1)*l.in], src[pos*ch:(pos+1)*ch])
					}
				}
			}
		}
		l.kernelP.mulBias(b*outLen, l.filters, kc, cols, kc, l.kernel, l.bias, out.Data, l.filters)
		l.act(out.Data, l.filters)
	}
	return runtime.One(l.finish(out)), nil
}

// conv1dArgs is what a sample of Conv1D's product without dilation needs
// (conv1dSample).
type conv1dArgs struct {
	l                               *conv1dLayer
	data, out                       []float32
	b, steps, outLen, padLeft, need int
	pad                             bool
}

var conv1dSamples = newSamplePool(conv1dSample)

// conv1dSample computes sample bi of the product without dilation, which
// reads the input in place (see Forward).
func conv1dSample(a *conv1dArgs, bi int) {
	l, ch := a.l, a.l.in
	src := a.data[bi*a.steps*ch : (bi+1)*a.steps*ch]
	if a.pad {
		p := zeroScratch(max(a.need, a.padLeft+a.steps) * ch)
		defer putScratch(p)
		copy(p[a.padLeft*ch:], src)
		src = p
	}
	dst := a.out[bi*a.outLen*l.filters : (bi+1)*a.outLen*l.filters]
	l.kernelP.mulBias(a.outLen, l.filters, l.k*l.in, src, l.stride*ch, l.kernel, l.bias, dst, l.filters)
	if a.b > 1 {
		l.act(dst, l.filters)
	}
}

// conv1dGeom is the geometry that Conv1D and SeparableConv1D share: kernel
// size, input channels, stride, dilation, padding and data format.
type conv1dGeom struct {
	k, in, stride, dil int
	padding            string
	channelsFirst      bool
}

// outShape is the static output shape for a batch, a number of input steps
// and of filters.
func (g *conv1dGeom) outShape(batch, steps, filters int) ([][]int, error) {
	outLen := convOutLen(steps, g.k, g.stride, g.dil, g.padding)
	if outLen == 0 {
		return nil, fmt.Errorf("input of %d steps is shorter than the kernel span %d", steps, (g.k-1)*g.dil+1)
	}
	if g.channelsFirst {
		return [][]int{{batch, filters, outLen}}, nil
	}
	return [][]int{{batch, outLen, filters}}, nil
}

// input checks x and returns its data in channels_last order, with the
// batch, the number of steps, the output length and the left padding.
// Give the data back with doneInput.
func (g *conv1dGeom) input(name, class string, x *runtime.Tensor) (data []float32, b, steps, outLen, padLeft int, err error) {
	if x.Rank() != 3 {
		return nil, 0, 0, 0, 0, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank 3", name, class, x.Shape)
	}
	b, steps, ch := x.Shape[0], x.Shape[1], x.Shape[2]
	data = x.Data
	if g.channelsFirst {
		steps, ch = ch, steps
	}
	if ch != g.in {
		return nil, 0, 0, 0, 0, fmt.Errorf("layers: layer %q (%s): input has %d channels, want %d", name, class, ch, g.in)
	}
	outLen = convOutLen(steps, g.k, g.stride, g.dil, g.padding)
	if outLen <= 0 {
		return nil, 0, 0, 0, 0, fmt.Errorf("layers: layer %q (%s): input of %d steps is shorter than the kernel span %d", name, class, steps, (g.k-1)*g.dil+1)
	}
	switch g.padding {
	case "causal":
		padLeft = (g.k - 1) * g.dil
	case "same":
		padLeft = samePad("same", steps, outLen, g.k, g.stride, g.dil)
	}
	if g.channelsFirst {
		data = transpose12(x.Data, b, x.Shape[1], x.Shape[2])
	}
	return data, b, steps, outLen, padLeft, nil
}

// doneInput gives back the data that input returned.
func (g *conv1dGeom) doneInput(data []float32) {
	if g.channelsFirst {
		putScratch(data)
	}
}

// finish returns a channels_last output [batch, steps, filters] in the
// layer's data format.
func (g *conv1dGeom) finish(out *runtime.Tensor) *runtime.Tensor {
	if !g.channelsFirst {
		return out
	}
	b, n, f := out.Shape[0], out.Shape[1], out.Shape[2]
	cf := runtime.Empty(b, f, n)
	transpose12Into(cf.Data, out.Data, b, n, f)
	runtime.Recycle(out)
	return cf
}

// flipKernel reverses the first axis of a [k, ...] kernel.
func flipKernel(k []float32, n int) []float32 {
	out := make([]float32, len(k))
	step := len(k) / n
	for i := 0; i < n; i++ {
		copy(out[i*step:(i+1)*step], k[(n-1-i)*step:(n-i)*step])
	}
	return out
}

// transpose12 swaps the last two axes of a [b, n, m] array, into scratch
// (getScratch) to give back.
func transpose12(x []float32, b, n, m int) []float32 {
	out := getScratch(len(x))
	transpose12Into(out, x, b, n, m)
	return out
}

// transpose12Into writes x, a [b, n, m] array, into out as [b, m, n].
func transpose12Into(out, x []float32, b, n, m int) {
	for bi := 0; bi < b; bi++ {
		src := x[bi*n*m : (bi+1)*n*m]
		dst := out[bi*n*m : (bi+1)*n*m]
		for i := 0; i < n; i++ {
			for j := 0; j < m; j++ {
				dst[j*n+i] = src[i*m+j]
			}
		}
	}
}

func init() {
	Register("Conv1D", decodeConv1D)
}
