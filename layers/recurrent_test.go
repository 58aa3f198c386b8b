package layers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

var (
	envK224   = Env{KerasVersion: "2.2.4", Backend: "tensorflow"}
	envTF224  = Env{KerasVersion: "2.2.4-tf", Backend: "tensorflow"}
	envTF24   = Env{KerasVersion: "2.4.0", Backend: "tensorflow"}
	envK3     = Env{KerasVersion: "3.3.3", Backend: "tensorflow"}
	envTF216  = Env{KerasVersion: "2.1.6-tf", Backend: "tensorflow"}
	envK230   = Env{KerasVersion: "2.3.0", Backend: "tensorflow"}
	envKeras1 = Env{}
)

// mustBuild decodes and builds one layer for a single input of the given
// static shape.
func mustBuild(t testing.TB, name, class, js string, env Env, in []int, ws []Weight) (runtime.Layer, [][]int) {
	t.Helper()
	if !gjson.Valid(js) {
		t.Fatalf("test config is not valid JSON: %s", js)
	}
	spec := Spec{Name: name, Class: class, Config: gjson.Parse(js), Env: env}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatalf("Decode %s: %v", class, err)
	}
	l, out, err := Build(spec, cfg, [][]int{in}, NewWeights(ws))
	if err != nil {
		t.Fatalf("Build %s: %v", class, err)
	}
	return l, out
}

// buildErr decodes and builds one layer and returns the error of either
// step.
func buildErr(t testing.TB, name, class, js string, env Env, in []int, ws []Weight) error {
	t.Helper()
	spec := Spec{Name: name, Class: class, Config: gjson.Parse(js), Env: env}
	cfg, err := Decode(spec)
	if err != nil {
		return err
	}
	_, _, err = Build(spec, cfg, [][]int{in}, NewWeights(ws))
	return err
}

