package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/tidwall/gjson"
)

// normalizeConfig brings one layer config into the Keras 2 form the layers
// decode: Keras 1 options are translated (translateKeras1), and the forms
// that tf.keras 2.13+ and Keras 3 write are reduced to their Keras 2
// equivalents: dtype policy objects, activations given as objects. An
// unchanged config is returned as is. renamed lists the Keras 1
// translations made.
func normalizeConfig(class string, cfg gjson.Result) (nclass string, ncfg gjson.Result, renamed []string, err error) {
	if !cfg.IsObject() {
		return class, cfg, nil, nil
	}
	m, err := newCfgMap(cfg)
	if err != nil {
		return class, cfg, nil, err
	}
	orig := maps.Clone(m)
	nclass, err = translateKeras1(class, m, &renamed)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if class != "InputLayer" {
		if err := normalizeDType(m); err != nil {
			errs = append(errs, err)
		}
	}
	for _, key := range []string{"activation", "recurrent_activation"} {
		if err := normalizeActivation(m, key); err != nil {
			errs = append(errs, err)
		}
	}
	// The layers inside wrappers (Bidirectional, TimeDistributed).
	for _, key := range []string{"layer", "backward_layer"} {
		if v := m.get(key); v.IsObject() && v.Get("class_name").Exists() {
			inner, changed, err := normalizeWrapped(v, &renamed)
			if err != nil {
				errs = append(errs, fmt.Errorf("option %q: %w", key, err))
			} else if changed {
				m[key] = json.RawMessage(inner)
			}
		}
	}
	if len(errs) > 0 {
		return nclass, cfg, renamed, joinErrors(errs)
	}
	if nclass == class && maps.EqualFunc(m, orig, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
		return class, cfg, renamed, nil
	}
	return nclass, m.result(), renamed, nil
}

// normalizeWrapped normalises the {class_name, config} of a wrapped layer.
func normalizeWrapped(v gjson.Result, renamed *[]string) (string, bool, error) {
	class := v.Get("class_name").String()
	cfg := v.Get("config")
	nclass, ncfg, inner, err := normalizeConfig(class, cfg)
	*renamed = append(*renamed, inner...)
	if err != nil || (nclass == class && ncfg.Raw == cfg.Raw) {
		return v.Raw, false, err
	}
	m, err := newCfgMap(v)
	if err != nil {
		return "", false, err
	}
	m.set("class_name", nclass)
	m["config"] = json.RawMessage(ncfg.Raw)
	return m.result().Raw, true, nil
}

// floatTypes are dtypes that would make Keras compute in a precision other
// than float32.
var floatTypes = []string{"float16", "float64", "bfloat16", "half", "double"}

// normalizeDType checks a layer's dtype and reduces a dtype policy object
// ({"class_name": "DTypePolicy" or "Policy", "config": {"name": ...}}) to
// its name.
//
// Keras: a layer computes in its dtype (its policy's compute dtype). kerasrun
// computes in float32, so any other float type or a mixed-precision policy
// is refused. Integer dtypes occur on the first layer of a Sequential model,
// where Keras takes them as the input's dtype (token ids).
func normalizeDType(m cfgMap) error {
	v := m.get("dtype")
	name := ""
	switch {
	case !v.Exists() || v.Type == gjson.Null:
		return nil
	case v.Type == gjson.String:
		name = v.Str
	case v.IsObject():
		n := v.Get("config.name")
		if n.Type != gjson.String {
			return fmt.Errorf("option \"dtype\": a dtype policy without a name: %s: %w", clip(v.Raw), layers.ErrUnsupported)
		}
		name = n.Str
		m.set("dtype", name)
	default:
		return fmt.Errorf("option \"dtype\": want a string or a dtype policy, got %s", clip(v.Raw))
	}
	if strings.HasPrefix(name, "mixed_") {
		return fmt.Errorf("option \"dtype\": the mixed-precision policy %q computes in a lower precision; kerasrun computes in float32: %w", name, layers.ErrUnsupported)
	}
	for _, f := range floatTypes {
		if name == f {
			return fmt.Errorf("option \"dtype\": %s layers: kerasrun computes in float32: %w", name, layers.ErrUnsupported)
		}
	}
	return nil
}

