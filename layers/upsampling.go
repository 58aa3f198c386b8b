package layers

import (
	"fmt"
	"math"

	"github.com/kerasrun/kerasrun/runtime"
)

// UpSampling2D over [batch, rows, cols, ch] (channels_last) or
// [batch, ch, rows, cols] (channels_first). It does not support masking in
// Keras.
//
// Keras: size is an int or a pair (rows, cols). "nearest" repeats each
// pixel; "bilinear" is TensorFlow's image resize of the file's Keras:
//   - tf.keras 2.4+ and Keras 3 resize with half-pixel centres
//     (tf.image.resize): output pixel d reads input position
//     (d + 0.5)/size - 0.5, clamped at the first pixel;
//   - multi-backend Keras 2 with TensorFlow (resize_bilinear,
//     align_corners=False, no half-pixel centres) reads position d/size.
//
// Bilinear under other versions and backends is refused at load.

type upSampling2DLayer struct {
	base
	size          [2]int
	bilinear      bool
	halfPixel     bool
	channelsFirst bool
	// ty and tx are the bilinear taps of the input's rows and columns
	// when Build knew their counts (h and w); other sizes get theirs at
	// each call.
	h, w   int
	ty, tx taps
}

type upSampling2DConfig struct {
	spec          Spec
	size          [2]int
	bilinear      bool
	halfPixel     bool
	channelsFirst bool
}

func decodeUpSampling2D(r *Reader) (Config, error) {
	c := &upSampling2DConfig{spec: r.Spec()}
	c.size = pairOf(r, "size", 2)
	c.channelsFirst = channelsFirstOption(r)
	// Keras: interpolation came in Keras 2.2.3; earlier files mean nearest.
	interp := r.OneOf("interpolation", "nearest", "nearest", "bilinear")
	if interp == "bilinear" {
		env := c.spec.Env
		switch {
		case env.Major() >= 3 || (env.Major() == 2 && env.atLeast(2, 4, 0)):
			c.bilinear, c.halfPixel = true, true
		case env.Major() == 2 && !env.TFKeras() && (env.Backend == "tensorflow" || env.Backend == ""):
			c.bilinear = true
		default:
			r.Unsupported("interpolation", "bilinear under Keras %q with backend %q (its resize rule is not known here)", env.KerasVersion, env.Backend)
		}
	}
	return c, nil
}

func (c *upSampling2DConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) != 4 {
		return nil, nil, fmt.Errorf("input shape %s: UpSampling2D needs rank 4", runtime.FormatShape(s))
	}
	h, wd, ch := spatial2D(s, c.channelsFirst)
	if h >= 0 {
		h *= c.size[0]
	}
	if wd >= 0 {
		wd *= c.size[1]
	}
	l := &upSampling2DLayer{base: newBase(c.spec, w), size: c.size, bilinear: c.bilinear, halfPixel: c.halfPixel, channelsFirst: c.channelsFirst}
	if ih, iw, _ := spatial2D(s, c.channelsFirst); c.bilinear && ih > 0 && iw > 0 {
		l.h, l.w = ih, iw
		l.ty, l.tx = resizeTaps(ih, c.size[0], c.halfPixel), resizeTaps(iw, c.size[1], c.halfPixel)
	}
	return l, [][]int{shape2D(s[0], h, wd, ch, c.channelsFirst)}, nil
}

// taps holds, for each output position of one axis, the two input
// positions it reads and the weight of the second.
type taps struct {
	lo, hi []int
	frac   []float32
}

// resizeTaps returns the bilinear taps of an axis of n inputs and
// n·size outputs.
func resizeTaps(n, size int, halfPixel bool) taps {
	m := n * size
	t := taps{lo: make([]int, m), hi: make([]int, m), frac: make([]float32, m)}
	scale := 1 / float64(size)
	for d := 0; d < m; d++ {
		var p float64
		if halfPixel {
			p = (float64(d)+0.5)*scale - 0.5
		} else {
			p = float64(d) * scale
		}
		f := math.Floor(p)
		t.lo[d] = min(max(int(f), 0), n-1)
		t.hi[d] = min(max(int(math.Ceil(p)), 0), n-1)
		t.frac[d] = float32(p - f)
	}
	return t
}

func (l *upSampling2DLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 4 {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank 4", l.name, l.class, x.Shape)
	}
	b := x.Shape[0]
	h, w, ch := spatial2D(x.Shape, l.channelsFirst)
	oh, ow := h*l.size[0], w*l.size[1]
	data := toChannelsLast(x, l.channelsFirst)
	res := getScratch(b * oh * ow * ch) // every value is written
	if !l.bilinear {
		for bi := 0; bi < b; bi++ {
			for i := 0; i < oh; i++ {
				src := data[(bi*h+i/l.size[0])*w*ch:]
				dst := res[(bi*oh+i)*ow*ch : (bi*oh+i+1)*ow*ch]
				for j := 0; j < ow; j++ {
					copy(dst[j*ch:(j+1)*ch], src[(j/l.size[1])*ch:(j/l.size[1]+1)*ch])
				}
			}
		}
	} else if h > 0 && w > 0 {
		ty, tx := l.ty, l.tx
		if h != l.h || w != l.w {
			ty, tx = resizeTaps(h, l.size[0], l.halfPixel), resizeTaps(w, l.size[1], l.halfPixel)
		}
		for bi := 0; bi < b; bi++ {
			img := data[bi*h*w*ch : (bi+1)*h*w*ch]
			for i := 0; i < oh; i++ {
				top, bot, fy := img[ty.lo[i]*w*ch:], img[ty.hi[i]*w*ch:], ty.frac[i]
				dst := res[(bi*oh+i)*ow*ch : (bi*oh+i+1)*ow*ch]
				for j := 0; j < ow; j++ {
					l0, l1, fx := tx.lo[j]*ch, tx.hi[j]*ch, tx.frac[j]
					o := dst[j*ch : (j+1)*ch]
					for c := range o {
						// TensorFlow's order: lerp along x on both rows, then
						// along y.
						t := top[l0+c] + (top[l1+c]-top[l0+c])*fx
						u := bot[l0+c] + (bot[l1+c]-bot[l0+c])*fx
						o[c] = t + (u-t)*fy
					}
				}
			}
		}
	}
	doneChannelsLast(data, l.channelsFirst)
	return runtime.One(fromChannelsLast(res, b, oh, ow, ch, l.channelsFirst)), nil
}

func init() {
	Register("UpSampling2D", decodeUpSampling2D)
}
