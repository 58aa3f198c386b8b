package layers

import (
	"errors"
	"math/rand"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

// TestTimeDistributedDense checks TimeDistributed(Dense) against the inner
// Dense on the [batch*time, ...] reshaped input, its shapes, its weight
// count and its mask.
func TestTimeDistributedDense(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	k := randT(rng, 4, 3)
	b := randT(rng, 3)
	ws := func(scope string) []Weight {
		return []Weight{{Name: scope + "/kernel:0", Shape: []int{4, 3}, Data: k.Data}, {Name: scope + "/bias:0", Shape: []int{3}, Data: b.Data}}
	}
	td, shapes := mustBuild(t, "time_distributed_1", "TimeDistributed",
		`{"name": "time_distributed_1", "trainable": true, "layer": {"class_name": "Dense", "config": {"name": "dense_1", "units": 3, "activation": "relu"}}}`,
		envK224, []int{-1, 5, 2, 4}, ws("time_distributed_1"))
	if !intsEq(shapes[0], []int{-1, 5, 2, 3}) {
		t.Errorf("shape %v, want [-1 5 2 3]", shapes[0])
	}
	if p := td.(runtime.ParamCounter).Params(); p != 15 {
		t.Errorf("params %d, want 15", p)
	}
	dense, _ := mustBuild(t, "dense_1", "Dense", `{"name": "dense_1", "units": 3, "activation": "relu"}`, envK224, []int{-1, 2, 4}, ws("dense_1"))
	x := randT(rng, 2, 5, 2, 4)
	x.Mask = []bool{true, true, false, true, true, true, true, true, true, false}
	got, err := td.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	want, err := dense.Forward([]*runtime.Tensor{x.Reshape(10, 2, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if !intsEq(got[0].Shape, []int{2, 5, 2, 3}) {
		t.Fatalf("output shape %v", got[0].Shape)
	}
	floatsEqual(t, "values", got[0].Data, want[0].Data)
	if len(got[0].Mask) != 10 || &got[0].Mask[0] != &x.Mask[0] {
		t.Error("the output does not carry the input mask")
	}
}

// TestTimeDistributedRefusals checks the wrapped layers TimeDistributed
// refuses: unknown, stateful, mask-creating, and (with a masked input)
// recurrent ones.
func TestTimeDistributedRefusals(t *testing.T) {
	for _, tc := range []struct{ name, inner string }{
		{"unknown class", `{"class_name": "FooBar", "config": {"name": "foo_1"}}`},
		{"stateful", `{"class_name": "LSTM", "config": {"name": "lstm_1", "units": 2, "stateful": true}}`},
		{"mask creating", `{"class_name": "Masking", "config": {"name": "masking_1"}}`},
		{"bad inner option", `{"class_name": "Dense", "config": {"name": "dense_1", "units": 2, "frobnicate": 1}}`},
	} {
		_, err := Decode(Spec{Name: "time_distributed_1", Class: "TimeDistributed", Env: envK224,
			Config: gjson.Parse(`{"name": "time_distributed_1", "layer": ` + tc.inner + `}`)})
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: error %v does not wrap ErrUnsupported", tc.name, err)
		}
	}
	spec := Spec{Name: "time_distributed_1", Class: "TimeDistributed", Env: envK224,
		Config: gjson.Parse(`{"name": "time_distributed_1", "layer": {"class_name": "GRU", "config": {"name": "gru_1", "units": 2}}}`)}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OutputMasks(spec, cfg, []bool{true}, 1); err == nil {
		t.Error("TimeDistributed(GRU) accepted a masked input")
	}
	err = buildErr(t, "time_distributed_1", "TimeDistributed", `{"name": "time_distributed_1", "layer": {"class_name": "Dense", "config": {"name": "dense_1", "units": 2}}}`,
		envK224, []int{-1, 4}, nil)
	wantErr(t, err, "time_distributed_1", "rank 3")
}

// TestTimeDistributedLSTM checks TimeDistributed around a recurrent layer:
// each [batch*time] row is an inner sequence.
func TestTimeDistributedLSTM(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	ws := randWeights(rng, "time_distributed_1", 3, 2, 4, 8)
	td, shapes := mustBuild(t, "time_distributed_1", "TimeDistributed",
		`{"name": "time_distributed_1", "layer": {"class_name": "LSTM", "config": {"name": "lstm_1", "units": 2}}}`,
		envK224, []int{2, 4, 5, 3}, ws)
	if !intsEq(shapes[0], []int{2, 4, 2}) {
		t.Fatalf("shape %v, want [2 4 2]", shapes[0])
	}
	lstm, _ := mustBuild(t, "lstm_1", "LSTM", `{"name": "lstm_1", "units": 2}`, envK224, []int{8, 5, 3}, ws)
	x := randT(rng, 2, 4, 5, 3)
	got, err := td.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	want, err := lstm.Forward([]*runtime.Tensor{x.Reshape(8, 5, 3)})
	if err != nil {
		t.Fatal(err)
	}
	floatsEqual(t, "values", got[0].Data, want[0].Data)
}
