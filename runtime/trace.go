package runtime

import "context"

// LayerOutput is what Trace reports for one layer call.
type LayerOutput struct {
	// Layer is the layer's name. A layer inlined from a nested model is
	// named "<model>/<layer>", as in Layers.
	Layer string
	// Class is the layer's Keras class_name.
	Class string
	// Call counts the earlier calls of the same layer in this run: 0 for
	// its first call, 1 for the second call of a shared layer, and so on.
	Call int
	// Inputs holds, for each input of the call, the position among the
	// calls Trace reports (0 for the first) of the call that made it, or
	// -1 for a model input.
	Inputs []int
	// PassThrough reports that the call returned its first input's memory
	// as its single output, reshaped or not: an identity such as Dropout
	// at inference, a Flatten, or a layer that the importer fused into the
	// layer before it at load time (a BatchNormalization folded into a
	// convolution, say). In that last case the layer before it already
	// computed this layer's output, and its own output, as Keras computes
	// it, never existed.
	PassThrough bool
	// Outputs are the call's outputs, in the layer's output order. They are
	// copies that belong to the trace function: the run never reads or
	// recycles them.
	Outputs []*Tensor
}

// Trace runs the model as Predict does and calls fn with the outputs of
// every layer call, in the order the calls run (an order in which every
// call comes after the calls that feed it). It is meant for checking a
// model layer by layer against Keras, not for serving: each layer's
// outputs are copied for fn, which Predict never does.
//
// fn runs on the calling goroutine, one call at a time, before the next
// layer runs; the model stays safe for concurrent use meanwhile. Trace
// returns what Predict would return, and the same errors. When it
// returns an error, fn has seen the calls that ran before it.
func (m *Model) Trace(ctx context.Context, inputs []*Tensor, fn func(LayerOutput)) ([]*Tensor, error) {
	if fn == nil {
		return m.PredictContext(ctx, inputs...)
	}
	calls := make([]int, len(m.nodes))
	seen := map[Layer]int{}
	for ni, n := range m.nodes {
		calls[ni] = seen[n.layer]
		seen[n.layer]++
	}
	maker := make([]int, m.nslots) // slot -> the call that made it; -1: a model input
	for i := range maker {
		maker[i] = -1
	}
	seq := 0
	return m.run(ctx, nil, inputs, func(ni int, in, out []*Tensor) {
		n := m.nodes[ni]
		o := LayerOutput{Layer: n.layer.Name(), Class: n.layer.Class(), Call: calls[ni], Inputs: make([]int, len(n.in)), Outputs: make([]*Tensor, len(out))}
		for i, s := range n.in {
			o.Inputs[i] = maker[s]
		}
		for _, s := range n.out {
			maker[s] = seq
		}
		seq++
		if len(in) > 0 && len(out) == 1 && in[0] != nil && out[0] != nil {
			o.PassThrough = out[0] == in[0] || overlaps(out[0].Data, in[0].Data)
		}
		for i, t := range out {
			if t != nil {
				o.Outputs[i] = t.Clone()
			}
		}
		fn(o)
	})
}
