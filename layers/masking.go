package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// maskingLayer is the Keras Masking layer. A time step whose features all
// equal mask_value is masked; the output is the input with masked steps
// set to zero, and it carries the mask.
//
// Keras (core.py Masking): mask = any(x != mask_value, axis=-1), with
// mask_value cast to the input's float32; output = x * mask.
type maskingLayer struct {
	base
	value float32
}

type maskingConfig struct {
	spec  Spec
	value float32
}

func decodeMasking(r *Reader) (Config, error) {
	return &maskingConfig{spec: r.Spec(), value: float32(r.Float("mask_value", 0))}, nil
}

// OutputMasks: Masking always creates a mask, replacing any input mask.
func (c *maskingConfig) OutputMasks(in []bool, nout int) []bool {
	out := make([]bool, nout)
	for i := range out {
		out[i] = true
	}
	return out
}

func (c *maskingConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	if len(in[0]) != 3 {
		// A runtime.Tensor mask covers the batch and time axes only.
		return nil, nil, fmt.Errorf("input shape %s: Masking is supported on (batch, time, features) inputs only: %w", runtime.FormatShape(in[0]), ErrUnsupported)
	}
	return &maskingLayer{base: newBase(c.spec, w), value: c.value}, in, nil
}

func (l *maskingLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 3 {
		return nil, fmt.Errorf("layers: layer %q (Masking): input shape %v, want (batch, time, features)", l.name, x.Shape)
	}
	rows, f := x.Shape[0]*x.Shape[1], x.Shape[2]
	out := runtime.Empty(x.Shape...) // every row is written
	out.Mask = runtime.MaskBuffer(rows)
	for r := 0; r < rows; r++ {
		src := x.Data[r*f : (r+1)*f]
		keep := false
		for _, v := range src {
			if v != l.value {
				keep = true
				break
			}
		}
		out.Mask[r] = keep
		dst := out.Data[r*f : (r+1)*f]
		if keep {
			copy(dst, src)
			continue
		}
		for i, v := range src {
			dst[i] = v * 0 // as Keras's x * mask: an infinite mask_value gives NaN
		}
	}
	return runtime.One(out), nil
}

func init() {
	Register("Masking", decodeMasking)
}
