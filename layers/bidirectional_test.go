package layers

import (
	"context"
	"math/rand"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/internal/parallel"
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

// bidiInnerClass is an inner layer class the Bidirectional tests wrap: the
// class, its gate count, its bias shape for u units and extra config.
type bidiInnerClass struct {
	class string
	gates int
	bias  func(u int) []int
	extra string
}

// buildBidiConcat builds a concat Bidirectional of two random inner layers
// of class c, uf and ub units wide (the backward one go_backwards), over
// inputs [-1, steps, in], the inner configs given the options opts.
func buildBidiConcat(t *testing.T, rng *rand.Rand, c bidiInnerClass, in, steps, uf, ub int, opts string) *bidirectionalLayer {
	t.Helper()
	cfg := `{"name": "bidirectional_1", "merge_mode": "concat",
	  "layer": {"class_name": "` + c.class + `", "config": {"name": "r_1", "units": ` + strconv.Itoa(uf) + `, ` + opts + c.extra + `}},
	  "backward_layer": {"class_name": "` + c.class + `", "config": {"name": "r_2", "units": ` + strconv.Itoa(ub) + `, ` + opts + `, "go_backwards": true` + c.extra + `}}}`
	ws := append(randWeights(rng, "f", in, uf, c.gates, c.bias(uf)...), randWeights(rng, "b", in, ub, c.gates, c.bias(ub)...)...)
	l, _ := mustBuild(t, "bidirectional_1", "Bidirectional", cfg, envTF24, []int{-1, steps, in}, ws)
	return l.(*bidirectionalLayer)
}

// bidiInnerClasses are the inner layers the Bidirectional tests wrap.
var bidiInnerClasses = []bidiInnerClass{
	{"LSTM", 4, func(u int) []int { return []int{4 * u} }, ""},
	{"GRU", 3, func(u int) []int { return []int{2, 3 * u} }, `, "reset_after": true`},
}

// TestBidirectionalConcatInPlace checks that a concat merge of sequences,
// which has the two directions write the halves of the merged output
// (runConcat), gives bit for bit what merging the directions' own outputs
// gives (concatLast), with their states: LSTM and GRU, a distinct backward
// layer of another width, masks, initial states, return_state, and the
// batch split into pieces of rows.
func TestBidirectionalConcatInPlace(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(3))
	rng := rand.New(rand.NewSource(4))
	const in, steps, batch, uf, ub = 5, 9, 13, 40, 33
	for _, c := range bidiInnerClasses {
		bl := buildBidiConcat(t, rng, c, in, steps, uf, ub, `"return_sequences": true, "return_state": true`)
		for _, masked := range []bool{false, true} {
			x := randT(rng, batch, steps, in)
			if masked {
				x.Mask = randMask(rng, batch*steps)
			}
			nst := bl.nfwd
			var init []*runtime.Tensor
			for _, u := range []int{uf, ub} {
				for k := 0; k < nst; k++ {
					init = append(init, randT(rng, batch, u))
				}
			}
			got, gotFinal, err := bl.ForwardStates(context.Background(), []*runtime.Tensor{x}, init)
			if err != nil {
				t.Fatal(err)
			}
			// The merge afterwards, from each direction's own outputs.
			fo, ff, err := bl.fwd.(*rnnLayer).ForwardStates(context.Background(), []*runtime.Tensor{x}, init[:nst])
			if err != nil {
				t.Fatal(err)
			}
			bo, bf, err := bl.bwd.(*rnnLayer).ForwardStates(context.Background(), []*runtime.Tensor{x}, init[nst:])
			if err != nil {
				t.Fatal(err)
			}
			want := append([]*runtime.Tensor{concatLast(fo[0], bo[0], true)}, fo[1:]...)
			want = append(want, bo[1:]...)
			wantFinal := append(ff, bf...)
			if len(got) != len(want) || len(gotFinal) != len(wantFinal) {
				t.Fatalf("%s: %d outputs and %d states, want %d and %d", c.class, len(got), len(gotFinal), len(want), len(wantFinal))
			}
			for k := range want {
				if !intsEq(got[k].Shape, want[k].Shape) {
					t.Fatalf("%s: output %d shape %v, want %v", c.class, k, got[k].Shape, want[k].Shape)
				}
				for i := range want[k].Data {
					if got[k].Data[i] != want[k].Data[i] {
						t.Fatalf("%s mask %v: output %d element %d = %v in place, %v merged after", c.class, masked, k, i, got[k].Data[i], want[k].Data[i])
					}
				}
			}
			for k := range wantFinal {
				for i := range wantFinal[k].Data {
					if gotFinal[k].Data[i] != wantFinal[k].Data[i] {
						t.Fatalf("%s mask %v: final state %d element %d differs", c.class, masked, k, i)
					}
				}
			}
			if masked && (len(got[0].Mask) != len(x.Mask) || &got[0].Mask[0] != &x.Mask[0]) {
				t.Errorf("%s: the merged sequence does not carry the input mask", c.class)
			}
		}
	}
}

// TestBidirectionalPieces cuts both directions into pieces of rows, as on
// a contended machine (runPieces), and checks the output bit for bit
// against the directions run whole: LSTM and GRU, a backward layer of
// another width, sequences or last outputs, masks, and batches that pieces
// cut unevenly.
func TestBidirectionalPieces(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	parallel.OverrideContention(parallel.ContentionQuiet) // the directions whole, for want
	defer parallel.OverrideContention(parallel.ContentionMachine)
	rng := rand.New(rand.NewSource(6))
	const in, steps, uf, ub = 5, 9, 40, 33
	for _, c := range bidiInnerClasses {
		for _, seq := range []bool{true, false} {
			rs := strconv.FormatBool(seq)
			l := buildBidiConcat(t, rng, c, in, steps, uf, ub, `"return_sequences": `+rs)
			for _, batch := range []int{8, 13} {
				for _, masked := range []bool{false, true} {
					x := randT(rng, batch, steps, in)
					if masked {
						x.Mask = randMask(rng, batch*steps)
					}
					want, err := l.Forward([]*runtime.Tensor{x})
					if err != nil {
						t.Fatal(err)
					}
					before := bidiPieceRuns.Load()
					parallel.OverrideContention(parallel.ContentionBusy)
					got, err := l.Forward([]*runtime.Tensor{x})
					parallel.OverrideContention(parallel.ContentionQuiet)
					if err != nil {
						t.Fatal(err)
					}
					if bidiPieceRuns.Load() == before {
						t.Fatalf("%s: the directions were not cut into pieces", c.class)
					}
					what := c.class + " sequences " + rs + " batch " + strconv.Itoa(batch) + " masked " + strconv.FormatBool(masked)
					sameBits(t, what, got, want)
					if seq && masked && (len(got[0].Mask) != len(x.Mask) || &got[0].Mask[0] != &x.Mask[0]) {
						t.Errorf("%s: the merged sequence does not carry the input mask", what)
					}
				}
			}
		}
	}
}
