// Package runtime holds kerasrun's float32 tensors, the Layer interface and the
// immutable model graph that Predict runs. It is the engine under the root
// package github.com/kerasrun/kerasrun, whose Model, Session, Tensor and
// error values are aliases of this package's.
//
// Programs import the root package, never this one: its name hides the
// standard library's runtime. This package is for authors of layers (custom
// layers included) and for the importer, which builds models with Graph.
// Its pool plumbing (Buffer, PutBuffer, MaskBuffer, PutMask, Empty, View,
// One, List, Recycle) lets a layer take its outputs and scratch memory
// without allocating; each function says the contract it needs.
//
// Layout: a Tensor is dense, row-major and batch first. Shapes in specs use -1
// for a free (None) dimension; a concrete Tensor never has a negative dimension.
// A Tensor may carry a Keras mask over its batch and time axes (Tensor.Mask).
//
// Ownership: Predict never modifies its inputs. The tensors it returns belong
// to the caller and never share memory with its inputs or with each other.
// Layers are immutable once built.
//
// Memory: Zeros, Empty and View take tensor headers, data and masks
// (MaskBuffer) from pools, and Predict gives an intermediate tensor's
// header, data and mask back once its last reader has run and no live
// tensor, input or output uses them (pool.go, header.go). A layer returns
// one output with One and several with List, which keep the list in the
// first tensor, and takes its scratch from the pools too. A model in steady
// state then reuses everything: Predict allocates its outputs (header,
// data, mask) and the list of them, and nothing else
// (importer.TestPredictAllocatesOnlyOutputs checks every fixture model). A
// Layer must therefore keep no reference to its inputs or outputs after
// Forward returns.
//
// Concurrency: a Model is immutable once Graph.Build returns it, and Predict
// is safe for concurrent use by many goroutines. Predict never keeps state,
// even for a model with stateful layers: a Session (Model.NewSession) carries
// the states of stateful layers from one call to the next, and Reset clears
// them. A panic inside a layer is returned as an *InternalError naming the
// layer.
//
// Errors: anything that data can cause (a wrong input shape, a wrong number of
// inputs) is returned as an error. Programmer errors, such as building a graph
// with a slot that does not exist, panic. An input the model does not take
// gives an *InputError (ErrInvalidInput): Predict's checks make one, and a
// layer that finds bad data in its input (a token id out of range) returns
// one, which Predict reports against the model input that fed it. A layer
// that panics gives an *InternalError (ErrInternal), a kerasrun bug. ErrLimit
// is shared by every package that enforces a limit.
//
// This package imports only the standard library and kerasrun's
// internal/freelist.
package runtime
