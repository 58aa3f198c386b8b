package runtime_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// failLayer fails on any input value of 99, as an Embedding fails on a
// token id out of its range.
type failLayer struct{}

func (failLayer) Name() string  { return "lookup" }
func (failLayer) Class() string { return "Fake" }
func (failLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	for _, v := range in[0].Data {
		if v == 99 {
			return nil, errors.New("layers: layer \"lookup\" (Fake): id 99 out of range")
		}
	}
	return []*runtime.Tensor{in[0].Clone()}, nil
}

// idsModel takes int32 ids of shape (None, 4) through failLayer, then
// addOne.
func idsModel(t *testing.T) *runtime.Model {
	t.Helper()
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "ids", Shape: []int{-1, 4}, DType: "int32"}, true)
	h := g.Call(failLayer{}, []runtime.Ref{x}, [][]int{{-1, 4}})
	o := g.Call(&fakeLayer{name: "add_one", fn: addOne}, h, [][]int{{-1, 4}})
	g.Output("out", o[0])
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestIntegerInputs checks that an input declared as integers refuses
// values that are not, before anything runs, naming the input, its dtype
// and its shape.
func TestIntegerInputs(t *testing.T) {
	m := idsModel(t)
	for _, v := range []float32{0.5, -2.25, float32(math.NaN()), float32(math.Inf(-1))} {
		x := runtime.Zeros(2, 4)
		x.Data[5] = v
		_, err := m.Predict(x)
		if err == nil {
			t.Errorf("value %v: no error", v)
			continue
		}
		for _, part := range []string{`"ids"`, "int32", "(None, 4)", "index 5", "not an integer"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("value %v: error %q does not mention %s", v, err, part)
			}
		}
	}
	x := runtime.Zeros(2, 4)
	x.Data[5] = -7
	if _, err := m.Predict(x); err != nil {
		t.Errorf("integer ids: %v", err)
	}
}

// TestLayerErrorNamesInput checks that a layer that fails on data read
// straight from a model input has its error prefixed with the input's name
// and shape.
func TestLayerErrorNamesInput(t *testing.T) {
	m := idsModel(t)
	x := runtime.Zeros(1, 4)
	x.Data[2] = 99
	_, err := m.Predict(x)
	if err == nil || !strings.Contains(err.Error(), `input "ids" (shape (None, 4))`) || !strings.Contains(err.Error(), "id 99 out of range") {
		t.Errorf("error %v", err)
	}
}

// TestPredictRefusesOverflowingShape checks a shape whose element count
// overflows int to the length of the data.
func TestPredictRefusesOverflowingShape(t *testing.T) {
	m := idsModel(t)
	_, err := m.Predict(&runtime.Tensor{Shape: []int{1 << 62, 4}, Data: nil})
	if err == nil || !strings.Contains(err.Error(), `"ids"`) {
		t.Errorf("error %v", err)
	}
}

// panicLayer panics, as a layer with a bug may on some data.
type panicLayer struct{}

func (panicLayer) Name() string  { return "buggy" }
func (panicLayer) Class() string { return "Fake" }
func (panicLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	var zero int
	return nil, errors.New(string(rune(1 / zero)))
}

// TestLayerPanicIsAnError checks that a panic in a layer becomes an error
// naming the layer, so that one bad request cannot take a service down.
func TestLayerPanicIsAnError(t *testing.T) {
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 2}, DType: "float32"}, true)
	o := g.Call(panicLayer{}, []runtime.Ref{x}, [][]int{{-1, 2}})
	g.Output("out", o[0])
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Predict(runtime.Zeros(1, 2))
	if out != nil || err == nil || !strings.Contains(err.Error(), `layer "buggy" (Fake)`) || !strings.Contains(err.Error(), "divide by zero") {
		t.Errorf("Predict = %v, %v", out, err)
	}
	if _, err := m.NewSession().Predict(runtime.Zeros(1, 2)); err == nil || !strings.Contains(err.Error(), `"buggy"`) {
		t.Errorf("Session.Predict: %v", err)
	}
}
