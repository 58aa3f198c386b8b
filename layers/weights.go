package layers

import (
	"fmt"
	"strings"
)

// Weight is one stored weight array, already converted to float32.
type Weight struct {
	Name  string // the stored name, e.g. "dense_1/kernel:0"
	Shape []int
	Data  []float32
	// Positional marks a weight stored by position alone, as Keras 3
	// stores a layer's variables ("vars/0", "vars/1", ...): its Name is
	// its path in the file and says nothing of its role, so Take checks
	// only its place and shape.
	Positional bool
}

// Is reports whether the weight can be the one called name: its base name
// is name, or it is positional.
func (w Weight) Is(name string) bool {
	return w.Positional || BaseName(w.Name) == name
}

// Weights hands a layer its stored weights in Keras order. Take consumes them
// one at a time and checks each shape; Done reports any left over.
type Weights struct {
	list   []Weight
	next   int
	taken  int
	frozen int // elements of taken that Keras counts as non-trainable
}

// NewWeights wraps a layer's weights, in the order of its weight_names.
func NewWeights(list []Weight) *Weights { return &Weights{list: list} }

// Len is the total number of weights.
func (w *Weights) Len() int { return len(w.list) }

// Remaining is the number of weights not yet taken.
func (w *Weights) Remaining() int { return len(w.list) - w.next }

// Peek returns the next weight without taking it.
func (w *Weights) Peek() (Weight, bool) {
	if w.next >= len(w.list) {
		return Weight{}, false
	}
	return w.list[w.next], true
}

// Split takes the next n weights as a separate set, for a wrapped layer.
func (w *Weights) Split(n int) *Weights {
	if n > w.Remaining() {
		n = w.Remaining()
	}
	sub := &Weights{list: w.list[w.next : w.next+n]}
	w.next += n
	return sub
}

// BaseName returns the weight's own name without its scopes and ":0":
// "bidirectional_1/forward_lstm_1/kernel:0" gives "kernel".
func BaseName(stored string) string {
	s := stored
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Take consumes the next weight, which must be called name and have the
// given shape (-1 accepts any size in that dimension).
func (w *Weights) Take(name string, shape ...int) (Weight, error) {
	if w.next >= len(w.list) {
		return Weight{}, fmt.Errorf("weight %q with shape %v: missing (the file has %d weight(s) for this layer)", name, shape, len(w.list))
	}
	got := w.list[w.next]
	if !got.Is(name) {
		return Weight{}, fmt.Errorf("weight %d: expected %q with shape %v, found %q with shape %v", w.next, name, shape, got.Name, got.Shape)
	}
	if !shapeFits(shape, got.Shape) {
		return Weight{}, fmt.Errorf("weight %q: expected shape %v, found %v (%s)", name, shape, got.Shape, got.Name)
	}
	w.next++
	w.taken += len(got.Data)
	return got, nil
}

func shapeFits(want, got []int) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if want[i] >= 0 && want[i] != got[i] {
			return false
		}
	}
	return true
}

// Done returns an error naming every weight that was not taken.
func (w *Weights) Done() error {
	if w.next >= len(w.list) {
		return nil
	}
	var names []string
	for _, x := range w.list[w.next:] {
		names = append(names, fmt.Sprintf("%s %v", x.Name, x.Shape))
	}
	return fmt.Errorf("%d stored weight(s) not used by the layer: %s", len(names), strings.Join(names, ", "))
}

func (w *Weights) takenElements() int { return w.taken }

// nonTrainable marks n more of the taken elements as non-trainable, as
// Keras counts them (BatchNormalization's moving statistics).
func (w *Weights) nonTrainable(n int) { w.frozen = min(w.frozen+n, w.taken) }

// frozenElements is the number of taken elements that are non-trainable.
func (w *Weights) frozenElements() int { return w.frozen }
