package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/internal/kernels"
	"github.com/kerasrun/kerasrun/runtime"
)

// DepthwiseConv2D and SeparableConv2D over [batch, rows, cols, ch]
// (channels_last) or [batch, ch, rows, cols] (channels_first). Neither
// supports masking in Keras.
//
// Keras: depthwise_kernel is stored [rows, cols, in, depth_multiplier] for
// both data formats: output channel c·depth_multiplier+m is input channel c
// convolved with depthwise_kernel[:, :, c, m]. SeparableConv2D follows its
// depthwise step with a pointwise (1x1) convolution, pointwise_kernel
// [1, 1, in·depth_multiplier, filters], then the bias [filters] and the
// activation; DepthwiseConv2D adds its bias [in·depth_multiplier] to the
// depthwise step. Padding, strides and dilation act on the depthwise step
// as in Conv2D.

// depthwise2D is the depthwise step of a 2-D convolution: its geometry and
// its kernel [kh, kw, in·mult] (the stored layout, flattened).
type depthwise2D struct {
	k, stride, dil [2]int
	in, mult       int
	padding        string
	channelsFirst  bool
	kernel         []float32
}

// outSize returns the output rows and columns for h x w inputs (0 when the
// input is smaller than the kernel span under "valid").
func (d *depthwise2D) outSize(h, w int) (oh, ow int) {
	return convOutLen(h, d.k[0], d.stride[0], d.dil[0], d.padding), convOutLen(w, d.k[1], d.stride[1], d.dil[1], d.padding)
}

// depthwiseArgs is what one output row of the depthwise step needs
// (depthwiseRow).
type depthwiseArgs struct {
	d                    *depthwise2D
	src, dst, bias       []float32 // src [b, h, w, in], dst [b, oh, ow, in·mult]
	h, w, oh, ow, pt, pl int
	act                  ActFunc // applied to each finished row; nil for none
}

var depthwiseRows = newSamplePool(depthwiseRow)

// run computes the depthwise step of channels_last src ([b, h, w, in]) into
// dst ([b, oh, ow, in·mult]), adding bias (nil for none) and applying act
// (nil for none), spread over the output rows. pt and pl are the zero rows
// and columns padded before the first input row and column.
func (d *depthwise2D) run(src, dst, bias []float32, b, h, w, pt, pl int, act ActFunc) {
	oh, ow := d.outSize(h, w)
	a := depthwiseArgs{d: d, src: src, dst: dst, bias: bias, h: h, w: w, oh: oh, ow: ow, pt: pt, pl: pl, act: act}
	depthwiseRows.forSamples(b*oh, ow*d.k[0]*d.k[1]*d.in*d.mult, a)
}

// depthwiseRow computes output row r (sample r/oh, row r%oh). It keeps the
// row's sums in dst itself and walks the channels innermost, where input,
// kernel and output are all contiguous. With depth_multiplier 1 and three
// kernel columns, the columns whose whole window lies in the image (all
// but the padded edges) add their window in one pass
// (kernels.MulAddWindow3), the others tap by tap, in the same order.
func depthwiseRow(a *depthwiseArgs, r int) {
	d := a.d
	cin, cm := d.in, d.in*d.mult
	bi, i := r/a.oh, r%a.oh
	row := a.dst[r*a.ow*cm : (r+1)*a.ow*cm]
	if a.bias != nil {
		// The bias in the first position, then copies of what is filled,
		// doubling each time.
		copy(row, a.bias)
		for f := cm; f < len(row); f *= 2 {
			copy(row[f:], row[:f])
		}
	} else {
		clear(row)
	}
	img := a.src[bi*a.h*a.w*cin : (bi+1)*a.h*a.w*cin]
	if d.mult != 1 || d.k[1] != 3 {
		depthwiseTaps(a, row, img, i, 0, a.ow)
	} else {
		// The kernel rows inside the image, [u0, u1), and the columns
		// whose three taps are inside it, [jl, jr).
		u0, u1 := 0, 0
		for u := 0; u < d.k[0]; u++ {
			if y := i*d.stride[0] + u*d.dil[0] - a.pt; y >= 0 && y < a.h {
				if u1 == 0 {
					u0 = u
				}
				u1 = u + 1
			}
		}
		s, span := d.stride[1], 2*d.dil[1]
		jl := min((a.pl+s-1)/s, a.ow)
		jr := jl
		if last := a.w - 1 - span + a.pl; last >= 0 {
			jr = max(min(last/s+1, a.ow), jl)
		}
		if u1 > u0 && jr > jl {
			y0 := i*d.stride[0] + u0*d.dil[0] - a.pt
			x0 := y0*a.w*cin + (jl*s-a.pl)*cin
			kernels.MulAddWindow3(row[jl*cm:], img[x0:], d.kernel[3*u0*cm:], cm, jr-jl, cm, s*cin,
				u1-u0, d.dil[0]*a.w*cin, d.dil[1]*cin)
		}
		depthwiseTaps(a, row, img, i, 0, jl)
		depthwiseTaps(a, row, img, i, jr, a.ow)
	}
	if a.act != nil {
		a.act(row, cm)
	}
}

