package importer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	// masks are the mask arguments given as tensors (Keras 3 kwargs),
	// which parseFunctional proves equal to the mask the input carries,
	// and raw the inbound nodes as the file has them (for that proof).
	masks []maskArg
	raw   []gjson.Result
	err   error      // problems found while parsing, reported with the decode errors
	bad   bool       // err makes the spec unusable: it is not decoded
	sub   *modelSpec // a nested model (Sequential, Model, Functional) used as a layer
	// renamed lists the Keras 1 options translated to Keras 2 names
	// ("border_mode → padding"), for messages; fileClass is the class name
	// as the file has it (Convolution1D for a Conv1D read from Keras 1).
	renamed   []string
	fileClass string
	// built is the input shape Keras 3 records beside a layer's config
	// (build_config.input_shape), batch axis included.
	built gjson.Result

	// After flatten: group is the top-level layer whose weight group holds
	// this layer's weights, and leaf the layer's own name inside a nested
	// model ("" for a top-level layer).
	group, leaf string
}

// modelSpec is a decoded model_config: layers in Keras order, with wiring.
type modelSpec struct {
	class    string
	name     string
	layers   []*layerEntry
	byName   map[string]*layerEntry
	inputs   []tensorRef
	outputs  []tensorRef
	outNames []string        // output names (after flatten, outputs point inside nested models)
	listed   map[string]bool // inputs that Keras lists as layers
}

// modelClasses are the class names of models, which may also appear as a
// layer of another model.
var modelClasses = map[string]bool{"Sequential": true, "Model": true, "Functional": true}

// maxNesting bounds how deeply models may nest.
const maxNesting = 32

// parseModelConfig decodes a Keras model_config JSON document. It supports
// Sequential (the plain list form of Keras 1 to 2.1 and the {name, layers}
// form of 2.2+) and functional Model/Functional with the Keras 2 and the
// Keras 3 inbound_nodes forms; models may nest. Layer configs are
// normalised to their Keras 2 form (normalizeConfig). Problems with single
// layers are kept in their entries, so that every one of them is reported.
func parseModelConfig(js string, env layers.Env) (*modelSpec, error) {
	if !gjson.Valid(js) {
		return nil, corrupt(errors.New("model_config is not valid JSON"))
	}
	root := gjson.Parse(js)
	if !root.IsObject() {
		return nil, errors.New("model_config: want a JSON object")
	}
	return parseModel(root.Get("class_name").String(), root.Get("config"), env, 0)
}

