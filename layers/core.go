package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

func oneInput(in [][]int) error {
	if len(in) != 1 {
		return fmt.Errorf("takes 1 input, got %d", len(in))
	}
	return nil
}

// identityConfig builds layers that are the identity at inference.
type identityConfig struct {
	passMask
	spec Spec
}

type identityLayer struct{ base }

func (l *identityLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	return in[:1], nil
}

func (c *identityConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	return &identityLayer{base: newBase(c.spec, w)}, in, nil
}

// Keras: Dropout and SpatialDropout1D only act in training; at inference
// they return their input. Their rate, noise_shape and seed have no effect.
func decodeDropout(r *Reader) (Config, error) {
	r.Ignore("rate", "noise_shape", "seed")
	return &identityConfig{spec: r.Spec()}, nil
}

// flattenLayer flattens every axis but the batch axis.
type flattenLayer struct {
	base
	channelsFirst bool
}

type flattenConfig struct {
	spec          Spec
	channelsFirst bool
}

func decodeFlatten(r *Reader) (Config, error) {
	df := r.OneOf("data_format", "channels_last", "channels_last", "channels_first")
	return &flattenConfig{spec: r.Spec(), channelsFirst: df == "channels_first"}, nil
}

func (c *flattenConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) < 2 {
		return nil, nil, fmt.Errorf("input of rank %d: Flatten needs rank 2 or more", len(s))
	}
	n := 1
	for _, d := range s[1:] {
		if d < 0 {
			return nil, nil, fmt.Errorf("input shape %s: Flatten needs every non-batch dimension fixed", runtime.FormatShape(s))
		}
		n *= d
	}
	return &flattenLayer{base: newBase(c.spec, w), channelsFirst: c.channelsFirst && len(s) > 2}, [][]int{{s[0], n}}, nil
}

func (l *flattenLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	b := x.Shape[0]
	n := runtime.NumElements(x.Shape[1:])
	if !l.channelsFirst {
		return runtime.One(runtime.View(x.Data, b, n)), nil
	}
	// Keras: with channels_first, Flatten first moves the channel axis last.
	c := x.Shape[1]
	rest := n / max(c, 1)
	out := runtime.Zeros(b, n)
	for i := 0; i < b; i++ {
		src := x.Data[i*n : (i+1)*n]
		dst := out.Data[i*n : (i+1)*n]
		for ch := 0; ch < c; ch++ {
			for j := 0; j < rest; j++ {
				dst[j*c+ch] = src[ch*rest+j]
			}
		}
	}
	return runtime.One(out), nil
}

func init() {
	Register("Dropout", decodeDropout)
	Register("SpatialDropout1D", decodeDropout)
	Register("Flatten", decodeFlatten)
}
