package layers

import (
	"fmt"
	"math"

	"github.com/kerasrun/kerasrun/internal/kernels"
	"github.com/kerasrun/kerasrun/runtime"
)

// Conv2D, MaxPooling2D and AveragePooling2D over [batch, rows, cols, ch]
// (channels_last) or [batch, ch, rows, cols] (channels_first). None of them
// supports masking in Keras.
//
// Keras: the Conv2D kernel is stored [rows, cols, in, filters] for both
// data formats. "same" pads floor(total/2) before and the rest after, on
// each spatial axis, where total = (out-1)·stride + (k-1)·dilation + 1 - n
// and out = ceil(n/stride).

// pairOf reads an int or a list of two positive ints.
func pairOf(r *Reader, key string, def int) [2]int {
	v := r.Ints(key, []int{def})
	if len(v) == 1 {
		v = []int{v[0], v[0]}
	}
	if len(v) != 2 {
		r.Errorf(key, "want an integer or a pair, got %v", v)
		return [2]int{def, def}
	}
	if v[0] <= 0 || v[1] <= 0 {
		r.Errorf(key, "must be positive, got %v", v)
		return [2]int{def, def}
	}
	return [2]int{v[0], v[1]}
}

// spatial2D returns the rows, cols and channels of a rank-4 shape.
func spatial2D(s []int, channelsFirst bool) (h, w, c int) {
	if channelsFirst {
		return s[2], s[3], s[1]
	}
	return s[1], s[2], s[3]
}

func shape2D(b, h, w, c int, channelsFirst bool) []int {
	if channelsFirst {
		return []int{b, c, h, w}
	}
	return []int{b, h, w, c}
}

// toChannelsLast returns x's data as [b, h, w, c]: x's own data, or
// scratch to give back with doneChannelsLast.
func toChannelsLast(x *runtime.Tensor, channelsFirst bool) []float32 {
	if !channelsFirst {
		return x.Data
	}
	d := getScratch(len(x.Data))
	permuteInto(d, x.Data, x.Shape, []int{0, 2, 3, 1})
	return d
}

// doneChannelsLast gives back what toChannelsLast returned.
func doneChannelsLast(d []float32, channelsFirst bool) {
	if channelsFirst {
		putScratch(d)
	}
}

// fromChannelsLast returns [b, h, w, c] data, from getScratch, as a tensor
// in the layer's format: over data itself, or in a tensor of its own (and
// data is given back).
func fromChannelsLast(data []float32, b, h, w, c int, channelsFirst bool) *runtime.Tensor {
	if !channelsFirst {
		return runtime.View(data, b, h, w, c)
	}
	out := runtime.Empty(b, c, h, w)
	permuteInto(out.Data, data, []int{b, h, w, c}, []int{0, 3, 1, 2})
	putScratch(data)
	return out
}

// samePad is the padding before the first element on one axis.
func samePad(padding string, n, out, k, stride, dil int) int {
	if padding != "same" {
		return 0
	}
	total := (out-1)*stride + (k-1)*dil + 1 - n
	if total <= 0 {
		return 0
	}
	return total / 2
}

// ---- Conv2D ----------------------------------------------------------------

type conv2dLayer struct {
	base
	k, stride, dil [2]int
	in, filters    int
	padding        string
	channelsFirst  bool
	kernel         []float32 // [kh*kw*in, filters]
	kernelP        packed
	bias           []float32
	act            ActFunc
	linear         bool // act is the identity (see Fuse)
}

// conv2DOptions are the options the 2-D convolutions (Conv2D,
// Conv2DTranspose, DepthwiseConv2D, SeparableConv2D) share.
type conv2DOptions struct {
	spec           Spec
	k, stride, dil [2]int
	padding        string
	channelsFirst  bool
	useBias        bool
	act            ActFunc
	linear         bool // act is "linear"
}

// readConv2DOptions reads the options of conv2DOptions.
func readConv2DOptions(r *Reader) conv2DOptions {
	c := conv2DOptions{spec: r.Spec()}
	if !r.Has("kernel_size") {
		r.Errorf("kernel_size", "missing")
	}
	c.k = pairOf(r, "kernel_size", 1)
	c.stride = pairOf(r, "strides", 1)
	c.dil = pairOf(r, "dilation_rate", 1)
	c.padding = r.OneOf("padding", "valid", "valid", "same")
	c.channelsFirst = channelsFirstOption(r)
	c.useBias = r.Bool("use_bias", true)
	name, act := r.activation("activation", "linear")
	c.act, c.linear = act, name == "linear"
	// Keras: tf.keras writes Conv's groups into every convolution's
	// config; only 1 has a meaning here.
	if g := r.Int("groups", 1); g != 1 {
		r.Unsupported("groups", "grouped convolution (groups=%d)", g)
	}
	// Keras: strides > 1 together with dilation_rate > 1 is rejected.
	if max(c.stride[0], c.stride[1]) > 1 && max(c.dil[0], c.dil[1]) > 1 {
		r.Errorf("dilation_rate", "dilation_rate %v together with strides %v: Keras rejects strides > 1 with dilation > 1", c.dil, c.stride)
	}
	return c
}

