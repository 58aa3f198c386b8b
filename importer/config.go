package importer

import (
	"errors"
	"fmt"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/tidwall/gjson"
)

// tensorRef names one output tensor of one call (node) of a layer, as
// Keras's [layer_name, node_index, tensor_index].
type tensorRef struct {
	layer  string
	node   int
	tensor int
}

func (r tensorRef) String() string { return fmt.Sprintf("%s[%d][%d]", r.layer, r.node, r.tensor) }

// layerEntry is one layer of the model config.
type layerEntry struct {
	spec  layers.Spec
	input bool          // an InputLayer (explicit or implied by a Sequential)
	shape []int         // for inputs: the batch input shape, -1 for None
	dtype string        // for inputs
	nodes [][]tensorRef // inbound tensors of each call
}

// modelSpec is a decoded model_config: layers in Keras order, with wiring.
type modelSpec struct {
	class   string
	name    string
	layers  []*layerEntry
	byName  map[string]*layerEntry
	inputs  []tensorRef
	outputs []tensorRef
	listed  map[string]bool // inputs that Keras lists as layers
}

// parseModelConfig decodes a Keras model_config JSON document. It supports
// Sequential (the plain list form of Keras 1 to 2.1 and the {name, layers}
// form of 2.2+) and functional Model/Functional with the Keras 2
// inbound_nodes form.
func parseModelConfig(js string, env layers.Env) (*modelSpec, error) {
	if !gjson.Valid(js) {
		return nil, errors.New("model_config is not valid JSON")
	}
	root := gjson.Parse(js)
	if !root.IsObject() {
		return nil, errors.New("model_config: want a JSON object")
	}
	class := root.Get("class_name").String()
	cfg := root.Get("config")
	switch class {
	case "Sequential":
		return parseSequential(cfg, env)
	case "Model", "Functional":
		return parseFunctional(class, cfg, env)
	case "":
		return nil, errors.New("model_config: no class_name")
	}
	return nil, fmt.Errorf("model_config: model class %q: %w", class, layers.ErrUnsupported)
}

func newModelSpec(class, name string) *modelSpec {
	return &modelSpec{class: class, name: name, byName: map[string]*layerEntry{}, listed: map[string]bool{}}
}

func (m *modelSpec) add(e *layerEntry) error {
	if e.spec.Name == "" {
		return fmt.Errorf("model_config: layer %d (%s) has no name", len(m.layers), e.spec.Class)
	}
	if _, dup := m.byName[e.spec.Name]; dup {
		return fmt.Errorf("model_config: duplicate layer name %q", e.spec.Name)
	}
	m.layers = append(m.layers, e)
	m.byName[e.spec.Name] = e
	return nil
}

func layerSpec(l gjson.Result, env layers.Env) layers.Spec {
	cfg := l.Get("config")
	name := l.Get("name").String()
	if name == "" {
		name = cfg.Get("name").String()
	}
	return layers.Spec{Name: name, Class: l.Get("class_name").String(), Config: cfg, Env: env}
}

// inputShape finds the batch input shape a layer config declares.
func inputShape(cfg gjson.Result) ([]int, bool, error) {
	for _, key := range []string{"batch_input_shape", "batch_shape"} {
		if v := cfg.Get(key); v.Exists() && v.Type != gjson.Null {
			s, err := layers.ParseShape(v)
			return s, true, err
		}
	}
	if v := cfg.Get("input_shape"); v.Exists() && v.Type != gjson.Null {
		s, err := layers.ParseShape(v)
		return append([]int{-1}, s...), true, err
	}
	return nil, false, nil
}

func inputDType(cfg gjson.Result) string {
	switch d := cfg.Get("dtype"); {
	case d.Type == gjson.String:
		return d.Str
	case d.IsObject():
		// Keras 3 dtype policy object.
		if n := d.Get("config.name"); n.Type == gjson.String {
			return n.Str
		}
	}
	return "float32"
}

func parseSequential(cfg gjson.Result, env layers.Env) (*modelSpec, error) {
	list := cfg
	name := "sequential"
	if cfg.IsObject() {
		list = cfg.Get("layers")
		name = cfg.Get("name").String()
	}
	if !list.IsArray() {
		return nil, errors.New("model_config: Sequential: want a list of layers")
	}
	items := list.Array()
	if len(items) == 0 {
		return nil, errors.New("model_config: Sequential has no layers")
	}
	m := newModelSpec("Sequential", name)
	first := layerSpec(items[0], env)
	var prev tensorRef
	if first.Class == "InputLayer" {
		e, err := inputEntry(first)
		if err != nil {
			return nil, err
		}
		if err := m.add(e); err != nil {
			return nil, err
		}
		m.listed[first.Name] = true
		items = items[1:]
		prev = tensorRef{layer: first.Name}
	} else {
		shape, ok, err := inputShape(first.Config)
		if err != nil {
			return nil, fmt.Errorf("model_config: layer %q (%s): %w", first.Name, first.Class, err)
		}
		if !ok {
			return nil, fmt.Errorf("model_config: layer %q (%s): the first layer of a Sequential model declares no input shape", first.Name, first.Class)
		}
		// Keras: a Sequential model without an InputLayer names its input
		// "<first layer name>_input".
		in := &layerEntry{spec: layers.Spec{Name: first.Name + "_input", Class: "InputLayer", Env: env}, input: true, shape: shape, dtype: inputDType(first.Config)}
		if err := m.add(in); err != nil {
			return nil, err
		}
		prev = tensorRef{layer: in.spec.Name}
	}
	m.inputs = []tensorRef{prev}
	for _, it := range items {
		s := layerSpec(it, env)
		if s.Class == "InputLayer" {
			return nil, fmt.Errorf("model_config: layer %q: an InputLayer may only come first in a Sequential model", s.Name)
		}
		if err := m.add(&layerEntry{spec: s, nodes: [][]tensorRef{{prev}}}); err != nil {
			return nil, err
		}
		prev = tensorRef{layer: s.Name}
	}
	m.outputs = []tensorRef{prev}
	return m, nil
}

