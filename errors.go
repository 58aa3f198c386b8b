package kerasrun

import (
	"github.com/kerasrun/kerasrun/importer"
	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
)

// The error values are those of the packages that produce them, so that
// errors.Is and errors.As work on an error from any kerasrun package,
// through every layer of wrapping. Messages do not depend on the class.
var (
	// ErrInvalidInput is matched by errors about the inputs given to
	// Predict, a Session or NewTensor: a wrong number of inputs, a nil
	// tensor, a wrong rank or shape, an empty batch, batch sizes that
	// differ, a value that is not an integer where the model takes token
	// ids, a token id out of range. The caller's fault; an *InputError
	// says which input, what it must be and what it was.
	ErrInvalidInput = runtime.ErrInvalidInput

	// ErrCorrupt is matched by load errors about a file that is not a
	// Keras model file (not HDF5, not a .keras archive, not written by
	// Keras) or that is truncated or damaged.
	ErrCorrupt = importer.ErrCorrupt

	// ErrUnsupported is matched by load errors about a layer class, an
	// option or a storage form that kerasrun does not run. The message
	// names the layer, its class and the option, and lists every such
	// problem of the file at once.
	ErrUnsupported = layers.ErrUnsupported

	// ErrLimit is matched by load errors about a file that declares more
	// than Options allows; a *LimitError names the field that raises the
	// limit.
	ErrLimit = importer.ErrLimit

	// ErrInternal is matched by an *InternalError: a kerasrun bug that
	// some data reached (a layer panicked). Predict returns it rather
	// than crash the process; please report it.
	ErrInternal = runtime.ErrInternal
)

type (
	// InputError reports an input the model does not take: Input (the
	// input's name, empty when the number of inputs is wrong), Want and
	// Got. It matches ErrInvalidInput.
	InputError = runtime.InputError

	// LimitError reports a limit a file goes over: Option (the Options
	// field that raises it, empty for a fixed limit) and Limit. It matches
	// ErrLimit.
	LimitError = importer.LimitError

	// InternalError reports a kerasrun bug: the Layer and Class that
	// failed, and Value, what it panicked with. It matches ErrInternal.
	InternalError = runtime.InternalError

	// LayerError reports a problem with one layer of a file: Layer,
	// Class, Op ("decode", "build", "weights") and Err, in the style of
	// fs.PathError.
	LayerError = layers.LayerError
)
