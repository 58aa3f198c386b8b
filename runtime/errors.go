package runtime

import (
	"errors"
	"fmt"
)

// ErrInvalidInput is matched (errors.Is) by every error about the inputs
// given to Predict or a Session that the caller can fix: a wrong number of
// inputs, a nil tensor, a wrong rank or shape, an empty batch, batch sizes
// that differ, a mask of the wrong length, a value that is not an integer
// where the model takes token ids, a token id out of range. Such an error
// is an *InputError (errors.As) when it is about one input.
var ErrInvalidInput = errors.New("invalid input")

// ErrInternal is matched (errors.Is) by an *InternalError: a layer that
// panicked, or broke its contract, on data that reached it. It is a
// kerasrun bug, never the caller's fault.
var ErrInternal = errors.New("internal error")

// ErrLimit is matched by errors about something over a configured limit:
// a model file that declares more than the importer's Options allow
// (importer.LimitError), a request larger than a server takes. It is
// defined here, in the package every other one imports, so that all of
// them match one value.
var ErrLimit = errors.New("over a limit")

// InputError reports an input that the model does not take, in the style
// of fs.PathError. It matches ErrInvalidInput.
type InputError struct {
	// Input is the model input's name; empty when the error is about the
	// inputs as a whole (their number).
	Input string
	// Want is what the model takes ("shape (None, 5, 10)", "2 input(s)",
	// "integer values"), Got what was given ("shape [2 4 10]", "1 input(s)",
	// "nil", "value 0.5 at index 3").
	Want, Got string
	// Err is the underlying error, when a layer found the problem (an
	// Embedding's token id out of range, say); nil otherwise.
	Err error

	msg string
}

// Error returns the message. An InputError made by a layer, which does not
// know the input's name, says what Err says.
func (e *InputError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	s := ""
	if e.Input != "" {
		s = fmt.Sprintf("runtime: input %q: ", e.Input)
	}
	if e.Err != nil {
		return s + e.Err.Error()
	}
	if s == "" {
		s = "runtime: invalid input: "
	}
	return s + fmt.Sprintf("got %s, want %s", e.Got, e.Want)
}

// Unwrap returns Err.
func (e *InputError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidInput.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

// inputErrorf returns an *InputError with the given fields and message.
func inputErrorf(input, want, got string, format string, args ...any) *InputError {
	return &InputError{Input: input, Want: want, Got: got, msg: fmt.Sprintf(format, args...)}
}

// InternalError reports a kerasrun bug that data reached: a layer that
// panicked (Value holds what it panicked with) or that returned the wrong
// number of outputs. Predict returns it instead of crashing the process.
// It matches ErrInternal.
type InternalError struct {
	Layer string // Keras layer name
	Class string // Keras class_name
	// Value is the value the layer panicked with; nil when it did not
	// panic.
	Value any

	msg string
}

// Error returns the message, which names the layer and asks for a report.
func (e *InternalError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	if e.Layer == "" {
		return fmt.Sprintf("kerasrun: panic: %v (a kerasrun bug; please report it)", e.Value)
	}
	return fmt.Sprintf("runtime: layer %q (%s) panicked: %v (a kerasrun bug; please report it)", e.Layer, e.Class, e.Value)
}

// Is reports whether target is ErrInternal.
func (e *InternalError) Is(target error) bool { return target == ErrInternal }

// Unwrap returns the value the layer panicked with when it is an error.
func (e *InternalError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
