package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
)

const python = "/usr/bin/python3"

// h5Weight is one dataset of a test file: float32 values 0.01*i.
type h5Weight struct {
	Name  string `json:"name"` // the weight_names entry, e.g. "dense_1/kernel:0"
	Shape []int  `json:"shape"`
}

// h5Layer is one group under model_weights.
type h5Layer struct {
	Name    string     `json:"name"`
	Weights []h5Weight `json:"weights"`
}

// h5File describes a Keras 2.2.4 style model file for writeH5.
type h5File struct {
	Path        string    `json:"path"`
	ModelConfig *string   `json:"model_config"` // nil: no attribute
	Layers      []h5Layer `json:"layers"`
}

// h5Writer writes the files in the Keras 2.2.4 model.save() layout, with
// fixed-length byte-string attributes, as Keras 2.2.4 did.
const h5Writer = `
import json, sys
import h5py
import numpy as np

def names(xs):
    if not xs:
        return np.array([], dtype=np.float64)  # what Keras writes for no weights
    return np.array([x.encode("utf8") for x in xs])

for spec in json.load(sys.stdin):
    with h5py.File(spec["path"], "w") as f:
        f.attrs["keras_version"] = np.bytes_(b"2.2.4")
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        if spec["model_config"] is not None:
            f.attrs["model_config"] = np.bytes_(spec["model_config"].encode("utf8"))
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = names([l["name"] for l in spec["layers"] or []])
        g.attrs["keras_version"] = np.bytes_(b"2.2.4")
        g.attrs["backend"] = np.bytes_(b"tensorflow")
        for l in spec["layers"] or []:
            lg = g.create_group(l["name"])
            lg.attrs["weight_names"] = names([w["name"] for w in l["weights"] or []])
            for w in l["weights"] or []:
                n = int(np.prod(w["shape"]))
                lg.create_dataset(w["name"], data=(0.01 * np.arange(n, dtype=np.float32)).reshape(w["shape"]))
`

// needH5py skips the test when h5py is missing, except under CI=true,
// where it fails.
func needH5py(t *testing.T) {
	t.Helper()
	h5pyOnce.Do(func() {
		out, err := exec.Command(python, "-c", "import h5py").CombinedOutput()
		if err != nil {
			h5pyErr = fmt.Errorf("%s cannot import h5py: %v\n%s", python, err, out)
		}
	})
	if h5pyErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true)", h5pyErr)
		}
		t.Skip(h5pyErr)
	}
}

var (
	h5pyOnce sync.Once
	h5pyErr  error
)

// writeH5 writes every file with one Python run.
func writeH5(t *testing.T, files ...h5File) {
	t.Helper()
	needH5py(t)
	js, err := json.Marshal(files)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", h5Writer)
	cmd.Stdin = bytes.NewReader(js)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writing test files with h5py: %v\n%s", err, out)
	}
}

func strp(s string) *string { return &s }

// denseLayerJSON is a Keras 2.2.4 Dense config; extra is spliced in.
func denseLayerJSON(name string, units int, bis, extra string) string {
	cfg := `{"name": "` + name + `", "trainable": true, "units": ` + strconv.Itoa(units) + `, "activation": "linear", "use_bias": true` + extra
	if bis != "" {
		cfg += `, "batch_input_shape": ` + bis + `, "dtype": "float32"`
	}
	return `{"class_name": "Dense", "config": ` + cfg + `}}`
}

func sequential(layersJSON ...string) string {
	return `{"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [` + strings.Join(layersJSON, ", ") + `]}}`
}

func denseWeights(name string, kernel ...int) h5Layer {
	return h5Layer{Name: name, Weights: []h5Weight{
		{Name: name + "/kernel:0", Shape: kernel},
		{Name: name + "/bias:0", Shape: []int{kernel[1]}},
	}}
}

// wantMessage checks that err is non-nil, names path and contains every
// part (case-insensitive).
func wantMessage(t *testing.T, err error, path string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error; want one mentioning %q", path, parts)
	}
	msg := err.Error()
	if path != "" && !strings.Contains(msg, path) {
		t.Errorf("error %q does not name the file %s", msg, path)
	}
	for _, p := range parts {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(p)) {
			t.Errorf("error %q does not mention %q", msg, p)
		}
	}
}

