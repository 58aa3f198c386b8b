package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/internal/kernels"
	"github.com/kerasrun/kerasrun/runtime"
)

// embeddingLayer maps integer token ids to rows of its table. With
// mask_zero its output carries the mask id != 0.
type embeddingLayer struct {
	base
	inputDim, outputDim int
	table               []float32 // [inputDim, outputDim]
	maskZero            bool
}

type embeddingConfig struct {
	spec                Spec
	inputDim, outputDim int
	inputLength         int
	maskZero            bool
	quant               string // "" or "int8" (Reader.Quantization)
}

// OutputMasks follows Keras's Embedding.compute_mask: the output carries a
// mask exactly when mask_zero is set, whatever the input's mask.
func (c *embeddingConfig) OutputMasks(in []bool, nout int) []bool {
	out := make([]bool, nout)
	if nout > 0 {
		out[0] = c.maskZero
	}
	return out
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
	c.maskZero = r.Bool("mask_zero", false)
	c.quant = r.Quantization()
	return c, nil
}

func (c *embeddingConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	if c.maskZero && len(in[0]) != 2 {
		// A runtime.Tensor mask covers the batch and time axes only.
		return nil, nil, fmt.Errorf("input shape %s: mask_zero needs ids of shape (batch, time): %w", runtime.FormatShape(in[0]), ErrUnsupported)
	}
	t, err := w.Take("embeddings", c.inputDim, c.outputDim)
	if err != nil {
		return nil, nil, err
	}
	if c.quant == "int8" {
		// Keras: the int8 table comes with one scale per row (id).
		sc, err := w.Take("embeddings_scale", c.inputDim)
		if err != nil {
			return nil, nil, err
		}
		if t.Data, err = dequantizeEmbeddings(c.inputDim, c.outputDim, t.Data, sc.Data); err != nil {
			return nil, nil, err
		}
	}
	// The table is the file's copy: a huge-page copy
	// (kernels.WeightFloats) measured no faster on W2 (a 10 MB table) and
	// would keep both in the resident set.
	l := &embeddingLayer{inputDim: c.inputDim, outputDim: c.outputDim, table: t.Data, maskZero: c.maskZero}
	l.base = newBase(c.spec, w)
	out := append(append([]int(nil), in[0]...), c.outputDim)
	return l, [][]int{out}, nil
}

func (l *embeddingLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	var shape [8]int                                                            // on the stack for ranks up to 7 (the output has one more)
	out := runtime.Empty(append(append(shape[:0], x.Shape...), l.outputDim)...) // every row is gathered
	for i, v := range x.Data {
		if id := int(v); float32(id) != v || id < 0 || id >= l.inputDim {
			// The caller's data is at fault: an *InputError, which
			// Predict reports against the model input that fed it.
			return nil, &runtime.InputError{Want: fmt.Sprintf("integer token ids in [0, %d)", l.inputDim), Got: fmt.Sprintf("token id %v at flat index %d", v, i),
				Err: fmt.Errorf("layers: layer %q (Embedding): token id %v at flat index %d is not an integer in [0, %d)", l.name, v, i, l.inputDim)}
		}
	}
	// The gather, a sample (first axis) at a time.
	rows := len(x.Data)
	per := rows
	if x.Rank() > 0 && x.Shape[0] > 0 {
		per = rows / x.Shape[0]
	}
	embedSamples.forSamples(rows/max(per, 1), per*l.outputDim, embedArgs{l: l, ids: x.Data, out: out.Data, per: per})
	if l.maskZero {
		if x.Rank() != 2 {
			return nil, fmt.Errorf("layers: layer %q (Embedding): mask_zero needs ids of shape (batch, time), got %v", l.name, x.Shape)
		}
		// Keras: mask = ids != 0; the embedding of id 0 is not zeroed.
		out.Mask = runtime.MaskBuffer(len(x.Data))
		for i, v := range x.Data {
			out.Mask[i] = v != 0
		}
	}
	return runtime.One(out), nil
}

// embedArgs is what a sample of Embedding's gather needs (embedSample).
type embedArgs struct {
	l        *embeddingLayer
	ids, out []float32
	per      int // ids per sample
}

var embedSamples = newSamplePool(embedSample)

// embedSample gathers the rows of sample s's ids (Forward has checked
// them).
func embedSample(a *embedArgs, s int) {
	d, lo, hi := a.l.outputDim, s*a.per, (s+1)*a.per
	kernels.GatherRows(a.out[lo*d:hi*d], a.l.table, a.ids[lo:hi], d)
}

func init() {
	Register("Embedding", decodeEmbedding)
}
