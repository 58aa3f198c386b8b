package importer_test

import (
	"fmt"
	"log"
	"math"
	"path/filepath"

	"github.com/kerasrun/kerasrun/importer"
	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/runtime"
)

// Example_decoderLoop runs the inference decoder of a seq2seq model one
// token at a time, feeding its states back: the model's inputs are the
// token ids, h and c (the LSTM's initial_state), and its outputs the next
// token's probabilities, h and c. The fixture s4_s2s_decoder_k3 holds the
// model, three tokens per sample with starting states, and the outputs of
// the float64 reference (tools/cases_seq2seq.py) over the whole sequence:
// running step by step gives the same numbers.
func Example_decoderLoop() {
	dir := filepath.Join("..", "fixtures", "s4_s2s_decoder_k3")
	m, err := importer.Load(filepath.Join(dir, "model.h5"), nil)
	if err != nil {
		log.Fatal(err)
	}
	read := func(name string) *runtime.Tensor {
		t, _, err := npyfile.Read(filepath.Join(dir, name))
		if err != nil {
			log.Fatal(err)
		}
		return t
	}
	tokens, h, c := read("input_0.npy"), read("input_1.npy"), read("input_2.npy")
	wantY, wantH, wantC := read("expected_0.npy"), read("expected_1.npy"), read("expected_2.npy")
	batch, steps, vocab := wantY.Shape[0], wantY.Shape[1], wantY.Shape[2]
	for t := 0; t < steps; t++ {
		// This step's token of every sample, as a sequence of one step.
		tok := runtime.Zeros(batch, 1)
		for b := 0; b < batch; b++ {
			tok.Data[b] = tokens.Data[b*steps+t]
		}
		out, err := m.Predict(tok, h, c)
		if err != nil {
			log.Fatal(err)
		}
		y := out[0] // [batch, 1, vocab]
		h, c = out[1], out[2]
		diff := 0.0
		for b := 0; b < batch; b++ {
			for v := 0; v < vocab; v++ {
				diff = math.Max(diff, math.Abs(float64(y.Data[b*vocab+v]-wantY.Data[(b*steps+t)*vocab+v])))
			}
		}
		fmt.Printf("step %d: probabilities within 1e-5 of the reference: %v\n", t, diff <= 1e-5)
	}
	diff := 0.0
	for i := range wantH.Data {
		diff = math.Max(diff, math.Abs(float64(h.Data[i]-wantH.Data[i])))
		diff = math.Max(diff, math.Abs(float64(c.Data[i]-wantC.Data[i])))
	}
	fmt.Printf("final states within 1e-5 of the reference: %v\n", diff <= 1e-5)
	// Output:
	// step 0: probabilities within 1e-5 of the reference: true
	// step 1: probabilities within 1e-5 of the reference: true
	// step 2: probabilities within 1e-5 of the reference: true
	// final states within 1e-5 of the reference: true
}
