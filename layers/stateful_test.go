package layers

import (
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// randWeights returns the weights of a recurrent layer with gates gate
// blocks (4 LSTM, 3 GRU, 1 SimpleRNN) and a bias of biasShape.
func randWeights(rng *rand.Rand, scope string, in, u, gates int, biasShape ...int) []Weight {
	mk := func(name string, shape ...int) Weight {
		w := Weight{Name: scope + "/" + name + ":0", Shape: shape, Data: make([]float32, runtime.NumElements(shape))}
		for i := range w.Data {
			w.Data[i] = float32(rng.NormFloat64() * 0.5)
		}
		return w
	}
	return []Weight{mk("kernel", in, gates*u), mk("recurrent_kernel", u, gates*u), mk("bias", biasShape...)}
}

// oneLayerModel wraps a built layer into a model with one input of shape
// [-1, -1, in].
func oneLayerModel(t *testing.T, l runtime.Layer, in int, outShapes [][]int) *runtime.Model {
	t.Helper()
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "input_1", Shape: []int{-1, -1, in}, DType: "float32"}, true)
	outs := g.Call(l, []runtime.Ref{x}, outShapes)
	for i, o := range outs {
		g.Output("out_"+strconv.Itoa(i), o)
	}
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sliceTime returns steps [from, to) of x [batch, time, f], with its mask.
func sliceTime(x *runtime.Tensor, from, to int) *runtime.Tensor {
	b, tt, f := x.Shape[0], x.Shape[1], x.Shape[2]
	out := runtime.Zeros(b, to-from, f)
	if x.Mask != nil {
		out.Mask = make([]bool, b*(to-from))
	}
	for bi := 0; bi < b; bi++ {
		copy(out.Data[bi*(to-from)*f:(bi+1)*(to-from)*f], x.Data[(bi*tt+from)*f:(bi*tt+to)*f])
		if x.Mask != nil {
			copy(out.Mask[bi*(to-from):(bi+1)*(to-from)], x.Mask[bi*tt+from:bi*tt+to])
		}
	}
	return out
}

// appendTime concatenates sequences along the time axis.
func appendTime(a, b *runtime.Tensor) *runtime.Tensor {
	if a == nil {
		return b.Clone()
	}
	n, ta, tb, f := a.Shape[0], a.Shape[1], b.Shape[1], a.Shape[2]
	out := runtime.Zeros(n, ta+tb, f)
	for i := 0; i < n; i++ {
		copy(out.Data[i*(ta+tb)*f:], a.Data[i*ta*f:(i+1)*ta*f])
		copy(out.Data[(i*(ta+tb)+ta)*f:], b.Data[i*tb*f:(i+1)*tb*f])
	}
	return out
}

func closeTo(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
			t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestSessionChunksEqualWhole feeds a sequence through a session in chunks
// of several sizes and checks that the outputs equal one call on the whole
// sequence, for every stateful recurrent class, with and without a mask
// (multi-backend semantics, where held states are output at masked steps).
func TestSessionChunksEqualWhole(t *testing.T) {
	const in, u, steps = 3, 4, 12
	rng := rand.New(rand.NewSource(5))
	layers := []struct {
		class, opts string
		gates       int
		bias        []int
	}{
		{"LSTM", `"recurrent_activation": "sigmoid"`, 4, []int{4 * u}},
		{"GRU", `"reset_after": false`, 3, []int{3 * u}},
		{"GRU", `"reset_after": true, "recurrent_activation": "sigmoid"`, 3, []int{2, 3 * u}},
		{"SimpleRNN", `"activation": "tanh"`, 1, []int{u}},
		{"CuDNNLSTM", ``, 4, []int{8 * u}},
		{"CuDNNGRU", ``, 3, []int{6 * u}},
	}
	chunkings := [][]int{{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {5, 7}, {3, 4, 5}, {12}}
	for _, lc := range layers {
		for _, masked := range []bool{false, true} {
			if masked && strings.HasPrefix(lc.class, "CuDNN") {
				continue
			}
			name := lc.class + " " + lc.opts
			js := `{"name": "rnn_1", "units": ` + strconv.Itoa(u) + `, "stateful": true, "return_sequences": true`
			if lc.opts != "" {
				js += ", " + lc.opts
			}
			js += "}"
			l, shapes := mustBuild(t, "rnn_1", lc.class, js, envK224, []int{2, -1, in}, randWeights(rng, "rnn_1", in, u, lc.gates, lc.bias...))
			m := oneLayerModel(t, l, in, shapes)
			x := randT(rng, 2, steps, in)
			if masked {
				x.Mask = randMask(rng, 2*steps)
				x.Mask[0], x.Mask[steps+4], x.Mask[steps+5] = false, false, false
			}
			whole, err := m.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			for _, chunks := range chunkings {
				s := m.NewSession()
				var got *runtime.Tensor
				from := 0
				for _, n := range chunks {
					out, err := s.Predict(sliceTime(x, from, from+n))
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					got = appendTime(got, out[0])
					from += n
				}
				closeTo(t, name+" chunks "+strconv.Itoa(len(chunks)), got.Data, whole[0].Data)
			}
			// Model.Predict stays stateless: the same chunk twice gives the
			// same outputs, those of the chunk run alone.
			c := sliceTime(x, 0, 5)
			a, err := m.Predict(c)
			if err != nil {
				t.Fatal(err)
			}
			b, err := m.Predict(c)
			if err != nil {
				t.Fatal(err)
			}
			closeTo(t, name+" predict twice", b[0].Data, a[0].Data)
		}
	}
}

// TestSessionReset checks that Reset starts a new stream from zero states.
func TestSessionReset(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	l, shapes := mustBuild(t, "gru_1", "GRU", `{"name": "gru_1", "units": 3, "stateful": true, "reset_after": true}`,
		envTF24, []int{2, -1, 2}, randWeights(rng, "gru_1", 2, 3, 3, 2, 9))
	m := oneLayerModel(t, l, 2, shapes)
	x := randT(rng, 2, 4, 2)
	fresh, err := m.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSession()
	first, err := s.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "first call", first[0].Data, fresh[0].Data)
	second, err := s.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	same := true
	for i := range second[0].Data {
		same = same && second[0].Data[i] == fresh[0].Data[i]
	}
	if same {
		t.Fatal("the second call of a session gives the outputs of a fresh start")
	}
	s.Reset()
	again, err := s.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "after Reset", again[0].Data, fresh[0].Data)
	// The batch size is fixed until Reset.
	if _, err := s.Predict(randT(rng, 3, 4, 2)); err == nil || !strings.Contains(err.Error(), "batch") {
		t.Fatalf("batch 3 after batch 2: error %v, want one about the batch size", err)
	}
	s.Reset()
	if _, err := s.Predict(randT(rng, 3, 4, 2)); err != nil {
		t.Fatalf("batch 3 after Reset: %v", err)
	}
}

