package importer

import (
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/tidwall/gjson"
)

// k3Model is a Keras 3 functional config of the given layers (JSON
// objects), inputs "ids" [null, 5] and "h" [null, 4], and outputs.
func k3Model(outputs string, ls ...string) string {
	return `{"class_name": "Functional", "config": {"name": "m", "layers": [
	  {"class_name": "InputLayer", "name": "ids", "config": {"name": "ids", "batch_shape": [null, 5], "dtype": "int32"}, "inbound_nodes": []},
	  {"class_name": "InputLayer", "name": "h", "config": {"name": "h", "batch_shape": [null, 4]}, "inbound_nodes": []},
	  ` + strings.Join(ls, ",\n") + `],
	  "input_layers": [["ids", 0, 0], ["h", 0, 0]], "output_layers": ` + outputs + `}}`
}

func k3Call(name, class, cfg, args, kwargs string) string {
	return `{"class_name": "` + class + `", "name": "` + name + `", "config": {"name": "` + name + `"` + cfg +
		`}, "inbound_nodes": [{"args": ` + args + `, "kwargs": ` + kwargs + `}]}`
}

// TestCallArguments checks the Keras 3 call arguments a functional config
// may give: initial_state for recurrent layers (a list or one tensor),
// after the sequence; mask when it is provably the mask the input carries
// (not_equal(ids, 0) of an Embedding(mask_zero=True) on the same ids),
// whose NotEqual op layer is then dropped unless something else reads it;
// anything else refused, naming the layer and the argument.
func TestCallArguments(t *testing.T) {
	emb := func(maskZero string) string {
		return k3Call("embedding", "Embedding", `, "input_dim": 9, "output_dim": 3, "mask_zero": `+maskZero, `[`+kt("ids", 0, 0)+`]`, `{}`)
	}
	ne := func(src string) string {
		return k3Call("not_equal", "NotEqual", "", `[`+kt(src, 0, 0)+`, 0]`, `{}`)
	}
	lstm := func(kwargs string) string {
		return k3Call("lstm", "GRU", `, "units": 4`, `[`+kt("embedding", 0, 0)+`]`, kwargs)
	}
	for _, c := range []struct {
		name    string
		js      string
		layers  string // the layers left, with their calls
		wantErr string // in the error of layer lstm
	}{
		{"initial_state list", k3Model(`[["lstm", 0, 0]]`, emb("false"), lstm(`{"initial_state": [`+kt("h", 0, 0)+`], "training": false, "mask": null}`)),
			"ids; h; embedding: ids[0][0]; lstm: embedding[0][0]+h[0][0]", ""},
		{"initial_state tensor", k3Model(`[["lstm", 0, 0]]`, emb("false"), lstm(`{"initial_state": `+kt("h", 0, 0)+`}`)),
			"ids; h; embedding: ids[0][0]; lstm: embedding[0][0]+h[0][0]", ""},
		{"initial_state on Dense", k3Model(`[["dense", 0, 0]]`, k3Call("dense", "Dense", `, "units": 2`, `[`+kt("h", 0, 0)+`]`, `{"initial_state": [`+kt("h", 0, 0)+`]}`)),
			"", "initial_state"},
		{"carried mask", k3Model(`[["lstm", 0, 0]]`, emb("true"), ne("ids"), lstm(`{"mask": `+kt("not_equal", 0, 0)+`}`)),
			"ids; h; embedding: ids[0][0]; lstm: embedding[0][0]", ""},
		{"carried mask, op read elsewhere", k3Model(`[["lstm", 0, 0], ["not_equal", 0, 0]]`, emb("true"), ne("ids"), lstm(`{"mask": `+kt("not_equal", 0, 0)+`}`)),
			"ids; h; embedding: ids[0][0]; not_equal: ; lstm: embedding[0][0]", ""},
		{"mask without mask_zero", k3Model(`[["lstm", 0, 0]]`, emb("false"), ne("ids"), lstm(`{"mask": `+kt("not_equal", 0, 0)+`}`)),
			"", `call argument "mask"`},
		{"mask of other ids", k3Model(`[["lstm", 0, 0]]`, emb("true"), ne("h"), lstm(`{"mask": `+kt("not_equal", 0, 0)+`}`)),
			"", `call argument "mask"`},
		{"mask of another layer", k3Model(`[["lstm", 0, 0]]`, emb("true"), lstm(`{"mask": `+kt("embedding", 0, 0)+`}`)),
			"", `call argument "mask"`},
		{"training tensor", k3Model(`[["lstm", 0, 0]]`, emb("true"), lstm(`{"training": `+kt("h", 0, 0)+`}`)),
			"", `call argument "training"`},
		{"other argument", k3Model(`[["lstm", 0, 0]]`, emb("true"), lstm(`{"constants": [1]}`)),
			"", `constants`},
	} {
		m, err := parseModelConfig(c.js, layers.Env{KerasVersion: "3.3.3"})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var errs []string
		var got []string
		for _, e := range m.layers {
			s := e.spec.Name
			if len(e.nodes) > 0 {
				s += ": " + nodesString(e)
			}
			got = append(got, s)
			if e.err != nil && e.spec.Class != "NotEqual" {
				errs = append(errs, e.err.Error())
			}
		}
		if c.wantErr != "" {
			all := strings.Join(errs, "\n")
			if !strings.Contains(all, c.wantErr) || (!strings.Contains(all, `"lstm"`) && !strings.Contains(all, `"dense"`)) {
				t.Errorf("%s: errors %q, want one naming the layer and %q", c.name, all, c.wantErr)
			}
			continue
		}
		if len(errs) > 0 {
			t.Errorf("%s: errors %v", c.name, errs)
		}
		if s := strings.Join(got, "; "); s != c.layers {
			t.Errorf("%s: layers %q, want %q", c.name, s, c.layers)
		}
	}
}

// TestKeras2StateInputs checks that Keras 2's list form, which gives
// initial states as inputs of the call, parses to the sequence followed by
// the states.
func TestKeras2StateInputs(t *testing.T) {
	call, err := parseNode(gjson.Parse(`[["input_2", 0, 0, {}], ["lstm_1", 0, 1, {}], ["lstm_1", 0, 2, {}]]`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range call.refs {
		got = append(got, r.String())
	}
	if s := strings.Join(got, " "); s != "input_2[0][0] lstm_1[0][1] lstm_1[0][2]" {
		t.Errorf("refs %s", s)
	}
}
