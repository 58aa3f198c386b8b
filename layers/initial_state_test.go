package layers

import (
	"context"
	"math/rand"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// buildWithStates decodes and builds one layer for a sequence of shape seq
// followed by the given initial-state shapes, and returns the build error.
func buildWithStates(t testing.TB, name, class, js string, env Env, seq []int, states [][]int, ws []Weight) (runtime.Layer, [][]int, error) {
	t.Helper()
	spec := Spec{Name: name, Class: class, Config: mustParse(t, js), Env: env}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatalf("Decode %s: %v", class, err)
	}
	return Build(spec, cfg, append([][]int{seq}, states...), NewWeights(ws))
}

// stateClass is one recurrent class of the initial-state tests.
type stateClass struct {
	class   string
	gates   int
	nstates int
	bias    func(u int) []int
	extra   string
}

var stateClasses = []stateClass{
	{"LSTM", 4, 2, func(u int) []int { return []int{4 * u} }, ""},
	{"GRU", 3, 1, func(u int) []int { return []int{3 * u} }, `, "reset_after": false`},
	{"GRU", 3, 1, func(u int) []int { return []int{2, 3 * u} }, `, "reset_after": true`},
	{"SimpleRNN", 1, 1, func(u int) []int { return []int{u} }, ""},
	{"CuDNNLSTM", 4, 2, func(u int) []int { return []int{8 * u} }, ""},
	{"CuDNNGRU", 3, 1, func(u int) []int { return []int{6 * u} }, ""},
}

// TestRecurrentInitialStateInputs checks that initial states given as
// inputs after the sequence (Keras's initial_state) give, bit for bit, what
// the same states give through ForwardStates on one goroutine, on every
// path of the time loop: one goroutine, pieces of rows, and for the LSTM
// the shared loop of a contended machine; with go_backwards,
// return_sequences, return_state and masks (the CuDNN classes refuse
// masks).
func TestRecurrentInitialStateInputs(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(1))
	defer func(v int) { rowSplitSmall = v }(rowSplitSmall)
	rowSplitSmall = 1 << 30 // pieces of one row
	rng := rand.New(rand.NewSource(21))
	const in, steps, batch, u = 5, 6, 4, 70
	for _, c := range stateClasses {
		for _, opts := range []string{
			`"return_sequences": true, "return_state": true`,
			`"return_sequences": false, "return_state": true, "go_backwards": true`,
			`"return_sequences": true, "go_backwards": true`,
		} {
			for _, masked := range []bool{false, true} {
				if masked && strings.HasPrefix(c.class, "CuDNN") {
					continue
				}
				what := c.class + c.extra + " " + opts + " masked=" + strconv.FormatBool(masked)
				js := `{"name": "r", "units": ` + strconv.Itoa(u) + `, ` + opts + c.extra + `}`
				ws := randWeights(rng, "r", in, u, c.gates, c.bias(u)...)
				var sshapes [][]int
				for range c.nstates {
					sshapes = append(sshapes, []int{-1, u})
				}
				l, shapes, err := buildWithStates(t, "r", c.class, js, envTF24, []int{-1, steps, in}, sshapes, ws)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				_, plain, _ := buildWithStates(t, "r", c.class, js, envTF24, []int{-1, steps, in}, nil, ws)
				if !shapesEqual(shapes, plain) {
					t.Fatalf("%s: output shapes %v with states, %v without", what, shapes, plain)
				}
				x := randT(rng, batch, steps, in)
				if masked {
					x.Mask = randMask(rng, batch*steps)
					x.Mask[0] = false
				}
				var init []*runtime.Tensor
				for range c.nstates {
					init = append(init, randT(rng, batch, u))
				}
				rl := l.(*rnnLayer)
				goruntime.GOMAXPROCS(1)
				want, _, err := rl.ForwardStates(context.Background(), []*runtime.Tensor{x}, init)
				if err != nil {
					t.Fatal(err)
				}
				args := append([]*runtime.Tensor{x}, init...)
				var kept [][]float32
				for _, st := range init {
					kept = append(kept, append([]float32(nil), st.Data...))
				}
				run := func(path string) {
					got, err := l.Forward(args)
					if err != nil {
						t.Fatalf("%s, %s: %v", what, path, err)
					}
					sameBits(t, what+", "+path, got, want)
				}
				run("one goroutine")
				goruntime.GOMAXPROCS(3)
				run("pieces of rows")
				goruntime.GOMAXPROCS(1)
				if c.class == "LSTM" || c.class == "CuDNNLSTM" {
					withShared(t, 3, func() { run("shared loop") })
				}
				for i, st := range init {
					floatsEqual(t, what+": initial state input after the calls", st.Data, kept[i])
				}
			}
		}
	}
}

