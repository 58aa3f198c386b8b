package importer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
	"gonum.org/v1/hdf5"
)

// Options sets limits for Load. A nil *Options means the defaults. A zero
// field means its default.
type Options struct {
	// MaxTensorElements bounds the elements of one weight array
	// (default 1<<28, 1 GiB of float32).
	MaxTensorElements int64
	// MaxWeightBytes bounds the float32 bytes of all weights together
	// (default 4 GiB).
	MaxWeightBytes int64
	// MaxLayers bounds the number of layers in the model config
	// (default 10000).
	MaxLayers int
}

const (
	defaultMaxTensorElements = 1 << 28
	defaultMaxWeightBytes    = 4 << 30
	defaultMaxLayers         = 10000
)

type limits struct {
	maxTensor, maxBytes, used int64
}

func (o *Options) limits() *limits {
	l := &limits{maxTensor: defaultMaxTensorElements, maxBytes: defaultMaxWeightBytes}
	if o != nil && o.MaxTensorElements > 0 {
		l.maxTensor = o.MaxTensorElements
	}
	if o != nil && o.MaxWeightBytes > 0 {
		l.maxBytes = o.MaxWeightBytes
	}
	return l
}

func (o *Options) maxLayers() int {
	if o != nil && o.MaxLayers > 0 {
		return o.MaxLayers
	}
	return defaultMaxLayers
}

// take accounts for a weight of n elements before it is allocated.
func (l *limits) take(n int64, shape []int) error {
	if n > l.maxTensor {
		return fmt.Errorf("declared shape %v has %d elements, over the limit of %d (raise Options.MaxTensorElements)", shape, n, l.maxTensor)
	}
	l.used += 4 * n
	if l.used > l.maxBytes {
		return fmt.Errorf("weights reach %d bytes, over the limit of %d (raise Options.MaxWeightBytes)", l.used, l.maxBytes)
	}
	return nil
}

// FileInfo holds the root attributes of a Keras file.
type FileInfo struct {
	KerasVersion string
	Backend      string
	ModelConfig  string
}

// Load reads a full Keras model file (model.save("m.h5")) and builds it.
func Load(path string, opts *Options) (*runtime.Model, error) {
	m, err := load(path, opts)
	if err != nil {
		return nil, fmt.Errorf("importer: %s: %w", path, err)
	}
	return m, nil
}

func load(path string, opts *Options) (*runtime.Model, error) {
	info, weights, err := readFile(path, opts)
	if err != nil {
		return nil, err
	}
	if info.ModelConfig == "" {
		return nil, errors.New("no model_config attribute: this is not a full Keras model file (a weights-only file needs its architecture JSON)")
	}
	env := layers.Env{KerasVersion: info.KerasVersion, Backend: info.Backend}
	spec, err := parseModelConfig(info.ModelConfig, env)
	if err != nil {
		return nil, err
	}
	return build(spec, weights, opts)
}

// readFile reads the root attributes and every weight of a model file,
// holding the HDF5 lock and closing every handle before it returns.
func readFile(path string, opts *Options) (FileInfo, map[string][]layers.Weight, error) {
	h5mu.Lock()
	defer h5mu.Unlock()
	f, err := h5open(path)
	if err != nil {
		return FileInfo{}, nil, err
	}
	defer f.Close()
	root, err := f.OpenGroup("/")
	if err != nil {
		return FileInfo{}, nil, h5err("open root group")
	}
	defer root.Close()
	var info FileInfo
	for _, a := range []struct {
		name string
		dst  *string
	}{{"keras_version", &info.KerasVersion}, {"backend", &info.Backend}, {"model_config", &info.ModelConfig}} {
		if *a.dst, _, err = attrString(root.Identifier, a.name); err != nil {
			return FileInfo{}, nil, err
		}
	}
	if info.ModelConfig == "" {
		return info, nil, nil
	}
	wg, err := root.OpenGroup("model_weights")
	if err != nil {
		h5err("") // clear the stack
		return FileInfo{}, nil, errors.New("no model_weights group")
	}
	defer wg.Close()
	if info.KerasVersion == "" {
		info.KerasVersion, _, _ = attrString(wg.Identifier, "keras_version")
	}
	if info.Backend == "" {
		info.Backend, _, _ = attrString(wg.Identifier, "backend")
	}
	w, err := readWeights(wg, opts.limits())
	return info, w, err
}