// wantErr checks that err is a *LayerError that mentions every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	var le *LayerError
	if !errors.As(err, &le) {
		t.Errorf("error %v (%T) is not a *LayerError", err, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

// sumRNN is a SimpleRNN(1) with linear activation, kernel 1, recurrent
// kernel 1 and no bias: h_t = x_t + h_(t-1), a running sum that makes every
// masked-step rule hand-checkable.
func sumRNN(t *testing.T, env Env, opts string) runtime.Layer {
	t.Helper()
	l, _ := mustBuild(t, "simple_rnn_1", "SimpleRNN",
		`{"name": "simple_rnn_1", "units": 1, "activation": "linear", "use_bias": false`+opts+`}`,
		env, []int{-1, -1, 1}, []Weight{
			{Name: "simple_rnn_1/kernel:0", Shape: []int{1, 1}, Data: []float32{1}},
			{Name: "simple_rnn_1/recurrent_kernel:0", Shape: []int{1, 1}, Data: []float32{1}},
		})
	return l
}

func seq1(mask []bool, vals ...float32) *runtime.Tensor {
	return &runtime.Tensor{Shape: []int{1, len(vals), 1}, Data: vals, Mask: mask}
}

func floatsEqual(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	}
}

// TestMaskedSteps checks the masked-step rules on the running sum over
// x = 1, 2, 4, 8, 16 with steps 0 and 3 masked:
//   - the state skips masked steps: h = 0, 2, 6, 6, 22;
//   - multi-backend Keras and tf.keras output the previous output there
//     (0 before any step), zero_output_for_mask outputs 0;
//   - the last output is the last step's.
func TestMaskedSteps(t *testing.T) {
	mask := []bool{false, true, true, false, true}
	for _, tc := range []struct {
		name string
		env  Env
		opts string
		seq  []float32
	}{
		{"keras 2.2.4", envK224, "", []float32{0, 2, 6, 6, 22}},
		{"tf.keras", envTF24, "", []float32{0, 2, 6, 6, 22}},
		{"keras 3 zero_output_for_mask", envK3, `, "zero_output_for_mask": true`, []float32{0, 2, 6, 0, 22}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := sumRNN(t, tc.env, `, "return_sequences": true`+tc.opts)
			x := seq1(mask, 1, 2, 4, 8, 16)
			out, err := l.Forward([]*runtime.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			floatsEqual(t, "sequence", out[0].Data, tc.seq)
			if &out[0].Mask[0] != &mask[0] {
				t.Error("the sequence output does not carry the input mask")
			}
			last := sumRNN(t, tc.env, tc.opts)
			out, err = last.Forward([]*runtime.Tensor{seq1(mask, 1, 2, 4, 8, 16)})
			if err != nil {
				t.Fatal(err)
			}
			floatsEqual(t, "last output", out[0].Data, []float32{22})
			if out[0].Mask != nil {
				t.Error("the last output carries a mask; Keras gives it none")
			}
		})
	}
}

// TestMaskedLastStep checks the last output when the last step is masked:
// the previous output (6), or 0 with zero_output_for_mask (Keras 3 returns
// outputs[-1]).
func TestMaskedLastStep(t *testing.T) {
	mask := []bool{true, true, false}
	for _, tc := range []struct {
		env  Env
		opts string
		want float32
	}{
		{envK224, "", 3},
		{envTF24, "", 3},
		{envK3, `, "zero_output_for_mask": true`, 0},
	} {
		out, err := sumRNN(t, tc.env, tc.opts).Forward([]*runtime.Tensor{seq1(mask, 1, 2, 4)})
		if err != nil {
			t.Fatal(err)
		}
		floatsEqual(t, tc.env.KerasVersion, out[0].Data, []float32{tc.want})
	}
}

// TestMaskedStepsFromInitialState checks the rule that tells multi-backend
// Keras from tf.keras: from a non-zero initial state (a stateful layer), a
// leading masked step outputs that state in multi-backend Keras (states[0])
// but zeros in tf.keras (prev_output starts at zeros).
func TestMaskedStepsFromInitialState(t *testing.T) {
	mask := []bool{false, true}
	init := []*runtime.Tensor{{Shape: []int{1, 1}, Data: []float32{5}}}
	for _, tc := range []struct {
		env  Env
		want []float32
	}{
		{envK224, []float32{5, 7}},
		{envKeras1, []float32{5, 7}},
		{envTF24, []float32{0, 7}},
		{envK3, []float32{0, 7}},
	} {
		l := sumRNN(t, tc.env, `, "return_sequences": true, "return_state": true`).(*rnnLayer)
		out, final, err := l.ForwardStates(context.Background(), []*runtime.Tensor{seq1(mask, 1, 2)}, init)
		if err != nil {
			t.Fatal(err)
		}
		floatsEqual(t, "sequence "+tc.env.KerasVersion, out[0].Data, tc.want)
		floatsEqual(t, "state output", out[1].Data, []float32{7})
		floatsEqual(t, "final state", final[0].Data, []float32{7})
		if &out[1].Data[0] == &final[0].Data[0] {
			t.Error("the state output shares memory with the final state")
		}
		if init[0].Data[0] != 5 {
			t.Error("ForwardStates modified its initial state")
		}
	}
}

// TestMaskedGoBackwards checks that the mask is read backwards with the
// sequence: x = 1, 2, 4 with step 2 (the first processed) masked gives
// 0, 2, 3 in processing order.
func TestMaskedGoBackwards(t *testing.T) {
	l := sumRNN(t, envK224, `, "return_sequences": true, "go_backwards": true`)
	out, err := l.Forward([]*runtime.Tensor{seq1([]bool{true, true, false}, 1, 2, 4)})
	if err != nil {
		t.Fatal(err)
	}
	floatsEqual(t, "sequence", out[0].Data, []float32{0, 2, 3})
}

// TestMaskWrongLength checks that a mask of the wrong size is an error, not
// a panic.
func TestMaskWrongLength(t *testing.T) {
	l := sumRNN(t, envK224, "")
	_, err := l.Forward([]*runtime.Tensor{seq1([]bool{true}, 1, 2)})
	if err == nil || !strings.Contains(err.Error(), "mask") {
		t.Fatalf("error %v, want one about the mask", err)
	}
}

// TestInitialStateShape checks that initial states of the wrong shape or
// count are errors.
func TestInitialStateShape(t *testing.T) {
	l := sumRNN(t, envK224, "").(*rnnLayer)
	x := seq1(nil, 1, 2)
	for _, st := range [][]*runtime.Tensor{
		{{Shape: []int{2, 1}, Data: []float32{1, 2}}},
		{{Shape: []int{1, 1}, Data: []float32{1}}, {Shape: []int{1, 1}, Data: []float32{1}}},
		{nil},
	} {
		if _, _, err := l.ForwardStates(context.Background(), []*runtime.Tensor{x}, st); err == nil {
			t.Errorf("initial states %v accepted", st)
		}
	}
}

// TestRecurrentOutputMasks checks the static mask rules: RNN.compute_mask
// passes the mask on the sequence output only.
func TestRecurrentOutputMasks(t *testing.T) {
	for _, tc := range []struct {
		opts string
		want []bool
	}{
		{`"return_sequences": true`, []bool{true}},
		{`"return_sequences": false`, []bool{false}},
		{`"return_sequences": true, "return_state": true`, []bool{true, false, false}},
	} {
		spec := Spec{Name: "lstm_1", Class: "LSTM", Env: envK224,
			Config: gjson.Parse(`{"name": "lstm_1", "units": 2, ` + tc.opts + `}`)}
		cfg, err := Decode(spec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := OutputMasks(spec, cfg, []bool{true}, len(tc.want))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: masks %v, want %v", tc.opts, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: masks %v, want %v", tc.opts, got, tc.want)
			}
		}
	}
}

