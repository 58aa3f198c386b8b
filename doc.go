// Package kerasrun loads Keras model files and runs them natively in Go,
// in float32, with the numbers Keras computes.
//
// This package is the front door: a program that loads and runs models
// imports it alone. The other packages are the engine (runtime), the
// file reader (importer), the layers (layers, which custom layers also
// use) and an inference server (serve).
//
// # Load
//
// Load reads a file saved by Keras: a legacy HDF5 model
// (model.save("m.h5"), Keras 1, 2 and tf.keras) or a Keras 3 archive
// (model.save("m.keras")). LoadWeights takes an architecture JSON
// (model.to_json(), or an archive's config.json) with a weights file.
// LoadFS and LoadWeightsFS read from an fs.FS (go:embed), LoadReader and
// LoadWeightsReader from an io.ReaderAt (a blob store):
//
//	m, err := kerasrun.Load("model.h5", nil)
//	if err != nil {
//		return err
//	}
//
// Everything is checked at load time: every layer class and option is
// known or the load fails, naming each unsupported layer, its class and
// its option, all at once; every weight in the file is taken by exactly
// one layer, and every weight a layer needs is there with its shape. A
// model that loads has no "not supported" left for Predict to find.
//
// A model file may come from anyone: Load returns an error, never
// crashes, hangs or allocates without bound, whatever the bytes. The
// checks and what they leave to libhdf5 are in the importer package's
// doc.
//
// # Predict
//
// A Model takes one *Tensor per input, in the order of Model.Inputs, and
// returns one per output, in the order of Model.Outputs. A Tensor is
// dense float32, row-major, batch first; NewTensor makes one over a
// slice without copying it:
//
//	x, err := kerasrun.NewTensor([]int{2, 5, 10}, data) // batch of 2
//	out, err := m.PredictContext(ctx, x)
//	probs := out[0].Data // out[0].Shape is [2 5]
//
// Shapes use -1 for a free dimension (None in Keras). Inputs are checked
// against the model before anything runs; Predict never modifies them,
// and the tensors it returns belong to the caller. An input of dtype
// int32 (token ids for an Embedding) holds integers as float32 values.
// PredictContext stops between layers, and recurrent layers between time
// steps, once ctx is done.
//
// Model.Predict never keeps state, even for layers built with
// stateful=True, which start every call from zeros. To carry their states
// from one call to the next, as Keras does, use a Session
// (Model.NewSession); Reset starts a new stream.
//
// # Concurrency
//
// A Model is immutable once loaded, and Predict is safe for concurrent
// use by any number of goroutines: load a model once and share it. Each
// call takes its scratch memory from pools, so a model in steady state
// allocates little more than its outputs. A Session serializes its own
// calls; sessions of one model are independent of each other.
//
// # Errors
//
// Every error a program may act on matches one of these values with
// errors.Is, through every layer of wrapping; errors.As gives the details:
//
//	ErrInvalidInput  Predict's inputs are wrong; *InputError names the
//	                 input, what it must be (Want) and what it was (Got).
//	ErrCorrupt       the file is not a Keras model file, or is truncated
//	                 or damaged.
//	ErrUnsupported   a layer class, option or storage form kerasrun does
//	                 not run; *LayerError names the layer and its class.
//	ErrLimit         the file declares more than Options allows;
//	                 *LimitError names the Options field that raises it.
//	ErrInternal      a kerasrun bug that data reached (a layer panicked);
//	                 *InternalError names the layer. Please report it.
//
// Only ErrInternal (IsInternal) is kerasrun's fault. Any other error is
// about the file, the inputs or the call: a missing file, for one, is an
// *fs.PathError that matches fs.ErrNotExist, and a Keras 2 weights file
// that does not fit its architecture matches none of the classes above.
// A server answers 400 for ErrInvalidInput, 413 for ErrLimit, 422 for
// ErrUnsupported and 500 for ErrInternal (package serve does).
//
// # Limits
//
// Options bounds what a load allocates, checked against what the file
// declares before anything is allocated for it: MaxTensorElements (one
// weight, default 1<<28 elements), MaxWeightBytes (all weights in float32,
// default 4 GiB) and MaxLayers (default 10000). A nil *Options means the
// defaults. Inputs are the caller's: Predict allocates for whatever batch
// it is given, so a server bounds its request sizes itself.
//
// # Custom layers
//
// A Keras class that kerasrun does not ship (a custom layer of your
// project) is registered with layers.Register before the model loads.
// Its decoder reads the layer's config through a *layers.Reader, which
// refuses keys it was not asked for, and returns a layers.Config whose
// Build takes the static input shapes and the layer's weights and returns
// a Layer. See the custom-layer example and package layers.
//
// # Types
//
// Model, Session, Tensor, IO, LayerInfo, Layer and Options are aliases of
// the types of packages runtime and importer, not wrappers: a *Model from
// Load is what serve.Server.Add takes, nothing is copied on the way, and
// Predict costs what it costs in the engine. A program needs no other
// import, so the standard library's runtime package is never shadowed.
// Package runtime also holds the pool plumbing that layers use (Buffer,
// Empty, View, ...); it is for layer authors, and a program that only
// loads and predicts never needs it.
package kerasrun
