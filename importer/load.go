package importer

import (
	"errors"
	"fmt"
	"math"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
)

// Options sets limits for Load and LoadWeights. A nil *Options means the
// defaults. A zero field means its default. Each limit is checked against
// what the file declares (dataset shapes, the number of layers in
// model_config) before anything is allocated for it, and an error that
// hits one names the Options field that raises it.
type Options struct {
	// MaxTensorElements bounds the elements of one weight array
	// (default 1<<28, 1 GiB of float32). Values over 1<<40 act as 1<<40.
	MaxTensorElements int64
	// MaxWeightBytes bounds the float32 bytes of all weights together
	// (default 4 GiB).
	MaxWeightBytes int64
	// MaxLayers bounds the number of layers in the model config, those of
	// nested models included (default 10000).
	MaxLayers int
	// HDF5Reader chooses the HDF5 reader: "libhdf5" (through cgo and
	// gonum.org/v1/hdf5) or "go" (the pure-Go reader, which reads a
	// LoadReaderAt's reader and a .keras archive's weights in place,
	// without a temporary file). Empty means libhdf5 in a cgo build and
	// the Go reader in a build without cgo, where "libhdf5" is an error.
	// Both readers give the same weights, bit for bit.
	HDF5Reader string
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
		l.maxTensor = min(o.MaxTensorElements, maxElements)
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

// take accounts for a weight of n elements (saturated at math.MaxInt64)
// before it is allocated.
func (l *limits) take(n int64, shape []int) error {
	if n > l.maxTensor {
		if l.maxTensor == maxElements {
			return limitError("", l.maxTensor, fmt.Errorf("declared shape %v has %s elements, more than kerasrun reads into one weight (%d)", shape, countString(n), l.maxTensor))
		}
		return limitError("MaxTensorElements", l.maxTensor, fmt.Errorf("declared shape %v has %s elements, over the limit of %d elements per weight (raise importer.Options.MaxTensorElements)", shape, countString(n), l.maxTensor))
	}
	if n > (l.maxBytes-l.used)/4 {
		return limitError("MaxWeightBytes", l.maxBytes, fmt.Errorf("declared shape %v brings the weights to %s bytes of float32, over the limit of %d bytes (raise importer.Options.MaxWeightBytes)", shape, countString(l.used+4*n), l.maxBytes))
	}
	l.used += 4 * n
	return nil
}

// countString writes a saturated count.
func countString(n int64) string {
	if n < 0 || n == math.MaxInt64 || n > math.MaxInt64/4 {
		return "more than 2^61"
	}
	return strconv.FormatInt(n, 10)
}

// layerLimitError reports n layers over limit; exact says whether n is
// the real count or only where counting stopped.
func layerLimitError(n, limit int, exact bool) error {
	count := strconv.Itoa(n)
	if !exact {
		count = "more than " + strconv.Itoa(limit)
	}
	return limitError("MaxLayers", int64(limit), fmt.Errorf("model_config has %s layers, over the limit of %d (raise importer.Options.MaxLayers)", count, limit))
}

// FileInfo holds the root attributes of a Keras file.
type FileInfo struct {
	KerasVersion string
	Backend      string
	ModelConfig  string
}

// fileWeights is the weights part of a file: the groups of layer_names, in
// order, with their weights, converted to float32.
type fileWeights struct {
	names   []string
	byGroup map[string][]layers.Weight
	// version is the keras_version that describes the weights: the
	// weights group's own attribute, else the root's. Keras reads weights
	// without one as Keras 1 weights.
	version string
	backend string
}

// keras1 reports whether the weights are in the Keras 1 layout.
//
// Keras: a weights group without keras_version is read as Keras 1
// (saving.py load_weights_from_hdf5_group: original_keras_version = '1').
func (fw *fileWeights) keras1() bool {
	return fw.version == "" || layers.Env{KerasVersion: fw.version}.Major() == 1
}

// withWeights lists the groups that hold weights, in file order.
func (fw *fileWeights) withWeights() []string {
	var out []string
	for _, n := range fw.names {
		if len(fw.byGroup[n]) > 0 {
			out = append(out, n)
		}
	}
	return out
}

// inferBackend tells the backend of a Keras 1 file, which does not record
// it, from its weight names: TensorFlow names its variables "name:0",
// Theano keeps the name it was given.
func (fw *fileWeights) inferBackend() string {
	tf, th := 0, 0
	for _, ws := range fw.byGroup {
		for _, w := range ws {
			if hasTFSuffix(w.Name) {
				tf++
			} else {
				th++
			}
		}
	}
	switch {
	case tf > 0 && th == 0:
		return "tensorflow"
	case th > 0 && tf == 0:
		return "theano"
	}
	return ""
}

// env returns the layers' Env for a file with these weights and the given
// keras_version and backend of its architecture.
//
// Keras: a Keras 1 file records no backend, and Keras 2 then flips no
// convolution kernel (saving.py _need_convert_kernel(None) is False), even
// for a Theano-trained file, whose weight names tell its backend
// (inferBackend). kerasrun does the same, and the reference outputs of the
// real Keras 1 Theano files agree. (Keras 1.2.2 on Theano itself computed a
// true convolution with such kernels.)
func (fw *fileWeights) env(version, backend string) layers.Env {
	if version == "" {
		version = fw.version
	}
	if fw.backend != "" {
		backend = fw.backend
	}
	return layers.Env{KerasVersion: version, Backend: backend}
}

// Load reads a full Keras model file (model.save("m.h5")) and builds it.
func Load(path string, opts *Options) (*runtime.Model, error) {
	m, err := load(path, opts)
	if err != nil {
		return nil, fmt.Errorf("importer: %s: %w", path, err)
	}
	return m, nil
}

// errWeightsOnly explains a weights-only file given where a full model is
// needed.
var errWeightsOnly = errors.New("no model_config attribute: this is a weights-only file (model.save_weights), " +
	"which holds no architecture; give its architecture JSON (model.to_json()) as well: " +
	"kerasrun --arch ARCH.json, or importer.LoadWeights")

// errNotKeras is the error for an HDF5 file that Keras did not write.
var errNotKeras = corrupt(errors.New("not a Keras model file: the HDF5 file has no model_config, keras_version or layer_names attribute and no model_weights group"))

// keras1Weights reports whether root looks like Keras weights without a
// keras_version (Keras 1 wrote none): a layer_names attribute or a
// model_weights group.
func keras1Weights(root h5group) bool {
	_, ok, _ := root.attrStrings("layer_names")
	return ok || root.linkType("model_weights") >= 0
}

func load(path string, opts *Options) (*runtime.Model, error) {
	kind, err := sniff(path)
	if err != nil {
		return nil, err
	}
	if kind == kindZip {
		return loadArchive(path, opts)
	}
	return loadHDF5(pathSrc(path), opts)
}

// loadHDF5 loads a full model from the HDF5 file src.
func loadHDF5(src h5src, opts *Options) (*runtime.Model, error) {
	info, fw, err := readFileSrc(src, opts, false)
	if err != nil {
		return nil, err
	}
	if info.ModelConfig == "" {
		return nil, errWeightsOnly
	}
	if n := countLayers(info.ModelConfig, opts.maxLayers()); n > opts.maxLayers() {
		return nil, layerLimitError(n, opts.maxLayers(), false)
	}
	spec, err := parseModelConfig(info.ModelConfig, fw.env(info.KerasVersion, info.Backend))
	if err != nil {
		return nil, err
	}
	return build(spec, newBinder(fw, false), opts)
}

// readFile reads the root attributes and every weight of a model file,
// closing every handle before it returns. With weightsOnly, the weights
// are read whether or not the file has a model_config: from the root
// (model.save_weights) or, as Keras does, from model_weights when the root
// has no layer_names.
func readFile(path string, opts *Options, weightsOnly bool) (FileInfo, *fileWeights, error) {
	return readFileSrc(pathSrc(path), opts, weightsOnly)
}

// readFileSrc is readFile for the HDF5 file src.
func readFileSrc(src h5src, opts *Options, weightsOnly bool) (info FileInfo, fw *fileWeights, err error) {
	err = withH5(src, opts, func(root h5group) error {
		info, fw, err = readRoot(root, opts, weightsOnly)
		return err
	})
	return info, fw, err
}

// readRoot is readFile for an open file's root group.
func readRoot(root h5group, opts *Options, weightsOnly bool) (FileInfo, *fileWeights, error) {
	info, err := rootInfo(root)
	if err != nil {
		return FileInfo{}, nil, err
	}
	if info.ModelConfig == "" && !weightsOnly {
		if isKeras3Weights(root) {
			return FileInfo{}, nil, errKeras3WeightsOnly
		}
		if info.KerasVersion == "" && !keras1Weights(root) {
			return FileInfo{}, nil, errNotKeras
		}
		return info, nil, nil
	}
	g := root
	if _, rootNames, _ := root.attrStrings("layer_names"); !weightsOnly || !rootNames {
		if err := root.checkHardLinks("model_weights"); err != nil {
			return FileInfo{}, nil, err
		}
		wg, err := root.openGroup("model_weights")
		if err != nil {
			if weightsOnly {
				return FileInfo{}, nil, corrupt(errors.New("no layer_names attribute and no model_weights group: this is not a Keras weights file"))
			}
			return FileInfo{}, nil, corrupt(errors.New("no model_weights group"))
		}
		defer wg.close()
		g = wg
	}
	fw := &fileWeights{}
	fw.version, _, _ = attrString(g, "keras_version")
	fw.backend, _, _ = attrString(g, "backend")
	if fw.version == "" {
		fw.version = info.KerasVersion
	}
	if fw.backend == "" {
		fw.backend = info.Backend
	}
	if info.KerasVersion == "" {
		info.KerasVersion = fw.version
	}
	if info.Backend == "" {
		info.Backend = fw.backend
	}
	fw.names, fw.byGroup, err = readWeights(g, opts.limits())
	return info, fw, err
}

func rootInfo(root h5group) (FileInfo, error) {
	var info FileInfo
	for _, a := range []struct {
		name string
		dst  *string
	}{{"keras_version", &info.KerasVersion}, {"backend", &info.Backend}, {"model_config", &info.ModelConfig}} {
		var err error
		if *a.dst, _, err = attrString(root, a.name); err != nil {
			return FileInfo{}, err
		}
	}
	// Before any JSON parser sees it (see checkJSONDepth).
	if err := checkJSONDepth("model_config", info.ModelConfig); err != nil {
		return FileInfo{}, err
	}
	return info, nil
}

// readWeights reads every layer's weights under g (a model_weights group,
// or the root of a weights-only file), in the order of layer_names and
// weight_names. It first reads every dataset's declared type and shape and
// checks them against lim, and only then reads any data.
func readWeights(g h5group, lim *limits) ([]string, map[string][]layers.Weight, error) {
	names, ok, err := g.attrStrings("layer_names")
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, corrupt(errors.New("model_weights has no layer_names attribute"))
	}
	type planned struct {
		name string
		info datasetInfo
	}
	plan := make(map[string][]planned, len(names))
	for _, ln := range names {
		if _, dup := plan[ln]; dup {
			return nil, nil, corrupt(fmt.Errorf("layer_names lists %q twice", ln))
		}
		lg, err := g.openGroup(ln)
		if err != nil {
			return nil, nil, fmt.Errorf("layer %q: weight group: %w", ln, err)
		}
		wn, _, err := lg.attrStrings("weight_names")
		ws := make([]planned, 0, len(wn))
		for _, name := range wn {
			if err != nil {
				break
			}
			var info datasetInfo
			if info, err = lg.statFloat32(name); err == nil {
				err = lim.take(info.n, info.shape)
			}
			if err != nil {
				err = fmt.Errorf("weight %q: %w", name, err)
			}
			ws = append(ws, planned{name, info})
		}
		lg.close()
		if err != nil {
			return nil, nil, fmt.Errorf("layer %q: %w", ln, err)
		}
		plan[ln] = ws
	}
	out := make(map[string][]layers.Weight, len(names))
	for _, ln := range names {
		lg, err := g.openGroup(ln)
		if err != nil {
			return nil, nil, fmt.Errorf("layer %q: weight group: %w", ln, err)
		}
		ws := make([]layers.Weight, 0, len(plan[ln]))
		for _, p := range plan[ln] {
			var data []float32
			if data, err = lg.readFloat32(p.name, p.info); err != nil {
				err = fmt.Errorf("layer %q: weight %q: %w", ln, p.name, err)
				break
			}
			ws = append(ws, layers.Weight{Name: p.name, Shape: p.info.shape, Data: data})
		}
		lg.close()
		if err != nil {
			return nil, nil, err
		}
		out[ln] = ws
	}
	return names, out, nil
}

