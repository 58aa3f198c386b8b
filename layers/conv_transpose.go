package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// Conv2DTranspose over [batch, rows, cols, ch] (channels_last) or
// [batch, ch, rows, cols] (channels_first). It does not support masking in
// Keras.
//
// Keras: the kernel is stored [rows, cols, filters, in] for both data
// formats. Input pixel (i, j) adds x[i, j, c]·kernel[u, v, f, c] to output
// pixel (i·stride + u - pad_top, j·stride + v - pad_left). The output size
// per axis follows backend_utils.compute_conv_transpose_output_shape:
//
//	valid, output_padding None: (n-1)·stride + max(k, stride)
//	valid, output_padding p:    (n-1)·stride + k + p
//	same,  output_padding None: n·stride
//	same,  output_padding p:    (n-1)·stride + k%2 + p
//
// and the padding before is TensorFlow's for the convolution that this one
// transposes: 0 for valid, floor(max((n-1)·stride + k - out, 0)/2) for
// same. Output positions that no input reaches hold the bias.

// convTransposeOutLen is the output length of one axis; outPad < 0 stands
// for output_padding None.
func convTransposeOutLen(n, k, stride, outPad int, padding string) int {
	if n < 0 {
		return -1
	}
	switch {
	case padding == "valid" && outPad < 0:
		return (n-1)*stride + max(k, stride)
	case padding == "valid":
		return (n-1)*stride + k + outPad
	case outPad < 0:
		return n * stride
	}
	return (n-1)*stride + k%2 + outPad
}

// convTransposePad is the padding before the first output position.
func convTransposePad(n, out, k, stride int, padding string) int {
	if padding != "same" {
		return 0
	}
	return max((n-1)*stride+k-out, 0) / 2
}

type convTranspose2DLayer struct {
	base
	k, stride     [2]int
	outPad        [2]int // -1: None
	in, filters   int
	padding       string
	channelsFirst bool
	kernel        []float32 // [in, kh*kw*filters]
	kernelP       packed
	bias          []float32
	act           ActFunc
}

type convTranspose2DConfig struct {
	conv2DOptions
	filters int
	outPad  [2]int
}

func decodeConv2DTranspose(r *Reader) (Config, error) {
	c := &convTranspose2DConfig{filters: r.PositiveInt("filters", 0), outPad: [2]int{-1, -1}}
	c.conv2DOptions = readConv2DOptions(r)
	if c.dil != [2]int{1, 1} {
		r.Unsupported("dilation_rate", "dilated transposed convolution (dilation_rate %v)", c.dil)
	}
	if r.Has("output_padding") {
		p0, p1 := pairOption(r, "output_padding", 0)
		c.outPad = [2]int{p0, p1}
		// Keras: output_padding must be smaller than the stride.
		for i := range c.outPad {
			if c.outPad[i] >= c.stride[i] {
				r.Errorf("output_padding", "%v must be smaller than the strides %v", c.outPad, c.stride)
				break
			}
		}
	}
	r.Ignore("output_padding")
	return c, nil
}

func (c *convTranspose2DConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != 4 {
		return nil, nil, fmt.Errorf("input shape %s: Conv2DTranspose needs rank 4", runtime.FormatShape(s))
	}
	h, wd, ch := spatial2D(s, c.channelsFirst)
	kw, err := w.Take("kernel", c.k[0], c.k[1], c.filters, ch)
	if err != nil {
		return nil, nil, err
	}
	cin := kw.Shape[3]
	kern := kw.Data
	if c.spec.Env.Backend == "theano" {
		// Keras: a kernel saved by the Theano backend is flipped along its
		// spatial axes before TensorFlow uses it (conv_utils.convert_kernel).
		kern = flipKernel2D(kern, c.k[0], c.k[1])
	}
	// [kh, kw, filters, in] -> [in, kh*kw*filters], the right factor of the
	// product x [pixels, in] · kernel.
	taps := c.k[0] * c.k[1] * c.filters
	kt := make([]float32, cin*taps)
	for t := 0; t < taps; t++ {
		for ci := 0; ci < cin; ci++ {
			kt[ci*taps+t] = kern[t*cin+ci]
		}
	}
	l := &convTranspose2DLayer{k: c.k, stride: c.stride, outPad: c.outPad, in: cin, filters: c.filters,
		padding: c.padding, channelsFirst: c.channelsFirst, kernel: kt, act: c.act}
	if l.bias, err = takeBias(w, c.useBias, c.filters); err != nil {
		return nil, nil, err
	}
	l.base = newBase(c.spec, w)
	oh, ow := l.outSize(h, wd)
	return l, [][]int{shape2D(s[0], oh, ow, c.filters, c.channelsFirst)}, nil
}

