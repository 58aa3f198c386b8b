package runtime

import (
	"fmt"
	"strings"
)

// Tensor is a dense float32 tensor in row-major order, batch first.
//
// Mask, when set, is a Keras mask over the first two axes of a
// [batch, time, ...] tensor: Mask[b*time+t] is false where step t of
// sample b is masked out. Layers that propagate masks set it on their
// outputs; Predict returns it as the layers left it.
type Tensor struct {
	Shape []int
	Data  []float32
	Mask  []bool

	// For headers from Empty, Zeros and View (header.go): Shape's storage,
	// the list that One and List return, and the mark that predict may
	// recycle it.
	dims       [inlineRank]int
	list       [maxList]*Tensor
	recyclable bool
}

// NewTensor returns a tensor over data with the given shape. It returns an
// error when a dimension is negative or the shape does not match len(data).
func NewTensor(shape []int, data []float32) (*Tensor, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("runtime: negative dimension in shape %v: %w", shape, ErrInvalidInput)
		}
		n *= d
	}
	if n != len(data) {
		return nil, fmt.Errorf("runtime: shape %v needs %d values, got %d: %w", shape, n, len(data), ErrInvalidInput)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Zeros returns a zero-filled tensor of the given shape. It panics on a
// negative dimension.
func Zeros(shape ...int) *Tensor {
	t := Empty(shape...)
	clear(t.Data)
	return t
}

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
	if t.Mask != nil {
		c.Mask = append([]bool(nil), t.Mask...)
	}
	return c
}

// Reshape returns a tensor sharing t's data with a new shape. It panics when
// the element counts differ.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	if NumElements(shape) != len(t.Data) {
		panic(fmt.Sprintf("runtime: cannot reshape %v to %v", t.Shape, shape))
	}
	return View(t.Data, shape...)
}

// NumElements returns the product of the dimensions of a concrete shape.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// FormatShape writes a shape the way Keras prints it, with None for free
// dimensions: (None, 5, 10).
func FormatShape(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		if d < 0 {
			parts[i] = "None"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// ShapeMatches reports whether the concrete shape got fits spec, where -1 in
// spec accepts any size.
func ShapeMatches(spec, got []int) bool {
	if len(spec) != len(got) {
		return false
	}
	for i, d := range spec {
		if d >= 0 && d != got[i] {
			return false
		}
	}
	return true
}
