package importer

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The names are those of Keras 3's naming.to_snake_case (Python's re),
// which names the groups of a Keras 3 weights file.
func TestSnakeCase(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"LSTM", "lstm"}, {"GRU", "gru"}, {"SimpleRNN", "simple_rnn"}, {"Dense", "dense"},
		{"Conv1D", "conv1d"}, {"Conv2DTranspose", "conv2d_transpose"}, {"DepthwiseConv2D", "depthwise_conv2d"},
		{"BatchNormalization", "batch_normalization"}, {"InputLayer", "input_layer"},
		{"MaxPooling1D", "max_pooling1d"}, {"GlobalAveragePooling2D", "global_average_pooling2d"},
		{"TimeDistributed", "time_distributed"}, {"Bidirectional", "bidirectional"},
		{"Functional", "functional"}, {"Sequential", "sequential"}, {"CuDNNLSTM", "cu_dnnlstm"},
		{"EinsumDense", "einsum_dense"}, {"PReLU", "p_re_lu"}, {"ReLU", "re_lu"},
		{"LeakyReLU", "leaky_re_lu"}, {"ThresholdedReLU", "thresholded_re_lu"},
		{"ZeroPadding2D", "zero_padding2d"}, {"UpSampling2D", "up_sampling2d"},
		{"LayerNormalization", "layer_normalization"}, {"MultiHeadAttention", "multi_head_attention"},
		{"HTTPServerX", "http_server_x"}, {"aBcDe", "a_bc_de"}, {"XAbCd", "x_ab_cd"}, {"My-Layer2", "my_layer2"},
	} {
		if got := snakeCase(c.in); got != c.want {
			t.Errorf("snakeCase(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestKeras3Paths(t *testing.T) {
	for _, c := range []struct {
		name, config string
		want         map[string]string
	}{
		{"sequential leaves out its InputLayer; keys follow classes, not names",
			`{"class_name": "Sequential", "config": {"name": "s", "layers": [
				{"class_name": "InputLayer", "config": {"name": "in"}},
				{"class_name": "Dense", "config": {"name": "zz"}},
				{"class_name": "LSTM", "config": {"name": "mid"}},
				{"class_name": "Dense", "config": {"name": "aa"}}]}}`,
			map[string]string{"zz": "layers/dense", "mid": "layers/lstm", "aa": "layers/dense_1"}},
		{"functional keeps its InputLayers and skips keras.ops operations",
			`{"class_name": "Functional", "config": {"name": "f", "layers": [
				{"class_name": "InputLayer", "name": "in", "config": {"name": "in"}},
				{"module": "keras.src.ops.numpy", "class_name": "NotEqual", "name": "ne", "config": {"name": "ne"}},
				{"module": "keras.layers", "class_name": "InputLayer", "name": "in2", "config": {"name": "in2"}},
				{"class_name": "LSTM", "name": "dec", "config": {"name": "dec"}}]}}`,
			map[string]string{"in": "layers/input_layer", "in2": "layers/input_layer_1", "dec": "layers/lstm"}},
		{"nested models have their own layers",
			`{"class_name": "Sequential", "config": {"name": "s", "layers": [
				{"class_name": "Sequential", "config": {"name": "inner", "layers": [
					{"class_name": "InputLayer", "config": {"name": "i"}},
					{"class_name": "Dense", "config": {"name": "d"}}]}},
				{"class_name": "Functional", "config": {"name": "fn", "layers": [
					{"class_name": "InputLayer", "name": "fi", "config": {"name": "fi"}},
					{"class_name": "Dense", "name": "fd", "config": {"name": "fd"}}]}},
				{"class_name": "Dense", "config": {"name": "top"}}]}}`,
			map[string]string{"inner/": "layers/sequential", "inner/d": "layers/sequential/layers/dense",
				"fn/": "layers/functional", "fn/fi": "layers/functional/layers/input_layer",
				"fn/fd": "layers/functional/layers/dense", "top": "layers/dense"}},
	} {
		got, err := keras3Paths(c.config)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.want)
		}
	}
}

// k3var is one dataset of a Keras 3 weights file written by writeK3.
type k3var struct {
	path  string // e.g. "layers/dense/vars/0"
	shape []uint
}

// twoDense is the config of a Sequential model of two Dense layers (4 -> 3
// -> 2) as Keras 3 writes it.
const twoDense = `{"module": "keras", "class_name": "Sequential", "config": {"name": "seq", "layers": [
	{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4], "dtype": "float32", "name": "input_layer"}},
	{"module": "keras.layers", "class_name": "Dense", "config": {"name": "hidden", "units": 3, "activation": "relu", "use_bias": true}},
	{"module": "keras.layers", "class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "linear", "use_bias": true}}]}}`

var twoDenseVars = []k3var{
	{"layers/dense/vars/0", []uint{4, 3}}, {"layers/dense/vars/1", []uint{3}},
	{"layers/dense_1/vars/0", []uint{3, 2}}, {"layers/dense_1/vars/1", []uint{2}},
}

