package layers

import (
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// zeros returns weights of the given names and shapes, all zero.
func zeros(names []string, shapes ...[]int) []Weight {
	out := make([]Weight, len(names))
	for i, n := range names {
		out[i] = Weight{Name: n, Shape: shapes[i], Data: make([]float32, runtime.NumElements(shapes[i]))}
	}
	return out
}

// TestNonTrainableParams checks the parameter counts that Keras's summary
// splits into trainable and non-trainable: a layer with "trainable": false
// holds only non-trainable weights, BatchNormalization's moving statistics
// are non-trainable, and a wrapper counts its inner layer's.
func TestNonTrainableParams(t *testing.T) {
	dense := zeros([]string{"d/kernel:0", "d/bias:0"}, []int{4, 5}, []int{5})
	bn := zeros([]string{"bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0"}, []int{5}, []int{5}, []int{5}, []int{5})
	emb := zeros([]string{"e/embeddings:0"}, []int{10, 3})
	norm := zeros([]string{"n/mean:0", "n/variance:0", "n/count:0"}, []int{5}, []int{5}, []int{})
	for _, tc := range []struct {
		name, class, cfg string
		in               []int
		ws               []Weight
		params, frozen   int
	}{
		{"dense", "Dense", `{"name": "d", "units": 5}`, []int{-1, 4}, dense, 25, 0},
		{"dense frozen", "Dense", `{"name": "d", "units": 5, "trainable": false}`, []int{-1, 4}, dense, 25, 25},
		{"bn", "BatchNormalization", `{"name": "bn", "axis": -1}`, []int{-1, 5}, bn, 20, 10},
		{"bn frozen", "BatchNormalization", `{"name": "bn", "axis": -1, "trainable": false}`, []int{-1, 5}, bn, 20, 20},
		{"bn no scale", "BatchNormalization", `{"name": "bn", "axis": -1, "scale": false}`, []int{-1, 5}, append([]Weight{bn[1]}, bn[2:]...), 15, 10},
		{"embedding frozen", "Embedding", `{"name": "e", "input_dim": 10, "output_dim": 3, "trainable": false}`, []int{-1, 7}, emb, 30, 30},
		{"normalization", "Normalization", `{"name": "n", "axis": -1}`, []int{-1, 5}, norm, 11, 11},
		{"embedding", "Embedding", `{"name": "e", "input_dim": 10, "output_dim": 3, "trainable": true}`, []int{-1, 7}, emb, 30, 0},
		{"time distributed bn", "TimeDistributed",
			`{"name": "td", "layer": {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": -1}}}`, []int{-1, 6, 5}, bn, 20, 10},
		{"time distributed frozen dense", "TimeDistributed",
			`{"name": "td", "layer": {"class_name": "Dense", "config": {"name": "d", "units": 5, "trainable": false}}}`, []int{-1, 6, 4}, dense, 25, 25},
		{"frozen time distributed", "TimeDistributed",
			`{"name": "td", "trainable": false, "layer": {"class_name": "Dense", "config": {"name": "d", "units": 5}}}`, []int{-1, 6, 4}, dense, 25, 25},
		{"bidirectional", "Bidirectional",
			`{"name": "bidirectional_1", "layer": {"class_name": "LSTM", "config": ` + lstmCfg + `}}`, []int{-1, 6, 4}, bidiWeights(4, 3), 2 * 4 * (4*3 + 3*3 + 3), 0},
		{"bidirectional frozen", "Bidirectional",
			`{"name": "bidirectional_1", "trainable": false, "layer": {"class_name": "LSTM", "config": ` + lstmCfg + `}}`, []int{-1, 6, 4}, bidiWeights(4, 3), 2 * 4 * (4*3 + 3*3 + 3), 2 * 4 * (4*3 + 3*3 + 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := mustBuild(t, tc.name, tc.class, tc.cfg, envK224, tc.in, tc.ws)
			p := l.(runtime.ParamCounter).Params()
			f := l.(runtime.NonTrainableCounter).NonTrainableParams()
			if p != tc.params || f != tc.frozen {
				t.Errorf("params %d, non-trainable %d; want %d and %d", p, f, tc.params, tc.frozen)
			}
		})
	}
}