// depthwiseTaps adds, tap by tap, the kernel window of output columns
// [jlo, jhi) of output row i to row.
func depthwiseTaps(a *depthwiseArgs, row, img []float32, i, jlo, jhi int) {
	d := a.d
	cin, mult := d.in, d.mult
	cm := cin * mult
	if jlo >= jhi {
		return
	}
	for u := 0; u < d.k[0]; u++ {
		y := i*d.stride[0] + u*d.dil[0] - a.pt
		if y < 0 || y >= a.h {
			continue
		}
		line := img[y*a.w*cin : (y+1)*a.w*cin]
		for v := 0; v < d.k[1]; v++ {
			off := v*d.dil[1] - a.pl // input column of output column j: j*stride + off
			j0 := jlo
			if off < 0 {
				j0 = max(j0, (-off+d.stride[1]-1)/d.stride[1])
			}
			last := a.w - 1 - off // the last input column, relative to off
			if last < 0 {
				continue
			}
			j1 := min(jhi, last/d.stride[1]+1)
			if j1 <= j0 {
				continue
			}
			kv := d.kernel[(u*d.k[1]+v)*cm : (u*d.k[1]+v+1)*cm]
			if mult == 1 {
				x0 := j0*d.stride[1] + off
				kernels.MulAddCols(row[j0*cm:j1*cm], line[x0*cin:], kv, cm, j1-j0, d.stride[1]*cin)
				continue
			}
			for j := j0; j < j1; j++ {
				x := j*d.stride[1] + off
				xs := line[x*cin : (x+1)*cin]
				o := row[j*cm : (j+1)*cm]
				for c, xv := range xs {
					oc, kc := o[c*mult:(c+1)*mult], kv[c*mult:(c+1)*mult]
					for m := range oc {
						oc[m] += xv * kc[m]
					}
				}
			}
		}
	}
}

// forward checks x and runs the depthwise step, returning its channels_last
// result [b, oh, ow, in·mult] in scratch to give back with putScratch.
func (d *depthwise2D) forward(name, class string, x *runtime.Tensor, bias []float32, act ActFunc) (res []float32, b, oh, ow int, err error) {
	if x.Rank() != 4 {
		return nil, 0, 0, 0, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank 4", name, class, x.Shape)
	}
	b = x.Shape[0]
	h, w, ch := spatial2D(x.Shape, d.channelsFirst)
	if ch != d.in {
		return nil, 0, 0, 0, fmt.Errorf("layers: layer %q (%s): input has %d channels, want %d", name, class, ch, d.in)
	}
	oh, ow = d.outSize(h, w)
	if oh <= 0 || ow <= 0 {
		return nil, 0, 0, 0, fmt.Errorf("layers: layer %q (%s): input shape %v is smaller than the kernel span", name, class, x.Shape)
	}
	data := toChannelsLast(x, d.channelsFirst)
	res = getScratch(b * oh * ow * d.in * d.mult) // every value is written
	d.run(data, res, bias, b, h, w, samePad(d.padding, h, oh, d.k[0], d.stride[0], d.dil[0]),
		samePad(d.padding, w, ow, d.k[1], d.stride[1], d.dil[1]), act)
	doneChannelsLast(data, d.channelsFirst)
	return res, b, oh, ow, nil
}

// depthwiseConfig holds the options DepthwiseConv2D and SeparableConv2D
// share.
type depthwiseConfig struct {
	conv2DOptions
	mult int
}

func decodeDepthwiseOptions(r *Reader, c *depthwiseConfig) {
	c.conv2DOptions = readConv2DOptions(r)
	c.mult = r.PositiveInt("depth_multiplier", 1)
	r.Ignore("depthwise_initializer", "depthwise_regularizer", "depthwise_constraint")
}