// writeArchive writes a zip of the given entries, stored.
func writeArchive(t testing.TB, path string, entries map[string][]byte, order ...string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range order {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(entries[name])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestKeras3WeightsBinding(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		vars    []k3var
		groups  []string
		wantErr []string
	}{
		{"every variable bound", append(twoDenseVars, k3var{"optimizer/vars/0", []uint{4, 3}}), []string{"vars"}, nil},
		{"a variable no layer takes", append(twoDenseVars, k3var{"layers/dense_1/vars/2", []uint{2}}), nil,
			[]string{"layers/dense_1/vars/2", "not used"}},
		{"a layer of a class the model does not have", append(twoDenseVars, k3var{"layers/lstm/cell/vars/0", []uint{2}}), nil,
			[]string{"layers/lstm/cell/vars/0"}},
		{"a layer without its variables", twoDenseVars[:2], []string{"layers/dense_1/vars"},
			[]string{`"out"`, "layers/dense_1"}},
		{"variables out of shape", []k3var{twoDenseVars[0], twoDenseVars[1], {"layers/dense_1/vars/0", []uint{2, 3}}, twoDenseVars[3]}, nil,
			[]string{`"out"`, "shape"}},
		{"the model's own variables", append(twoDenseVars, k3var{"vars/0", []uint{1}}), nil,
			[]string{`own "vars"`}},
		{"a dataset outside vars", append(twoDenseVars, k3var{"layers/dense/kernel", []uint{1}}), nil,
			[]string{"layers/dense/kernel", "outside"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wpath := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".weights.h5")
			writeK3(t, wpath, c.vars, c.groups...)
			_, werr := LoadWeights([]byte(twoDense), wpath, nil)
			meta := []byte(`{"keras_version": "3.13.2", "date_saved": "2026-12-07@12:00:00"}`)
			wb, err := os.ReadFile(wpath)
			if err != nil {
				t.Fatal(err)
			}
			apath := strings.TrimSuffix(wpath, ".weights.h5") + ".keras"
			writeArchive(t, apath, map[string][]byte{"metadata.json": meta, "config.json": []byte(twoDense), "model.weights.h5": wb},
				"metadata.json", "config.json", "model.weights.h5")
			_, aerr := Load(apath, nil)
			for form, err := range map[string]error{".weights.h5 with its architecture": werr, ".keras": aerr} {
				if c.wantErr == nil {
					if err != nil {
						t.Errorf("%s: %v", form, err)
					}
					continue
				}
				if err == nil {
					t.Errorf("%s: loaded; want an error mentioning %q", form, c.wantErr)
					continue
				}
				for _, part := range c.wantErr {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("%s: error %q does not mention %q", form, err, part)
					}
				}
			}
		})
	}
}

// TestArchiveTempRemoved: the weights of a .keras archive are read from a
// private temporary file that is gone once the load returns, whether it
// succeeds or fails, and nothing is written beside the user's file.
func TestArchiveTempRemoved(t *testing.T) {
	user := t.TempDir()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	wpath := filepath.Join(tmp, "w.weights.h5")
	writeK3(t, wpath, twoDenseVars)
	wb, err := os.ReadFile(wpath)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(wpath)
	good := filepath.Join(user, "good.keras")
	writeArchive(t, good, map[string][]byte{"config.json": []byte(twoDense), "model.weights.h5": wb}, "config.json", "model.weights.h5")
	bad := filepath.Join(user, "bad.keras")
	writeArchive(t, bad, map[string][]byte{"config.json": []byte(strings.Replace(twoDense, `"units": 2`, `"units": 5`, 1)), "model.weights.h5": wb},
		"config.json", "model.weights.h5")
	if _, err := Load(good, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, nil); err == nil {
		t.Fatal("a model whose Dense has 5 units loaded 2-unit weights")
	}
	if _, err := Inspect(good); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{tmp, user} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if e.Name() != "good.keras" && e.Name() != "bad.keras" {
				t.Errorf("%s left in %s", e.Name(), d)
			}
		}
	}
}

