package layers

import (
	"context"
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// cell is one recurrent step, kept apart from the time loop (runRecurrent),
// which handles go_backwards, return_sequences and return_state for every
// recurrent layer.
type cell interface {
	// sizes returns the input width, the number of units, the width of the
	// input projection and the number of states (each of units values).
	sizes() (in, units, gates, states int)
	// project computes the input projection of every time step at once:
	// x [rows, in] to xp [rows, gates], bias included where the cell wants it.
	project(x []float32, rows int, xp []float32)
	// step advances the states of a batch by one time step, given the input
	// projection of that step (xp [batch, gates]). states[0] is the output h.
	step(xp []float32, batch int, states [][]float32, scratch []float32)
	// scratchSize is the scratch length step needs for a batch.
	scratchSize(batch int) int
}

// rnnOptions are the time-loop options that every recurrent layer shares.
type rnnOptions struct {
	returnSequences bool
	returnState     bool
	goBackwards     bool
}

// decodeRNNOptions reads the options of the time loop and rejects those that
// are not supported yet.
func decodeRNNOptions(r *Reader) rnnOptions {
	o := rnnOptions{
		returnSequences: r.Bool("return_sequences", false),
		returnState:     r.Bool("return_state", false),
		goBackwards:     r.Bool("go_backwards", false),
	}
	r.False("stateful", ": stateful layers need the streaming session, which kerasrun does not have yet")
	r.False("time_major", "")
	// Keras: unroll and implementation change how the graph is built, not
	// the numbers; dropout rates act in training only.
	r.Ignore("unroll", "implementation", "dropout", "recurrent_dropout")
	return o
}

// recurrentShapes returns the output shapes of a recurrent layer.
func recurrentShapes(o rnnOptions, in []int, units, states int) [][]int {
	var out [][]int
	if o.returnSequences {
		out = append(out, []int{in[0], in[1], units})
	} else {
		out = append(out, []int{in[0], units})
	}
	if o.returnState {
		for i := 0; i < states; i++ {
			out = append(out, []int{in[0], units})
		}
	}
	return out
}

// checkRecurrentInput validates a static input shape [batch, time, in].
func checkRecurrentInput(in [][]int) ([]int, error) {
	if err := oneInput(in); err != nil {
		return nil, err
	}
	if len(in[0]) != 3 {
		return nil, fmt.Errorf("input shape %s: a recurrent layer needs rank 3 (batch, time, features)", runtime.FormatShape(in[0]))
	}
	return in[0], nil
}

// runRecurrent runs cell c over x [batch, time, in] from zero initial states.
//
// Keras: with go_backwards the sequence is read from the last step to the
// first, and the returned sequence is in that processing order.
func runRecurrent(ctx context.Context, name, class string, c cell, o rnnOptions, x *runtime.Tensor) ([]*runtime.Tensor, error) {
	nin, units, gates, nstates := c.sizes()
	if x.Rank() != 3 || x.Shape[2] != nin {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want (batch, time, %d)", name, class, x.Shape, nin)
	}
	b, steps := x.Shape[0], x.Shape[1]
	if steps == 0 {
		return nil, fmt.Errorf("layers: layer %q (%s): input has no time steps", name, class)
	}
	xp := make([]float32, b*steps*gates)
	c.project(x.Data, b*steps, xp)
	states := make([][]float32, nstates)
	for i := range states {
		states[i] = make([]float32, b*units)
	}
	var seq *runtime.Tensor
	if o.returnSequences {
		seq = runtime.Zeros(b, steps, units)
	}
	stepIn := make([]float32, b*gates)
	scratch := make([]float32, c.scratchSize(b))
	for s := 0; s < steps; s++ {
		if s&63 == 63 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		t := s
		if o.goBackwards {
			t = steps - 1 - s
		}
		for bi := 0; bi < b; bi++ {
			copy(stepIn[bi*gates:(bi+1)*gates], xp[(bi*steps+t)*gates:(bi*steps+t+1)*gates])
		}
		c.step(stepIn, b, states, scratch)
		if seq != nil {
			for bi := 0; bi < b; bi++ {
				copy(seq.Data[(bi*steps+s)*units:(bi*steps+s+1)*units], states[0][bi*units:(bi+1)*units])
			}
		}
	}
	out := []*runtime.Tensor{seq}
	if seq == nil {
		out[0] = &runtime.Tensor{Shape: []int{b, units}, Data: append([]float32(nil), states[0]...)}
	}
	if o.returnState {
		for _, st := range states {
			out = append(out, &runtime.Tensor{Shape: []int{b, units}, Data: st})
		}
	}
	return out, nil
}