// takeBias takes a layer's bias of n values when it has one.
func takeBias(w *Weights, useBias bool, n int) ([]float32, error) {
	if !useBias {
		return nil, nil
	}
	b, err := w.Take("bias", n)
	return b.Data, err
}

type conv2dConfig struct {
	conv2DOptions
	filters int
}

func decodeConv2D(r *Reader) (Config, error) {
	c := &conv2dConfig{filters: r.PositiveInt("filters", 0)}
	c.conv2DOptions = readConv2DOptions(r)
	return c, nil
}

func (c *conv2dConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != 4 {
		return nil, nil, fmt.Errorf("input shape %s: Conv2D needs rank 4", runtime.FormatShape(s))
	}
	h, wd, ch := spatial2D(s, c.channelsFirst)
	kw, err := w.Take("kernel", c.k[0], c.k[1], ch, c.filters)
	if err != nil {
		return nil, nil, err
	}
	l := &conv2dLayer{k: c.k, stride: c.stride, dil: c.dil, in: kw.Shape[2], filters: c.filters,
		padding: c.padding, channelsFirst: c.channelsFirst, kernel: kw.Data, act: c.act, linear: c.linear}
	if c.spec.Env.Backend == "theano" {
		// Keras: a kernel saved by the Theano backend is flipped along its
		// spatial axes before TensorFlow uses it (conv_utils.convert_kernel).
		l.kernel = flipKernel2D(kw.Data, c.k[0], c.k[1])
	}
	if l.bias, err = takeBias(w, c.useBias, c.filters); err != nil {
		return nil, nil, err
	}
	l.base = newBase(c.spec, w)
	oh := convOutLen(h, c.k[0], c.stride[0], c.dil[0], c.padding)
	ow := convOutLen(wd, c.k[1], c.stride[1], c.dil[1], c.padding)
	if oh == 0 || ow == 0 {
		return nil, nil, fmt.Errorf("input shape %s is smaller than the kernel span", runtime.FormatShape(s))
	}
	return l, [][]int{shape2D(s[0], oh, ow, c.filters, c.channelsFirst)}, nil
}

// flipKernel2D reverses the two spatial axes of a [kh, kw, ...] kernel.
func flipKernel2D(k []float32, kh, kw int) []float32 {
	out := make([]float32, len(k))
	step := len(k) / (kh * kw)
	for i := 0; i < kh; i++ {
		for j := 0; j < kw; j++ {
			src := ((kh-1-i)*kw + (kw - 1 - j)) * step
			copy(out[(i*kw+j)*step:(i*kw+j+1)*step], k[src:src+step])
		}
	}
	return out
}

func (l *conv2dLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 4 {
		return nil, fmt.Errorf("layers: layer %q (Conv2D): input shape %v, want rank 4", l.name, x.Shape)
	}
	b := x.Shape[0]
	h, w, ch := spatial2D(x.Shape, l.channelsFirst)
	if ch != l.in {
		return nil, fmt.Errorf("layers: layer %q (Conv2D): input has %d channels, want %d", l.name, ch, l.in)
	}
	oh := convOutLen(h, l.k[0], l.stride[0], l.dil[0], l.padding)
	ow := convOutLen(w, l.k[1], l.stride[1], l.dil[1], l.padding)
	if oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("layers: layer %q (Conv2D): input shape %v is smaller than the kernel span", l.name, x.Shape)
	}
	pt := samePad(l.padding, h, oh, l.k[0], l.stride[0], l.dil[0])
	pl := samePad(l.padding, w, ow, l.k[1], l.stride[1], l.dil[1])
	data := toChannelsLast(x, l.channelsFirst)
	kc := l.k[0] * l.k[1] * ch
	rows := b * oh * ow
	if l.k == [2]int{1, 1} && l.stride == [2]int{1, 1} {
		// A pointwise convolution: the input rows are the im2col rows.
		res := getScratch(rows * l.filters)
		l.kernelP.mulBiasAct(rows, l.filters, kc, data, kc, l.kernel, l.bias, res, l.filters, l.act, l.linear)
		doneChannelsLast(data, l.channelsFirst)
		return runtime.One(fromChannelsLast(res, b, oh, ow, l.filters, l.channelsFirst)), nil
	}
	// im2col and the product, a block of output rows at a time: the
	// im2col rows of a block (one row of kh*kw*in values per output
	// position) stay in cache for the product, which gives each row the
	// bits it gets in one product of all the rows (kernels.Gemm).
	res := getScratch(rows * l.filters)
	var act kernels.RowsFunc
	if !l.linear && l.act != nil {
		act = kernels.RowsFunc(l.act)
	}
	per := max((conv2DBlockRows+ow-1)/ow, conv2DBlockFloats/(ow*kc), 1) // output rows per block
	a := conv2DArgs{l: l, pb: l.kernelP.get(kc, l.filters, l.kernel), act: act, src: data, dst: res,
		h: h, w: w, oh: oh, ow: ow, pt: pt, pl: pl, per: per, rows: b * oh}
	conv2DBlocks.forSamples((b*oh+per-1)/per, per*ow*kc*l.filters, a)
	doneChannelsLast(data, l.channelsFirst)
	return runtime.One(fromChannelsLast(res, b, oh, ow, l.filters, l.channelsFirst)), nil
}

