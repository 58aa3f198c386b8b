package importer

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

// Keras 3 weights files (model.weights.h5, also the weights inside a
// .keras archive) are written by keras/src/saving/saving_lib.py, not by the
// legacy HDF5 format: there are no layer_names or weight_names attributes.
// Each object that owns variables has a group holding a "vars" group whose
// datasets are named "0", "1", ... in the order of the object's own
// variables (Layer.save_own_variables: trainable, then non-trainable, each
// in creation order). A model's layers sit under "layers/<key>", where key
// is the snake_case of the layer's Python class, made unique in the order
// of model.layers ("lstm", "lstm_1", ...), never the layer's name. A
// layer's own child objects sit under their attribute names: an RNN's cell
// under "cell", a Bidirectional's directions under "forward_layer" and
// "backward_layer" (and its unused template under "layer"), a
// TimeDistributed's layer under "layer", a nested model's layers under its
// own "layers".

// k3store holds every variable of a Keras 3 weights file under "layers/",
// by the path of the object that owns it ("layers/lstm/cell").
type k3store struct {
	vars    map[string][]layers.Weight
	used    map[string]bool
	version string // the keras_version of the archive the file came from, if any
}

// errKeras3WeightsOnly explains a Keras 3 weights file given where a full
// model is needed.
var errKeras3WeightsOnly = errors.New("this is a Keras 3 weights file (model.save_weights(\"x.weights.h5\")), which holds no architecture; " +
	"give its architecture as well: the config.json of the model's .keras archive or model.to_json() (kerasrun --arch ARCH.json, or importer.LoadWeights), " +
	"or save the whole model with model.save(\"model.keras\")")

// isKeras3Weights reports whether root has the Keras 3 weights layout: a
// "layers" group and no layer_names attribute.
func isKeras3Weights(root h5group) bool {
	if _, ok, _ := root.attrStrings("layer_names"); ok {
		return false
	}
	return root.linkType("layers") == linkHard
}

// hasKeras3Layout reports whether the HDF5 file at path has the Keras 3
// weights layout.
func hasKeras3Layout(path string, opts *Options) (k3 bool, err error) {
	err = withH5(pathSrc(path), opts, func(root h5group) error {
		k3 = isKeras3Weights(root)
		return nil
	})
	return k3, err
}

// maxK3Depth bounds the nesting of groups under "layers/" (a model nested in
// a Bidirectional in a model ... adds a few levels each).
const maxK3Depth = 64

// maxK3Objects bounds the groups and datasets walked under "layers/".
const maxK3Objects = 1 << 20

// readKeras3File opens the Keras 3 weights file src and reads its
// variables.
func readKeras3File(src h5src, opts *Options) (store *k3store, err error) {
	err = withH5(src, opts, func(root h5group) error {
		store, err = readKeras3Root(root, opts)
		return err
	})
	return store, err
}

// readKeras3Root reads the variables of the Keras 3 weights file of root.
func readKeras3Root(root h5group, opts *Options) (*k3store, error) {
	if !isKeras3Weights(root) {
		return nil, corrupt(errors.New("the weights file has no \"layers\" group: it is not a Keras 3 weights file"))
	}
	return readKeras3Weights(root, opts.limits())
}

