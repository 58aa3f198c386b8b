package importer

import (
	"errors"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
)

// Every error of Load, LoadWeights and Inspect that a program may act on
// matches one of these with errors.Is, through every layer of wrapping:
//
//   - ErrCorrupt: the file is not a Keras file kerasrun reads (not HDF5,
//     not a Keras archive, not written by Keras), or it is truncated or
//     damaged.
//   - ErrLimit: the file declares more than a limit allows; the error is a
//     *LimitError that names the Options field raising it.
//   - layers.ErrUnsupported: a class, an option or a storage form that
//     kerasrun does not run.
//
// An error of none of these (a file that does not exist, a weights file
// given where a full model is needed, weights that do not match the
// architecture) is still about the file or the call, never a kerasrun bug.
// Messages keep their words whatever their class.

// ErrCorrupt is matched by errors about a file that is not a Keras model
// file, or that is truncated or damaged.
var ErrCorrupt = errors.New("corrupt or not a Keras file")

// ErrLimit is matched by a *LimitError. It is runtime.ErrLimit, so that
// packages without cgo (serve) can test for it.
var ErrLimit = runtime.ErrLimit

// LimitError reports a file that declares more than a limit allows, before
// anything is allocated for it. It matches ErrLimit.
type LimitError struct {
	// Option is the Options field that raises the limit
	// ("MaxTensorElements", "MaxWeightBytes", "MaxLayers"); empty for a
	// fixed limit of kerasrun's.
	Option string
	// Limit is the limit in force.
	Limit int64
	// Err holds the message, which names the limit and the option.
	Err error
}

func (e *LimitError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *LimitError) Unwrap() error { return e.Err }

// Is reports whether target is ErrLimit.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// classified marks an error as matching a class (ErrCorrupt or
// layers.ErrUnsupported) without changing its message.
type classified struct {
	err   error
	class error
}

func (e *classified) Error() string        { return e.err.Error() }
func (e *classified) Unwrap() error        { return e.err }
func (e *classified) Is(target error) bool { return target == e.class }

// corrupt marks err as matching ErrCorrupt; nil stays nil.
func corrupt(err error) error {
	if err == nil || errors.Is(err, ErrCorrupt) {
		return err
	}
	return &classified{err: err, class: ErrCorrupt}
}

// unsupported marks err as matching layers.ErrUnsupported; nil stays nil.
func unsupported(err error) error {
	if err == nil || errors.Is(err, layers.ErrUnsupported) {
		return err
	}
	return &classified{err: err, class: layers.ErrUnsupported}
}

// limitError returns a *LimitError for the option and limit with err's
// message.
func limitError(option string, limit int64, err error) *LimitError {
	return &LimitError{Option: option, Limit: limit, Err: err}
}