// A block of conv2DBlock takes enough output rows for conv2DBlockRows
// product rows (a row block of the kernels' product), or for about
// conv2DBlockFloats im2col values (256 KiB, within L2) when that is more.
// Variables, so that tests can cut blocks small.
var (
	conv2DBlockRows   = 96
	conv2DBlockFloats = 1 << 16
)

// conv2DArgs is what a block of output rows of Conv2D needs (conv2DBlock).
type conv2DArgs struct {
	l                    *conv2dLayer
	pb                   *kernels.PackedB
	act                  kernels.RowsFunc
	src, dst             []float32 // src [b, h, w, in], dst [b·oh·ow, filters]
	h, w, oh, ow, pt, pl int
	per, rows            int // output rows per block, and in all (b·oh)
}

var conv2DBlocks = newSamplePool(conv2DBlock)

// conv2DBlock computes output rows [k·per, (k+1)·per) (rows of all the
// samples, in order): their im2col rows into scratch, then their product
// with the kernel, bias and activation, on this goroutine.
func conv2DBlock(a *conv2DArgs, k int) {
	l := a.l
	kc := l.k[0] * l.k[1] * l.in
	r0, r1 := k*a.per, min((k+1)*a.per, a.rows)
	cols := getScratch((r1 - r0) * a.ow * kc)
	for r := r0; r < r1; r++ {
		im2colRow(a, r, cols[(r-r0)*a.ow*kc:(r-r0+1)*a.ow*kc])
	}
	m := (r1 - r0) * a.ow
	kernels.GemmBiasActParallel(m, cols, kc, a.pb, l.bias, a.dst[r0*a.ow*l.filters:], l.filters, a.act, 1)
	putScratch(cols)
}

// im2colRow writes into dst the im2col rows of output row r (sample r/oh,
// row r%oh): for each output column, its kernel window, kernel row by
// kernel row, with zeros for the taps in the padding. It walks a kernel
// row across the output columns, so that the columns whose taps all lie in
// the image (all but the padded edges) take one short copy each.
func im2colRow(a *conv2DArgs, r int, dst []float32) {
	l := a.l
	ch, kw, s := l.in, l.k[1], l.stride[1]
	n := kw * ch // one kernel row of a window
	kc := l.k[0] * n
	bi, i := r/a.oh, r%a.oh
	img := a.src[bi*a.h*a.w*ch : (bi+1)*a.h*a.w*ch]
	// The columns whose kernel row lies in the image, [jl, jr) (dilation 1).
	jl, jr := 0, 0
	if l.dil[1] == 1 {
		jl = min((a.pl+s-1)/s, a.ow)
		jr = jl
		if last := a.w - kw + a.pl; last >= 0 {
			jr = max(min(last/s+1, a.ow), jl)
		}
	}
	for u := 0; u < l.k[0]; u++ {
		y := i*l.stride[0] + u*l.dil[0] - a.pt
		if y < 0 || y >= a.h {
			for j := 0; j < a.ow; j++ {
				clear(dst[j*kc+u*n : j*kc+(u+1)*n])
			}
			continue
		}
		line := img[y*a.w*ch : (y+1)*a.w*ch]
		for j := jl; j < jr; j++ {
			x := (j*s - a.pl) * ch
			copySmall(dst[j*kc+u*n:j*kc+(u+1)*n], line[x:x+n])
		}
		for j := 0; j < a.ow; j++ {
			if j == jl {
				j = jr
				if j >= a.ow {
					break
				}
			}
			seg := dst[j*kc+u*n : j*kc+(u+1)*n]
			for v := 0; v < kw; v++ {
				xx := j*s + v*l.dil[1] - a.pl
				if xx < 0 || xx >= a.w {
					clear(seg[v*ch : (v+1)*ch])
					continue
				}
				copy(seg[v*ch:(v+1)*ch], line[xx*ch:(xx+1)*ch])
			}
		}
	}
}