func TestArchiveRefused(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "w.weights.h5")
	writeK3(t, weights, twoDenseVars)
	wb, err := os.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	cfg := []byte(twoDense)
	many := map[string][]byte{"config.json": cfg}
	manyOrder := []string{"config.json"}
	for i := 0; i < maxArchiveEntries; i++ {
		n := fmt.Sprintf("assets/f%d", i)
		many[n] = nil
		manyOrder = append(manyOrder, n)
	}
	for _, c := range []struct {
		name    string
		entries map[string][]byte
		order   []string
		want    string
	}{
		{"path traversal", map[string][]byte{"config.json": cfg, "model.weights.h5": wb, "../evil.txt": nil},
			[]string{"config.json", "model.weights.h5", "../evil.txt"}, "unsafe path"},
		{"absolute path", map[string][]byte{"config.json": cfg, "/etc/x": nil}, []string{"config.json", "/etc/x"}, "unsafe path"},
		{"two entries of one name", map[string][]byte{"config.json": cfg}, []string{"config.json", "config.json"}, "two entries"},
		{"deeply nested", map[string][]byte{"config.json": cfg, strings.Repeat("d/", 40) + "f": nil},
			[]string{"config.json", strings.Repeat("d/", 40) + "f"}, "folders deep"},
		{"too many entries", many, manyOrder, "entries"},
		{"not a Keras archive", map[string][]byte{"readme.txt": []byte("hi")}, []string{"readme.txt"}, "not a Keras 3"},
		{"no weights", map[string][]byte{"config.json": cfg, "metadata.json": []byte(`{"keras_version": "3.8.0"}`)},
			[]string{"metadata.json", "config.json"}, "without weights"},
		{"weights without config", map[string][]byte{"model.weights.h5": wb}, []string{"model.weights.h5"}, "no config.json"},
		{"npz weights", map[string][]byte{"config.json": cfg, "model.weights.npz": []byte("x")},
			[]string{"config.json", "model.weights.npz"}, "model.weights.npz"},
		{"weights not HDF5", map[string][]byte{"config.json": cfg, "model.weights.h5": make([]byte, 4096)},
			[]string{"config.json", "model.weights.h5"}, "not an HDF5 file"},
		{"config not JSON", map[string][]byte{"config.json": []byte("{"), "model.weights.h5": wb},
			[]string{"config.json", "model.weights.h5"}, "JSON"},
		{"config nested too deep", map[string][]byte{"config.json": []byte(strings.Repeat("[", 100000)), "model.weights.h5": wb},
			[]string{"config.json", "model.weights.h5"}, "config.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".keras")
			writeArchive(t, p, c.entries, c.order...)
			_, err := Load(p, nil)
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if r, ierr := Inspect(p); ierr == nil && r.Supported() {
				t.Error("Inspect found no problem")
			}
		})
	}
}

// TestArchiveEntryBound: an archive member is read up to its limit, both as
// declared and as it inflates (archive/zip stops a member at its declared
// size).
func TestArchiveEntryBound(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "config.json", Method: zip.Deflate})
	w.Write(bytes.Repeat([]byte(" "), 1<<20))
	zw.Close()
	f := mustZip(t, buf.Bytes()).File[0]
	if _, err := readEntry(f, 1<<10); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("a 1 MiB member read with a 1 KiB limit: err = %v", err)
	}
	f.UncompressedSize64 = 100 // a member that lies about its size
	if _, err := readEntry(f, 1<<10); err == nil {
		t.Error("a member that inflates past its declared size was read")
	}
	if b, err := readEntry(mustZip(t, buf.Bytes()).File[0], 2<<20); err != nil || len(b) != 1<<20 {
		t.Errorf("within the limit: %d bytes, %v", len(b), err)
	}
}

func mustZip(t *testing.T, b []byte) *zip.Reader {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

func TestSniffTellsWhatAFileIs(t *testing.T) {
	dir := t.TempDir()
	sm := filepath.Join(dir, "saved")
	os.Mkdir(sm, 0o755)
	os.WriteFile(filepath.Join(sm, "saved_model.pb"), []byte("\x08\x01"), 0o644)
	pb := filepath.Join(dir, "frozen.pb")
	os.WriteFile(pb, []byte("\x0a\x05hello"), 0o644)
	ckpt := filepath.Join(dir, "model.ckpt.index")
	os.WriteFile(ckpt, []byte("\x00\x01\x02"), 0o644)
	for path, want := range map[string]string{sm: "SavedModel", pb: "protocol buffer", ckpt: "checkpoint"} {
		_, err := Load(path, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `model.save("model.keras")`) {
			t.Errorf("%s: %v; want an error naming a %s and how to save a Keras file", path, err, want)
		}
	}
	w := filepath.Join(dir, "w.weights.h5")
	writeK3(t, w, twoDenseVars)
	if _, err := Load(w, nil); !errors.Is(err, errKeras3WeightsOnly) {
		t.Errorf("a Keras 3 .weights.h5 without architecture: %v", err)
	}
	if _, err := Inspect(w); !errors.Is(err, errKeras3WeightsOnly) {
		t.Errorf("Inspect of a Keras 3 .weights.h5 without architecture: %v", err)
	}
}

// FuzzArchive runs Load and Inspect over mutated .keras archives: whatever
// the bytes, they return a model or an error naming the file, and a model
// that loads runs.
func FuzzArchive(f *testing.F) {
	dir := f.TempDir()
	wpath := filepath.Join(dir, "seed.weights.h5")
	writeK3(f, wpath, twoDenseVars)
	wb, err := os.ReadFile(wpath)
	if err != nil {
		f.Fatal(err)
	}
	apath := filepath.Join(dir, "seed.keras")
	writeArchive(f, apath, map[string][]byte{"metadata.json": []byte(`{"keras_version": "3.13.2"}`), "config.json": []byte(twoDense), "model.weights.h5": wb},
		"metadata.json", "config.json", "model.weights.h5")
	seed, err := os.ReadFile(apath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		loadFuzzed(t, filepath.Join(dir, "fuzz.keras"), data)
	})
}