// normalizeActivation reduces an activation written as an object
// (tf.keras 2.13+ and Keras 3: {"module": "keras.activations",
// "class_name": "function", "config": "relu", "registered_name":
// "function"}) to its name. Any other object (a custom function, a layer
// used as an activation) is refused with the option named.
func normalizeActivation(m cfgMap, key string) error {
	v := m.get(key)
	if !v.IsObject() {
		return nil
	}
	cfg := v.Get("config")
	mod := v.Get("module")
	rn := v.Get("registered_name")
	builtin := cfg.Type == gjson.String && v.Get("class_name").Str == "function" &&
		(!mod.Exists() || strings.HasPrefix(mod.Str, "keras.")) &&
		(rn.Type == gjson.Null || !rn.Exists() || rn.Str == "function" || rn.Str == cfg.Str)
	if builtin {
		m.set(key, cfg.Str)
		return nil
	}
	return fmt.Errorf("option %q: activation %s: %w", key, clip(v.Raw), layers.ErrUnsupported)
}

// parseKeras3Node decodes one inbound node in the Keras 3 form
// {"args": [tensor or [tensor, ...], ...], "kwargs": {...}} where a tensor
// is {"class_name": "__keras_tensor__", "config": {"keras_history": [layer,
// node, tensor]}}.
func parseKeras3Node(n gjson.Result) ([]tensorRef, error) {
	var refs []tensorRef
	var walk func(v gjson.Result, where string) error
	walk = func(v gjson.Result, where string) error {
		switch {
		case v.IsArray():
			for _, it := range v.Array() {
				if err := walk(it, where); err != nil {
					return err
				}
			}
			return nil
		case v.IsObject() && v.Get("class_name").Str == "__keras_tensor__":
			h := v.Get("config.keras_history").Array()
			if len(h) != 3 || h[0].Type != gjson.String || h[1].Type != gjson.Number || h[2].Type != gjson.Number {
				return fmt.Errorf("bad keras_history %s", clip(v.Raw))
			}
			r, err := makeRef(h[0].Str, h[1].Num, h[2].Num)
			if err != nil {
				return err
			}
			refs = append(refs, r)
			return nil
		}
		return fmt.Errorf("%s %s: call arguments other than tensors: %w", where, clip(v.Raw), layers.ErrUnsupported)
	}
	args := n.Get("args")
	if !args.IsArray() {
		return nil, fmt.Errorf("bad inbound node %s: no args list", clip(n.Raw))
	}
	if err := walk(args, "argument"); err != nil {
		return nil, err
	}
	var bad []string
	n.Get("kwargs").ForEach(func(k, v gjson.Result) bool {
		switch {
		case k.Str == "training":
			// Keras: "training" only switches dropout-like layers, which are
			// the identity at inference anyway.
		case v.Type == gjson.Null:
			// An argument left at None, e.g. "mask": null.
		default:
			bad = append(bad, k.Str)
		}
		return true
	})
	if len(bad) > 0 {
		return nil, fmt.Errorf("call arguments %v: %w", bad, layers.ErrUnsupported)
	}
	n.ForEach(func(k, _ gjson.Result) bool {
		if k.Str != "args" && k.Str != "kwargs" {
			bad = append(bad, k.Str)
		}
		return true
	})
	if len(bad) > 0 {
		return nil, fmt.Errorf("inbound node keys %v: %w", bad, layers.ErrUnsupported)
	}
	if len(refs) == 0 {
		return nil, errors.New("an inbound node without input tensors")
	}
	return refs, nil
}
