package importer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/layers"
)

func nodesString(e *layerEntry) string {
	var calls []string
	for _, n := range e.nodes {
		var refs []string
		for _, r := range n {
			refs = append(refs, r.String())
		}
		calls = append(calls, strings.Join(refs, "+"))
	}
	return strings.Join(calls, " | ")
}

// dense returns a Dense layer entry left open, with extra config keys.
func dense(name string, extra ...string) string {
	x := ""
	for _, e := range extra {
		x += ", " + e
	}
	return `{"class_name": "Dense", "config": {"name": "` + name + `", "units": 2` + x + `}`
}

// TestFlattenNested checks how a nested model called twice is inlined: its
// layers get one node per call, wired to the outer tensors, and references
// to its outputs become references to its inner layers.
func TestFlattenNested(t *testing.T) {
	js := `{"class_name": "Functional", "config": {"name": "outer", "layers": [
	  {"class_name": "InputLayer", "name": "a", "config": {"name": "a", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
	  {"class_name": "InputLayer", "name": "b", "config": {"name": "b", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
	  {"class_name": "Functional", "name": "enc", "config": {"name": "enc", "layers": [
	      {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
	      ` + dense("d1") + `, "name": "d1", "inbound_nodes": [[["x", 0, 0, {}]]]},
	      {"class_name": "Sequential", "name": "inner", "config": {"name": "inner", "layers": [` + dense("d2", `"batch_input_shape": [null, 2]`) + `}]},
	       "inbound_nodes": [[["d1", 0, 0, {}]]]}],
	    "input_layers": [["x", 0, 0]], "output_layers": [["inner", 0, 0]]},
	   "inbound_nodes": [[["a", 0, 0, {}]], [["b", 0, 0, {}]]]},
	  {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [[["enc", 0, 0, {}], ["enc", 1, 0, {}]]]}],
	  "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["add", 0, 0], ["enc", 1, 0]]}}`
	tree, err := parseModelConfig(js, layers.Env{KerasVersion: "2.4.0"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := flatten(tree)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range m.layers {
		got = append(got, fmt.Sprintf("%s<%s,%s>: %s", e.spec.Name, e.group, e.leaf, nodesString(e)))
	}
	want := []string{
		"a<a,>: ",
		"b<b,>: ",
		"enc/d1<enc,d1>: a[0][0] | b[0][0]",
		"enc/inner/d2<enc,d2>: enc/d1[0][0] | enc/d1[1][0]",
		"add<add,>: enc/inner/d2[0][0]+enc/inner/d2[1][0]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("flattened:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := fmt.Sprint(m.outputs, m.outNames); s != "[add[0][0] enc/inner/d2[1][0]] [add enc]" {
		t.Errorf("outputs %s", s)
	}
}

func TestSequentialStartingWithNestedModel(t *testing.T) {
	js := `{"class_name": "Sequential", "config": {"name": "s", "layers": [
	  {"class_name": "Sequential", "config": {"name": "base", "layers": [` + dense("d1", `"batch_input_shape": [null, 7]`, `"dtype": "float32"`) + `}]}},
	  ` + dense("d2") + `}]}}`
	tree, err := parseModelConfig(js, layers.Env{})
	if err != nil {
		t.Fatal(err)
	}
	in := tree.byName[tree.inputs[0].layer]
	if in.spec.Name != "base_input" || fmt.Sprint(in.shape) != "[-1 7]" {
		t.Errorf("input %q %v", in.spec.Name, in.shape)
	}
	m, err := flatten(tree)
	if err != nil {
		t.Fatal(err)
	}
	if e := m.byName["d2"]; e == nil || nodesString(e) != "base/d1[0][0]" {
		t.Errorf("d2 not wired to the nested model's output")
	}
}

// TestKeras3SequentialWithoutInput: a Keras 3 Sequential built without an
// Input has no InputLayer; its input shape is its first layer's
// build_config.input_shape.
func TestKeras3SequentialWithoutInput(t *testing.T) {
	js := `{"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
	  {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d1", "units": 2},
	   "build_config": {"input_shape": [null, 5, 3]}}]}}`
	tree, err := parseModelConfig(js, layers.Env{KerasVersion: "3.8.0"})
	if err != nil {
		t.Fatal(err)
	}
	in := tree.byName[tree.inputs[0].layer]
	if fmt.Sprint(in.shape) != "[-1 5 3]" {
		t.Errorf("input %q %v, want [-1 5 3]", in.spec.Name, in.shape)
	}
	js = strings.Replace(js, `"build_config": {"input_shape": [null, 5, 3]}`, `"build_config": {}`, 1)
	if _, err := parseModelConfig(js, layers.Env{KerasVersion: "3.8.0"}); err == nil || !strings.Contains(err.Error(), "no input shape") {
		t.Errorf("without build_config: %v", err)
	}
}

// TestParseCollectsLayerProblems checks that problems of single layers stay
// in their entries, so that every one of them can be reported together.
func TestParseCollectsLayerProblems(t *testing.T) {
	js := `{"class_name": "Model", "config": {"name": "m", "layers": [
	  {"class_name": "InputLayer", "name": "a", "config": {"name": "a", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
	  {"class_name": "Dense", "name": "d1", "config": {"name": "d1", "units": 2, "dtype": "float64"}, "inbound_nodes": [[["a", 0, 0, {}]]]},
	  {"class_name": "Dense", "name": "d2", "config": {"name": "d2", "units": 2}, "inbound_nodes": [[["d1", 0, 0, {"mask": 1}]]]},
	  {"class_name": "Dense", "name": "d3", "config": {"name": "d3", "output_dim": 2, "units": 2}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["d2", 0, 0]}}], "kwargs": {"foo": 1}}]}],
	  "input_layers": [["a", 0, 0]], "output_layers": [["d3", 0, 0]]}}`
	tree, err := parseModelConfig(js, layers.Env{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"d1": "float64", "d2": "mask", "d3": "output_dim"} {
		e := tree.byName[name]
		if e.err == nil || !strings.Contains(e.err.Error(), want) || !strings.Contains(e.err.Error(), name) {
			t.Errorf("%s: problem %v, want one naming %q", name, e.err, want)
		}
	}
	if !strings.Contains(tree.byName["d3"].err.Error(), "foo") {
		t.Errorf("d3: %v does not name the call argument foo", tree.byName["d3"].err)
	}
}

func TestNestingLimit(t *testing.T) {
	js := dense("leaf", `"batch_input_shape": [null, 2]`) + `}`
	for i := 0; i < maxNesting+2; i++ {
		js = fmt.Sprintf(`{"class_name": "Sequential", "config": {"name": "s%d", "layers": [%s]}}`, i, js)
	}
	tree, err := parseModelConfig(js, layers.Env{})
	if err == nil {
		_, err = flatten(tree)
	}
	if err == nil {
		for _, e := range tree.layers {
			err = e.err
		}
	}
	if err == nil || !strings.Contains(err.Error(), "nest") {
		t.Errorf("models nested %d deep: %v", maxNesting+2, err)
	}
}

// FuzzParseModelConfig checks that no model_config makes the parser, the
// Keras 1/3 normalisation or flatten panic.
func FuzzParseModelConfig(f *testing.F) {
	for _, s := range []string{
		`{"class_name": "Sequential", "config": [{"class_name": "LSTM", "config": {"name": "l", "output_dim": 3, "batch_input_shape": [null, 2, 3], "input_dim": 3, "input_length": null, "consume_less": "gpu", "forget_bias_init": "one"}}, {"class_name": "Convolution2D", "config": {"name": "c", "nb_row": 2, "nb_col": 2, "dim_ordering": "th"}}]}`,
		`{"class_name": "Functional", "config": {"name": "m", "layers": [{"class_name": "InputLayer", "name": "a", "config": {"name": "a", "batch_shape": [null, 3]}, "inbound_nodes": []}, {"class_name": "Sequential", "name": "s", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 3], "dtype": {"class_name": "DTypePolicy", "config": {"name": "float32"}}}}]}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["a", 0, 0]}}], "kwargs": {}}]}], "input_layers": ["a", 0, 0], "output_layers": [["s", 0, 0]]}}`,
		`{"class_name": "Model", "config": {"layers": [{"class_name": "Bidirectional", "name": "b", "config": {"name": "b", "layer": {"class_name": "GRU", "config": {"name": "g", "output_dim": 2, "activation": {"class_name": "function", "config": "tanh"}}}}, "inbound_nodes": [[["b", 0, 0]]]}], "input_layers": [], "output_layers": [["b", 0, 0]]}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		tree, err := parseModelConfig(js, layers.Env{KerasVersion: "1.2.2"})
		if err != nil {
			return
		}
		if m, err := flatten(tree); err == nil {
			for _, e := range m.layers {
				if !e.input && !e.bad {
					_, _ = e.decode()
				}
			}
		}
	})
}
