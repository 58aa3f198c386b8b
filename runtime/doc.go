// Package runtime holds kerasrun's float32 tensors, the Layer interface and the
// immutable model graph that Predict runs.
//
// Layout: a Tensor is dense, row-major and batch first. Shapes in specs use -1
// for a free (None) dimension; a concrete Tensor never has a negative dimension.
//
// Ownership: Predict never modifies its inputs. The tensors it returns are newly
// allocated and belong to the caller. Layers are immutable once built.
//
// Concurrency: a Model is immutable after NewModel returns, and Predict is safe
// for concurrent use by many goroutines.
//
// Errors: anything that data can cause (a wrong input shape, a wrong number of
// inputs) is returned as an error. Programmer errors, such as building a graph
// with a slot that does not exist, panic.
//
// This package imports only the standard library and gonum.
package runtime