// TestLoadNotHDF5 checks files that are not HDF5 at all.
func TestLoadNotHDF5(t *testing.T) {
	dir := t.TempDir()
	random := filepath.Join(dir, "random.h5")
	buf := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(buf)
	empty := filepath.Join(dir, "empty.h5")
	// The HDF5 signature followed by garbage: the superblock precheck
	// rejects it.
	badSuper := filepath.Join(dir, "bad_superblock.h5")
	for path, data := range map[string][]byte{
		random:   buf,
		empty:    nil,
		badSuper: append([]byte("\x89HDF\r\n\x1a\n"), buf...),
	} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		path  string
		parts []string
	}{
		{random, []string{"not an HDF5 file"}},
		{empty, []string{"not an HDF5 file", "empty"}},
		{badSuper, []string{"corrupt HDF5 file", "superblock"}},
		{filepath.Join("..", "fixtures", "not_hdf5", "model.h5"), []string{"not an HDF5 file"}},
	} {
		m, err := Load(tc.path, nil)
		if m != nil {
			t.Errorf("%s: Load returned a model with the error", tc.path)
		}
		wantMessage(t, err, tc.path, tc.parts...)
	}
}

// TestLoadMissingFile checks that a path that does not exist gives an error
// that names it and matches fs.ErrNotExist.
func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.h5")
	_, err := Load(path, nil)
	wantMessage(t, err, path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q does not match fs.ErrNotExist", err)
	}
	dir := t.TempDir()
	_, err = Load(dir, nil)
	wantMessage(t, err, dir, "not a regular file")
}

// TestLoadBadModelConfig checks files whose model_config is missing or not
// a model.
func TestLoadBadModelConfig(t *testing.T) {
	dir := t.TempDir()
	files := []h5File{
		{Path: filepath.Join(dir, "no_config.h5"), Layers: []h5Layer{denseWeights("dense_1", 4, 3)}},
		{Path: filepath.Join(dir, "not_json.h5"), ModelConfig: strp(`{"class_name": "Sequential", "config": {`), Layers: []h5Layer{denseWeights("dense_1", 4, 3)}},
		{Path: filepath.Join(dir, "not_object.h5"), ModelConfig: strp(`[1, 2, 3]`), Layers: []h5Layer{denseWeights("dense_1", 4, 3)}},
		{Path: filepath.Join(dir, "model_class.h5"), ModelConfig: strp(`{"class_name": "Bogus", "config": {}}`)},
	}
	writeH5(t, files...)
	for _, tc := range []struct {
		path  string
		parts []string
	}{
		{files[0].Path, []string{"model_config"}},
		{files[1].Path, []string{"model_config", "JSON"}},
		{files[2].Path, []string{"model_config", "object"}},
		{files[3].Path, []string{"model_config", "Bogus"}},
		{filepath.Join("..", "fixtures", "no_model_config", "model.h5"), []string{"model_config"}},
		{filepath.Join("..", "fixtures", "not_json", "model.h5"), []string{"model_config"}},
	} {
		_, err := Load(tc.path, nil)
		wantMessage(t, err, tc.path, tc.parts...)
	}
}

