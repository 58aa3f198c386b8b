package runtime_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// TestInputErrorsAreClassified checks that every input problem Predict
// finds is an *InputError matching ErrInvalidInput, naming the input (none
// for a wrong count) with what it wants and got, and never ErrInternal.
func TestInputErrorsAreClassified(t *testing.T) {
	good := func() (*runtime.Tensor, *runtime.Tensor) { return seqTensor(2, 3, 2), seqTensor(2, 4) }
	for _, tc := range []struct {
		name      string
		inputs    func() []*runtime.Tensor
		input     string
		want, got string
	}{
		{"count", func() []*runtime.Tensor { x, _ := good(); return []*runtime.Tensor{x} }, "", "2 input(s)", "1 input(s)"},
		{"nil", func() []*runtime.Tensor { x, _ := good(); return []*runtime.Tensor{x, nil} }, "y", "shape (2, None)", "nil"},
		{"shape", func() []*runtime.Tensor { _, y := good(); return []*runtime.Tensor{seqTensor(2, 4, 2), y} }, "x", "shape (None, 3, 2)", "shape [2 4 2]"},
		{"rank", func() []*runtime.Tensor { _, y := good(); return []*runtime.Tensor{seqTensor(2, 6), y} }, "x", "shape (None, 3, 2)", "shape [2 6]"},
		{"values", func() []*runtime.Tensor {
			_, y := good()
			return []*runtime.Tensor{{Shape: []int{2, 3, 2}, Data: make([]float32, 11)}, y}
		}, "x", "shape (None, 3, 2)", "shape [2 3 2] with 11 values"},
		{"batch", func() []*runtime.Tensor { return []*runtime.Tensor{seqTensor(2, 3, 2), seqTensor(3, 4)} }, "y", "batch size 2", "batch size 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := twoInputModel(t)
			_, err := m.Predict(tc.inputs()...)
			if !errors.Is(err, runtime.ErrInvalidInput) || errors.Is(err, runtime.ErrInternal) {
				t.Fatalf("got %v, want an error matching ErrInvalidInput only", err)
			}
			var ie *runtime.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %T, want an *InputError", err)
			}
			if ie.Input != tc.input || ie.Want != tc.want || ie.Got != tc.got {
				t.Errorf("got {Input %q, Want %q, Got %q}, want {%q, %q, %q}", ie.Input, ie.Want, ie.Got, tc.input, tc.want, tc.got)
			}
		})
	}
}

// TestNonIntegerTokenID checks an int32 input holding a fraction.
func TestNonIntegerTokenID(t *testing.T) {
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "ids", Shape: []int{-1, 2}, DType: "int32"}, true)
	g.Output("ids", x)
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Predict(&runtime.Tensor{Shape: []int{1, 2}, Data: []float32{1, 2.5}})
	var ie *runtime.InputError
	if !errors.As(err, &ie) || ie.Input != "ids" || ie.Got != "value 2.5 at index 1" {
		t.Fatalf("got %v, want an *InputError for input ids at index 1", err)
	}
	if !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("message %q lost its words", err)
	}
}

// TestLayerInputErrorNamesModelInput checks that an *InputError a layer
// returns about a model input it reads directly (an Embedding's token id
// out of range) is reported against that input, keeping the layer's
// Want and Got.
func TestLayerInputErrorNamesModelInput(t *testing.T) {
	layerErr := &runtime.InputError{Want: "ids in [0, 3)", Got: "id 7", Err: errors.New("layers: id 7 out of range")}
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "ids", Shape: []int{-1, 2}, DType: "float32"}, true)
	y := g.Call(&errLayer{err: layerErr}, []runtime.Ref{x}, [][]int{{-1, 2}})[0]
	g.Output("y", y)
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Predict(seqTensor(1, 2))
	var ie *runtime.InputError
	if !errors.As(err, &ie) || ie.Input != "ids" || ie.Want != "ids in [0, 3)" || ie.Got != "id 7" {
		t.Fatalf("got %v (%#v), want an *InputError for input ids", err, ie)
	}
	if !errors.Is(err, layerErr) || !strings.Contains(err.Error(), `input "ids"`) || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("got %q, want the layer's error wrapped under the input's name", err)
	}
}

// TestPanicIsInternal checks that a layer that panics gives an
// *InternalError naming it, which is not an input error.
func TestPanicIsInternal(t *testing.T) {
	m := oneInputModel(t, func([]*runtime.Tensor) []*runtime.Tensor { panic("boom") }, []int{-1, 2, 3}, "l")
	_, err := m.Predict(seqTensor(1, 2, 3))
	var ie *runtime.InternalError
	if !errors.As(err, &ie) || !errors.Is(err, runtime.ErrInternal) || errors.Is(err, runtime.ErrInvalidInput) {
		t.Fatalf("got %v, want an *InternalError matching ErrInternal only", err)
	}
	if ie.Layer != "fake_1" || ie.Class != "Fake" || ie.Value != "boom" {
		t.Errorf("got %+v", ie)
	}
	if !strings.Contains(err.Error(), "kerasrun bug") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("message %q lost its words", err)
	}
}

// TestSessionBatchIsInputError checks a session call with another batch
// size than its first.
func TestSessionBatchIsInputError(t *testing.T) {
	m := oneInputModel(t, nil, nil, "x")
	s := m.NewSession()
	if _, err := s.Predict(seqTensor(2, 2, 3)); err != nil {
		t.Fatal(err)
	}
	_, err := s.Predict(seqTensor(3, 2, 3))
	var ie *runtime.InputError
	if !errors.As(err, &ie) || ie.Want != "batch size 2" || ie.Got != "batch size 3" {
		t.Fatalf("got %v, want an *InputError about the batch size", err)
	}
}

func TestNewTensorErrorsAreInvalidInput(t *testing.T) {
	for _, tc := range []struct {
		shape []int
		n     int
	}{{[]int{-1, 2}, 2}, {[]int{2, 2}, 3}} {
		if _, err := runtime.NewTensor(tc.shape, make([]float32, tc.n)); !errors.Is(err, runtime.ErrInvalidInput) {
			t.Errorf("NewTensor(%v, %d values): got %v, want ErrInvalidInput", tc.shape, tc.n, err)
		}
	}
}

type errLayer struct{ err error }

func (l *errLayer) Name() string  { return "err_1" }
func (l *errLayer) Class() string { return "Err" }
func (l *errLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	return nil, l.err
}