// readKeras3Weights reads every variable under root's "layers" group: first
// every dataset's declared type and shape, checked against lim, then the
// data. The model's own "vars" must be empty; other top-level groups
// (optimizer, metrics) are not read.
func readKeras3Weights(root h5group, lim *limits) (*k3store, error) {
	type planned struct {
		owner string
		index int
		info  datasetInfo
	}
	var plan []planned
	objects := 0
	var walk func(g h5group, path string, depth int) error
	walk = func(g h5group, path string, depth int) error {
		if depth > maxK3Depth {
			return fmt.Errorf("%s: groups nest more than %d deep", path, maxK3Depth)
		}
		n, err := g.numMembers()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for i := 0; i < n; i++ {
			if objects++; objects > maxK3Objects {
				return fmt.Errorf("more than %d objects under \"layers\"", maxK3Objects)
			}
			name, err := g.memberName(i)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			child := path + "/" + name
			if err := g.checkHardLinks(name); err != nil {
				return fmt.Errorf("%s: %w", child, err)
			}
			typ, err := g.memberKind(i)
			if err != nil {
				return fmt.Errorf("%s: %w", child, err)
			}
			switch {
			case typ == kindGroup && name == "vars":
				vars, err := g.openGroup(name)
				if err != nil {
					return fmt.Errorf("%s: %w", child, err)
				}
				err = func() error {
					defer vars.close()
					m, err := vars.numMembers()
					if err != nil {
						return fmt.Errorf("%s: %w", child, err)
					}
					for j := 0; j < m; j++ {
						vn, err := vars.memberName(j)
						if err != nil {
							return fmt.Errorf("%s: %w", child, err)
						}
						idx, err := strconv.Atoi(vn)
						if err != nil || idx < 0 || strconv.Itoa(idx) != vn || idx >= m {
							return corrupt(fmt.Errorf("%s/%s: a variable's name is its index 0..%d", child, vn, m-1))
						}
						info, err := vars.statFloat32(vn)
						if err == nil {
							err = lim.take(info.n, info.shape)
						}
						if err != nil {
							return fmt.Errorf("%s/%s: %w", child, vn, err)
						}
						plan = append(plan, planned{owner: path, index: idx, info: info})
					}
					return nil
				}()
				if err != nil {
					return err
				}
			case typ == kindGroup:
				sub, err := g.openGroup(name)
				if err != nil {
					return fmt.Errorf("%s: %w", child, err)
				}
				err = walk(sub, child, depth+1)
				sub.close()
				if err != nil {
					return err
				}
			default:
				return corrupt(fmt.Errorf("%s: a %s outside a \"vars\" group; Keras 3 stores variables only in \"vars\" groups", child, typ))
			}
		}
		return nil
	}
	lg, err := root.openGroup("layers")
	if err != nil {
		return nil, fmt.Errorf("\"layers\": %w", err)
	}
	err = walk(lg, "layers", 1)
	lg.close()
	if err != nil {
		return nil, err
	}
	if root.linkType("vars") >= 0 {
		vg, err := root.openGroup("vars")
		if err != nil {
			return nil, fmt.Errorf("\"vars\": %w", err)
		}
		n, err := vg.numMembers()
		vg.close()
		if err != nil {
			return nil, fmt.Errorf("vars: %w", err)
		}
		if n > 0 {
			return nil, fmt.Errorf("the model's own \"vars\" group holds %d variable(s); kerasrun knows no model that owns variables outside its layers", n)
		}
	}

	sort.Slice(plan, func(i, j int) bool {
		if plan[i].owner != plan[j].owner {
			return plan[i].owner < plan[j].owner
		}
		return plan[i].index < plan[j].index
	})
	s := &k3store{vars: map[string][]layers.Weight{}, used: map[string]bool{}}
	for _, p := range plan {
		vpath := p.owner + "/vars/" + strconv.Itoa(p.index)
		g, err := root.openGroup(p.owner + "/vars")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", vpath, err)
		}
		data, err := g.readFloat32(strconv.Itoa(p.index), p.info)
		g.close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", vpath, err)
		}
		s.vars[p.owner] = append(s.vars[p.owner], layers.Weight{Name: vpath, Shape: p.info.shape, Data: data, Positional: true})
	}
	return s, nil
}

// take hands out the variables of the object at path (none when it has
// none) and marks them used.
func (s *k3store) take(path string) []layers.Weight {
	s.used[path] = true
	return s.vars[path]
}

// layerWeights gathers the variables of a layer of class cfgClass at path,
// in the order kerasrun's layers take them: those of the layer itself, then
// of its cell or wrapped layers. A Bidirectional's variables are the
// forward layer's, then the backward layer's, as in Keras 2 files.
func (s *k3store) layerWeights(class string, cfg gjson.Result, path string) []layers.Weight {
	ws := append([]layers.Weight(nil), s.take(path)...)
	switch class {
	case "LSTM", "GRU", "SimpleRNN":
		ws = append(ws, s.take(path+"/cell")...)
	case "Bidirectional":
		inner := cfg.Get("layer")
		back := cfg.Get("backward_layer")
		if !back.IsObject() {
			back = inner
		}
		ws = append(ws, s.layerWeights(inner.Get("class_name").String(), inner.Get("config"), path+"/forward_layer")...)
		ws = append(ws, s.layerWeights(back.Get("class_name").String(), back.Get("config"), path+"/backward_layer")...)
		// Keras: the wrapped layer under "layer" is only the template the
		// two directions were made from; it owns no variables, and any
		// stored there would be reported unused.
	case "TimeDistributed":
		inner := cfg.Get("layer")
		ws = append(ws, s.layerWeights(inner.Get("class_name").String(), inner.Get("config"), path+"/layer")...)
	}
	return ws
}

