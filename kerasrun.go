package kerasrun

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/kerasrun/kerasrun/importer"
	"github.com/kerasrun/kerasrun/runtime"
)

// The types are aliases of the engine's (package runtime) and the
// importer's: a *Model from Load is the same value that serve.Server.Add
// and custom layers work with, nothing is copied or wrapped, and a call
// costs what it costs in the engine. Their methods are documented there
// (go doc github.com/kerasrun/kerasrun/runtime.Model); the package doc
// above lists the ones a program needs.
type (
	// Model is a loaded model: immutable, and safe for concurrent use by
	// many goroutines. Its methods: Predict, PredictContext, NewSession,
	// Trace, Inputs, Outputs, Layers, NestedModels, Name, Params and
	// NonTrainableParams.
	Model = runtime.Model

	// Session runs a model with stateful layers as a stream, carrying
	// their states from one call to the next (Model.NewSession). Its
	// methods: Predict, PredictContext and Reset.
	Session = runtime.Session

	// Tensor is a dense float32 tensor in row-major order, batch first:
	// Shape, Data, and an optional Keras Mask over the batch and time axes.
	Tensor = runtime.Tensor

	// IO describes one model input or output: its Name, its Shape (-1 for
	// a free dimension, the batch first) and its DType ("float32", or
	// "int32" for token ids).
	IO = runtime.IO

	// LayerInfo describes one layer of a model, for summaries.
	LayerInfo = runtime.LayerInfo

	// TensorSource names the layer call and output a layer reads
	// (LayerInfo.Calls), Keras's layer[node][tensor].
	TensorSource = runtime.TensorSource

	// NestedModel is a model used as a layer of the model
	// (Model.NestedModels).
	NestedModel = runtime.NestedModel

	// LayerOutput is what Model.Trace reports for one layer call: the
	// layer, its call, where its inputs came from and copies of its
	// outputs.
	LayerOutput = runtime.LayerOutput

	// Layer is a built layer. Only authors of custom layers implement it
	// (see the package doc and package layers).
	Layer = runtime.Layer

	// Options sets the limits of Load and its variants, and the HDF5
	// reader. A nil *Options means the defaults; a zero field means its
	// default. Fields: MaxTensorElements (elements of one weight, default
	// 1<<28), MaxWeightBytes (float32 bytes of all weights, default 4 GiB),
	// MaxLayers (layers of the config, nested models included, default
	// 10000) and HDF5Reader ("libhdf5" or "go"; default libhdf5 in a cgo
	// build, the pure-Go reader without cgo).
	Options = importer.Options
)

// NewTensor returns a tensor over data (not copied) with the given shape,
// batch first. It returns an error matching ErrInvalidInput when a
// dimension is negative or the shape does not match len(data).
func NewTensor(shape []int, data []float32) (*Tensor, error) {
	return runtime.NewTensor(shape, data)
}

// Load reads a Keras model file and builds it: a legacy HDF5 model
// (model.save("m.h5")) or a Keras 3 archive (model.save("m.keras")). The
// form is told by the content, never by the extension.
func Load(path string, opts *Options) (*Model, error) {
	return importer.Load(path, opts)
}

// LoadWeights builds a model from its architecture JSON (model.to_json(),
// or the config.json of a .keras archive) and a weights file: a Keras 2
// weights file (model.save_weights("w.h5")), a Keras 3 one
// (model.save_weights("m.weights.h5")) or a .keras archive, whose own
// config is then not used.
//
// Keras: a Keras 2 weights file is bound by position, as load_weights
// does: the layers with weights of the architecture, in order, take the
// layers with weights of the file, in order.
func LoadWeights(arch []byte, weightsPath string, opts *Options) (*Model, error) {
	return importer.LoadWeights(arch, weightsPath, opts)
}

// LoadReader is Load for a model file held in r, size bytes long: an
// object of a blob store, say, or bytes in memory (bytes.NewReader).
//
// A .keras archive is read from r, and so is an HDF5 model with the Go
// HDF5 reader (Options.HDF5Reader "go", the default in a build without
// cgo). With libhdf5, which reads only files, an HDF5 model is first
// copied into a private temporary file (mode 0600, in os.TempDir), which
// is unlinked as soon as libhdf5 has opened it: the copy needs as much free
// space there as the file's size.
func LoadReader(r io.ReaderAt, size int64, opts *Options) (*Model, error) {
	return importer.LoadReaderAt(r, size, "", opts)
}

// LoadWeightsReader is LoadWeights for a weights file held in r, size
// bytes long, as LoadReader is for Load.
func LoadWeightsReader(arch []byte, r io.ReaderAt, size int64, opts *Options) (*Model, error) {
	return importer.LoadWeightsReaderAt(arch, r, size, "", opts)
}

// LoadFS is Load for the file name of fsys: a go:embed embed.FS, an
// os.DirFS, an fstest.MapFS. See LoadReader for how the file is read.
//
//	//go:embed model.h5
//	var files embed.FS
//
//	m, err := kerasrun.LoadFS(files, "model.h5", nil)
func LoadFS(fsys fs.FS, name string, opts *Options) (*Model, error) {
	r, size, done, err := openFS(fsys, name)
	if err != nil {
		return nil, err
	}
	defer done()
	return importer.LoadReaderAt(r, size, name, opts)
}

// LoadWeightsFS is LoadWeights for the weights file name of fsys, as
// LoadFS is for Load. The architecture may come from fsys too:
// fs.ReadFile(fsys, "arch.json").
func LoadWeightsFS(arch []byte, fsys fs.FS, name string, opts *Options) (*Model, error) {
	r, size, done, err := openFS(fsys, name)
	if err != nil {
		return nil, err
	}
	defer done()
	return importer.LoadWeightsReaderAt(arch, r, size, name, opts)
}

// openFS opens name in fsys as an io.ReaderAt of known size. A file that
// is not an io.ReaderAt itself (embed.FS and os.DirFS files are) is read
// into memory.
func openFS(fsys fs.FS, name string) (io.ReaderAt, int64, func(), error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("kerasrun: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, fmt.Errorf("kerasrun: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, nil, fmt.Errorf("kerasrun: %w", &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory, not a model file")})
	}
	if ra, ok := f.(io.ReaderAt); ok && st.Mode().IsRegular() {
		return ra, st.Size(), func() { f.Close() }, nil
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, 0, nil, fmt.Errorf("kerasrun: %s: %w", name, err)
	}
	return bytes.NewReader(b), int64(len(b)), func() {}, nil
}

// IsInternal reports whether err is a kerasrun bug (it matches
// ErrInternal) rather than a problem with the file, the input or the
// call. A command-line tool exits with a distinct status for it; a server
// answers 500.
func IsInternal(err error) bool {
	return errors.Is(err, ErrInternal)
}