func (l *convTranspose2DLayer) outSize(h, w int) (int, int) {
	return convTransposeOutLen(h, l.k[0], l.stride[0], l.outPad[0], l.padding),
		convTransposeOutLen(w, l.k[1], l.stride[1], l.outPad[1], l.padding)
}

// convTransposeArgs is what one sample of the scatter step needs
// (convTransposeSample).
type convTransposeArgs struct {
	l                    *convTranspose2DLayer
	cols, out            []float32 // [b, h, w, kh*kw*filters], [b, oh, ow, filters]
	h, w, oh, ow, pt, pl int
}

var convTransposeSamples = newSamplePool(convTransposeSample)

// convTransposeSample adds sample bi's products into its output pixels,
// over the bias, then applies the activation.
func convTransposeSample(a *convTransposeArgs, bi int) {
	l, f := a.l, a.l.filters
	taps := l.k[0] * l.k[1] * f
	out := a.out[bi*a.oh*a.ow*f : (bi+1)*a.oh*a.ow*f]
	if l.bias != nil {
		for p := 0; p < a.oh*a.ow; p++ {
			copy(out[p*f:(p+1)*f], l.bias)
		}
	} else {
		clear(out)
	}
	for i := 0; i < a.h; i++ {
		for j := 0; j < a.w; j++ {
			src := a.cols[((bi*a.h+i)*a.w+j)*taps : ((bi*a.h+i)*a.w+j+1)*taps]
			for u := 0; u < l.k[0]; u++ {
				y := i*l.stride[0] + u - a.pt
				if y < 0 || y >= a.oh {
					continue
				}
				for v := 0; v < l.k[1]; v++ {
					x := j*l.stride[1] + v - a.pl
					if x < 0 || x >= a.ow {
						continue
					}
					o := out[(y*a.ow+x)*f : (y*a.ow+x+1)*f]
					for c, s := range src[(u*l.k[1]+v)*f : (u*l.k[1]+v+1)*f] {
						o[c] += s
					}
				}
			}
		}
	}
	l.act(out, f)
}

func (l *convTranspose2DLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 4 {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank 4", l.name, l.class, x.Shape)
	}
	b := x.Shape[0]
	h, w, ch := spatial2D(x.Shape, l.channelsFirst)
	if ch != l.in {
		return nil, fmt.Errorf("layers: layer %q (%s): input has %d channels, want %d", l.name, l.class, ch, l.in)
	}
	if h == 0 || w == 0 {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v has no pixels", l.name, l.class, x.Shape)
	}
	oh, ow := l.outSize(h, w)
	data := toChannelsLast(x, l.channelsFirst)
	taps := l.k[0] * l.k[1] * l.filters
	cols := getScratch(b * h * w * taps) // every value is written
	defer putScratch(cols)
	l.kernelP.mul(b*h*w, taps, l.in, data, l.in, l.kernel, cols, taps, false)
	doneChannelsLast(data, l.channelsFirst)
	res := getScratch(b * oh * ow * l.filters)
	convTransposeSamples.forSamples(b, h*w*taps, convTransposeArgs{l: l, cols: cols, out: res, h: h, w: w, oh: oh, ow: ow,
		pt: convTransposePad(h, oh, l.k[0], l.stride[0], l.padding),
		pl: convTransposePad(w, ow, l.k[1], l.stride[1], l.padding)})
	return runtime.One(fromChannelsLast(res, b, oh, ow, l.filters, l.channelsFirst)), nil
}

func init() {
	Register("Conv2DTranspose", decodeConv2DTranspose)
}
