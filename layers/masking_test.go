package layers

import (
	"errors"
	"math"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

// TestMasking checks the Masking layer: a step whose features all equal
// mask_value is masked and zeroed; a step with one other value is kept.
func TestMasking(t *testing.T) {
	l, shapes := mustBuild(t, "masking_1", "Masking", `{"name": "masking_1", "trainable": true, "mask_value": -1.0}`,
		envK224, []int{-1, 3, 2}, nil)
	if !intsEq(shapes[0], []int{-1, 3, 2}) {
		t.Errorf("shape %v", shapes[0])
	}
	x := &runtime.Tensor{Shape: []int{1, 3, 2}, Data: []float32{-1, -1, -1, 2, 0, 0}}
	orig := x.Clone()
	out, err := l.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	floatsEqual(t, "values", out[0].Data, []float32{0, 0, -1, 2, 0, 0})
	if len(out[0].Mask) != 3 || out[0].Mask[0] || !out[0].Mask[1] || !out[0].Mask[2] {
		t.Errorf("mask %v, want [false true true]", out[0].Mask)
	}
	floatsEqual(t, "input", x.Data, orig.Data)
}

// TestMaskingInfinity checks Keras's x * mask: an infinite mask_value gives
// NaN at masked steps.
func TestMaskingInfinity(t *testing.T) {
	l := &maskingLayer{value: float32(math.Inf(1))}
	out, err := l.Forward([]*runtime.Tensor{{Shape: []int{1, 2, 1}, Data: []float32{float32(math.Inf(1)), 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(float64(out[0].Data[0])) || out[0].Data[1] != 3 {
		t.Errorf("values %v, want [NaN 3]", out[0].Data)
	}
}

// TestMaskingRules checks that Masking creates a mask and refuses inputs
// other than (batch, time, features).
func TestMaskingRules(t *testing.T) {
	spec := Spec{Name: "masking_1", Class: "Masking", Env: envK224, Config: gjson.Parse(`{"name": "masking_1"}`)}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := OutputMasks(spec, cfg, []bool{false}, 1); !m[0] {
		t.Error("Masking does not create a mask")
	}
	err = buildErr(t, "masking_1", "Masking", `{"name": "masking_1"}`, envK224, []int{-1, 4}, nil)
	wantErr(t, err, "masking_1", "Masking")
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("error %v does not wrap ErrUnsupported", err)
	}
}

// TestEmbeddingMaskZero checks Embedding(mask_zero=True): the mask is
// id != 0 and the embedding of id 0 is not zeroed.
func TestEmbeddingMaskZero(t *testing.T) {
	table := []float32{1, 2, 3, 4, 5, 6}
	l, _ := mustBuild(t, "embedding_1", "Embedding", `{"name": "embedding_1", "input_dim": 3, "output_dim": 2, "mask_zero": true, "input_length": 3}`,
		envK224, []int{-1, 3}, []Weight{{Name: "embedding_1/embeddings:0", Shape: []int{3, 2}, Data: table}})
	out, err := l.Forward([]*runtime.Tensor{{Shape: []int{1, 3}, Data: []float32{2, 0, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	floatsEqual(t, "values", out[0].Data, []float32{5, 6, 1, 2, 3, 4})
	if len(out[0].Mask) != 3 || !out[0].Mask[0] || out[0].Mask[1] || !out[0].Mask[2] {
		t.Errorf("mask %v, want [true false true]", out[0].Mask)
	}
	for _, tc := range []struct {
		maskZero string
		want     bool
	}{{"true", true}, {"false", false}} {
		spec := Spec{Name: "embedding_1", Class: "Embedding", Env: envK224, Config: gjson.Parse(`{"name": "embedding_1", "input_dim": 3, "output_dim": 2, "mask_zero": ` + tc.maskZero + `}`)}
		cfg, err := Decode(spec)
		if err != nil {
			t.Fatal(err)
		}
		// Keras: Embedding.compute_mask ignores the input's mask.
		for _, in := range []bool{false, true} {
			m, err := OutputMasks(spec, cfg, []bool{in}, 1)
			if err != nil || m[0] != tc.want {
				t.Errorf("mask_zero %s, masked input %v: %v, %v", tc.maskZero, in, m, err)
			}
		}
	}
	err = buildErr(t, "embedding_1", "Embedding", `{"name": "embedding_1", "input_dim": 3, "output_dim": 2, "mask_zero": true}`,
		envK224, []int{-1, 3, 2}, []Weight{{Name: "embedding_1/embeddings:0", Shape: []int{3, 2}, Data: table}})
	wantErr(t, err, "embedding_1", "mask_zero")
}
