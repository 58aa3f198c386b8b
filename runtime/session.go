package runtime

import (
	"context"
	"fmt"
	"sync"
)

// StatefulLayer is implemented by layers that can carry states from one
// call to the next: Keras recurrent layers (and Bidirectional wrappers of
// them) built with stateful=True.
type StatefulLayer interface {
	Layer
	// Stateful reports whether Keras carries the layer's states from one
	// batch to the next.
	Stateful() bool
	// ForwardStates is Forward from the given initial states (nil for
	// zeros, as Forward uses) that also returns the final states. The
	// final states share no memory with the outputs or the inputs.
	ForwardStates(ctx context.Context, in []*Tensor, states []*Tensor) (out, final []*Tensor, err error)
}

// Session runs a model as a stream: each stateful layer starts a call from
// the final states of the previous call, sample by sample (the states of
// sample i go to sample i of the next batch), as Keras does for layers
// built with stateful=True. Layers that are not stateful start every call
// from zeros, as in Model.Predict, which itself never keeps states.
//
// Keras: a stateful Bidirectional carries the states of both directions;
// the backward layer reads each batch from its last step to its first,
// starting from the state it reached at the start of the previous batch.
// Only the forward direction therefore equals one call on the whole
// sequence.
//
// The batch size is fixed by the first call; a call with another batch
// size is an error. Reset clears the states and the batch size. A Session
// serializes its calls: it is safe for concurrent use, but concurrent calls
// make a stream in an undefined order. Sessions of one Model are
// independent of each other.
type Session struct {
	m      *Model
	mu     sync.Mutex
	batch  int               // 0 until the first successful call
	states map[int][]*Tensor // final states by node index
	err    error             // why the model cannot run as a stream
}

// NewSession returns a session over m with every state at zero.
func (m *Model) NewSession() *Session {
	s := &Session{m: m, states: map[int][]*Tensor{}}
	calls := map[Layer]int{}
	for _, n := range m.nodes {
		if sl, ok := n.layer.(StatefulLayer); ok && sl.Stateful() {
			calls[n.layer]++
			if calls[n.layer] == 2 {
				// Keras: the calls of a shared stateful layer read and write
				// one set of state variables in an order Keras leaves
				// undefined.
				s.err = fmt.Errorf("runtime: stateful layer %q (%s) is called more than once in the model; a session cannot carry its states", n.layer.Name(), n.layer.Class())
			}
		}
	}
	return s
}

// Predict runs the model on one tensor per input, carrying the states of
// stateful layers over from the previous call. When it returns an error the
// states are left as they were.
func (s *Session) Predict(inputs ...*Tensor) ([]*Tensor, error) {
	return s.PredictContext(context.Background(), inputs...)
}

// PredictContext is Predict with cancellation.
func (s *Session) PredictContext(ctx context.Context, inputs ...*Tensor) ([]*Tensor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	batch := 0
	if len(inputs) > 0 && inputs[0] != nil && len(inputs[0].Shape) > 0 {
		batch = inputs[0].Shape[0]
	}
	if s.batch != 0 && batch != s.batch {
		return nil, inputErrorf(s.m.inputs[0].Name, fmt.Sprintf("batch size %d", s.batch), fmt.Sprintf("batch size %d", batch),
			"runtime: session batch size is %d (set by its first call), got %d: stateful layers keep one state per sample; call Reset to start a new stream", s.batch, batch)
	}
	run := &sessionRun{prev: s.states, next: map[int][]*Tensor{}}
	out, err := s.m.predict(ctx, run, inputs)
	if err != nil {
		return nil, err
	}
	s.states = run.next
	s.batch = batch
	return out, nil
}

// Reset sets every state back to zero and forgets the batch size.
func (s *Session) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states = map[int][]*Tensor{}
	s.batch = 0
}

// sessionRun holds the states of one call of a session.
type sessionRun struct {
	prev, next map[int][]*Tensor // by node index
}

// holds reports whether one of the session's states (those it started
// from, kept should the call fail, and those collected so far) is the
// header t or holds its Shape.
func (r *sessionRun) holds(t *Tensor) bool {
	if r == nil {
		return false
	}
	for _, m := range [2]map[int][]*Tensor{r.prev, r.next} {
		for _, states := range m {
			for _, x := range states {
				if x != nil && sharesHeader(t, x) {
					return true
				}
			}
		}
	}
	return false
}

func (r *sessionRun) forward(ctx context.Context, node int, l Layer, in []*Tensor) ([]*Tensor, error) {
	sl, ok := l.(StatefulLayer)
	if !ok || !sl.Stateful() {
		return forward(ctx, l, in)
	}
	out, final, err := sl.ForwardStates(ctx, in, r.prev[node])
	if err != nil {
		return nil, err
	}
	r.next[node] = final
	return out, nil
}