func parseModel(class string, cfg gjson.Result, env layers.Env, depth int) (*modelSpec, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("model_config: models nest more than %d deep", maxNesting)
	}
	switch class {
	case "Sequential":
		return parseSequential(cfg, env, depth)
	case "Model", "Functional":
		return parseFunctional(class, cfg, env, depth)
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

// layerEntryOf reads one layer of a model config: its spec, normalised to
// the Keras 2 form, or its nested model. Problems stay in the entry.
func layerEntryOf(l gjson.Result, env layers.Env, depth int) *layerEntry {
	cfg := l.Get("config")
	name := l.Get("name").String()
	if name == "" {
		name = cfg.Get("name").String()
	}
	class := l.Get("class_name").String()
	e := &layerEntry{spec: layers.Spec{Name: name, Class: class, Config: cfg, Env: env}, fileClass: class,
		built: l.Get("build_config.input_shape")}
	if modelClasses[class] {
		sub, err := parseModel(class, cfg, env, depth+1)
		if err != nil {
			e.err = &layers.LayerError{Layer: name, Class: class, Op: "decode", Err: fmt.Errorf("nested model: %w", err)}
			e.bad = true
		} else {
			if sub.name == "" {
				sub.name = name
			}
			e.sub = sub
		}
		return e
	}
	nclass, ncfg, renamed, err := normalizeConfig(class, cfg)
	e.renamed = renamed
	if err != nil {
		e.err = &layers.LayerError{Layer: name, Class: class, Op: "decode", Err: err}
		e.bad = true
		return e
	}
	e.spec.Class, e.spec.Config = nclass, ncfg
	return e
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

func parseSequential(cfg gjson.Result, env layers.Env, depth int) (*modelSpec, error) {
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
	first := layerEntryOf(items[0], env, depth)
	var prev tensorRef
	if first.spec.Class == "InputLayer" {
		e, err := inputEntry(first.spec)
		if err != nil {
			return nil, err
		}
		if err := m.add(e); err != nil {
			return nil, err
		}
		m.listed[first.spec.Name] = true
		items = items[1:]
		prev = tensorRef{layer: first.spec.Name}
	} else {
		shape, dtype, err := sequentialInput(first)
		if err != nil {
			return nil, err
		}
		// Keras: a Sequential model without an InputLayer names its input
		// "<first layer name>_input".
		in := &layerEntry{spec: layers.Spec{Name: first.spec.Name + "_input", Class: "InputLayer", Env: env}, input: true, shape: shape, dtype: dtype}
		if err := m.add(in); err != nil {
			return nil, err
		}
		prev = tensorRef{layer: in.spec.Name}
	}
	m.inputs = []tensorRef{prev}
	for i, it := range items {
		e := first
		if i > 0 || first.spec.Class == "InputLayer" {
			e = layerEntryOf(it, env, depth)
		}
		if e.spec.Class == "InputLayer" {
			return nil, fmt.Errorf("model_config: layer %q: an InputLayer may only come first in a Sequential model", e.spec.Name)
		}
		e.nodes = [][]tensorRef{{prev}}
		if err := m.add(e); err != nil {
			return nil, err
		}
		prev = tensorRef{layer: e.spec.Name}
	}
	m.outputs = []tensorRef{prev}
	return m, nil
}

// sequentialInput finds the input of a Sequential model that has no
// InputLayer: the first layer's batch_input_shape and dtype, or the input of
// a nested model that comes first.
func sequentialInput(first *layerEntry) ([]int, string, error) {
	if first.sub != nil {
		if len(first.sub.inputs) != 1 {
			return nil, "", fmt.Errorf("model_config: layer %q (%s): a nested model with %d inputs comes first in a Sequential model", first.spec.Name, first.spec.Class, len(first.sub.inputs))
		}
		in := first.sub.byName[first.sub.inputs[0].layer]
		return in.shape, in.dtype, nil
	}
	shape, ok, err := inputShape(first.spec.Config)
	if !ok && err == nil && first.built.IsArray() {
		// Keras: a Keras 3 Sequential built without an Input records the
		// input shape only in its first layer's build_config.
		shape, err = layers.ParseShape(first.built)
		ok = err == nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("model_config: layer %q (%s): %w", first.spec.Name, first.spec.Class, err)
	}
	if !ok {
		if first.err != nil {
			return nil, "", first.err
		}
		return nil, "", fmt.Errorf("model_config: layer %q (%s): the first layer of a Sequential model declares no input shape", first.spec.Name, first.spec.Class)
	}
	return shape, inputDType(first.spec.Config), nil
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

func parseFunctional(class string, cfg gjson.Result, env layers.Env, depth int) (*modelSpec, error) {
	m := newModelSpec(class, cfg.Get("name").String())
	list := cfg.Get("layers")
	if !list.IsArray() {
		return nil, fmt.Errorf("model_config: %s: want a list of layers", class)
	}
	for _, it := range list.Array() {
		e := layerEntryOf(it, env, depth)
		s := e.spec
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
		nodes := it.Get("inbound_nodes")
		if !nodes.IsArray() {
			return nil, fmt.Errorf("model_config: layer %q (%s): inbound_nodes is not a list", s.Name, s.Class)
		}
		e.raw = nodes.Array()
		for k, n := range e.raw {
			call, err := parseNode(n)
			if err == nil {
				err = checkStateArgs(s.Class, call)
			}
			if err != nil {
				// Keep going: every unsupported call is reported with the
				// other problems of the model.
				err = &layers.LayerError{Layer: s.Name, Class: s.Class, Op: "decode", Err: err}
				e.err = joinErrors(append(unwrapJoin(e.err), err))
				call = nodeCall{}
			}
			e.nodes = append(e.nodes, call.refs)
			if call.mask != nil {
				e.masks = append(e.masks, maskArg{node: k, ref: *call.mask})
			}
		}
		if err := m.add(e); err != nil {
			return nil, err
		}
	}
	var err error
	if m.outputs, err = parseRefList(cfg.Get("output_layers")); err != nil {
		return nil, fmt.Errorf("model_config: output_layers: %w", err)
	}
	m.checkMaskArgs()
	if m.inputs, err = parseRefList(cfg.Get("input_layers")); err != nil {
		return nil, fmt.Errorf("model_config: input_layers: %w", err)
	}
	for _, r := range m.inputs {
		if e := m.byName[r.layer]; e == nil || !e.input {
			return nil, fmt.Errorf("model_config: input_layers: %q is not an InputLayer of the model", r.layer)
		}
	}
	return m, nil
}

// nodeCall is one decoded inbound node (a call of a layer).
type nodeCall struct {
	// refs are the tensors the call takes, in order: the inputs, then the
	// initial states given as Keras 3's initial_state argument (Keras 2
	// and tf.keras list initial states with the inputs).
	refs []tensorRef
	// states counts the tensors at the end of refs that came from the
	// initial_state argument.
	states int
	// mask is the mask argument given as a tensor, if any.
	mask *tensorRef
}

// maskArg is a mask argument of call node of a layer.
type maskArg struct {
	node int
	ref  tensorRef
}

// stateClasses are the classes that take initial states as inputs after
// the sequence.
var stateClasses = map[string]bool{
	"LSTM": true, "GRU": true, "SimpleRNN": true, "CuDNNLSTM": true, "CuDNNGRU": true, "Bidirectional": true,
}

// checkStateArgs refuses an initial_state argument on a layer that does
// not take initial states.
func checkStateArgs(class string, call nodeCall) error {
	if call.states > 0 && !stateClasses[class] {
		return fmt.Errorf("call argument \"initial_state\": only recurrent layers and Bidirectional take initial states: %w", layers.ErrUnsupported)
	}
	return nil
}

// checkMaskArgs proves each mask argument given as a tensor equal to the
// mask the call's input already carries, and then drops it, with the op
// layer that computed it when nothing else reads that; a mask argument it
// cannot prove is an error of its layer.
//
// Keras 3 writes `mask=ops.not_equal(ids, 0)` next to an
// Embedding(mask_zero=True) called on the same ids as a NotEqual op layer;
// Embedding.compute_mask is exactly not_equal(ids, 0), so the mask is the
// one the embedded sequence carries.
func (m *modelSpec) checkMaskArgs() {
	drop := map[string]bool{}
	for _, e := range m.layers {
		for _, a := range e.masks {
			if a.node >= len(e.nodes) || len(e.nodes[a.node]) == 0 {
				continue // a call that could not be parsed; e.err says why
			}
			if !m.carriedMask(e.nodes[a.node][0], a.ref) {
				err := &layers.LayerError{Layer: e.spec.Name, Class: e.spec.Class, Op: "decode",
					Err: fmt.Errorf("call argument \"mask\": %s is not the mask the input %s carries (only not_equal(ids, 0) of an Embedding(mask_zero=True) on the same ids is recognised): %w", a.ref, e.nodes[a.node][0], layers.ErrUnsupported)}
				e.err = joinErrors(append(unwrapJoin(e.err), err))
				continue
			}
			drop[a.ref.layer] = true
		}
		e.masks = nil
	}
	if len(drop) == 0 {
		return
	}
	// The op layers stay when another call or an output reads them.
	for _, e := range m.layers {
		for _, n := range e.nodes {
			for _, r := range n {
				delete(drop, r.layer)
			}
		}
	}
	for _, r := range m.outputs {
		delete(drop, r.layer)
	}
	kept := m.layers[:0]
	for _, e := range m.layers {
		if drop[e.spec.Name] {
			delete(m.byName, e.spec.Name)
			continue
		}
		kept = append(kept, e)
	}
	clear(m.layers[len(kept):])
	m.layers = kept
}

// carriedMask reports whether the tensor mask is provably the mask that
// the tensor seq carries: seq is the output of an Embedding(mask_zero=True)
// call on ids, and mask the output of a NotEqual op call on ids and 0.
func (m *modelSpec) carriedMask(seq, mask tensorRef) bool {
	ne, emb := m.byName[mask.layer], m.byName[seq.layer]
	if ne == nil || emb == nil || ne.spec.Class != "NotEqual" || emb.spec.Class != "Embedding" ||
		mask.tensor != 0 || seq.tensor != 0 || mask.node >= len(ne.raw) || seq.node >= len(emb.nodes) ||
		!emb.spec.Config.Get("mask_zero").Bool() {
		return false
	}
	ids := emb.nodes[seq.node]
	if len(ids) != 1 {
		return false
	}
	n := ne.raw[mask.node]
	args := n.Get("args").Array()
	if len(args) != 2 {
		return false
	}
	if !isZero(args[1]) {
		args[0], args[1] = args[1], args[0]
	}
	if !isZero(args[1]) || !isKerasTensor(args[0]) {
		return false
	}
	r, err := kerasTensorRef(args[0])
	if err != nil || r != ids[0] {
		return false
	}
	extra := false
	n.Get("kwargs").ForEach(func(_, v gjson.Result) bool {
		extra = extra || v.Type != gjson.Null
		return true
	})
	return !extra
}

// isZero reports whether v is the number 0.
func isZero(v gjson.Result) bool { return v.Type == gjson.Number && v.Num == 0 }

// parseNode decodes one inbound node in the Keras 2 form
// [["layer", node_index, tensor_index, {kwargs}], ...] or the Keras 3 form
// (parseKeras3Node).
func parseNode(n gjson.Result) (nodeCall, error) {
	if n.IsObject() {
		return parseKeras3Node(n)
	}
	if !n.IsArray() {
		return nodeCall{}, fmt.Errorf("bad inbound node %s", clip(n.Raw))
	}
	var refs []tensorRef
	for _, t := range n.Array() {
		a := t.Array()
		if !t.IsArray() || len(a) < 3 || a[0].Type != gjson.String || a[1].Type != gjson.Number || a[2].Type != gjson.Number {
			return nodeCall{}, fmt.Errorf("bad inbound tensor %s", clip(t.Raw))
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
				return nodeCall{}, fmt.Errorf("call arguments %v: %w", bad, layers.ErrUnsupported)
			}
		}
		r, err := makeRef(a[0].Str, a[1].Num, a[2].Num)
		if err != nil {
			return nodeCall{}, err
		}
		refs = append(refs, r)
	}
	return nodeCall{refs: refs}, nil
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

// decode decodes the layer of e through the registry. An error about a
// layer whose Keras 1 config was translated says what was renamed, since
// the error names the Keras 2 options.
func (e *layerEntry) decode() (layers.Config, error) {
	c, err := layers.Decode(e.spec)
	if err == nil || len(e.renamed) == 0 {
		return c, err
	}
	var named []string
	for _, r := range e.renamed {
		if _, k2, ok := strings.Cut(r, " → "); ok && strings.Contains(err.Error(), strconv.Quote(k2)) {
			named = append(named, r)
		}
	}
	if len(named) > 0 {
		err = fmt.Errorf("%w (the file's Keras 1 option, read as Keras 2: %s)", err, strings.Join(named, ", "))
	}
	return c, err
}

// joinErrors joins errs into one error (nil for none, the error itself for
// one).
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// unwrapJoin lists the errors joined in err.
func unwrapJoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// flatten inlines nested models. The layers of a nested model become layers
// of the outer graph named "<model>/<layer>"; each call of the nested model
// becomes a call of each of its layers, its inputs wired to the tensors the
// nested model was called on; references to its outputs are rewritten to
// the inner tensors. A layer inlined from a nested model keeps its weights
// in the nested model's group (group), under its own name (leaf).
func flatten(m *modelSpec) (*modelSpec, error) {
	out := newModelSpec(m.class, m.name)
	out.inputs = m.inputs
	out.listed = m.listed
	alias := map[tensorRef]tensorRef{}
	for _, e := range m.layers {
		if e.sub == nil {
			c := *e
			c.group = e.spec.Name
			c.nodes = make([][]tensorRef, len(e.nodes))
			for i, n := range e.nodes {
				if n != nil {
					c.nodes[i] = append([]tensorRef(nil), n...)
				}
			}
			if err := out.add(&c); err != nil {
				return nil, err
			}
			continue
		}
		inner, err := flatten(e.sub)
		if err != nil {
			return nil, fmt.Errorf("nested model %q: %w", e.spec.Name, err)
		}
		prefix := e.spec.Name + "/"
		made := map[string]*layerEntry{}
		for _, ie := range inner.layers {
			if ie.input {
				continue
			}
			ne := *ie
			ne.spec.Name = prefix + ie.spec.Name
			ne.group = e.spec.Name
			ne.leaf = ie.leaf
			if ne.leaf == "" {
				ne.leaf = ie.spec.Name
			}
			ne.nodes = nil
			if err := out.add(&ne); err != nil {
				return nil, err
			}
			made[ie.spec.Name] = &ne
		}
		for k, node := range e.nodes {
			if node == nil {
				continue // a call that could not be parsed; e.err says why
			}
			if len(node) != len(inner.inputs) {
				return nil, fmt.Errorf("model_config: layer %q (%s): the nested model has %d input(s) and is called on %d tensor(s)", e.spec.Name, e.spec.Class, len(inner.inputs), len(node))
			}
			feed := map[string]tensorRef{}
			for i, r := range inner.inputs {
				feed[r.layer] = node[i]
			}
			translate := func(r tensorRef) (tensorRef, error) {
				if t, ok := feed[r.layer]; ok {
					if r.node != 0 || r.tensor != 0 {
						return tensorRef{}, fmt.Errorf("inbound tensor %s: an InputLayer has one tensor", r)
					}
					return t, nil
				}
				src := inner.byName[r.layer]
				if src == nil || src.input {
					return tensorRef{}, fmt.Errorf("inbound tensor %s: no such layer in the nested model", r)
				}
				if r.node >= len(src.nodes) {
					return tensorRef{}, fmt.Errorf("inbound tensor %s: layer %q has only %d node(s)", r, r.layer, len(src.nodes))
				}
				return tensorRef{layer: prefix + r.layer, node: k*len(src.nodes) + r.node, tensor: r.tensor}, nil
			}
			for _, ie := range inner.layers {
				if ie.input {
					continue
				}
				for _, inode := range ie.nodes {
					var tn []tensorRef
					for _, r := range inode {
						t, err := translate(r)
						if err != nil {
							return nil, fmt.Errorf("model_config: nested model %q: layer %q: %w", e.spec.Name, ie.spec.Name, err)
						}
						tn = append(tn, t)
					}
					if inode == nil {
						tn = nil
					}
					made[ie.spec.Name].nodes = append(made[ie.spec.Name].nodes, tn)
				}
			}
			for t, o := range inner.outputs {
				to, err := translate(o)
				if err != nil {
					return nil, fmt.Errorf("model_config: nested model %q: output %s: %w", e.spec.Name, o, err)
				}
				alias[tensorRef{layer: e.spec.Name, node: k, tensor: t}] = to
			}
		}
		if e.err != nil {
			// A problem with a call of the nested model: report it once,
			// with the first of its layers.
			for _, ie := range inner.layers {
				if !ie.input {
					made[ie.spec.Name].err = joinErrors(append(unwrapJoin(made[ie.spec.Name].err), e.err))
					break
				}
			}
		}
	}
	resolveAlias := func(r tensorRef) (tensorRef, error) {
		for i := 0; ; i++ {
			a, ok := alias[r]
			if !ok {
				return r, nil
			}
			if i > len(alias) {
				return r, fmt.Errorf("model_config: nested models refer to each other in a cycle at %s", r)
			}
			r = a
		}
	}
	for _, e := range out.layers {
		for _, node := range e.nodes {
			for i, r := range node {
				a, err := resolveAlias(r)
				if err != nil {
					return nil, err
				}
				node[i] = a
			}
		}
	}
	out.outNames = m.outNames
	if out.outNames == nil {
		for _, r := range m.outputs {
			out.outNames = append(out.outNames, r.layer)
		}
	}
	for _, r := range m.outputs {
		a, err := resolveAlias(r)
		if err != nil {
			return nil, err
		}
		out.outputs = append(out.outputs, a)
	}
	return out, nil
}