// TestLoadReportsEveryUnsupportedLayer checks that one error lists every
// unknown class and every bad option at once, each with its layer.
func TestLoadReportsEveryUnsupportedLayer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "unsupported.h5")
	cfg := sequential(
		denseLayerJSON("dense_1", 3, "[null, 4]", `, "frobnicate": 7`),
		`{"class_name": "FooBar", "config": {"name": "foo_bar_1", "trainable": true, "alpha": 0.5}}`,
		`{"class_name": "BazQux", "config": {"name": "baz_qux_1", "trainable": true}}`,
	)
	writeH5(t, h5File{Path: path, ModelConfig: &cfg, Layers: []h5Layer{
		denseWeights("dense_1", 4, 3),
		{Name: "foo_bar_1"},
		{Name: "baz_qux_1"},
	}})
	_, err := Load(path, nil)
	wantMessage(t, err, path, "dense_1", "Dense", "frobnicate", "foo_bar_1", "FooBar", "baz_qux_1", "BazQux")
	if !errors.Is(err, layers.ErrUnsupported) {
		t.Errorf("error %q does not wrap layers.ErrUnsupported", err)
	}
	// Each problem is its own *LayerError inside the joined error.
	found := map[string]string{}
	var walk func(error)
	walk = func(e error) {
		if le, ok := e.(*layers.LayerError); ok {
			found[le.Layer] = le.Class
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	for layer, class := range map[string]string{"dense_1": "Dense", "foo_bar_1": "FooBar", "baz_qux_1": "BazQux"} {
		if found[layer] != class {
			t.Errorf("no *layers.LayerError for %s (%s) in %q (found %v)", layer, class, err, found)
		}
	}
}

// TestLoadWeightErrors checks errors about stored weights: each names the
// file, the layer, its class, the weight and the shapes.
func TestLoadWeightErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := sequential(denseLayerJSON("dense_1", 3, "[null, 4]", ""))
	files := []h5File{
		// kernel stored [4, 2] for units=3.
		{Path: filepath.Join(dir, "wrong_shape.h5"), ModelConfig: &cfg, Layers: []h5Layer{denseWeights("dense_1", 4, 2)}},
		// no bias.
		{Path: filepath.Join(dir, "missing.h5"), ModelConfig: &cfg, Layers: []h5Layer{{Name: "dense_1", Weights: []h5Weight{{Name: "dense_1/kernel:0", Shape: []int{4, 3}}}}}},
		// a third weight.
		{Path: filepath.Join(dir, "extra.h5"), ModelConfig: &cfg, Layers: []h5Layer{{Name: "dense_1", Weights: []h5Weight{
			{Name: "dense_1/kernel:0", Shape: []int{4, 3}}, {Name: "dense_1/bias:0", Shape: []int{3}}, {Name: "dense_1/gamma:0", Shape: []int{3}},
		}}}},
		// weights for a layer the config does not have.
		{Path: filepath.Join(dir, "ghost.h5"), ModelConfig: &cfg, Layers: []h5Layer{denseWeights("dense_1", 4, 3), denseWeights("ghost_1", 3, 3)}},
	}
	writeH5(t, files...)
	for _, tc := range []struct {
		path  string
		parts []string
	}{
		{files[0].Path, []string{"dense_1", "Dense", "kernel", "[4 3]", "[4 2]"}},
		{files[1].Path, []string{"dense_1", "Dense", "bias", "missing"}},
		{files[2].Path, []string{"dense_1", "Dense", "dense_1/gamma:0"}},
		{files[3].Path, []string{"ghost_1"}},
	} {
		_, err := Load(tc.path, nil)
		wantMessage(t, err, tc.path, tc.parts...)
	}
}

// TestPredictWrongInputShape checks the error for an input of the wrong
// shape on a loaded model: it names the model input and its Keras shape.
func TestPredictWrongInputShape(t *testing.T) {
	m, err := Load(filepath.Join("..", "fixtures", "dense_rank2", "model.h5"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Predict(runtime.Zeros(2, 6))
	wantMessage(t, err, "", "dense_1_input", "(None, 5)", "[2 6]")
	_, err = m.Predict(runtime.Zeros(2, 5, 1))
	wantMessage(t, err, "", "dense_1_input", "(None, 5)")
	_, err = m.Predict()
	wantMessage(t, err, "", "dense_1_input")
	if _, err := m.Predict(runtime.Zeros(3, 5)); err != nil {
		t.Errorf("a [3 5] input: %v", err)
	}
}

// TestLoadClosesEveryHandle loads every fixture, ok or failing, and some
// broken files, and checks that libhdf5's count of open objects is back
// where it started after each one.
func TestLoadClosesEveryHandle(t *testing.T) {
	cases, err := golden.Load(filepath.Join("..", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, 0, len(cases)+3)
	for _, c := range cases {
		paths = append(paths, c.Model())
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.h5")
	badSuper := filepath.Join(dir, "bad_superblock.h5")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badSuper, append([]byte("\x89HDF\r\n\x1a\n"), make([]byte, 2048)...), 0o644); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, empty, badSuper, filepath.Join(dir, "missing.h5"))

	before := openObjects()
	failed := 0
	for _, p := range paths {
		if _, err := Load(p, nil); err != nil {
			failed++
		}
		if now := openObjects(); now != before {
			t.Errorf("after Load(%s): %d HDF5 objects open, %d before", p, now, before)
			before = now
		}
	}
	// The check must have covered failing loads too.
	if failed < 8 {
		t.Errorf("only %d of %d loads failed; the fixtures should include at least 8 error cases", failed, len(paths))
	}
}