// readWeights reads every layer's weights under g (a model_weights group),
// in the order of layer_names and weight_names.
func readWeights(g *hdf5.Group, lim *limits) (map[string][]layers.Weight, error) {
	names, ok, err := attrStrings(g.Identifier, "layer_names")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("model_weights has no layer_names attribute")
	}
	out := make(map[string][]layers.Weight, len(names))
	for _, ln := range names {
		if _, dup := out[ln]; dup {
			return nil, fmt.Errorf("layer_names lists %q twice", ln)
		}
		lg, err := g.OpenGroup(ln)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", ln, h5err("open weight group"))
		}
		ws, err := readLayerWeights(lg, lim)
		lg.Close()
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", ln, err)
		}
		out[ln] = ws
	}
	return out, nil
}

func readLayerWeights(lg *hdf5.Group, lim *limits) ([]layers.Weight, error) {
	wn, _, err := attrStrings(lg.Identifier, "weight_names")
	if err != nil {
		return nil, err
	}
	ws := make([]layers.Weight, 0, len(wn))
	for _, name := range wn {
		d, err := readFloat32(lg, name, lim)
		if err != nil {
			return nil, fmt.Errorf("weight %q: %w", name, err)
		}
		ws = append(ws, layers.Weight{Name: name, Shape: d.shape, Data: d.data})
	}
	return ws, nil
}

