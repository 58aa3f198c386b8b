package importer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kerasrun/kerasrun/layers"
)

// Report describes a Keras file without building its model: what Inspect
// and InspectWeights find.
type Report struct {
	Path         string
	Format       string // "full model", "weights only" or "weights with architecture"
	KerasVersion string // as recorded ("" when the file does not say: Keras 1)
	Backend      string // as recorded, or inferred (see BackendNote)
	BackendNote  string // how Backend was found when the file does not record it
	ModelClass   string // Sequential, Model or Functional; "" without an architecture
	ModelName    string
	Layers       []*LayerReport // the layer tree, in model order
	Groups       []*GroupReport // the weight groups of the file, in layer_names order
	Problems     []error        // every unsupported layer or option, and every other problem
}

// LayerReport is one layer of a Report. The children of a wrapper are its
// wrapped layers; those of a nested model are its layers.
type LayerReport struct {
	Name     string
	Class    string       // as the file has it
	ReadAs   string       // the Keras 2 class a Keras 1 layer is read as, when it differs
	Role     string       // for a wrapped layer: "layer" or "backward_layer"
	Shape    []int        // for an InputLayer: its batch input shape (-1 for None)
	Group    *GroupReport // the weights the file holds for this layer (full model files)
	Children []*LayerReport
	Problems []error // this layer's problems, also listed in Report.Problems
}

// GroupReport is one layer group of the weights: its weights as stored.
type GroupReport struct {
	Name    string
	Weights []WeightInfo
}

// WeightInfo describes one stored weight, from the dataset's metadata.
type WeightInfo struct {
	Name  string
	Shape []int
	DType string // "float32", "float16", "float64", or the stored type otherwise
}

// Supported reports whether the file has no problems: kerasrun can load it.
func (r *Report) Supported() bool { return len(r.Problems) == 0 }

// Inspect describes a Keras .h5 file without building its model: its Keras
// version and backend, its layer tree, every stored weight with its shape
// and dtype (read from the metadata, not the data), and every unsupported
// layer or option, all at once.
func Inspect(path string) (*Report, error) {
	return inspect(path, nil)
}

// InspectWeights is Inspect for a weights file with its architecture JSON
// (as LoadWeights takes them).
func InspectWeights(arch []byte, weightsPath string) (*Report, error) {
	if arch == nil {
		arch = []byte{}
	}
	return inspect(weightsPath, arch)
}

// inspect reports on the file and then, when it found no problem, builds
// the model as Load or LoadWeights would: the report is Supported exactly
// when the model loads.
func inspect(path string, arch []byte) (*Report, error) {
	r, err := inspectFile(path, arch)
	if err != nil {
		return nil, fmt.Errorf("importer: %s: %w", path, err)
	}
	if r.Supported() {
		if arch == nil {
			_, err = load(path, nil)
		} else {
			_, err = loadWeights(arch, path, nil)
		}
		if err != nil {
			r.Problems = append(r.Problems, unwrapJoin(err)...)
		}
	}
	return r, nil
}

func inspectFile(path string, arch []byte) (*Report, error) {
	kind, err := sniff(path)
	if err != nil {
		return nil, err
	}
	if kind == kindZip {
		return inspectKeras3(path, arch)
	}
	if k3, err := hasKeras3Layout(path, nil); err != nil {
		return nil, err
	} else if k3 {
		return inspectKeras3(path, arch)
	}
	info, groups, version, err := readMeta(path, arch != nil)
	if err != nil {
		return nil, err
	}
	r := &Report{Path: path, KerasVersion: info.KerasVersion, Backend: info.Backend, Groups: groups}
	fw := &fileWeights{version: version, backend: info.Backend, byGroup: map[string][]layers.Weight{}}
	for _, g := range groups {
		fw.names = append(fw.names, g.Name)
		for _, w := range g.Weights {
			fw.byGroup[g.Name] = append(fw.byGroup[g.Name], layers.Weight{Name: w.Name, Shape: w.Shape})
		}
	}
	if r.Backend == "" && fw.keras1() {
		if b := fw.inferBackend(); b != "" {
			r.Backend = b
			r.BackendNote = "inferred from the weight names; Keras 1 files do not record it"
		}
	}
	config := info.ModelConfig
	switch {
	case arch != nil:
		r.Format = "weights with architecture"
		a, err := parseArch(arch)
		if err != nil {
			r.Problems = append(r.Problems, err)
			return r, nil
		}
		config = a.config
		if r.KerasVersion == "" {
			r.KerasVersion = a.kerasVersion
		}
		info.KerasVersion, info.Backend = a.kerasVersion, a.backend
	case config == "":
		r.Format = "weights only"
		r.Problems = append(r.Problems, errWeightsOnly)
		return r, nil
	default:
		r.Format = "full model"
	}
	spec, err := parseModelConfig(config, fw.env(info.KerasVersion, info.Backend))
	if err != nil {
		r.Problems = append(r.Problems, err)
		return r, nil
	}
	r.ModelClass, r.ModelName = spec.class, spec.name
	byName := map[string]*GroupReport{}
	for _, g := range groups {
		byName[g.Name] = g
	}
	r.Layers = r.tree(spec, byName, arch == nil)
	if arch == nil {
		known := map[string]bool{}
		for _, e := range spec.layers {
			known[e.spec.Name] = true
		}
		for _, g := range groups {
			if !known[g.Name] {
				r.Problems = append(r.Problems, fmt.Errorf("model_weights has weights for layer %q, which the model config does not have", g.Name))
			}
		}
	} else {
		// Weights bind by position; without building, only the count of
		// groups with weights can be shown.
		n := len(fw.withWeights())
		if n == 0 {
			r.Problems = append(r.Problems, errors.New("the weights file holds no weights"))
		}
	}
	return r, nil
}