// under lists the variables stored under path, by path.
func (s *k3store) under(path string) []layers.Weight {
	var owners []string
	for owner := range s.vars {
		if owner == path || strings.HasPrefix(owner, path+"/") {
			owners = append(owners, owner)
		}
	}
	sort.Strings(owners)
	var out []layers.Weight
	for _, o := range owners {
		out = append(out, s.vars[o]...)
	}
	return out
}

// unused lists the variables no layer took, sorted.
func (s *k3store) unused() []string {
	var out []string
	for owner, ws := range s.vars {
		if !s.used[owner] {
			for _, w := range ws {
				out = append(out, w.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// keras3Paths maps every layer of a Keras 3 model config, by the name
// flatten gives it ("outer/inner" inside a nested model), to the path of its
// group in the weights file; a nested model's own path is under its name
// with a "/" after it.
//
// Keras: saving_lib names the layers of a model's layers list by the
// snake_case of their class, made unique in list order. Sequential.layers
// leaves out the InputLayer it starts with; Functional.layers has its
// InputLayers, but not the bare operations of keras.ops (NotEqual, ...),
// which appear in the config but are not layers.
func keras3Paths(modelConfig string) (map[string]string, error) {
	root := gjson.Parse(modelConfig)
	out := map[string]string{}
	var walk func(class string, cfg gjson.Result, prefix, path string, depth int) error
	walk = func(class string, cfg gjson.Result, prefix, path string, depth int) error {
		if depth > maxNesting {
			return fmt.Errorf("model_config: models nest more than %d deep", maxNesting)
		}
		list := cfg.Get("layers")
		if !list.IsArray() {
			return fmt.Errorf("model_config: model %q: no layers list", cfg.Get("name").String())
		}
		used := map[string]int{}
		for i, l := range list.Array() {
			lc := l.Get("class_name").String()
			name := l.Get("name").String()
			if name == "" {
				name = l.Get("config.name").String()
			}
			if class == "Sequential" && i == 0 && lc == "InputLayer" {
				continue
			}
			if isKerasOp(l) {
				continue
			}
			key := snakeCase(lc)
			if n, ok := used[key]; ok {
				used[key] = n + 1
				key = fmt.Sprintf("%s_%d", key, n+1)
			} else {
				used[key] = 0
			}
			lp := path + "/layers/" + key
			if path == "" {
				lp = "layers/" + key
			}
			if modelClasses[lc] {
				out[prefix+name+"/"] = lp
				if err := walk(lc, l.Get("config"), prefix+name+"/", lp, depth+1); err != nil {
					return err
				}
				continue
			}
			out[prefix+name] = lp
		}
		return nil
	}
	if err := walk(root.Get("class_name").String(), root.Get("config"), "", "", 0); err != nil {
		return nil, err
	}
	return out, nil
}

// isKerasOp reports whether a config entry is a bare keras.ops operation
// (Keras 3 records them with their module), not a layer.
func isKerasOp(l gjson.Result) bool {
	m := l.Get("module").String()
	return strings.HasPrefix(m, "keras.src.ops.") || strings.HasPrefix(m, "keras.ops.")
}

// snakeCase is Keras 3's naming.to_snake_case: drop non-word characters,
// then put "_" before each capitalised word and between a lower-case letter
// and an upper-case one, and lower everything ("LSTM" gives "lstm",
// "BatchNormalization" "batch_normalization", "Conv1D" "conv1d",
// "SimpleRNN" "simple_rnn").
func snakeCase(name string) string {
	var w []rune
	for _, r := range name {
		if r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			w = append(w, r)
		}
	}
	isUpper := func(r rune) bool { return r >= 'A' && r <= 'Z' }
	isLower := func(r rune) bool { return r >= 'a' && r <= 'z' }
	// (.)([A-Z][a-z]+) -> \1_\2
	var a []rune
	for i := 0; i < len(w); i++ {
		if i > 0 && isUpper(w[i]) && i+1 < len(w) && isLower(w[i+1]) {
			a = append(a, '_')
		}
		a = append(a, w[i])
	}
	// ([a-z])([A-Z]) -> \1_\2
	var b []rune
	for i := 0; i < len(a); i++ {
		if i > 0 && isLower(a[i-1]) && isUpper(a[i]) {
			b = append(b, '_')
		}
		b = append(b, a[i])
	}
	return strings.ToLower(string(b))
}

// loadArchive loads a Keras 3 .keras archive: config.json, the keras_version
// of metadata.json and the variables of model.weights.h5, read in place by
// the Go HDF5 reader, or by libhdf5 from a private temporary copy that is
// gone once it is open.
func loadArchive(p string, opts *Options) (*runtime.Model, error) {
	zr, a, err := openArchive(p)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	store, err := archiveWeights(a, opts)
	if err != nil {
		return nil, err
	}
	return buildKeras3(a.config, a.kerasVersion, store, opts)
}

// archiveWeights reads the variables of an archive's model.weights.h5.
func archiveWeights(a *kerasArchive, opts *Options) (*k3store, error) {
	// The file holds the weights in up to float64, and an optimizer's
	// state beside them (Adam: two more copies).
	lim := opts.limits().maxBytes
	limit := int64(64 << 20)
	if lim < (1<<62-limit)/8 {
		limit += 8 * lim
	} else {
		limit = 1 << 62
	}
	reader, err := opts.hdf5Reader()
	if err != nil {
		return nil, err
	}
	var src h5src
	if reader == readerGo {
		// The Go reader reads the entry in place: no temporary file.
		r, size, err := weightsAt(a, limit)
		if err != nil {
			return nil, err
		}
		src = h5src{r: r, size: size}
	} else {
		tmp, err := extractWeights(a.weights, limit)
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp) // gone already once it is open
		src = h5src{path: tmp, remove: true}
	}
	store, err := readKeras3File(src, opts)
	if err != nil {
		return nil, fmt.Errorf("model.weights.h5: %w", err)
	}
	return store, nil
}

// keras3Env is the Env of a Keras 3 model: a Keras 3 weights layout is
// Keras 3's whatever the version recorded (none, in a .weights.h5).
func keras3Env(version string) layers.Env {
	if version == "" {
		version = "3"
	}
	return layers.Env{KerasVersion: version}
}

// buildKeras3 builds a Keras 3 model config with the variables of a Keras 3
// weights file, each layer taking those under its own path.
func buildKeras3(config, version string, store *k3store, opts *Options) (*runtime.Model, error) {
	if n := countLayers(config, opts.maxLayers()); n > opts.maxLayers() {
		return nil, layerLimitError(n, opts.maxLayers(), false)
	}
	spec, err := parseModelConfig(config, keras3Env(version))
	if err != nil {
		return nil, err
	}
	paths, err := keras3Paths(config)
	if err != nil {
		return nil, err
	}
	b := newBinder(&fileWeights{version: keras3Env(version).KerasVersion}, false)
	b.k3, b.k3paths = store, paths
	return build(spec, b, opts)
}

// k3first builds layer e with the variables stored under its Keras 3 path.
func (b *binder) k3first(e *layerEntry, cfg layers.Config, in [][]int) (runtime.Layer, [][]int, []layers.Weight, error) {
	p, ok := b.k3paths[e.spec.Name]
	var ws []layers.Weight
	if ok {
		ws = b.k3.layerWeights(e.spec.Class, e.spec.Config, p)
	}
	l, out, cw, err := b.try(e, cfg, in, ws)
	if err != nil && len(ws) == 0 && ok {
		err = fmt.Errorf("%w (the weights file has no variables under %q, where Keras 3 stores this layer's)", err, p)
	}
	return l, out, cw, err
}

// k3done reports the variables of a Keras 3 weights file that no layer took.
func (b *binder) k3done() error {
	u := b.k3.unused()
	if len(u) == 0 {
		return nil
	}
	return fmt.Errorf("the weights file has %d variable(s) that no layer of the model takes: %s (Keras 3 names each layer's group after its class, in model order: the architecture does not match the weights)", len(u), quoteList(u))
}