// build decodes every layer, then builds the graph in dependency order.
func build(spec *modelSpec, weights map[string][]layers.Weight, opts *Options) (*runtime.Model, error) {
	if n := len(spec.layers); n > opts.maxLayers() {
		return nil, fmt.Errorf("model has %d layers, over the limit of %d (raise Options.MaxLayers)", n, opts.maxLayers())
	}
	// Phase 1: decode every layer and collect every problem at once.
	cfgs := map[string]layers.Config{}
	var errs []error
	for _, e := range spec.layers {
		if e.input {
			continue
		}
		c, err := layers.Decode(e.spec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfgs[e.spec.Name] = c
	}
	for name := range weights {
		if spec.byName[name] == nil {
			errs = append(errs, fmt.Errorf("model_weights has weights for layer %q, which the model config does not have", name))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// Phase 2: build layers as their inputs become available.
	g := runtime.NewGraph()
	g.Name = spec.name
	refs := map[tensorRef]runtime.Ref{}
	for _, r := range spec.inputs {
		e := spec.byName[r.layer]
		refs[tensorRef{layer: r.layer}] = g.Input(runtime.IO{Name: r.layer, Shape: e.shape, DType: e.dtype}, spec.listed[r.layer])
	}
	built := map[string]runtime.Layer{}
	masked := map[tensorRef]bool{} // which tensors carry a Keras mask
	done := map[*layerEntry]int{}  // nodes already added per layer
	pending := 0
	for _, e := range spec.layers {
		pending += len(e.nodes)
	}
	for pending > 0 {
		progress := false
		for _, e := range spec.layers {
			for done[e] < len(e.nodes) {
				node := e.nodes[done[e]]
				in, ready, err := resolve(spec, refs, node)
				if err != nil {
					return nil, fmt.Errorf("layer %q (%s): %w", e.spec.Name, e.spec.Class, err)
				}
				if !ready {
					break
				}
				shapes := make([][]int, len(in))
				for i, r := range in {
					shapes[i] = g.Shape(r)
				}
				l, outShapes, err := callShapes(e, cfgs[e.spec.Name], built, shapes, weights)
				if err != nil {
					return nil, err
				}
				inMasked := make([]bool, len(node))
				for i, r := range node {
					inMasked[i] = masked[r]
				}
				outMasked, err := layers.OutputMasks(e.spec, cfgs[e.spec.Name], inMasked, len(outShapes))
				if err != nil {
					return nil, err
				}
				outs := g.Call(l, in, outShapes)
				for i, o := range outs {
					r := tensorRef{layer: e.spec.Name, node: done[e], tensor: i}
					refs[r] = o
					masked[r] = outMasked[i]
				}
				done[e]++
				pending--
				progress = true
			}
		}
		if !progress {
			return nil, fmt.Errorf("model_config: the layer graph has a cycle or depends on layers that never run: %s", stuck(spec, done))
		}
	}
	for _, e := range spec.layers {
		if !e.input && len(e.nodes) == 0 {
			if _, ok := weights[e.spec.Name]; ok && len(weights[e.spec.Name]) > 0 {
				return nil, fmt.Errorf("layer %q (%s) is never called, but the file has weights for it", e.spec.Name, e.spec.Class)
			}
		}
	}
	seen := map[string]int{}
	for _, r := range spec.outputs {
		ref, ok := refs[r]
		if !ok {
			return nil, fmt.Errorf("model_config: output %s does not exist", r)
		}
		g.Output(uniqueName(seen, r.layer), ref)
	}
	return g.Build()
}

// uniqueName follows tf.keras: an output name already used gets the
// suffix _1, then _2, ...
func uniqueName(used map[string]int, name string) string {
	p := name
	for used[p] > 0 {
		n := max(used[name], 1)
		used[name] = n + 1
		p = fmt.Sprintf("%s_%d", name, n)
	}
	used[p]++
	return p
}

// callShapes builds layer e on its first call and returns it with its
// output shapes. Later calls of a shared layer reuse the built layer.
func callShapes(e *layerEntry, cfg layers.Config, built map[string]runtime.Layer, in [][]int, weights map[string][]layers.Weight) (runtime.Layer, [][]int, error) {
	w := layers.NewWeights(weights[e.spec.Name])
	l, out, err := layers.Build(e.spec, cfg, in, w)
	if err != nil {
		return nil, nil, err
	}
	if prev, ok := built[e.spec.Name]; ok {
		return prev, out, nil
	}
	built[e.spec.Name] = l
	return l, out, nil
}

func resolve(spec *modelSpec, refs map[tensorRef]runtime.Ref, node []tensorRef) ([]runtime.Ref, bool, error) {
	out := make([]runtime.Ref, len(node))
	for i, r := range node {
		src := spec.byName[r.layer]
		if src == nil {
			return nil, false, fmt.Errorf("inbound layer %q does not exist", r.layer)
		}
		if src.input && (r.node != 0 || r.tensor != 0) {
			return nil, false, fmt.Errorf("inbound tensor %s: an InputLayer has one tensor", r)
		}
		if !src.input && r.node >= len(src.nodes) {
			return nil, false, fmt.Errorf("inbound tensor %s: layer %q has only %d node(s)", r, r.layer, len(src.nodes))
		}
		ref, ok := refs[r]
		if !ok {
			if src.input {
				return nil, false, fmt.Errorf("inbound tensor %s: InputLayer %q is not among the model inputs", r, r.layer)
			}
			return nil, false, nil
		}
		out[i] = ref
	}
	return out, true, nil
}

func stuck(spec *modelSpec, done map[*layerEntry]int) string {
	var names []string
	for _, e := range spec.layers {
		if done[e] < len(e.nodes) {
			names = append(names, e.spec.Name)
		}
	}
	if len(names) > 10 {
		names = append(names[:10], "...")
	}
	return strings.Join(names, ", ")
}