// TestCuDNNRefusesMasks checks that CuDNN layers, and a Bidirectional
// around one, refuse a masked input at load, as Keras does.
func TestCuDNNRefusesMasks(t *testing.T) {
	for _, tc := range []struct{ name, class, config string }{
		{"cu_dnnlstm_1", "CuDNNLSTM", `{"name": "cu_dnnlstm_1", "units": 2}`},
		{"cu_dnngru_1", "CuDNNGRU", `{"name": "cu_dnngru_1", "units": 2}`},
		{"bidirectional_1", "Bidirectional", `{"name": "bidirectional_1", "layer": {"class_name": "CuDNNGRU", "config": {"name": "cu_dnngru_1", "units": 2, "return_sequences": true}}}`},
	} {
		spec := Spec{Name: tc.name, Class: tc.class, Env: envK224, Config: gjson.Parse(tc.config)}
		cfg, err := Decode(spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OutputMasks(spec, cfg, []bool{true}, 1); err == nil {
			t.Errorf("%s accepted a masked input", tc.class)
		} else if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: error %v", tc.class, err)
		}
		if m, err := OutputMasks(spec, cfg, []bool{false}, 1); err != nil || m[0] {
			t.Errorf("%s: unmasked input gives %v, %v", tc.class, m, err)
		}
	}
}

// TestRecurrentDefaults checks the version-dependent defaults of the
// recurrent activation: hard_sigmoid up to Keras 2.2.5, sigmoid from 2.3.0,
// in tf.keras and in Keras 3 (whose hard_sigmoid would differ anyway).
func TestRecurrentDefaults(t *testing.T) {
	for _, tc := range []struct {
		env  Env
		want string
	}{
		{envKeras1, "hard_sigmoid"},
		{envK224, "hard_sigmoid"},
		{Env{KerasVersion: "2.2.5"}, "hard_sigmoid"},
		{envK230, "sigmoid"},
		{envTF216, "sigmoid"},
		{envTF24, "sigmoid"},
		{envK3, "sigmoid"},
	} {
		if got := defaultRecurrentActivation(tc.env); got != tc.want {
			t.Errorf("keras_version %q: default recurrent_activation %s, want %s", tc.env.KerasVersion, got, tc.want)
		}
	}
}

