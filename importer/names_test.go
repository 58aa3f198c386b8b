package importer

import (
	"slices"
	"testing"
)

func TestParseWeightName(t *testing.T) {
	for _, c := range []struct {
		stored, layer, base, dir, cell string
		scopes                         []string
		keras1                         bool
	}{
		{stored: "dense_1/kernel:0", layer: "dense_1", base: "kernel", scopes: []string{"dense_1"}},
		{stored: "dense_1/kernel", layer: "dense_1", base: "kernel", scopes: []string{"dense_1"}},
		{stored: "lstm_9/lstm_cell_9/kernel:0", layer: "lstm_9", base: "kernel", cell: "lstm_cell_9", scopes: []string{"lstm_9", "lstm_cell_9"}},
		{stored: "bidirectional_1/forward_cu_dnnlstm_1/recurrent_kernel:0", layer: "bidirectional_1", base: "recurrent_kernel", dir: "forward", scopes: []string{"bidirectional_1", "forward_cu_dnnlstm_1"}},
		{stored: "bidirectional_4/backward_gru_2/gru_cell_8/bias:0", layer: "bidirectional_4", base: "bias", dir: "backward", cell: "gru_cell_8", scopes: []string{"bidirectional_4", "backward_gru_2", "gru_cell_8"}},
		{stored: "sequential/dense/kernel", layer: "sequential", base: "kernel", scopes: []string{"sequential", "dense"}},
		{stored: "lstm/lstm_cell/kernel", layer: "lstm", base: "kernel", cell: "lstm_cell", scopes: []string{"lstm", "lstm_cell"}},
		{stored: "lstm_1_W_i:0", layer: "lstm_1", base: "W_i", scopes: []string{"lstm_1"}, keras1: true},
		{stored: "forward_lstm_1_U_o:0", layer: "forward_lstm_1", base: "U_o", dir: "forward", scopes: []string{"forward_lstm_1"}, keras1: true},
		{stored: "dense_1_b", layer: "dense_1", base: "b", scopes: []string{"dense_1"}, keras1: true},
		{stored: "batchnormalization_1_running_mean", layer: "batchnormalization_1", base: "running_mean", scopes: []string{"batchnormalization_1"}, keras1: true},
		{stored: "gru_1_W_z", layer: "gru_1", base: "W_z", scopes: []string{"gru_1"}, keras1: true},
		{stored: "param_0", base: "param_0"},
		{stored: "kernel:0", base: "kernel"},
		{stored: "a:b", base: "a:b"},
		{stored: "chain_kernel:0", base: "chain_kernel"},
	} {
		n := parseWeightName(c.stored)
		if n.Layer() != c.layer || n.Base != c.base || n.Direction() != c.dir || n.Cell() != c.cell || n.Keras1 != c.keras1 || !slices.Equal(n.Scopes, c.scopes) {
			t.Errorf("parseWeightName(%q) = scopes %q base %q keras1 %v dir %q cell %q; want scopes %q base %q keras1 %v dir %q cell %q",
				c.stored, n.Scopes, n.Base, n.Keras1, n.Direction(), n.Cell(), c.scopes, c.base, c.keras1, c.dir, c.cell)
		}
	}
}

func TestWeightNameOwner(t *testing.T) {
	leaves := map[string]bool{"dense": true, "time_distributed_2": true}
	for stored, want := range map[string]string{
		"dense/kernel:0":                    "dense",
		"model_1/dense/bias:0":              "dense",
		"time_distributed_2/embeddings:0":   "time_distributed_2",
		"bidirectional_4/forward_gru_2/x:0": "",
		"kernel:0":                          "",
	} {
		got, ok := parseWeightName(stored).owner(leaves)
		if got != want || ok != (want != "") {
			t.Errorf("owner(%q) = %q, %v; want %q", stored, got, ok, want)
		}
	}
}

func TestHasTFSuffix(t *testing.T) {
	for s, want := range map[string]bool{"a/kernel:0": true, "lstm_1_W_i:12": true, "lstm_1_W_i": false, "a:": false, "a:b": false} {
		if hasTFSuffix(s) != want {
			t.Errorf("hasTFSuffix(%q) = %v", s, !want)
		}
	}
}