// TestSessionStatelessLayers checks that a layer without stateful=True
// starts every session call from zeros.
func TestSessionStatelessLayers(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	l, shapes := mustBuild(t, "lstm_1", "LSTM", `{"name": "lstm_1", "units": 3}`,
		envK224, []int{-1, -1, 2}, randWeights(rng, "lstm_1", 2, 3, 4, 12))
	m := oneLayerModel(t, l, 2, shapes)
	x := randT(rng, 2, 4, 2)
	s := m.NewSession()
	a, _ := s.Predict(x)
	b, err := s.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "second call", b[0].Data, a[0].Data)
}

// TestSessionBidirectional checks Keras's stateful Bidirectional: both
// directions carry their own states. The forward half of the chunked
// output equals the whole sequence's; the backward half of each chunk is
// the backward layer run on that chunk from the state it reached on the
// previous chunk.
func TestSessionBidirectional(t *testing.T) {
	const in, u = 3, 2
	rng := rand.New(rand.NewSource(4))
	ws := append(randWeights(rng, "bidirectional_1/forward_lstm_1", in, u, 4, 4*u),
		randWeights(rng, "bidirectional_1/backward_lstm_1", in, u, 4, 4*u)...)
	l, shapes := mustBuild(t, "bidirectional_1", "Bidirectional",
		`{"name": "bidirectional_1", "merge_mode": "concat", "layer": {"class_name": "LSTM", "config": {"name": "lstm_1", "units": 2, "stateful": true, "return_sequences": true}}}`,
		envK224, []int{2, -1, in}, ws)
	bl := l.(*bidirectionalLayer)
	if !bl.Stateful() {
		t.Fatal("a Bidirectional around a stateful LSTM is not stateful")
	}
	m := oneLayerModel(t, l, in, shapes)
	x := randT(rng, 2, 9, in)
	whole, err := m.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSession()
	bwd := bl.bwd.(*rnnLayer)
	var bstate []*runtime.Tensor
	from := 0
	for _, n := range []int{4, 5} {
		c := sliceTime(x, from, from+n)
		out, err := s.Predict(c)
		if err != nil {
			t.Fatal(err)
		}
		bo, bf, err := bwd.ForwardStates(t.Context(), []*runtime.Tensor{c}, bstate)
		if err != nil {
			t.Fatal(err)
		}
		bstate = bf
		brev := reverseTime(bo[0])
		for bi := 0; bi < 2; bi++ {
			for st := 0; st < n; st++ {
				row := out[0].Data[(bi*n+st)*2*u : (bi*n+st+1)*2*u]
				wrow := whole[0].Data[(bi*9+from+st)*2*u : (bi*9+from+st+1)*2*u]
				closeTo(t, "forward half", row[:u], wrow[:u])
				closeTo(t, "backward half", row[u:], brev.Data[(bi*n+st)*u:(bi*n+st+1)*u])
			}
		}
		from += n
	}
}

// TestSessionSharedStatefulLayer checks that a stateful layer called twice
// in a graph cannot run in a session.
func TestSessionSharedStatefulLayer(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	l, shapes := mustBuild(t, "simple_rnn_1", "SimpleRNN", `{"name": "simple_rnn_1", "units": 2, "stateful": true}`,
		envK224, []int{2, -1, 2}, randWeights(rng, "simple_rnn_1", 2, 2, 1, 2))
	g := runtime.NewGraph()
	a := g.Input(runtime.IO{Name: "a", Shape: []int{2, -1, 2}, DType: "float32"}, true)
	b := g.Input(runtime.IO{Name: "b", Shape: []int{2, -1, 2}, DType: "float32"}, true)
	g.Output("oa", g.Call(l, []runtime.Ref{a}, shapes)[0])
	g.Output("ob", g.Call(l, []runtime.Ref{b}, shapes)[0])
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	x := randT(rng, 2, 3, 2)
	if _, err := m.Predict(x, x); err != nil {
		t.Fatalf("Predict: %v", err)
	}
	if _, err := m.NewSession().Predict(x, x); err == nil || !strings.Contains(err.Error(), "simple_rnn_1") {
		t.Fatalf("session error %v, want one naming simple_rnn_1", err)
	}
}
