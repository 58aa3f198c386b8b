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
	k, in, filters int
	stride, dil    int
	padding        string
	channelsFirst  bool
	kernel         []float32 // [k*in, filters]
	kernelP        packed
	bias           []float32
	act            ActFunc
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
	l := &conv1dLayer{k: c.k, filters: c.filters, stride: c.stride, dil: c.dil, padding: c.padding, channelsFirst: c.channelsFirst, act: c.act}
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
	if c.useBias {
		b, err := w.Take("bias", c.filters)
		if err != nil {
			return nil, nil, err
		}
		l.bias = b.Data
	}
	l.base = newBase(c.spec, w)
	outLen := convOutLen(steps, c.k, c.stride, c.dil, c.padding)
	if outLen == 0 {
		return nil, nil, fmt.Errorf("input of %d steps is shorter than the kernel span %d", steps, (c.k-1)*c.dil+1)
	}
	out := []int{s[0], outLen, c.filters}
	if c.channelsFirst {
		out = []int{s[0], c.filters, outLen}
	}
	return l, [][]int{out}, nil
}

func (l *conv1dLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 3 {
		return nil, fmt.Errorf("layers: layer %q (Conv1D): input shape %v, want rank 3", l.name, x.Shape)
	}
	b, steps, ch := x.Shape[0], x.Shape[1], x.Shape[2]
	data := x.Data
	if l.channelsFirst {
		steps, ch = ch, steps
		data = transpose12(x.Data, b, x.Shape[1], x.Shape[2])
	}
	if ch != l.in {
		return nil, fmt.Errorf("layers: layer %q (Conv1D): input has %d channels, want %d", l.name, ch, l.in)
	}
	outLen := convOutLen(steps, l.k, l.stride, l.dil, l.padding)
	if outLen <= 0 {
		return nil, fmt.Errorf("layers: layer %q (Conv1D): input of %d steps is shorter than the kernel span %d", l.name, steps, (l.k-1)*l.dil+1)
	}
	padLeft := 0
	switch l.padding {
	case "causal":
		padLeft = (l.k - 1) * l.dil
	case "same":
		total := (outLen-1)*l.stride + (l.k-1)*l.dil + 1 - steps
		if total > 0 {
			padLeft = total / 2
		}
	}
	kc := l.k * l.in
	out := runtime.Zeros(b, outLen, l.filters)
	if l.dil == 1 {
		// Without dilation the receptive field of output step t is the
		// contiguous run of k*in values from step t*stride of the (padded)
		// input, so the product reads the input in place, with a row
		// stride of stride*in: no im2col copy.
		need := (outLen-1)*l.stride + l.k // padded steps the last row reaches
		var padded []float32
		if padLeft > 0 || need > steps {
			p := zeroScratch(max(need, padLeft+steps) * ch)
			defer putScratch(p)
			padded = *p
		}
		for bi := 0; bi < b; bi++ {
			src := data[bi*steps*ch : (bi+1)*steps*ch]
			if padded != nil {
				copy(padded[padLeft*ch:], src)
				src = padded
			}
			l.kernelP.mulBias(outLen, l.filters, kc, src, l.stride*ch, l.kernel, l.bias, out.Data[bi*outLen*l.filters:], l.filters)
		}
	} else {
		// im2col: one row of k*in values per output step, zeros where padded.
		p := zeroScratch(b * outLen * kc)
		defer putScratch(p)
		cols := *p
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
	}
	l.act(out.Data, l.filters)
	if l.channelsFirst {
		out = &runtime.Tensor{Shape: []int{b, l.filters, outLen}, Data: transpose12(out.Data, b, outLen, l.filters)}
	}
	return []*runtime.Tensor{out}, nil
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

// transpose12 swaps the last two axes of a [b, n, m] array.
func transpose12(x []float32, b, n, m int) []float32 {
	out := make([]float32, len(x))
	for bi := 0; bi < b; bi++ {
		src := x[bi*n*m : (bi+1)*n*m]
		dst := out[bi*n*m : (bi+1)*n*m]
		for i := 0; i < n; i++ {
			for j := 0; j < m; j++ {
				dst[j*n+i] = src[i*m+j]
			}
		}
	}
	return out
}

func init() {
	Register("Conv1D", decodeConv1D)
}
