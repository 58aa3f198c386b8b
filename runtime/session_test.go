package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// sumLayer is a stateful test layer: for x [batch, time] it outputs, per
// sample, the running sum of x starting from its state; its final state is
// the last sum. Every number is hand-checkable.
type sumLayer struct {
	name     string
	stateful bool
	fail     bool // ForwardStates fails after computing
}

func (l *sumLayer) Name() string  { return l.name }
func (l *sumLayer) Class() string { return "Sum" }
func (l *sumLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	out, _, err := l.ForwardStates(context.Background(), in, nil)
	return out, err
}
func (l *sumLayer) Stateful() bool { return l.stateful }
func (l *sumLayer) ForwardStates(_ context.Context, in []*runtime.Tensor, states []*runtime.Tensor) ([]*runtime.Tensor, []*runtime.Tensor, error) {
	x := in[0]
	b, t := x.Shape[0], x.Shape[1]
	out := runtime.Zeros(b, t)
	final := runtime.Zeros(b, 1)
	for i := 0; i < b; i++ {
		s := float32(0)
		if states != nil {
			s = states[0].Data[i]
		}
		for j := 0; j < t; j++ {
			s += x.Data[i*t+j]
			out.Data[i*t+j] = s
		}
		final.Data[i] = s
	}
	if l.fail {
		return nil, nil, errors.New("sum: failing on purpose")
	}
	return []*runtime.Tensor{out}, []*runtime.Tensor{final}, nil
}

func sumModel(t *testing.T, layers ...*sumLayer) *runtime.Model {
	t.Helper()
	g := runtime.NewGraph()
	r := g.Input(runtime.IO{Name: "x", Shape: []int{-1, -1}, DType: "float32"}, true)
	for _, l := range layers {
		r = g.Call(l, []runtime.Ref{r}, [][]int{{-1, -1}})[0]
	}
	g.Output("y", r)
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tensor2(rows ...[]float32) *runtime.Tensor {
	t := runtime.Zeros(len(rows), len(rows[0]))
	for i, r := range rows {
		copy(t.Data[i*len(r):], r)
	}
	return t
}

func wantData(t *testing.T, got *runtime.Tensor, want ...float32) {
	t.Helper()
	if len(got.Data) != len(want) {
		t.Fatalf("got %v, want %v", got.Data, want)
	}
	for i := range want {
		if got.Data[i] != want[i] {
			t.Fatalf("got %v, want %v", got.Data, want)
		}
	}
}

// TestSessionCarriesStates checks that each sample's final state starts
// the same sample of the next call, that Model.Predict does not, and that
// Reset starts over.
func TestSessionCarriesStates(t *testing.T) {
	m := sumModel(t, &sumLayer{name: "sum_1", stateful: true})
	s := m.NewSession()
	out, err := s.Predict(tensor2([]float32{1, 2}, []float32{10, 20}))
	if err != nil {
		t.Fatal(err)
	}
	wantData(t, out[0], 1, 3, 10, 30)
	out, err = s.Predict(tensor2([]float32{1}, []float32{1}))
	if err != nil {
		t.Fatal(err)
	}
	wantData(t, out[0], 4, 31)
	out, err = m.Predict(tensor2([]float32{1}, []float32{1}))
	if err != nil {
		t.Fatal(err)
	}
	wantData(t, out[0], 1, 1)
	s.Reset()
	out, err = s.Predict(tensor2([]float32{1}, []float32{1}))
	if err != nil {
		t.Fatal(err)
	}
	wantData(t, out[0], 1, 1)
}

// TestSessionOnlyStatefulLayers checks that a layer that is not stateful
// starts from zeros on every call of a session.
func TestSessionOnlyStatefulLayers(t *testing.T) {
	m := sumModel(t, &sumLayer{name: "sum_1", stateful: false}, &sumLayer{name: "sum_2", stateful: true})
	s := m.NewSession()
	// sum_1: 1, 1 -> 1, 2; sum_2: 1, 3.
	out, err := s.Predict(tensor2([]float32{1, 1}))
	if err != nil {
		t.Fatal(err)
	}
	wantData(t, out[0], 1, 3)
	// sum_1 from zero again: 1, 2; sum_2 from 3: 4, 6.
	out, err = s.Predict(tensor2([]float32{1, 1}))
	if err != nil {
		t.Fatal(err)
	}
	wantData(t, out[0], 4, 6)
}

// TestSessionBatchSize checks that the batch size is fixed by the first
// call, until Reset.
func TestSessionBatchSize(t *testing.T) {
	m := sumModel(t, &sumLayer{name: "sum_1", stateful: true})
	s := m.NewSession()
	if _, err := s.Predict(tensor2([]float32{1}, []float32{2})); err != nil {
		t.Fatal(err)
	}
	_, err := s.Predict(tensor2([]float32{1}))
	if err == nil || !strings.Contains(err.Error(), "batch size is 2") {
		t.Fatalf("error %v, want one about the batch size", err)
	}
	s.Reset()
	if _, err := s.Predict(tensor2([]float32{1})); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

// TestSessionErrorKeepsStates checks that a failed call leaves the states
// as they were.
func TestSessionErrorKeepsStates(t *testing.T) {
	good := &sumLayer{name: "sum_1", stateful: true}
	bad := &sumLayer{name: "sum_2", stateful: true}
	m := sumModel(t, good, bad)
	s := m.NewSession()
	if _, err := s.Predict(tensor2([]float32{1})); err != nil {
		t.Fatal(err)
	}
	bad.fail = true
	if _, err := s.Predict(tensor2([]float32{100})); err == nil {
		t.Fatal("no error")
	}
	bad.fail = false
	// sum_1 from 1: 2; sum_2 from 1: 3.
	out, err := s.Predict(tensor2([]float32{1}))
	if err != nil {
		t.Fatal(err)
	}
	wantData(t, out[0], 3)
	// Bad inputs are refused before anything runs.
	if _, err := s.Predict(); err == nil {
		t.Fatal("no inputs accepted")
	}
}

// TestSessionSharedLayer checks that a stateful layer called twice cannot
// stream.
func TestSessionSharedLayer(t *testing.T) {
	l := &sumLayer{name: "sum_1", stateful: true}
	m := sumModel(t, l, l)
	if _, err := m.Predict(tensor2([]float32{1})); err != nil {
		t.Fatal(err)
	}
	_, err := m.NewSession().Predict(tensor2([]float32{1}))
	if err == nil || !strings.Contains(err.Error(), "sum_1") {
		t.Fatalf("error %v, want one naming sum_1", err)
	}
}

// TestSessionsIndependent runs sessions of one model concurrently (with
// -race): each keeps its own states.
func TestSessionsIndependent(t *testing.T) {
	m := sumModel(t, &sumLayer{name: "sum_1", stateful: true})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(v float32) {
			defer wg.Done()
			s := m.NewSession()
			var out []*runtime.Tensor
			var err error
			for i := 0; i < 10; i++ {
				if out, err = s.Predict(tensor2([]float32{v})); err != nil {
					errs <- err
					return
				}
			}
			if out[0].Data[0] != 10*v {
				errs <- errors.New("a session's states were disturbed by another")
			}
		}(float32(g + 1))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