func shapesEqual(a, b [][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !intsEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestInitialStateInputValues checks the numbers on the running sum
// h_t = x_t + h_(t-1) from an initial state given as an input: x = 1, 2
// from 5 gives 6, 8; with step 0 masked the state is kept (5, then 7) and
// the output follows the version's rule for masked steps.
func TestInitialStateInputValues(t *testing.T) {
	h0 := &runtime.Tensor{Shape: []int{1, 1}, Data: []float32{5}}
	for _, tc := range []struct {
		env  Env
		mask []bool
		want []float32
	}{
		{envK224, nil, []float32{6, 8, 8}},
		{envK3, nil, []float32{6, 8, 8}},
		{envK224, []bool{false, true}, []float32{5, 7, 7}},
		{envK3, []bool{false, true}, []float32{0, 7, 7}},
	} {
		l := sumRNN(t, tc.env, `, "return_sequences": true, "return_state": true`)
		out, err := l.Forward([]*runtime.Tensor{seq1(tc.mask, 1, 2), h0})
		if err != nil {
			t.Fatal(err)
		}
		floatsEqual(t, "sequence and state "+tc.env.KerasVersion, append(append([]float32(nil), out[0].Data...), out[1].Data...), tc.want)
	}
}

// TestInitialStateInputErrors checks the static and run-time checks of
// initial states given as inputs: their count and shapes, with errors that
// name the layer.
func TestInitialStateInputErrors(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	const in, u = 3, 4
	ws := func() []Weight { return randWeights(rng, "lstm_1", in, u, 4, 4*u) }
	js := `{"name": "lstm_1", "units": 4}`
	for _, tc := range []struct {
		states [][]int
		want   string
	}{
		{[][]int{{-1, u}}, "takes 1 input (the sequence) or 3"},
		{[][]int{{-1, u}, {-1, u}, {-1, u}}, "got 4"},
		{[][]int{{-1, u}, {-1, u + 1}}, "initial state 1: shape (None, 5), want (batch, 4)"},
		{[][]int{{3, u}, {-1, u}}, "initial state 0: shape (3, 4)"},
		{[][]int{{-1, u, 1}, {-1, u}}, "initial state 0"},
	} {
		_, _, err := buildWithStates(t, "lstm_1", "LSTM", js, envK3, []int{2, 7, in}, tc.states, ws())
		wantErr(t, err, "lstm_1", tc.want)
	}
	l, _, err := buildWithStates(t, "lstm_1", "LSTM", js, envK3, []int{-1, 7, in}, [][]int{{-1, u}, {-1, u}}, ws())
	if err != nil {
		t.Fatal(err)
	}
	x := randT(rng, 2, 7, in)
	for _, tc := range []struct {
		in   []*runtime.Tensor
		want string
	}{
		{[]*runtime.Tensor{x, randT(rng, 3, u), randT(rng, 2, u)}, "initial state 0 has shape (3, 4), want [2 4]"},
		{[]*runtime.Tensor{x, randT(rng, 2, u), randT(rng, 2, u+1)}, "initial state 1 has shape (2, 5)"},
		{[]*runtime.Tensor{x, randT(rng, 2, u)}, "2 inputs"},
		{[]*runtime.Tensor{x, randT(rng, 2, u), nil}, "initial state 1 is missing"},
	} {
		_, err := l.Forward(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"lstm_1"`) {
			t.Errorf("error %v, want one naming the layer and saying %q", err, tc.want)
		}
	}
}

// TestBidirectionalInitialStateInputs checks a Bidirectional given its
// initial states as inputs (the forward layer's, then the backward
// layer's) against the same states through ForwardStates, bit for bit:
// the concat merge written in place, the other merges, return_state,
// masks; and the build checks of their count.
func TestBidirectionalInitialStateInputs(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(3))
	rng := rand.New(rand.NewSource(8))
	const in, steps, batch, u = 4, 5, 9, 6
	for _, c := range bidiInnerClasses {
		for _, merge := range []string{"concat", "sum", "null"} {
			for _, seq := range []bool{true, false} {
				js := `{"name": "bidirectional_1", "merge_mode": ` + strconv.Quote(merge) + `, "layer": {"class_name": "` + c.class +
					`", "config": {"name": "r_1", "units": ` + strconv.Itoa(u) + `, "return_state": true, "return_sequences": ` + strconv.FormatBool(seq) + c.extra + `}}}`
				if merge == "null" {
					js = strings.Replace(js, `"null"`, "null", 1)
				}
				nst := 2
				if c.class != "LSTM" {
					nst = 1
				}
				var sshapes [][]int
				for range 2 * nst {
					sshapes = append(sshapes, []int{-1, u})
				}
				ws := append(randWeights(rng, "f", in, u, c.gates, c.bias(u)...), randWeights(rng, "b", in, u, c.gates, c.bias(u)...)...)
				l, _, err := buildWithStates(t, "bidirectional_1", "Bidirectional", js, envTF24, []int{-1, steps, in}, sshapes, ws)
				if err != nil {
					t.Fatal(err)
				}
				_, _, err = buildWithStates(t, "bidirectional_1", "Bidirectional", js, envTF24, []int{-1, steps, in}, sshapes[1:], ws)
				wantErr(t, err, "bidirectional_1", "initial state(s) of the forward layer")
				for _, masked := range []bool{false, true} {
					what := c.class + " merge " + merge + " seq " + strconv.FormatBool(seq) + " masked " + strconv.FormatBool(masked)
					x := randT(rng, batch, steps, in)
					if masked {
						x.Mask = randMask(rng, batch*steps)
					}
					var init []*runtime.Tensor
					for range 2 * nst {
						init = append(init, randT(rng, batch, u))
					}
					want, _, err := l.(*bidirectionalLayer).ForwardStates(context.Background(), []*runtime.Tensor{x}, init)
					if err != nil {
						t.Fatal(err)
					}
					got, err := l.Forward(append([]*runtime.Tensor{x}, init...))
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					sameBits(t, what, got, want)
				}
				if _, err := l.Forward([]*runtime.Tensor{randT(rng, batch, steps, in), randT(rng, batch, u)}); err == nil || !strings.Contains(err.Error(), "bidirectional_1") {
					t.Errorf("a Bidirectional given 1 initial state: error %v", err)
				}
			}
		}
	}
}

// TestSessionInitialStateInputs checks that a stateful layer given initial
// states as inputs starts every call of a session from them, as Keras's
// RNN.call uses its carried states only when no initial_state is given.
func TestSessionInitialStateInputs(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	const in, u = 3, 5
	l, shapes, err := buildWithStates(t, "lstm_1", "LSTM", `{"name": "lstm_1", "units": 5, "stateful": true, "return_state": true}`,
		envK3, []int{2, -1, in}, [][]int{{2, u}, {2, u}}, randWeights(rng, "lstm_1", in, u, 4, 4*u))
	if err != nil {
		t.Fatal(err)
	}
	g := runtime.NewGraph()
	refs := []runtime.Ref{g.Input(runtime.IO{Name: "x", Shape: []int{2, -1, in}, DType: "float32"}, true)}
	for _, n := range []string{"h", "c"} {
		refs = append(refs, g.Input(runtime.IO{Name: n, Shape: []int{2, u}, DType: "float32"}, true))
	}
	for i, o := range g.Call(l, refs, shapes) {
		g.Output("out_"+strconv.Itoa(i), o)
	}
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	x, h, c := randT(rng, 2, 4, in), randT(rng, 2, u), randT(rng, 2, u)
	want, err := m.Predict(x, h, c)
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSession()
	for range 2 {
		got, err := s.Predict(x, h, c)
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, "session call", got, want)
	}
}
