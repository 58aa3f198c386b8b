package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// embeddingLayer maps integer token ids to rows of its table.
type embeddingLayer struct {
	base
	inputDim, outputDim int
	table               []float32 // [inputDim, outputDim]
}

type embeddingConfig struct {
	spec                Spec
	inputDim, outputDim int
	inputLength         int
}

func decodeEmbedding(r *Reader) (Config, error) {
	c := &embeddingConfig{spec: r.Spec()}
	c.inputDim = r.PositiveInt("input_dim", 0)
	c.outputDim = r.PositiveInt("output_dim", 0)
	c.inputLength = -1
	if r.Has("input_length") {
		c.inputLength = r.Int("input_length", -1)
	} else {
		r.Ignore("input_length")
	}
	r.False("mask_zero", " yet: masking comes with the recurrent-layer work")
	r.Ignore("sparse")
	return c, nil
}

func (c *embeddingConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	t, err := w.Take("embeddings", c.inputDim, c.outputDim)
	if err != nil {
		return nil, nil, err
	}
	l := &embeddingLayer{inputDim: c.inputDim, outputDim: c.outputDim, table: t.Data}
	l.base = newBase(c.spec, w)
	out := append(append([]int(nil), in[0]...), c.outputDim)
	return l, [][]int{out}, nil
}

func (l *embeddingLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	out := runtime.Zeros(append(append([]int(nil), x.Shape...), l.outputDim)...)
	for i, v := range x.Data {
		id := int(v)
		if float32(id) != v || id < 0 || id >= l.inputDim {
			return nil, fmt.Errorf("layers: layer %q (Embedding): token id %v at flat index %d is not an integer in [0, %d)", l.name, v, i, l.inputDim)
		}
		copy(out.Data[i*l.outputDim:(i+1)*l.outputDim], l.table[id*l.outputDim:(id+1)*l.outputDim])
	}
	return []*runtime.Tensor{out}, nil
}

func init() {
	Register("Embedding", decodeEmbedding)
}
