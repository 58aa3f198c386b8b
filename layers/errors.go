package layers

import (
	"errors"
	"fmt"
)

// ErrUnsupported is wrapped by every error about a class or option that
// kerasrun does not support.
var ErrUnsupported = errors.New("unsupported")

// LayerError records an error about one layer, in the style of fs.PathError.
type LayerError struct {
	Layer string // Keras layer name
	Class string // Keras class_name
	Op    string // what was being done: "decode", "build", "weights", "forward"
	Err   error
}

func (e *LayerError) Error() string {
	return fmt.Sprintf("layer %q (%s): %s: %v", e.Layer, e.Class, e.Op, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }

// unsupportedOption builds the error for an option value we cannot run.
func unsupportedOption(option string, format string, args ...any) error {
	return fmt.Errorf("option %q: %s: %w", option, fmt.Sprintf(format, args...), ErrUnsupported)
}
