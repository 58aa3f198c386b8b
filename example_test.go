package kerasrun_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"sync"
	"time"

	"codeberg.org/sbinet/npyio"
	"github.com/kerasrun/kerasrun"
	"github.com/kerasrun/kerasrun/layers"
)

// The examples run on the golden fixtures of the repository; their
// expected values (expected_*.npy) come from float64 numpy references, not
// from kerasrun.

// readNPY reads a float32 .npy file of the fixtures as a tensor.
func readNPY(path string) *kerasrun.Tensor {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := npyio.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	var data []float32
	if err := r.Read(&data); err != nil {
		log.Fatal(err)
	}
	t, err := kerasrun.NewTensor(r.Header.Descr.Shape, data)
	if err != nil {
		log.Fatal(err)
	}
	return t
}

// maxAbsDiff returns the largest absolute difference between two tensors
// of the same shape, and +Inf when their shapes differ.
func maxAbsDiff(a, b *kerasrun.Tensor) float64 {
	if fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a.Data {
		d = max(d, math.Abs(float64(a.Data[i])-float64(b.Data[i])))
	}
	return d
}

func ExampleLoad() {
	m, err := kerasrun.Load("fixtures/example/model.h5", nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, in := range m.Inputs() {
		fmt.Println("input: ", in.Name, in.Shape, in.DType)
	}
	for _, out := range m.Outputs() {
		fmt.Println("output:", out.Name, out.Shape)
	}
	// Output:
	// input:  bidirectional_1_input [-1 5 10] float32
	// output: activation_1 [-1 5]
}

func ExampleLoad_errors() {
	_, err := kerasrun.Load("fixtures/not_hdf5/model.h5", nil)
	fmt.Println("corrupt:", errors.Is(err, kerasrun.ErrCorrupt))

	_, err = kerasrun.Load("fixtures/example/model.h5", &kerasrun.Options{MaxWeightBytes: 1000})
	var lim *kerasrun.LimitError
	if errors.As(err, &lim) {
		fmt.Println("over a limit: raise Options." + lim.Option)
	}

	_, err = kerasrun.Load("fixtures/q4_refuse_unknown_key/model.h5", nil)
	var le *kerasrun.LayerError
	if errors.Is(err, kerasrun.ErrUnsupported) && errors.As(err, &le) {
		fmt.Printf("unsupported: layer %q (%s)\n", le.Layer, le.Class)
	}
	// Output:
	// corrupt: true
	// over a limit: raise Options.MaxWeightBytes
	// unsupported: layer "batch_normalization" (BatchNormalization)
}

func ExampleModel_PredictContext() {
	m, err := kerasrun.Load("fixtures/example/model.h5", nil)
	if err != nil {
		log.Fatal(err)
	}
	x := readNPY("fixtures/example/input_0.npy") // shape [2 5 10]: a batch of 2

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := m.PredictContext(ctx, x)
	if err != nil {
		log.Fatal(err)
	}
	probs := out[0] // softmax over 5 classes, one row per sample
	for b := range probs.Shape[0] {
		row := probs.Data[b*5 : (b+1)*5]
		best := 0
		for i, p := range row {
			if p > row[best] {
				best = i
			}
		}
		fmt.Printf("sample %d: class %d\n", b, best)
	}
	want := readNPY("fixtures/example/expected_0.npy") // Keras's output
	fmt.Println("shape", probs.Shape, "matches Keras:", maxAbsDiff(probs, want) <= 1e-5)

	// A wrong input is the caller's fault, and says so.
	_, err = m.PredictContext(ctx, readNPY("fixtures/stateful_lstm/input_0.npy"))
	var ie *kerasrun.InputError
	if errors.As(err, &ie) {
		fmt.Printf("input %q: got %s, want %s\n", ie.Input, ie.Got, ie.Want)
	}
	// Output:
	// sample 0: class 3
	// sample 1: class 4
	// shape [2 5] matches Keras: true
	// input "bidirectional_1_input": got shape [2 6 4], want shape (None, 5, 10)
}

func ExampleModel_NewSession() {
	// An LSTM built with stateful=True and batch_input_shape (2, 6, 4).
	m, err := kerasrun.Load("fixtures/stateful_lstm/model.h5", nil)
	if err != nil {
		log.Fatal(err)
	}
	x := readNPY("fixtures/stateful_lstm/input_0.npy")
	fresh := readNPY("fixtures/stateful_lstm/expected_0.npy") // Keras, from zero states

	s := m.NewSession()
	first, err := s.Predict(x)
	if err != nil {
		log.Fatal(err)
	}
	second, err := s.Predict(x) // starts from the states the first call left
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first call from zero states:", maxAbsDiff(first[0], fresh) <= 1e-5)
	fmt.Println("second call carries the states:", maxAbsDiff(second[0], fresh) > 1e-3)

	s.Reset()
	again, err := s.Predict(x)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after Reset, from zero states:", maxAbsDiff(again[0], fresh) <= 1e-5)
	// Output:
	// first call from zero states: true
	// second call carries the states: true
	// after Reset, from zero states: true
}

// scaleConfig is the decoded config of FooBar, a custom Keras layer that
// multiplies its input by alpha.
type scaleConfig struct {
	name, class string
	alpha       float32
}

func decodeFooBar(r *layers.Reader) (layers.Config, error) {
	s := r.Spec()
	// Every key of the config must be read or ignored: an option that
	// the decoder does not know fails the load, naming it.
	return &scaleConfig{name: s.Name, class: s.Class, alpha: float32(r.Float("alpha", 1))}, nil
}

// Build takes the static input shapes (-1 for a free dimension) and the
// layer's weights (FooBar has none) and returns the layer with its output
// shapes.
func (c *scaleConfig) Build(in [][]int, w *layers.Weights) (kerasrun.Layer, [][]int, error) {
	if len(in) != 1 {
		return nil, nil, fmt.Errorf("want one input, got %d", len(in))
	}
	return &scaleLayer{c: *c}, [][]int{in[0]}, nil
}

// scaleLayer is the built layer: immutable, safe for concurrent use.
type scaleLayer struct{ c scaleConfig }

func (l *scaleLayer) Name() string  { return l.c.name }
func (l *scaleLayer) Class() string { return l.c.class }

// Forward must not modify its inputs, and keeps no reference to them.
func (l *scaleLayer) Forward(in []*kerasrun.Tensor) ([]*kerasrun.Tensor, error) {
	x := in[0]
	y := make([]float32, len(x.Data))
	for i, v := range x.Data {
		y[i] = l.c.alpha * v
	}
	t, err := kerasrun.NewTensor(x.Shape, y)
	if err != nil {
		return nil, err
	}
	return []*kerasrun.Tensor{t}, nil
}

// layers.Register panics when a class is registered twice.
var registerFooBar sync.Once

// Example_customLayer runs a model with a layer of class FooBar, which is
// not a Keras class, after registering it.
func Example_customLayer() {
	registerFooBar.Do(func() { layers.Register("FooBar", decodeFooBar) }) // before loading

	m, err := kerasrun.Load("fixtures/unknown_class/model.h5", nil)
	if err != nil {
		log.Fatal(err)
	}
	out, err := m.Predict(readNPY("fixtures/unknown_class/input_0.npy"))
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range m.Layers() {
		fmt.Println(l.Name, l.Class)
	}
	fmt.Println(m.Outputs()[0].Name, out[0].Shape)
	// Output:
	// dense_1 Dense
	// foo_bar_1 FooBar
	// foo_bar_1 [2 6 3]
}
