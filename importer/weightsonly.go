package importer

import (
	"errors"
	"fmt"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

// archInfo is the architecture JSON of model.to_json(): the model config
// with the keras_version and backend that wrote it.
type archInfo struct {
	config       string // {"class_name", "config"}
	kerasVersion string
	backend      string
}

// parseArch reads an architecture JSON document.
func parseArch(arch []byte) (archInfo, error) {
	if err := checkJSONDepth("architecture", string(arch)); err != nil {
		return archInfo{}, err
	}
	if !gjson.ValidBytes(arch) {
		return archInfo{}, corrupt(errors.New("architecture: not valid JSON"))
	}
	root := gjson.ParseBytes(arch)
	if !root.IsObject() || !root.Get("class_name").Exists() {
		return archInfo{}, errors.New("architecture: want a JSON object {\"class_name\", \"config\"} as model.to_json() writes it")
	}
	return archInfo{
		config:       root.Raw,
		kerasVersion: root.Get("keras_version").String(),
		backend:      root.Get("backend").String(),
	}, nil
}

// LoadWeights builds a model from its architecture JSON (model.to_json())
// and a weights file (model.save_weights("w.h5"); a full model file is
// accepted too, and its own model_config is then not used).
//
// Keras: load_weights binds weights by position: the layers of the
// architecture that have weights, in model order, take the layers of the
// weights file that have weights, in file order, whatever their names. The
// counts must match.
func LoadWeights(arch []byte, weightsPath string, opts *Options) (*runtime.Model, error) {
	m, err := loadWeights(arch, weightsPath, opts)
	if err != nil {
		return nil, fmt.Errorf("importer: %s: %w", weightsPath, err)
	}
	return m, nil
}

func loadWeights(arch []byte, weightsPath string, opts *Options) (*runtime.Model, error) {
	a, err := parseArch(arch)
	if err != nil {
		return nil, err
	}
	store, err := readKeras3Any(weightsPath, opts)
	if err != nil {
		return nil, err
	}
	if store != nil {
		version := a.kerasVersion
		if version == "" {
			version = store.version
		}
		return buildKeras3(a.config, version, store, opts)
	}
	_, fw, err := readFile(weightsPath, opts, true)
	if err != nil {
		return nil, err
	}
	return buildPositional(a, fw, opts)
}

// buildPositional builds the architecture a with the legacy weights fw,
// bound by position as Keras's load_weights binds them.
func buildPositional(a archInfo, fw *fileWeights, opts *Options) (*runtime.Model, error) {
	spec, err := parseModelConfig(a.config, archEnv(a, fw))
	if err != nil {
		return nil, fmt.Errorf("architecture: %w", err)
	}
	return build(spec, newBinder(fw, true), opts)
}

// archEnv is the Env of a model given as architecture plus weights: the
// architecture's keras_version describes the configs, the weights file's
// the weights.
func archEnv(a archInfo, fw *fileWeights) layers.Env {
	return fw.env(a.kerasVersion, a.backend)
}

// readKeras3Any reads the variables of a weights file in a Keras 3
// form: a .weights.h5, or a .keras archive whose own config is then not
// used. It returns nil for a file in the legacy layout.
func readKeras3Any(p string, opts *Options) (*k3store, error) {
	kind, err := sniff(p)
	if err != nil {
		return nil, err
	}
	if kind == kindZip {
		zr, a, err := openArchive(p)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		store, err := archiveWeights(a, opts)
		if store != nil {
			store.version = a.kerasVersion
		}
		return store, err
	}
	if k3, err := hasKeras3Layout(p, opts); err != nil || !k3 {
		return nil, err
	}
	return readKeras3File(pathSrc(p), opts)
}