// TestStatefulAccepted checks that stateful=True now decodes, for every
// recurrent class and inside Bidirectional, and that time_major=True is
// still refused.
func TestStatefulAccepted(t *testing.T) {
	for _, class := range []string{"LSTM", "GRU", "SimpleRNN", "CuDNNLSTM", "CuDNNGRU"} {
		cfg, err := Decode(Spec{Name: "rnn_1", Class: class, Env: envK224,
			Config: gjson.Parse(`{"name": "rnn_1", "units": 2, "stateful": true}`)})
		if err != nil {
			t.Errorf("%s stateful: %v", class, err)
			continue
		}
		if !cfg.(recurrentConfig).recurrentOptions().stateful {
			t.Errorf("%s: stateful not set", class)
		}
	}
	_, err := Decode(Spec{Name: "lstm_1", Class: "LSTM", Env: envTF24,
		Config: gjson.Parse(`{"name": "lstm_1", "units": 2, "time_major": true}`)})
	wantErr(t, err, "lstm_1", "time_major")
}

func randT(rng *rand.Rand, shape ...int) *runtime.Tensor {
	x := runtime.Zeros(shape...)
	for i := range x.Data {
		x.Data[i] = float32(rng.Float64()*2 - 1)
	}
	return x
}

var benchSink []*runtime.Tensor

// benchRecurrent times one layer on [8, 100, 64] inputs with 128 units.
// randMask returns n mask values, each set with probability 2/3.
func randMask(rng *rand.Rand, n int) []bool {
	m := make([]bool, n)
	for i := range m {
		m[i] = rng.Intn(3) > 0
	}
	return m
}

func benchRecurrent(b *testing.B, class, opts string, gates int, bias ...int) {
	const batch, steps, in, u = 8, 100, 64, 128
	rng := rand.New(rand.NewSource(1))
	l, _ := mustBuild(b, "rnn_1", class, `{"name": "rnn_1", "units": 128, "return_sequences": true`+opts+`}`,
		envTF24, []int{-1, steps, in}, randWeights(rng, "rnn_1", in, u, gates, bias...))
	x := randT(rng, batch, steps, in)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := l.Forward([]*runtime.Tensor{x})
		if err != nil {
			b.Fatal(err)
		}
		benchSink = out
	}
}

func BenchmarkLSTM(b *testing.B) { benchRecurrent(b, "LSTM", "", 4, 4*128) }
func BenchmarkGRU(b *testing.B)  { benchRecurrent(b, "GRU", `, "reset_after": false`, 3, 3*128) }
func BenchmarkGRUResetAfter(b *testing.B) {
	benchRecurrent(b, "GRU", `, "reset_after": true`, 3, 2, 3*128)
}
func BenchmarkSimpleRNN(b *testing.B) { benchRecurrent(b, "SimpleRNN", "", 1, 128) }

// BenchmarkLSTMStepSplit times an LSTM at batch 1 (50 steps, 64 inputs)
// on 2 goroutines with every step split between them and with none split,
// for unit counts whose step products run from 2^15 to 2^21 FLOPs: the
// evidence for stepParMinFlops.
func BenchmarkLSTMStepSplit(b *testing.B) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	defer func(v int) { stepParMinFlops = v }(stepParMinFlops)
	const steps, in = 50, 64
	for _, u := range []int{64, 128, 181, 256, 362, 512} {
		rng := rand.New(rand.NewSource(1))
		l, _ := mustBuild(b, "rnn_1", "LSTM", fmt.Sprintf(`{"name": "rnn_1", "units": %d, "return_sequences": true}`, u),
			envTF24, []int{-1, steps, in}, randWeights(rng, "rnn_1", in, u, 4, 4*u))
		x := randT(rng, 1, steps, in)
		for _, split := range []bool{true, false} {
			name := fmt.Sprintf("u=%d,flops=%d/serial", u, 8*u*u)
			stepParMinFlops = 1 << 30
			if split {
				name = fmt.Sprintf("u=%d,flops=%d/split", u, 8*u*u)
				stepParMinFlops = 0
			}
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					out, err := l.Forward([]*runtime.Tensor{x})
					if err != nil {
						b.Fatal(err)
					}
					benchSink = out
				}
			})
		}
	}
}