// build decodes every layer, then builds the graph in dependency order.
func build(tree *modelSpec, b *binder, opts *Options) (*runtime.Model, error) {
	spec, err := flatten(tree)
	if err != nil {
		return nil, err
	}
	if n := len(spec.layers); n > opts.maxLayers() {
		return nil, layerLimitError(n, opts.maxLayers(), true)
	}
	// Phase 1: decode every layer and collect every problem at once.
	cfgs := map[string]layers.Config{}
	var errs []error
	for _, e := range spec.layers {
		if e.input {
			continue
		}
		if e.err != nil {
			errs = append(errs, unwrapJoin(e.err)...)
		}
		if e.bad {
			continue
		}
		c, err := e.decode()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfgs[e.spec.Name] = c
	}
	errs = append(errs, b.check(spec)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	fuse(spec, cfgs)

	// Phase 2: build layers as their inputs become available.
	g := runtime.NewGraph()
	g.Name = spec.name
	for _, e := range tree.layers {
		if e.sub != nil {
			g.AddNested(runtime.NestedModel{Name: e.spec.Name, Class: e.spec.Class})
		}
	}
	refs := map[tensorRef]runtime.Ref{}
	for _, r := range spec.inputs {
		e := spec.byName[r.layer]
		// Keras: Sequential.layers leaves out the InputLayer, even one the
		// config lists, so model.summary() has no row for it.
		listed := spec.listed[r.layer] && spec.class != "Sequential"
		refs[tensorRef{layer: r.layer}] = g.Input(runtime.IO{Name: r.layer, Shape: e.shape, DType: e.dtype}, listed)
	}
	built := map[string]runtime.Layer{}
	maxTensor := opts.limits().maxTensor
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
				l, outShapes, err := b.call(e, cfgs[e.spec.Name], built, shapes)
				if err != nil {
					return nil, err
				}
				if err := checkOutputSizes(e, outShapes, maxTensor); err != nil {
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
	if err := b.done(spec, built); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for i, r := range spec.outputs {
		ref, ok := refs[r]
		if !ok {
			return nil, fmt.Errorf("model_config: output %s does not exist", r)
		}
		g.Output(uniqueName(seen, spec.outNames[i]), ref)
	}
	return g.Build()
}

// checkOutputSizes bounds what a layer's outputs hold per sample, as far as
// their static shapes tell (None dimensions follow the inputs, which the
// caller controls): a config such as RepeatVector(n=10**9) would otherwise
// load, and allocate without bound at the first Predict.
func checkOutputSizes(e *layerEntry, outs [][]int, limit int64) error {
	for _, s := range outs {
		n := int64(1)
		for i, d := range s {
			if i == 0 || d <= 0 {
				continue
			}
			if n > limit/int64(d) {
				return limitError("MaxTensorElements", limit, fmt.Errorf("layer %q (%s): output shape %s holds more than %d elements per sample, over the limit (raise importer.Options.MaxTensorElements)", e.spec.Name, e.spec.Class, runtime.FormatShape(s), limit))
			}
			n *= int64(d)
		}
	}
	return nil
}

// uniqueName follows tf.keras: an output name already used gets the
// suffix _1, then _2, ...
//
// Keras: Keras 3 names each output after its layer (Functional
// output_names), so the outputs of one layer share a name; kerasrun keeps
// tf.keras's unique names for every version, since the CLI, sessions and
// the server address outputs by name.
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

// binder hands each layer its stored weights. A full model file binds them
// by name: each layer of the model has the group of its name. A weights-only
// file binds them by position, as Keras's load_weights does: the layers that
// take weights, in model order, get the groups with weights, in file order.
// A nested model's group holds the weights of all its layers; they are told
// apart by the layer names in the weight names, else taken in order.
type binder struct {
	fw         *fileWeights
	positional bool
	queue      []string            // positional: groups with weights not yet handed out
	assigned   map[string]string   // model group -> file group
	leaves     map[string][]string // model group -> layer names in a nested model
	parts      map[string]*partition
	lists      map[string][]layers.Weight // the weights each built layer took
	modelUsed  []string                   // positional: model groups given weights, in order
	order      map[string]int             // model group -> its place in model order
	released   int                        // bytes released since the last collection
	// k3 and k3paths bind the variables of a Keras 3 weights file by the
	// path of each layer (flattened name -> path); then the fields above
	// that name groups are unused.
	k3      *k3store
	k3paths map[string]string
}

// partition is a nested model's group, split among its layers.
type partition struct {
	group  string
	byLeaf map[string][]layers.Weight // when the names tell the layers apart
	used   map[string]bool
	stream []layers.Weight // otherwise, in order
	cursor int
}

func newBinder(fw *fileWeights, positional bool) *binder {
	b := &binder{fw: fw, positional: positional, assigned: map[string]string{}, leaves: map[string][]string{},
		parts: map[string]*partition{}, lists: map[string][]layers.Weight{}}
	if positional {
		b.queue = fw.withWeights()
	}
	return b
}

// check runs before anything is built: with names, every group in the file
// must belong to a layer of the model.
func (b *binder) check(spec *modelSpec) []error {
	groups := map[string]bool{}
	b.order = map[string]int{}
	for i, e := range spec.layers {
		if _, ok := b.order[e.group]; !ok {
			b.order[e.group] = i
		}
		groups[e.group] = true
		if e.input {
			groups[e.spec.Name] = true
		}
		if e.leaf != "" {
			b.leaves[e.group] = append(b.leaves[e.group], e.leaf)
		}
	}
	if b.positional || b.k3 != nil {
		return nil
	}
	var errs []error
	for _, name := range b.fw.names {
		if !groups[name] {
			errs = append(errs, fmt.Errorf("model_weights has weights for layer %q, which the model config does not have", name))
		}
	}
	return errs
}

// call builds layer e on its first call, binding its weights, and returns
// it with the output shapes of this call. Later calls of a shared layer
// reuse the built layer.
func (b *binder) call(e *layerEntry, cfg layers.Config, built map[string]runtime.Layer, in [][]int) (runtime.Layer, [][]int, error) {
	if prev, ok := built[e.spec.Name]; ok {
		_, out, err := layers.Build(e.spec, cfg, in, layers.NewWeights(b.lists[e.spec.Name]))
		if err != nil {
			return nil, nil, err
		}
		return prev, out, nil
	}
	l, out, ws, err := b.first(e, cfg, in)
	if err != nil {
		return nil, nil, err
	}
	built[e.spec.Name] = l
	if len(e.nodes) > 1 {
		// A shared layer is built again for the shapes of its later calls.
		b.lists[e.spec.Name] = ws
	} else {
		b.release(ws)
	}
	return l, out, nil
}

// release drops the file's copy of weights a layer has been built from, so
// that the garbage collector can free them while the rest of the model
// loads (layers keep what they need, usually a packed copy): the peak
// memory of a load is then not all the raw weights plus all the packed
// ones. Only names and shapes stay, for the checks at the end. A large
// release is followed by a collection, which is cheap on a heap of
// pointer-free weight arrays.
func (b *binder) release(ws []layers.Weight) {
	n := 0
	for i := range ws {
		n += len(ws[i].Data)
		ws[i].Data = nil
	}
	if b.released += 4 * n; b.released >= releaseGC {
		b.released = 0
		goruntime.GC()
	}
}

// releaseGC is how many bytes of released weights trigger a collection.
const releaseGC = 4 << 20

func (b *binder) first(e *layerEntry, cfg layers.Config, in [][]int) (runtime.Layer, [][]int, []layers.Weight, error) {
	if b.k3 != nil {
		return b.k3first(e, cfg, in)
	}
	fg, ok := b.assigned[e.group]
	if !ok {
		if !b.positional {
			fg = e.group
		} else {
			// Keras: only layers that have weights take a group.
			l, out, ws, terr := b.try(e, cfg, in, nil)
			if terr == nil {
				return l, out, ws, nil
			}
			if len(b.queue) == 0 {
				if le, ok := terr.(*layers.LayerError); ok {
					terr = le.Err
				}
				// Keras: "You are trying to load a weight file containing N
				// layers into a model with M layers."
				return nil, nil, nil, &layers.LayerError{Layer: e.spec.Name, Class: e.spec.Class, Op: "weights",
					Err: fmt.Errorf("the layer takes weights, but the weights file has only %d layer(s) with weights (%s), bound by position to the layers before it (%s): the architecture does not match the weights file (built without weights: %v)",
						len(b.fw.withWeights()), quoteList(b.fw.withWeights()), quoteList(b.modelUsed), terr)}
			}
			if n := len(b.modelUsed); n > 0 && b.order[b.modelUsed[n-1]] > b.order[e.group] {
				// The graph is built in dependency order, which for a
				// Keras config is its layer order; a config that is not
				// cannot be bound by position safely.
				return nil, nil, nil, fmt.Errorf("layer %q comes before layer %q in the architecture, but its inputs are ready only after it: the weights cannot be bound by position", e.group, b.modelUsed[n-1])
			}
			fg, b.queue = b.queue[0], b.queue[1:]
			b.modelUsed = append(b.modelUsed, e.group)
		}
		b.assigned[e.group] = fg
	}
	ws := b.fw.byGroup[fg]
	if e.leaf == "" {
		l, out, cw, err := b.try(e, cfg, in, ws)
		if err != nil && b.positional {
			err = fmt.Errorf("%w (bound by position to the weights of layer %q of the weights file)", err, fg)
		}
		return l, out, cw, err
	}
	p := b.partition(e.group, fg)
	if p.byLeaf != nil {
		p.used[e.leaf] = true
		return b.try(e, cfg, in, p.byLeaf[e.leaf])
	}
	// Keras: the weights of a nested model are those of its layers, in
	// order (trainable ones first; a layer with non-trainable weights
	// makes the order differ, and Take's name checks then fail).
	rest := p.stream[p.cursor:]
	for n := 0; n <= len(rest); n++ {
		l, out, cw, err := b.try(e, cfg, in, rest[:n])
		if err == nil {
			p.cursor += n
			return l, out, cw, nil
		}
	}
	_, _, _, err := b.try(e, cfg, in, nil)
	return nil, nil, nil, fmt.Errorf("%w (the weight names of nested model %q do not name its layers, and by position this layer takes none of its next %d weight(s): %s)",
		err, e.group, len(rest), weightList(rest))
}

// try builds e with the weights ws, converted from the Keras 1 layout when
// the file has it, and returns the converted weights too.
func (b *binder) try(e *layerEntry, cfg layers.Config, in [][]int, ws []layers.Weight) (runtime.Layer, [][]int, []layers.Weight, error) {
	if b.fw.keras1() {
		cw, err := convertKeras1Weights(e.spec.Class, e.spec.Config, ws)
		if err != nil {
			return nil, nil, nil, &layers.LayerError{Layer: e.spec.Name, Class: e.spec.Class, Op: "build", Err: err}
		}
		ws = cw
	}
	l, out, err := layers.Build(e.spec, cfg, in, layers.NewWeights(ws))
	return l, out, ws, err
}

// partition splits the weights of a nested model's group among its layers:
// by the layer names in the weight names when every weight names one of
// them, in order otherwise.
func (b *binder) partition(group, fg string) *partition {
	if p := b.parts[group]; p != nil {
		return p
	}
	p := &partition{group: fg}
	b.parts[group] = p
	ws := b.fw.byGroup[fg]
	leaves := map[string]bool{}
	for _, l := range b.leaves[group] {
		if leaves[l] {
			p.stream = ws // two layers of one name: names cannot tell them apart
			return p
		}
		leaves[l] = true
	}
	byLeaf := map[string][]layers.Weight{}
	for _, w := range ws {
		o, ok := parseWeightName(w.Name).owner(leaves)
		if !ok {
			p.stream = ws
			return p
		}
		byLeaf[o] = append(byLeaf[o], w)
	}
	p.byLeaf, p.used = byLeaf, map[string]bool{}
	return p
}

// done checks, after the build, that every stored weight was taken.
func (b *binder) done(spec *modelSpec, built map[string]runtime.Layer) error {
	if b.k3 != nil {
		return b.k3done()
	}
	if b.positional && len(b.queue) > 0 {
		// Keras: "You are trying to load a weight file containing N layers
		// into a model with M layers."
		return fmt.Errorf("the weights file has %d layer(s) with weights (%s), the architecture only %d (%s): the architecture does not match the weights file",
			len(b.fw.withWeights()), quoteList(b.fw.withWeights()), len(b.modelUsed), quoteList(b.modelUsed))
	}
	for group, p := range b.parts {
		if p.byLeaf != nil {
			for leaf, ws := range p.byLeaf {
				if !p.used[leaf] && len(ws) > 0 {
					return fmt.Errorf("nested model %q: layer %q is never called, but the file has weights for it", group, leaf)
				}
			}
		} else if p.cursor < len(p.stream) {
			return fmt.Errorf("nested model %q: %d stored weight(s) not used by its layers: %s", group, len(p.stream)-p.cursor, weightList(p.stream[p.cursor:]))
		}
	}
	if !b.positional {
		for _, name := range b.fw.names {
			if len(b.fw.byGroup[name]) > 0 {
				if _, ok := b.assigned[name]; !ok {
					class := "?"
					for _, e := range spec.layers {
						if e.group == name {
							class = e.spec.Class
							if e.leaf != "" {
								class = "nested model"
							}
							break
						}
					}
					return fmt.Errorf("layer %q (%s) is never called, but the file has weights for it", name, class)
				}
			}
		}
	}
	return nil
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) > 12 {
		q = append(q[:12], "...")
	}
	return strings.Join(q, ", ")
}