// tree reports the layers of spec (not flattened), decoding each one and
// collecting its problems.
func (r *Report) tree(spec *modelSpec, groups map[string]*GroupReport, top bool) []*LayerReport {
	var out []*LayerReport
	for _, e := range spec.layers {
		if e.input && !spec.listed[e.spec.Name] {
			continue // the implied input of a Sequential model
		}
		lr := &LayerReport{Name: e.spec.Name, Class: e.spec.Class}
		if e.fileClass != "" && e.fileClass != e.spec.Class {
			lr.Class, lr.ReadAs = e.fileClass, e.spec.Class
		}
		if top {
			lr.Group = groups[e.spec.Name]
		}
		if e.input {
			lr.Shape = e.shape
		}
		if e.err != nil {
			lr.Problems = append(lr.Problems, unwrapJoin(e.err)...)
		}
		switch {
		case e.sub != nil:
			lr.Children = r.tree(e.sub, nil, false)
			if lr.Group != nil && distribute(lr.Group, lr.Children) {
				lr.Group = nil
			}
		case !e.input && !e.bad:
			if _, err := e.decode(); err != nil {
				lr.Problems = append(lr.Problems, err)
			}
			for _, key := range []string{"layer", "backward_layer"} {
				if v := e.spec.Config.Get(key); v.IsObject() && v.Get("class_name").Exists() {
					lr.Children = append(lr.Children, &LayerReport{
						Name: v.Get("config.name").String(), Class: v.Get("class_name").String(), Role: key})
				}
			}
		}
		r.Problems = append(r.Problems, lr.Problems...)
		out = append(out, lr)
	}
	return out
}

// distribute hands the weights of a nested model's group to the layers
// they belong to, when the weight names name them all. It reports whether
// it did.
func distribute(g *GroupReport, children []*LayerReport) bool {
	byName := map[string]*LayerReport{}
	var walk func([]*LayerReport)
	walk = func(ls []*LayerReport) {
		for _, l := range ls {
			if l.Role == "" {
				byName[l.Name] = l
			}
			walk(l.Children)
		}
	}
	walk(children)
	names := map[string]bool{}
	for n := range byName {
		names[n] = true
	}
	owners := make([]*LayerReport, len(g.Weights))
	for i, w := range g.Weights {
		o, ok := parseWeightName(w.Name).owner(names)
		if !ok {
			return false
		}
		owners[i] = byName[o]
	}
	for i, w := range g.Weights {
		l := owners[i]
		if l.Group == nil {
			l.Group = &GroupReport{Name: g.Name}
		}
		l.Group.Weights = append(l.Group.Weights, w)
	}
	return true
}

// readMeta reads the root attributes and the weights' metadata (names,
// shapes, dtypes, not the data). weightsOnly finds the weights as
// readFile does for LoadWeights. version is the weights' keras_version.
func readMeta(path string, weightsOnly bool) (info FileInfo, groups []*GroupReport, version string, err error) {
	err = withH5(pathSrc(path), nil, func(root h5group) error {
		info, groups, version, err = readRootMeta(root)
		return err
	})
	return info, groups, version, err
}

