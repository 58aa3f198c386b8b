package importer

import (
	"testing"

	"github.com/kerasrun/kerasrun/layers"
)

// TestFusePlan checks which layers fuse may fold into the layer before
// them: only the single reader of a single-call layer's output that is not
// a model output, and that the wrapped configs keep their mask rules.
func TestFusePlan(t *testing.T) {
	conv := func(name, in string) string {
		return `{"class_name": "Conv2D", "name": "` + name + `", "config": {"name": "` + name + `", "filters": 2, "kernel_size": 1},
		  "inbound_nodes": [[["` + in + `", 0, 0, {}]]]}`
	}
	layer := func(class, name, in string) string {
		return `{"class_name": "` + class + `", "name": "` + name + `", "config": {"name": "` + name + `"}, "inbound_nodes": [[["` + in + `", 0, 0, {}]]]}`
	}
	js := `{"class_name": "Functional", "config": {"name": "m", "layers": [
	  {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_input_shape": [null, 4, 4, 2]}, "inbound_nodes": []},
	  ` + conv("c1", "x") + `,
	  ` + layer("BatchNormalization", "bn1", "c1") + `,
	  ` + layer("ReLU", "r1", "bn1") + `,
	  ` + conv("c2", "r1") + `,
	  ` + layer("BatchNormalization", "bn2", "c2") + `,
	  {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [[["bn2", 0, 0, {}], ["c2", 0, 0, {}]]]},
	  ` + conv("c3", "add") + `,
	  ` + layer("BatchNormalization", "bn3", "c3") + `,
	  ` + layer("ReLU", "r3", "c3") + `],
	  "input_layers": [["x", 0, 0]], "output_layers": [["bn3", 0, 0], ["r3", 0, 0], ["r1", 0, 0]]}}`
	tree, err := parseModelConfig(js, layers.Env{KerasVersion: "2.4.0"})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := flatten(tree)
	if err != nil {
		t.Fatal(err)
	}
	cfgs := map[string]layers.Config{}
	for _, e := range spec.layers {
		if e.input {
			continue
		}
		c, err := e.decode()
		if err != nil {
			t.Fatal(err)
		}
		cfgs[e.spec.Name] = c
	}
	fuse(spec, cfgs)
	// r1 is a model output, but it reads bn1 alone, so it may fuse, while
	// c2 may not fuse into it (the caller reads r1); c2 and c3 are read
	// twice, so nothing fuses into them; add has two inputs.
	want := map[string]bool{"c1": false, "bn1": true, "r1": true, "c2": false, "bn2": false, "add": false, "c3": true, "bn3": false, "r3": false}
	for name, linked := range want {
		var fc *fuseConfig
		switch c := cfgs[name].(type) {
		case *fuseConfig:
			fc = c
		case fuseMaskConfig:
			fc = c.fuseConfig
		}
		if got := fc != nil && fc.prev != nil; got != linked {
			t.Errorf("%s: may fuse into the layer before it: %v, want %v", name, got, linked)
		}
	}
	for _, name := range []string{"bn1", "r1"} {
		if _, ok := cfgs[name].(layers.MaskRule); !ok {
			t.Errorf("%s: the wrapped config lost its mask rule", name)
		}
	}
	if _, ok := cfgs["c1"].(layers.MaskRule); ok {
		t.Errorf("c1: the wrapped config gained a mask rule")
	}
}
