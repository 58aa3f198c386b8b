package importer

import (
	"errors"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/tidwall/gjson"
)

func kt(layer string, node, tensor int) string {
	return `{"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "dtype": "float32", "keras_history": ["` +
		layer + `", ` + string(rune('0'+node)) + `, ` + string(rune('0'+tensor)) + `]}}`
}

func TestParseKeras3Node(t *testing.T) {
	for _, c := range []struct {
		node, want, err string
	}{
		{`{"args": [` + kt("dense", 0, 0) + `], "kwargs": {}}`, "dense[0][0]", ""},
		{`{"args": [` + kt("lstm", 1, 2) + `], "kwargs": {"training": false, "mask": null}}`, "lstm[1][2]", ""},
		{`{"args": [[` + kt("a", 0, 0) + `, ` + kt("b", 0, 1) + `]], "kwargs": {}}`, "a[0][0] b[0][1]", ""},
		{`{"args": [` + kt("a", 0, 0) + `, ` + kt("b", 0, 0) + `]}`, "a[0][0] b[0][0]", ""},
		{`{"args": [` + kt("a", 0, 0) + `], "kwargs": {"mask": ` + kt("m", 0, 0) + `}}`, "a[0][0]", ""},
		{`{"args": [` + kt("a", 0, 0) + `], "kwargs": {"mask": [1]}}`, "", "call arguments [mask]"},
		{`{"args": [` + kt("a", 0, 0) + `], "kwargs": {"initial_state": [` + kt("h", 0, 0) + `, ` + kt("c", 0, 0) + `]}}`, "a[0][0] h[0][0] c[0][0]", ""},
		{`{"args": [` + kt("a", 0, 0) + `], "kwargs": {"initial_state": ` + kt("h", 0, 0) + `}}`, "a[0][0] h[0][0]", ""},
		{`{"args": [` + kt("a", 0, 0) + `], "kwargs": {"initial_state": [3]}}`, "", "initial_state"},
		{`{"args": [` + kt("a", 0, 0) + `], "kwargs": {"training": ` + kt("t", 0, 0) + `}}`, "", "training"},
		{`{"args": [` + kt("a", 0, 0) + `], "kwargs": {"constants": [1]}}`, "", "call arguments [constants]"},
		{`{"args": [` + kt("a", 0, 0) + `, 3]}`, "", "call arguments other than tensors"},
		{`{"args": []}`, "", "without input tensors"},
		{`{"kwargs": {}}`, "", "no args"},
		{`{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["a", 0]}}]}`, "", "keras_history"},
	} {
		call, err := parseNode(gjson.Parse(c.node))
		refs := call.refs
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.node, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.node, err)
			continue
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.String())
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: %v, want %s", c.node, got, c.want)
		}
	}
}

func TestNormalizeKeras3(t *testing.T) {
	policy := func(name string) string {
		return `{"module": "keras", "class_name": "DTypePolicy", "config": {"name": "` + name + `"}, "registered_name": null}`
	}
	for _, c := range []struct {
		class, in string
		want      map[string]string
		err       string
	}{
		{"Dense", `{"name": "d", "dtype": ` + policy("float32") + `, "units": 2}`, map[string]string{"dtype": `"float32"`}, ""},
		{"Dense", `{"name": "d", "dtype": {"class_name": "Policy", "config": {"name": "float32"}}}`, map[string]string{"dtype": `"float32"`}, ""},
		{"Dense", `{"name": "d", "dtype": ` + policy("mixed_float16") + `}`, nil, "mixed_float16"},
		{"Dense", `{"name": "d", "dtype": ` + policy("bfloat16") + `}`, nil, "bfloat16"},
		{"Dense", `{"name": "d", "dtype": "float64"}`, nil, "float64"},
		{"Dense", `{"name": "d", "dtype": {"class_name": "DTypePolicy"}}`, nil, "without a name"},
		{"Embedding", `{"name": "e", "dtype": "int32"}`, map[string]string{"dtype": `"int32"`}, ""},
		{"InputLayer", `{"name": "i", "dtype": "float16", "batch_shape": [null, 3]}`, map[string]string{"dtype": `"float16"`}, ""},
		{"Dense", `{"name": "d", "activation": {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "function"}}`,
			map[string]string{"activation": `"relu"`}, ""},
		{"LSTM", `{"name": "l", "recurrent_activation": {"module": "keras.activations", "class_name": "function", "config": "hard_sigmoid", "registered_name": "function"}}`,
			map[string]string{"recurrent_activation": `"hard_sigmoid"`}, ""},
		{"Dense", `{"name": "d", "activation": {"module": "builtins", "class_name": "function", "config": "my_act", "registered_name": "Custom>my_act"}}`, nil, "activation"},
		{"Dense", `{"name": "d", "activation": {"class_name": "LeakyReLU", "config": {"alpha": 0.3}}}`, nil, "LeakyReLU"},
		{"Bidirectional", `{"name": "b", "layer": {"module": "keras.layers", "class_name": "LSTM", "config": {"name": "l", "dtype": ` + policy("float32") + `}, "registered_name": null}}`,
			map[string]string{"layer.config.dtype": `"float32"`, "layer.module": `"keras.layers"`}, ""},
		{"Bidirectional", `{"name": "b", "layer": {"class_name": "LSTM", "config": {"name": "l", "dtype": ` + policy("mixed_bfloat16") + `}}}`, nil, "mixed_bfloat16"},
	} {
		_, cfg, _, err := normalizeConfig(c.class, gjson.Parse(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, layers.ErrUnsupported) && !strings.Contains(c.err, "without") {
				t.Errorf("%s: error %v, want %q (unsupported)", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		for k, v := range c.want {
			if got := cfg.Get(k).Raw; got != v {
				t.Errorf("%s: %s = %s, want %s", c.in, k, got, v)
			}
		}
	}
}