// copySmall copies src[:len(dst)] into dst: by a loop when dst is short
// (a kernel row of a few input channels, as in a network's first
// convolution), where it beats the call of copy.
func copySmall(dst, src []float32) {
	if len(dst) > 32 {
		copy(dst, src)
		return
	}
	src = src[:len(dst)]
	for len(dst) >= 8 {
		*(*[8]float32)(dst) = *(*[8]float32)(src)
		dst, src = dst[8:], src[8:]
	}
	for t := range dst {
		dst[t] = src[t]
	}
}

// ---- MaxPooling2D and AveragePooling2D ---------------------------------

type pool2DLayer struct {
	base
	avg           bool
	k, stride     [2]int
	padding       string
	channelsFirst bool
}

type pool2DConfig struct {
	spec          Spec
	avg           bool
	k, stride     [2]int
	padding       string
	channelsFirst bool
}

// Keras: strides default to pool_size; "same" average pooling divides by
// the number of real positions in each window, max pooling ignores the
// padding.
func decodePool2D(avg bool) Decoder {
	return func(r *Reader) (Config, error) {
		c := &pool2DConfig{spec: r.Spec(), avg: avg}
		c.k = pairOf(r, "pool_size", 2)
		if r.Has("strides") {
			c.stride = pairOf(r, "strides", 1)
		} else {
			r.Ignore("strides")
			c.stride = c.k
		}
		c.padding = r.OneOf("padding", "valid", "valid", "same")
		c.channelsFirst = channelsFirstOption(r)
		return c, nil
	}
}

func (c *pool2DConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != 4 {
		return nil, nil, fmt.Errorf("input shape %s: %s needs rank 4", runtime.FormatShape(s), c.spec.Class)
	}
	h, wd, ch := spatial2D(s, c.channelsFirst)
	oh := convOutLen(h, c.k[0], c.stride[0], 1, c.padding)
	ow := convOutLen(wd, c.k[1], c.stride[1], 1, c.padding)
	if oh == 0 || ow == 0 {
		return nil, nil, fmt.Errorf("input shape %s is smaller than the pool size %v", runtime.FormatShape(s), c.k)
	}
	l := &pool2DLayer{base: newBase(c.spec, w), avg: c.avg, k: c.k, stride: c.stride, padding: c.padding, channelsFirst: c.channelsFirst}
	return l, [][]int{shape2D(s[0], oh, ow, ch, c.channelsFirst)}, nil
}

func (l *pool2DLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 4 {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank 4", l.name, l.class, x.Shape)
	}
	b := x.Shape[0]
	h, w, ch := spatial2D(x.Shape, l.channelsFirst)
	oh := convOutLen(h, l.k[0], l.stride[0], 1, l.padding)
	ow := convOutLen(w, l.k[1], l.stride[1], 1, l.padding)
	if oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v is smaller than the pool size %v", l.name, l.class, x.Shape, l.k)
	}
	pt := samePad(l.padding, h, oh, l.k[0], l.stride[0], 1)
	pl := samePad(l.padding, w, ow, l.k[1], l.stride[1], 1)
	data := toChannelsLast(x, l.channelsFirst)
	res := getScratch(b * oh * ow * ch) // every value is written
	accp := getF64(ch)
	defer putF64(accp)
	acc := *accp
	for bi := 0; bi < b; bi++ {
		img := data[bi*h*w*ch : (bi+1)*h*w*ch]
		for i := 0; i < oh; i++ {
			y0, y1 := max(i*l.stride[0]-pt, 0), min(i*l.stride[0]-pt+l.k[0], h)
			for j := 0; j < ow; j++ {
				x0, x1 := max(j*l.stride[1]-pl, 0), min(j*l.stride[1]-pl+l.k[1], w)
				for c := range acc {
					if l.avg {
						acc[c] = 0
					} else {
						acc[c] = math.Inf(-1)
					}
				}
				for y := y0; y < y1; y++ {
					for xx := x0; xx < x1; xx++ {
						for c, v := range img[(y*w+xx)*ch : (y*w+xx+1)*ch] {
							if l.avg {
								acc[c] += float64(v)
							} else if float64(v) > acc[c] || v != v {
								acc[c] = float64(v)
							}
						}
					}
				}
				dst := res[((bi*oh+i)*ow+j)*ch : ((bi*oh+i)*ow+j+1)*ch]
				n := float64((y1 - y0) * (x1 - x0))
				for c := range dst {
					if l.avg {
						dst[c] = float32(acc[c] / n)
					} else {
						dst[c] = float32(acc[c])
					}
				}
			}
		}
	}
	doneChannelsLast(data, l.channelsFirst)
	return runtime.One(fromChannelsLast(res, b, oh, ow, ch, l.channelsFirst)), nil
}

func init() {
	Register("Conv2D", decodeConv2D)
	Register("MaxPooling2D", decodePool2D(false))
	Register("AveragePooling2D", decodePool2D(true))
}
