package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/tidwall/gjson"
)

func fixture(t *testing.T, id string) *golden.Case {
	t.Helper()
	cases, err := golden.Load(filepath.Join("..", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		if cases[i].ID == id {
			return &cases[i]
		}
	}
	t.Fatalf("fixture %s not found", id)
	return nil
}

func modelConfig(t *testing.T, path string) string {
	t.Helper()
	info, _, err := readFile(path, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	return info.ModelConfig
}

// TestLoadWeightsFromFullModel checks that a full model file serves as a
// weights file too (Keras's load_weights reads its model_weights group).
func TestLoadWeightsFromFullModel(t *testing.T) {
	for _, id := range []string{"f3_shared_dense", "f3_tf_nested_sequential", "f3_k1_lstm_dense"} {
		c := fixture(t, id)
		m, err := LoadWeights([]byte(modelConfig(t, c.Model())), c.Model(), nil)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		in, err := c.ReadInputs()
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Predict(in...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(got); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}

func TestLoadWeightsErrors(t *testing.T) {
	wo := fixture(t, "f3_wo_keras2_sequential")
	arch, err := os.ReadFile(wo.Arch())
	if err != nil {
		t.Fatal(err)
	}
	// The architecture without its last Dense: the file has one layer with
	// weights too many.
	short := strings.Replace(string(arch), `"dense_6"`, `"dense_6x"`, 1)
	layersJSON := gjson.Get(short, "config.layers").Array()
	var kept []string
	for _, l := range layersJSON[:len(layersJSON)-1] {
		kept = append(kept, l.Raw)
	}
	short = `{"class_name": "Sequential", "config": {"name": "s", "layers": [` + strings.Join(kept, ",") + `]}, "keras_version": "2.2.4"}`

	for _, c := range []struct {
		name, arch, path string
		want             []string
	}{
		{"not JSON", `{"class_name": `, wo.Model(), []string{"architecture", "not valid JSON"}},
		{"not a model", `[1, 2]`, wo.Model(), []string{"architecture", "to_json"}},
		{"unknown model class", `{"class_name": "Graph", "config": {}}`, wo.Model(), []string{"architecture", "Graph"}},
		{"too few layers", short, wo.Model(), []string{"2 layer(s) with weights", "\"dense_1\"", "does not match"}},
		{"not a file", string(arch), filepath.Join(t.TempDir(), "missing.h5"), []string{"no such file"}},
	} {
		_, err := LoadWeights([]byte(c.arch), c.path, nil)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: %q does not name the file", c.name, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", c.name, err, w)
			}
		}
	}
}

func TestLoadRefusesWeightsOnly(t *testing.T) {
	c := fixture(t, "f3_wo_keras2_sequential")
	_, err := Load(c.Model(), nil)
	if err == nil || !strings.Contains(err.Error(), "weights-only") || !strings.Contains(err.Error(), "--arch") {
		t.Errorf("Load of a weights-only file: %v", err)
	}
}