// build takes the depthwise kernel for the input shape s and returns the
// depthwise step and its output rows and columns.
func (c *depthwiseConfig) build(s []int, w *Weights) (*depthwise2D, int, int, error) {
	if len(s) != 4 {
		return nil, 0, 0, fmt.Errorf("input shape %s: %s needs rank 4", runtime.FormatShape(s), c.spec.Class)
	}
	h, wd, ch := spatial2D(s, c.channelsFirst)
	kw, err := w.Take("depthwise_kernel", c.k[0], c.k[1], ch, c.mult)
	if err != nil {
		return nil, 0, 0, err
	}
	d := &depthwise2D{k: c.k, stride: c.stride, dil: c.dil, in: kw.Shape[2], mult: c.mult,
		padding: c.padding, channelsFirst: c.channelsFirst, kernel: kw.Data}
	// Keras: unlike Conv2D's, a depthwise kernel saved by the Theano backend
	// is used as stored: preprocess_weights_for_loading converts the kernels
	// of Conv1D, Conv2D, Conv3D, Conv2DTranspose and ConvLSTM2D only.
	oh, ow := d.outSize(h, wd)
	if oh == 0 || ow == 0 {
		return nil, 0, 0, fmt.Errorf("input shape %s is smaller than the kernel span", runtime.FormatShape(s))
	}
	return d, oh, ow, nil
}

// ---- DepthwiseConv2D --------------------------------------------------------

type depthwiseConv2DLayer struct {
	base
	dw     *depthwise2D
	bias   []float32
	act    ActFunc
	linear bool // act is the identity (see Fuse)
}

type depthwiseConv2DConfig struct{ depthwiseConfig }

func decodeDepthwiseConv2D(r *Reader) (Config, error) {
	c := &depthwiseConv2DConfig{}
	decodeDepthwiseOptions(r, &c.depthwiseConfig)
	return c, nil
}

func (c *depthwiseConv2DConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	d, oh, ow, err := c.build(in[0], w)
	if err != nil {
		return nil, nil, err
	}
	l := &depthwiseConv2DLayer{dw: d, act: c.act, linear: c.linear}
	if l.bias, err = takeBias(w, c.useBias, d.in*d.mult); err != nil {
		return nil, nil, err
	}
	l.base = newBase(c.spec, w)
	return l, [][]int{shape2D(in[0][0], oh, ow, d.in*d.mult, c.channelsFirst)}, nil
}

func (l *depthwiseConv2DLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	res, b, oh, ow, err := l.dw.forward(l.name, l.class, in[0], l.bias, l.act)
	if err != nil {
		return nil, err
	}
	return runtime.One(fromChannelsLast(res, b, oh, ow, l.dw.in*l.dw.mult, l.dw.channelsFirst)), nil
}

// ---- SeparableConv2D --------------------------------------------------------

type separableConv2DLayer struct {
	base
	dw         *depthwise2D
	filters    int
	pointwise  []float32 // [in*mult, filters]
	pointwiseP packed
	bias       []float32
	act        ActFunc
	linear     bool // act is the identity (see Fuse)
}

type separableConv2DConfig struct {
	depthwiseConfig
	filters int
}

func decodeSeparableConv2D(r *Reader) (Config, error) {
	c := &separableConv2DConfig{}
	c.filters = r.PositiveInt("filters", 0)
	decodeDepthwiseOptions(r, &c.depthwiseConfig)
	r.Ignore("pointwise_initializer", "pointwise_regularizer", "pointwise_constraint")
	return c, nil
}

func (c *separableConv2DConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	d, oh, ow, err := c.build(in[0], w)
	if err != nil {
		return nil, nil, err
	}
	pw, err := w.Take("pointwise_kernel", 1, 1, d.in*d.mult, c.filters)
	if err != nil {
		return nil, nil, err
	}
	l := &separableConv2DLayer{dw: d, filters: c.filters, pointwise: pw.Data, act: c.act, linear: c.linear}
	if l.bias, err = takeBias(w, c.useBias, c.filters); err != nil {
		return nil, nil, err
	}
	l.base = newBase(c.spec, w)
	return l, [][]int{shape2D(in[0][0], oh, ow, c.filters, c.channelsFirst)}, nil
}

func (l *separableConv2DLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	depth, b, oh, ow, err := l.dw.forward(l.name, l.class, in[0], nil, nil)
	if err != nil {
		return nil, err
	}
	defer putScratch(depth)
	dm := l.dw.in * l.dw.mult
	rows := b * oh * ow
	res := getScratch(rows * l.filters)
	l.pointwiseP.mulBiasAct(rows, l.filters, dm, depth, dm, l.pointwise, l.bias, res, l.filters, l.act, l.linear)
	return runtime.One(fromChannelsLast(res, b, oh, ow, l.filters, l.dw.channelsFirst)), nil
}

func init() {
	Register("DepthwiseConv2D", decodeDepthwiseConv2D)
	Register("SeparableConv2D", decodeSeparableConv2D)
}
