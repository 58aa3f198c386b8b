package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// Keras masks mark the valid time steps of a [batch, time, ...] tensor
// (runtime.Tensor.Mask). Embedding(mask_zero=True) and Masking create them;
// layers that support masking use or pass them on; every other layer
// refuses a masked input, as Keras does ("does not support masking"). The
// importer checks this statically at load through OutputMasks, so a model
// that Keras would refuse never loads.

// MaskRule is implemented by the Configs of layers that accept masked
// inputs or create masks.
type MaskRule interface {
	// OutputMasks says which outputs carry a mask, given which inputs do.
	OutputMasks(in []bool, nout int) []bool
}

// OutputMasks applies cfg's mask rule to inputs of which those marked in
// carry a mask. A config without a rule refuses masked inputs.
func OutputMasks(s Spec, cfg Config, in []bool, nout int) ([]bool, error) {
	if r, ok := cfg.(MaskRule); ok {
		return r.OutputMasks(in, nout), nil
	}
	for i, m := range in {
		if m {
			return nil, &LayerError{Layer: s.Name, Class: s.Class, Op: "mask",
				Err: fmt.Errorf("input %d carries a mask (from Embedding(mask_zero=True) or Masking), and this layer does not support masking: %w", i, ErrUnsupported)}
		}
	}
	return make([]bool, nout), nil
}

// passMask is embedded in the configs of layers whose outputs carry their
// first input's mask unchanged (Keras: supports_masking = True).
type passMask struct{}

func (passMask) OutputMasks(in []bool, nout int) []bool {
	out := make([]bool, nout)
	for i := range out {
		out[i] = len(in) > 0 && in[0]
	}
	return out
}

// withMask sets out's mask to in's and returns out.
func withMask(out, in *runtime.Tensor) *runtime.Tensor {
	out.Mask = in.Mask
	return out
}
