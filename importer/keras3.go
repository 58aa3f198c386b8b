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
//
// A quantized policy (Keras 3.4+: {"class_name": "QuantizedDTypePolicy",
// "config": {"mode": "int8", "source_name": "float32"}}, and its float8,
// int4, GPTQ and AWQ kin; Keras 3.3: {"config": {"name":
// "int8_from_float32"}}) becomes its Keras name "<mode>_from_<source>", so
// that the layer sees its mode: the layers refuse every mode and class they
// do not run (layers.Reader.Quantization). Its source dtype is checked like
// any other.
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
		mode, src := v.Get("config.mode"), v.Get("config.source_name")
		switch {
		case n.Type == gjson.String:
			name = n.Str
		case mode.Type == gjson.String && src.Type == gjson.String:
			name = mode.Str + quantizedSep + src.Str
		default:
			return fmt.Errorf("option \"dtype\": a dtype policy without a name: %s: %w", clip(v.Raw), layers.ErrUnsupported)
		}
		m.set("dtype", name)
	default:
		return fmt.Errorf("option \"dtype\": want a string or a dtype policy, got %s", clip(v.Raw))
	}
	if _, src, ok := strings.Cut(name, quantizedSep); ok {
		name = src
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

// quantizedSep separates the mode from the source dtype in the name of a
// Keras quantized dtype policy ("int8_from_float32").
const quantizedSep = "_from_"

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
//
// Keyword arguments: initial_state (a tensor or a list of them) adds its
// tensors after those of args (parseFunctional checks that the layer takes
// them); mask, when a tensor, is kept in the call for parseFunctional to
// prove it is the mask the input already carries; training may be any
// constant; any other argument must be null (left at its default).
func parseKeras3Node(n gjson.Result) (nodeCall, error) {
	var call nodeCall
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
		case isKerasTensor(v):
			r, err := kerasTensorRef(v)
			if err != nil {
				return err
			}
			call.refs = append(call.refs, r)
			return nil
		}
		return fmt.Errorf("%s %s: call arguments other than tensors: %w", where, clip(v.Raw), layers.ErrUnsupported)
	}
	args := n.Get("args")
	if !args.IsArray() {
		return call, fmt.Errorf("bad inbound node %s: no args list", clip(n.Raw))
	}
	if err := walk(args, "argument"); err != nil {
		return call, err
	}
	if len(call.refs) == 0 {
		return call, errors.New("an inbound node without input tensors")
	}
	var bad []string
	var errs []error
	kwargs := n.Get("kwargs")
	kwargs.ForEach(func(k, v gjson.Result) bool {
		switch {
		case v.Type == gjson.Null:
			// An argument left at None, e.g. "mask": null.
		case k.Str == "training":
			// Keras: "training" only switches dropout-like layers, which are
			// the identity at inference anyway; a tensor would decide it
			// at run time.
			if v.IsObject() || v.IsArray() {
				errs = append(errs, fmt.Errorf("call argument \"training\" given as %s: only a constant is supported: %w", clip(v.Raw), layers.ErrUnsupported))
			}
		case k.Str == "initial_state":
			n0 := len(call.refs)
			if err := walk(v, "call argument \"initial_state\""); err != nil {
				errs = append(errs, err)
			}
			call.states = len(call.refs) - n0
		case k.Str == "mask" && isKerasTensor(v):
			r, err := kerasTensorRef(v)
			if err != nil {
				errs = append(errs, err)
				break
			}
			call.mask = &r
		default:
			bad = append(bad, k.Str)
		}
		return true
	})
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("call arguments %v: %w", bad, layers.ErrUnsupported))
	}
	if err := joinErrors(errs); err != nil {
		return call, err
	}
	n.ForEach(func(k, _ gjson.Result) bool {
		if k.Str != "args" && k.Str != "kwargs" {
			bad = append(bad, k.Str)
		}
		return true
	})
	if len(bad) > 0 {
		return call, fmt.Errorf("inbound node keys %v: %w", bad, layers.ErrUnsupported)
	}
	return call, nil
}

// isKerasTensor reports whether v is a Keras 3 serialized tensor.
func isKerasTensor(v gjson.Result) bool {
	return v.IsObject() && v.Get("class_name").Str == "__keras_tensor__"
}

// kerasTensorRef reads the keras_history of a Keras 3 serialized tensor.
func kerasTensorRef(v gjson.Result) (tensorRef, error) {
	h := v.Get("config.keras_history").Array()
	if len(h) != 3 || h[0].Type != gjson.String || h[1].Type != gjson.Number || h[2].Type != gjson.Number {
		return tensorRef{}, fmt.Errorf("bad keras_history %s", clip(v.Raw))
	}
	return makeRef(h[0].Str, h[1].Num, h[2].Num)
}