func inputEntry(s layers.Spec) (*layerEntry, error) {
	shape, ok, err := inputShape(s.Config)
	if err == nil && !ok {
		err = errors.New("no batch_input_shape")
	}
	if err != nil {
		return nil, fmt.Errorf("model_config: layer %q (InputLayer): %w", s.Name, err)
	}
	if s.Config.Get("sparse").Bool() {
		return nil, &layers.LayerError{Layer: s.Name, Class: s.Class, Op: "decode", Err: fmt.Errorf("option \"sparse\": sparse inputs: %w", layers.ErrUnsupported)}
	}
	if s.Config.Get("ragged").Bool() {
		return nil, &layers.LayerError{Layer: s.Name, Class: s.Class, Op: "decode", Err: fmt.Errorf("option \"ragged\": ragged inputs: %w", layers.ErrUnsupported)}
	}
	return &layerEntry{spec: s, input: true, shape: shape, dtype: inputDType(s.Config)}, nil
}

func parseFunctional(class string, cfg gjson.Result, env layers.Env) (*modelSpec, error) {
	m := newModelSpec(class, cfg.Get("name").String())
	list := cfg.Get("layers")
	if !list.IsArray() {
		return nil, fmt.Errorf("model_config: %s: want a list of layers", class)
	}
	for _, it := range list.Array() {
		s := layerSpec(it, env)
		if s.Class == "InputLayer" {
			e, err := inputEntry(s)
			if err != nil {
				return nil, err
			}
			if err := m.add(e); err != nil {
				return nil, err
			}
			m.listed[s.Name] = true
			continue
		}
		e := &layerEntry{spec: s}
		nodes := it.Get("inbound_nodes")
		if !nodes.IsArray() {
			return nil, fmt.Errorf("model_config: layer %q (%s): inbound_nodes is not a list", s.Name, s.Class)
		}
		for _, n := range nodes.Array() {
			refs, err := parseNode(n)
			if err != nil {
				return nil, fmt.Errorf("model_config: layer %q (%s): %w", s.Name, s.Class, err)
			}
			e.nodes = append(e.nodes, refs)
		}
		if err := m.add(e); err != nil {
			return nil, err
		}
	}
	var err error
	if m.inputs, err = parseRefList(cfg.Get("input_layers")); err != nil {
		return nil, fmt.Errorf("model_config: input_layers: %w", err)
	}
	if m.outputs, err = parseRefList(cfg.Get("output_layers")); err != nil {
		return nil, fmt.Errorf("model_config: output_layers: %w", err)
	}
	for _, r := range m.inputs {
		if e := m.byName[r.layer]; e == nil || !e.input {
			return nil, fmt.Errorf("model_config: input_layers: %q is not an InputLayer of the model", r.layer)
		}
	}
	return m, nil
}

// parseNode decodes one inbound node in the Keras 2 form
// [["layer", node_index, tensor_index, {kwargs}], ...].
func parseNode(n gjson.Result) ([]tensorRef, error) {
	if n.IsObject() {
		return nil, fmt.Errorf("the Keras 3 inbound_nodes form: %w", layers.ErrUnsupported)
	}
	if !n.IsArray() {
		return nil, fmt.Errorf("bad inbound node %s", clip(n.Raw))
	}
	var refs []tensorRef
	for _, t := range n.Array() {
		a := t.Array()
		if !t.IsArray() || len(a) < 3 || a[0].Type != gjson.String || a[1].Type != gjson.Number || a[2].Type != gjson.Number {
			return nil, fmt.Errorf("bad inbound tensor %s", clip(t.Raw))
		}
		if len(a) > 3 && a[3].IsObject() {
			var bad []string
			a[3].ForEach(func(k, _ gjson.Result) bool {
				// Keras: "training" only switches dropout-like layers, which
				// are the identity at inference anyway.
				if k.String() != "training" {
					bad = append(bad, k.String())
				}
				return true
			})
			if len(bad) > 0 {
				return nil, fmt.Errorf("call arguments %v: %w", bad, layers.ErrUnsupported)
			}
		}
		r, err := makeRef(a[0].Str, a[1].Num, a[2].Num)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, nil
}

func makeRef(layer string, node, tensor float64) (tensorRef, error) {
	if node < 0 || tensor < 0 || node > 1<<20 || tensor > 1<<20 || node != float64(int(node)) || tensor != float64(int(tensor)) {
		return tensorRef{}, fmt.Errorf("bad tensor reference [%q, %v, %v]", layer, node, tensor)
	}
	return tensorRef{layer: layer, node: int(node), tensor: int(tensor)}, nil
}

// parseRefList decodes [[name, node, tensor], ...]; a single [name, node,
// tensor] is accepted too.
func parseRefList(v gjson.Result) ([]tensorRef, error) {
	if !v.IsArray() {
		return nil, errors.New("missing or not a list")
	}
	items := v.Array()
	if len(items) == 3 && items[0].Type == gjson.String {
		items = []gjson.Result{v}
	}
	var out []tensorRef
	for _, it := range items {
		a := it.Array()
		if len(a) < 3 || a[0].Type != gjson.String || a[1].Type != gjson.Number || a[2].Type != gjson.Number {
			return nil, fmt.Errorf("bad entry %s", clip(it.Raw))
		}
		r, err := makeRef(a[0].Str, a[1].Num, a[2].Num)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("empty")
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