// readRootMeta is readMeta for an open file's root group.
func readRootMeta(root h5group) (FileInfo, []*GroupReport, string, error) {
	info, err := rootInfo(root)
	if err != nil {
		return FileInfo{}, nil, "", err
	}
	g := root
	if _, rootNames, _ := root.attrStrings("layer_names"); !rootNames {
		wg, err := root.openGroup("model_weights")
		if err != nil {
			if info.ModelConfig == "" {
				return FileInfo{}, nil, "", errors.New("no model_config, no layer_names and no model_weights group: this is not a Keras file")
			}
			return info, nil, info.KerasVersion, nil
		}
		defer wg.close()
		g = wg
	}
	version, _, _ := attrString(g, "keras_version")
	if version == "" {
		version = info.KerasVersion
	}
	if info.Backend == "" {
		info.Backend, _, _ = attrString(g, "backend")
	}
	if info.KerasVersion == "" {
		info.KerasVersion = version
	}
	names, _, err := g.attrStrings("layer_names")
	if err != nil {
		return FileInfo{}, nil, "", err
	}
	var groups []*GroupReport
	for _, ln := range names {
		lg, err := g.openGroup(ln)
		if err != nil {
			return FileInfo{}, nil, "", fmt.Errorf("layer %q: weight group: %w", ln, err)
		}
		gr, err := groupMeta(lg, ln)
		lg.close()
		if err != nil {
			return FileInfo{}, nil, "", fmt.Errorf("layer %q: %w", ln, err)
		}
		groups = append(groups, gr)
	}
	return info, groups, version, nil
}

func groupMeta(lg h5group, name string) (*GroupReport, error) {
	wn, _, err := lg.attrStrings("weight_names")
	if err != nil {
		return nil, err
	}
	gr := &GroupReport{Name: name}
	for _, w := range wn {
		shape, dtype, err := lg.datasetMeta(w)
		if err != nil {
			return nil, fmt.Errorf("weight %q: %w", w, err)
		}
		gr.Weights = append(gr.Weights, WeightInfo{Name: w, Shape: shape, DType: dtype})
	}
	return gr, nil
}

// inspectKeras3 reports on a Keras 3 file: a .keras archive, or a Keras 3
// .weights.h5 with its architecture. Each top-level layer's group is the
// variables stored under its Keras 3 path.
func inspectKeras3(path string, arch []byte) (*Report, error) {
	r := &Report{Path: path}
	var config, version string
	var store *k3store
	if arch == nil {
		kind, _ := sniff(path)
		if kind != kindZip {
			return nil, errKeras3WeightsOnly
		}
		zr, a, err := openArchive(path)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r.Format = "Keras 3 archive (.keras)"
		config, version = a.config, a.kerasVersion
		if store, err = archiveWeights(a, nil); err != nil {
			return nil, err
		}
	} else {
		r.Format = "Keras 3 weights with architecture"
		a, err := parseArch(arch)
		if err != nil {
			r.Problems = append(r.Problems, err)
			return r, nil
		}
		if store, err = readKeras3Any(path, nil); err != nil {
			return nil, err
		}
		config, version = a.config, a.kerasVersion
		if version == "" {
			version = store.version
		}
	}
	r.KerasVersion = keras3Env(version).KerasVersion
	spec, err := parseModelConfig(config, keras3Env(version))
	if err != nil {
		r.Problems = append(r.Problems, err)
		return r, nil
	}
	paths, err := keras3Paths(config)
	if err != nil {
		r.Problems = append(r.Problems, err)
		return r, nil
	}
	r.ModelClass, r.ModelName = spec.class, spec.name
	groups := map[string]*GroupReport{}
	for _, e := range spec.layers {
		p := paths[e.spec.Name]
		if e.sub != nil {
			p = strings.TrimSuffix(paths[e.spec.Name+"/"], "/")
		}
		if p == "" {
			continue
		}
		g := &GroupReport{Name: p}
		ws := store.under(p)
		if e.sub == nil {
			ws = store.layerWeights(e.spec.Class, e.spec.Config, p) // in binding order
		}
		for _, w := range ws {
			g.Weights = append(g.Weights, WeightInfo{Name: w.Name, Shape: w.Shape, DType: "float32"})
		}
		groups[e.spec.Name] = g
		r.Groups = append(r.Groups, g)
	}
	r.Layers = r.tree(spec, groups, true)
	return r, nil
}
