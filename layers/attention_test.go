package layers

import (
	"math"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

var tf211 = Env{KerasVersion: "2.11.0", Backend: "tensorflow"}

func TestAttentionDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "Attention", config: `{"score_mode": "additive"}`, env: tf211, unsupported: true, want: []string{"score_mode", "additive"}},
		{class: "Attention", config: `{"use_scale": 1}`, env: tf211, want: []string{"use_scale"}},
		{class: "Attention", config: `{"causal": "yes"}`, env: tf211, want: []string{"causal"}},
		{class: "Attention", config: `{"dropout": 0.1, "return_attention_scores": true}`, env: tf211, unsupported: true, want: []string{"return_attention_scores"}},
	})
}

// TestAttentionWeights checks use_scale and score_mode "concat" against
// closed forms: one query row (1, 0) over keys (1, 0) and (0, 1).
func TestAttentionWeights(t *testing.T) {
	q := l3Tensor([]int{1, 1, 2}, 1, 0)
	v := l3Tensor([]int{1, 2, 2}, 1, 0, 0, 1)
	in := [][]int{{-1, 1, 2}, {-1, 2, 2}}
	scale := Weight{Name: "attention/scale:0", Shape: []int{}, Data: []float32{2}}
	l, _ := l3Build(t, "Attention", `{"use_scale": true, "score_mode": "dot", "dropout": 0.0}`, tf211, in, scale)
	out, err := l.Forward([]*runtime.Tensor{q, v})
	if err != nil {
		t.Fatal(err)
	}
	// scores (2, 0): weights (e²/(e²+1), 1/(e²+1)).
	w0 := math.Exp(2) / (math.Exp(2) + 1)
	l3Close(t, "use_scale", out[0].Data, []float32{float32(w0), float32(1 - w0)})

	cw := Weight{Name: "attention/concat_score_weight:0", Shape: []int{}, Data: []float32{0.5}}
	l, _ = l3Build(t, "Attention", `{"use_scale": false, "score_mode": "concat"}`, tf211, in, cw)
	out, err = l.Forward([]*runtime.Tensor{q, v})
	if err != nil {
		t.Fatal(err)
	}
	// scores 0.5·Σtanh(q+k): (0.5·tanh 2, 0.5·(tanh 1 + tanh 1)).
	s0, s1 := 0.5*math.Tanh(2), math.Tanh(1)
	w0 = 1 / (1 + math.Exp(s1-s0))
	l3Close(t, "concat", out[0].Data, []float32{float32(w0), float32(1 - w0)})

	if err := l3BuildErr(t, "Attention", `{"use_scale": true}`, in); err == nil {
		t.Errorf("use_scale without a scale weight built")
	}
}

// TestAttentionMasksAndCausal: a masked value step gets no weight, a
// masked query row is zero, and causal attention sees only earlier steps.
func TestAttentionMasksAndCausal(t *testing.T) {
	q := l3Tensor([]int{1, 2, 1}, 1, 1)
	v := l3Tensor([]int{1, 2, 1}, 3, 5)
	q.Mask = []bool{true, false}
	v.Mask = []bool{false, true}
	l, out := l3Build(t, "Attention", `{"use_scale": false}`, tf211, [][]int{{-1, 2, 1}, {-1, 2, 1}})
	if !l3IntsEq(out[0], []int{-1, 2, 1}) {
		t.Fatalf("shape %v", out[0])
	}
	got, err := l.Forward([]*runtime.Tensor{q, v})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "masked", got[0].Data, []float32{5, 0})
	if !l3BoolsEq(got[0].Mask, q.Mask) {
		t.Errorf("mask %v, want the query's %v", got[0].Mask, q.Mask)
	}
	c, _ := l3Build(t, "Attention", `{"use_scale": false, "causal": true}`, Env{KerasVersion: "2.4.0"}, [][]int{{-1, 2, 1}, {-1, 2, 1}})
	got, err = c.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2, 1}, 0, 0), l3Tensor([]int{1, 2, 1}, 3, 5)})
	if err != nil {
		t.Fatal(err)
	}
	// Step 0 sees only value 3; step 1 averages 3 and 5 (equal scores).
	l3Close(t, "causal", got[0].Data, []float32{3, 4})
	if m, err := l3Masks(t, "Attention", `{}`, tf211, false, true); err != nil || m[0] {
		t.Errorf("masks %v, %v: the output carries the query's mask only", m, err)
	}
}
