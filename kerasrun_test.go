package kerasrun_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kerasrun/kerasrun"
	"github.com/kerasrun/kerasrun/layers"
)

// fixtureFS is the fixtures folder of the repository.
var fixtureFS = os.DirFS("fixtures")

// privateTemp points os.TempDir at a fresh folder for the test and
// returns a function that fails the test when anything is left in it.
func privateTemp(t *testing.T) func() {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return func() {
		t.Helper()
		left, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range left {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// checkPredicts runs m on the case's input_0.npy and compares the first
// output with expected_0.npy (from the numpy reference) within 1e-5.
func checkPredicts(t *testing.T, m *kerasrun.Model, dir string) {
	t.Helper()
	out, err := m.Predict(readNPY(filepath.Join("fixtures", dir, "input_0.npy")))
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(out[0], readNPY(filepath.Join("fixtures", dir, "expected_0.npy"))); d > 1e-5 {
		t.Errorf("%s: max abs error %g against the reference", dir, d)
	}
}

// memFS holds name's bytes in an fstest.MapFS, whose files are not
// io.ReaderAt: LoadFS then reads them into memory.
func memFS(t *testing.T, name string) fs.FS {
	t.Helper()
	b, err := fs.ReadFile(fixtureFS, name)
	if err != nil {
		t.Fatal(err)
	}
	return fstest.MapFS{"m": &fstest.MapFile{Data: b}}
}

func TestLoadFSAndReader(t *testing.T) {
	for _, tc := range []struct{ dir, file string }{
		{"example", "model.h5"},
		{"k4_seq_dense", "model.keras"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			name := tc.dir + "/" + tc.file
			defer privateTemp(t)()
			m, err := kerasrun.LoadFS(fixtureFS, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkPredicts(t, m, tc.dir)

			m, err = kerasrun.LoadFS(memFS(t, name), "m", nil)
			if err != nil {
				t.Fatal(err)
			}
			checkPredicts(t, m, tc.dir)

			b, err := fs.ReadFile(fixtureFS, name)
			if err != nil {
				t.Fatal(err)
			}
			m, err = kerasrun.LoadReader(bytes.NewReader(b), int64(len(b)), nil)
			if err != nil {
				t.Fatal(err)
			}
			checkPredicts(t, m, tc.dir)
		})
	}
}

func TestLoadWeightsFS(t *testing.T) {
	for _, tc := range []struct{ dir, weights string }{
		{"f3_wo_keras2_sequential", "model.h5"}, // Keras 2 weights, bound by position
		{"k4_weights_arch", "model.weights.h5"}, // Keras 3 .weights.h5
	} {
		t.Run(tc.dir, func(t *testing.T) {
			defer privateTemp(t)()
			arch, err := fs.ReadFile(fixtureFS, tc.dir+"/arch.json")
			if err != nil {
				t.Fatal(err)
			}
			m, err := kerasrun.LoadWeightsFS(arch, fixtureFS, tc.dir+"/"+tc.weights, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkPredicts(t, m, tc.dir)

			b, err := fs.ReadFile(fixtureFS, tc.dir+"/"+tc.weights)
			if err != nil {
				t.Fatal(err)
			}
			m, err = kerasrun.LoadWeightsReader(arch, bytes.NewReader(b), int64(len(b)), nil)
			if err != nil {
				t.Fatal(err)
			}
			checkPredicts(t, m, tc.dir)
		})
	}
}

// TestLoadReaderShortReader checks that a reader holding fewer bytes than
// its declared size is refused as corrupt, and leaves no file behind.
func TestLoadReaderShortReader(t *testing.T) {
	defer privateTemp(t)()
	b, err := fs.ReadFile(fixtureFS, "example/model.h5")
	if err != nil {
		t.Fatal(err)
	}
	_, err = kerasrun.LoadReader(bytes.NewReader(b[:len(b)/2]), int64(len(b)), nil)
	if !errors.Is(err, kerasrun.ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}

// TestLoadErrorClasses checks that every class of load error is told apart
// with errors.Is and errors.As, and that no load error is internal.
func TestLoadErrorClasses(t *testing.T) {
	example, err := fs.ReadFile(fixtureFS, "example/model.h5")
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string, opts *kerasrun.Options) func() error {
		return func() error { _, err := kerasrun.Load(filepath.Join("fixtures", name), opts); return err }
	}
	fromBytes := func(b []byte) func() error {
		return func() error { _, err := kerasrun.LoadReader(bytes.NewReader(b), int64(len(b)), nil); return err }
	}
	for _, tc := range []struct {
		name   string
		load   func() error
		class  error
		option string // for ErrLimit
		words  string // a part of the message that must stay
	}{
		{"not HDF5", load("not_hdf5/model.h5", nil), kerasrun.ErrCorrupt, "", "not an HDF5 file"},
		{"bad JSON", load("not_json/model.h5", nil), kerasrun.ErrCorrupt, "", "model_config"},
		{"truncated", fromBytes(example[:len(example)-100]), kerasrun.ErrCorrupt, "", "truncated"},
		{"not Keras zip", load("k4_err_not_keras_zip/model.keras", nil), kerasrun.ErrCorrupt, "", "not a Keras 3"},
		{"unsupported", load("f3_k3_unsupported_all/model.h5", nil), kerasrun.ErrUnsupported, "", "mixed_float16"},
		{"layers", load("example/model.h5", &kerasrun.Options{MaxLayers: 2}), kerasrun.ErrLimit, "MaxLayers", "MaxLayers"},
		{"elements", load("example/model.h5", &kerasrun.Options{MaxTensorElements: 10}), kerasrun.ErrLimit, "MaxTensorElements", "MaxTensorElements"},
		{"bytes", load("example/model.h5", &kerasrun.Options{MaxWeightBytes: 100}), kerasrun.ErrLimit, "MaxWeightBytes", "MaxWeightBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load()
			if !errors.Is(err, tc.class) {
				t.Fatalf("got %v, want an error matching %v", err, tc.class)
			}
			for _, other := range []error{kerasrun.ErrCorrupt, kerasrun.ErrUnsupported, kerasrun.ErrLimit, kerasrun.ErrInvalidInput, kerasrun.ErrInternal} {
				if other != tc.class && errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
			if !strings.Contains(err.Error(), tc.words) {
				t.Errorf("message %q does not say %q", err, tc.words)
			}
			if tc.option != "" {
				var le *kerasrun.LimitError
				if !errors.As(err, &le) || le.Option != tc.option {
					t.Errorf("got %#v, want a *LimitError for %s", le, tc.option)
				}
			}
		})
	}
	_, err = kerasrun.Load("fixtures/no_such_model.h5", nil)
	if !errors.Is(err, fs.ErrNotExist) || kerasrun.IsInternal(err) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
	_, err = kerasrun.LoadFS(fixtureFS, "no_such_model.h5", nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFS of a missing file: got %v, want fs.ErrNotExist", err)
	}
}

// TestPredictErrorClasses checks the input errors of a loaded model, an
// Embedding's token ids among them.
func TestPredictErrorClasses(t *testing.T) {
	m, err := kerasrun.Load("fixtures/embedding/model.h5", nil)
	if err != nil {
		t.Fatal(err)
	}
	in := m.Inputs()[0].Name
	ids := func(v ...float32) *kerasrun.Tensor {
		x, err := kerasrun.NewTensor([]int{1, 6}, v)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, tc := range []struct {
		name   string
		inputs []*kerasrun.Tensor
		input  string
		words  string
	}{
		{"count", nil, "", "model takes 1 input"},
		{"nil", []*kerasrun.Tensor{nil}, in, "nil"},
		{"shape", []*kerasrun.Tensor{readNPY("fixtures/example/input_0.npy")}, in, "rank"},
		{"fraction", []*kerasrun.Tensor{ids(1, 2, 3, 4, 5, 2.5)}, in, "2.5"},
		{"out of range", []*kerasrun.Tensor{ids(1, 2, 3, 4, 5, 10)}, in, "token id 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Predict(tc.inputs...)
			var ie *kerasrun.InputError
			if !errors.Is(err, kerasrun.ErrInvalidInput) || !errors.As(err, &ie) || kerasrun.IsInternal(err) {
				t.Fatalf("got %v, want an *InputError", err)
			}
			if ie.Input != tc.input || !strings.Contains(err.Error(), tc.words) {
				t.Errorf("got input %q, message %q; want input %q and %q", ie.Input, err, tc.input, tc.words)
			}
		})
	}
	if _, err := kerasrun.NewTensor([]int{2, 3}, make([]float32, 5)); !errors.Is(err, kerasrun.ErrInvalidInput) {
		t.Errorf("NewTensor: got %v, want ErrInvalidInput", err)
	}
}

// panicConfig builds a layer that panics, standing for a layer bug.
type panicConfig struct{ name string }

func (c panicConfig) Build(in [][]int, w *layers.Weights) (kerasrun.Layer, [][]int, error) {
	return panicLayer(c), [][]int{in[0]}, nil
}

type panicLayer panicConfig

func (l panicLayer) Name() string  { return l.name }
func (l panicLayer) Class() string { return "KerasrunTestPanic" }
func (l panicLayer) Forward(in []*kerasrun.Tensor) ([]*kerasrun.Tensor, error) {
	var s []int
	_ = s[len(in)] // index out of range
	return nil, nil
}

// panicArch is a Sequential Dense -> KerasrunTestPanic, whose Dense takes
// the weights of fixtures/unknown_class by position.
const panicArch = `{"class_name": "Sequential", "keras_version": "2.2.4", "backend": "tensorflow", "config": {"name": "s", "layers": [
 {"class_name": "Dense", "config": {"name": "dense_1", "trainable": true, "batch_input_shape": [null, 6, 4], "dtype": "float32", "units": 3, "activation": "relu", "use_bias": true}},
 {"class_name": "KerasrunTestPanic", "config": {"name": "panic_1", "trainable": true}}]}}`

var registerPanic sync.Once

func TestInternalError(t *testing.T) {
	registerPanic.Do(func() {
		layers.Register("KerasrunTestPanic", func(r *layers.Reader) (layers.Config, error) {
			return panicConfig{name: r.Spec().Name}, nil
		})
	})
	m, err := kerasrun.LoadWeights([]byte(panicArch), "fixtures/unknown_class/model.h5", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Predict(readNPY("fixtures/unknown_class/input_0.npy"))
	var ie *kerasrun.InternalError
	if !kerasrun.IsInternal(err) || !errors.As(err, &ie) || errors.Is(err, kerasrun.ErrInvalidInput) {
		t.Fatalf("got %v, want an *InternalError only", err)
	}
	if ie.Layer != "panic_1" || ie.Class != "KerasrunTestPanic" || !strings.Contains(err.Error(), "please report it") {
		t.Errorf("got %+v: %v", ie, err)
	}
}

// TestOpenFSNotReaderAt covers a file of an fs.FS that is a stream only.
func TestOpenFSNotReaderAt(t *testing.T) {
	b, err := fs.ReadFile(fixtureFS, "example/model.h5")
	if err != nil {
		t.Fatal(err)
	}
	m, err := kerasrun.LoadFS(streamFS{b}, "m.h5", nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPredicts(t, m, "example")
	if _, err := kerasrun.LoadFS(fixtureFS, "example", nil); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("LoadFS of a directory: got %v", err)
	}
}

type streamFS struct{ b []byte }

func (s streamFS) Open(name string) (fs.File, error) {
	return &streamFile{Reader: bytes.NewReader(s.b), size: int64(len(s.b))}, nil
}

type streamFile struct {
	io.Reader
	size int64
}

func (f *streamFile) Stat() (fs.FileInfo, error) { return streamInfo{f.size}, nil }
func (f *streamFile) Close() error               { return nil }

type streamInfo struct{ size int64 }

func (i streamInfo) Name() string       { return "m.h5" }
func (i streamInfo) Size() int64        { return i.size }
func (i streamInfo) Mode() fs.FileMode  { return 0o444 }
func (i streamInfo) ModTime() time.Time { return time.Time{} }
func (i streamInfo) IsDir() bool        { return false }
func (i streamInfo) Sys() any           { return nil }
