package layers

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

const bidiGRU = `{"name": "bidirectional_1", "merge_mode": %MERGE%, "layer": {"class_name": "GRU", "config": {"name": "gru_1", "units": 2, "reset_after": false, "return_sequences": %SEQ%}}}`

func bidiConfig(merge, seq string) string {
	return strings.NewReplacer("%MERGE%", merge, "%SEQ%", seq).Replace(bidiGRU)
}

// TestBidirectionalInnerNames checks the names of the inner layers, which
// errors at run time report: Keras (wrappers.py) names them "forward_" and
// "backward_" + the layer's name; a distinct backward_layer keeps its own
// name behind "backward_".
func TestBidirectionalInnerNames(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	ws := append(randWeights(rng, "f", 3, 2, 3, 6), randWeights(rng, "b", 3, 2, 3, 6)...)
	l, _ := mustBuild(t, "bidirectional_1", "Bidirectional", bidiConfig(`"concat"`, "true"), envK224, []int{-1, 4, 3}, ws)
	b := l.(*bidirectionalLayer)
	if b.fwd.Name() != "forward_gru_1" || b.bwd.Name() != "backward_gru_1" {
		t.Errorf("inner layers %q and %q, want forward_gru_1 and backward_gru_1", b.fwd.Name(), b.bwd.Name())
	}
	l, _ = mustBuild(t, "bidirectional_1", "Bidirectional",
		`{"name": "bidirectional_1", "layer": {"class_name": "GRU", "config": {"name": "gru_1", "units": 2, "reset_after": false}},
		  "backward_layer": {"class_name": "GRU", "config": {"name": "gru_2", "units": 2, "reset_after": false, "go_backwards": true}}}`,
		envTF24, []int{-1, 4, 3}, ws)
	b = l.(*bidirectionalLayer)
	if b.fwd.Name() != "forward_gru_1" || b.bwd.Name() != "backward_gru_2" {
		t.Errorf("inner layers %q and %q, want forward_gru_1 and backward_gru_2", b.fwd.Name(), b.bwd.Name())
	}
}

// TestBidirectionalBackwardLayerChecks checks Keras's _verify_layer_config:
// a backward_layer must go the other way and agree on return_sequences,
// return_state and stateful.
func TestBidirectionalBackwardLayerChecks(t *testing.T) {
	for _, bwd := range []string{
		`{"name": "gru_2", "units": 2, "go_backwards": false}`,
		`{"name": "gru_2", "units": 2, "go_backwards": true, "return_sequences": true}`,
		`{"name": "gru_2", "units": 2, "go_backwards": true, "stateful": true}`,
	} {
		_, err := Decode(Spec{Name: "bidirectional_1", Class: "Bidirectional", Env: envTF24, Config: gjson.Parse(
			`{"name": "bidirectional_1", "layer": {"class_name": "GRU", "config": {"name": "gru_1", "units": 2}}, "backward_layer": {"class_name": "GRU", "config": ` + bwd + `}}`)})
		wantErr(t, err, "bidirectional_1", "backward_layer")
	}
}

// TestBidirectionalMasks checks Bidirectional.compute_mask and that the
// masked outputs follow each version: multi-backend Keras outputs the held
// state at masked steps, tf.keras (2.2.4-tf on) and Keras 3 zeros, because
// Bidirectional sets zero_output_for_mask on inner layers that return
// sequences.
func TestBidirectionalMasks(t *testing.T) {
	for _, tc := range []struct {
		merge, seq string
		nout       int
		want       []bool
	}{
		{`"concat"`, "true", 1, []bool{true}},
		{`null`, "true", 2, []bool{true, true}},
		{`"sum"`, "false", 1, []bool{false}},
	} {
		spec := Spec{Name: "bidirectional_1", Class: "Bidirectional", Env: envK224, Config: gjson.Parse(bidiConfig(tc.merge, tc.seq))}
		cfg, err := Decode(spec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := OutputMasks(spec, cfg, []bool{true}, tc.nout)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tc.want {
			if got[i] != tc.want[i] {
				t.Errorf("merge %s seq %s: masks %v, want %v", tc.merge, tc.seq, got, tc.want)
			}
		}
	}
	// A sum of two running sums (SimpleRNN(1), linear, weights 1) over
	// x = 1, 2, 4 with step 1 masked. Forward: 1, 1, 5 (k224: held state
	// 1 at step 1). Backward in processing order from step 2: 4, 4, 5, so
	// reversed back: 5, 4, 4.
	ones := func(scope string) []Weight {
		return []Weight{
			{Name: scope + "/kernel:0", Shape: []int{1, 1}, Data: []float32{1}},
			{Name: scope + "/recurrent_kernel:0", Shape: []int{1, 1}, Data: []float32{1}},
		}
	}
	for _, tc := range []struct {
		env  Env
		want []float32
	}{
		{envK224, []float32{6, 5, 9}},
		{envTF216, []float32{6, 5, 9}},
		{envTF224, []float32{6, 0, 9}},
		{envTF24, []float32{6, 0, 9}},
		{envK3, []float32{6, 0, 9}},
	} {
		l, _ := mustBuild(t, "bidirectional_1", "Bidirectional",
			`{"name": "bidirectional_1", "merge_mode": "sum", "layer": {"class_name": "SimpleRNN", "config": {"name": "simple_rnn_1", "units": 1, "activation": "linear", "use_bias": false, "return_sequences": true}}}`,
			tc.env, []int{-1, 3, 1}, append(ones("f"), ones("b")...))
		mask := []bool{true, false, true}
		out, err := l.Forward([]*runtime.Tensor{{Shape: []int{1, 3, 1}, Data: []float32{1, 2, 4}, Mask: mask}})
		if err != nil {
			t.Fatal(err)
		}
		floatsEqual(t, "keras "+tc.env.KerasVersion, out[0].Data, tc.want)
		if len(out[0].Mask) != 3 || &out[0].Mask[0] != &mask[0] {
			t.Errorf("keras %s: the merged sequence does not carry the input mask", tc.env.KerasVersion)
		}
	}
}

// TestBidirectionalMergeShapes checks that an element-wise merge of
// outputs of different widths (a distinct backward_layer) is an error.
func TestBidirectionalMergeShapes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	ws := append(randWeights(rng, "f", 3, 2, 3, 6), randWeights(rng, "b", 3, 3, 3, 9)...)
	err := buildErr(t, "bidirectional_1", "Bidirectional",
		`{"name": "bidirectional_1", "merge_mode": "sum", "layer": {"class_name": "GRU", "config": {"name": "gru_1", "units": 2, "reset_after": false}},
		  "backward_layer": {"class_name": "GRU", "config": {"name": "gru_2", "units": 3, "reset_after": false, "go_backwards": true}}}`,
		envTF24, []int{-1, 4, 3}, ws)
	wantErr(t, err, "bidirectional_1", "sum")
}
