package importer

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func loadFixture(t *testing.T, id string) *runtime.Model {
	t.Helper()
	m, err := Load(filepath.Join("..", "fixtures", id, "model.h5"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPredictBadInputs checks every kind of bad input at predict time:
// each error names the input and the shape the model expects.
func TestPredictBadInputs(t *testing.T) {
	m := loadFixture(t, "dense_rank2") // one input, (None, 5)
	const name, shape = "dense_1_input", "(None, 5)"
	for _, tc := range []struct {
		what  string
		in    []*runtime.Tensor
		parts []string
	}{
		{"wrong rank", []*runtime.Tensor{runtime.Zeros(2, 5, 1)}, []string{name, shape, "rank 3"}},
		{"wrong rank 1", []*runtime.Tensor{runtime.Zeros(5)}, []string{name, shape, "rank 1"}},
		{"wrong fixed dimension", []*runtime.Tensor{runtime.Zeros(2, 6)}, []string{name, shape, "[2 6]"}},
		{"no input", nil, []string{name, shape, "takes 1 input", "got 0"}},
		{"two inputs", []*runtime.Tensor{runtime.Zeros(2, 5), runtime.Zeros(2, 5)}, []string{name, shape, "got 2"}},
		{"empty batch", []*runtime.Tensor{runtime.Zeros(0, 5)}, []string{name, shape, "empty batch"}},
		{"nil tensor", []*runtime.Tensor{nil}, []string{name, shape, "nil"}},
		{"shape and data disagree", []*runtime.Tensor{{Shape: []int{2, 5}, Data: make([]float32, 9)}}, []string{name, shape, "9 values"}},
		{"negative dimension", []*runtime.Tensor{{Shape: []int{-2, 5}, Data: make([]float32, 10)}}, []string{name, shape}},
		// 2^32 * 2^32 overflows to 0, which a naive product would accept.
		{"overflowing shape", []*runtime.Tensor{{Shape: []int{1 << 32, 1 << 32}, Data: nil}}, []string{name, shape}},
		{"mask of the wrong length", []*runtime.Tensor{{Shape: []int{2, 5}, Data: make([]float32, 10), Mask: make([]bool, 3)}}, []string{name, shape, "mask"}},
	} {
		out, err := m.Predict(tc.in...)
		if out != nil {
			t.Errorf("%s: outputs with the error", tc.what)
		}
		if err == nil {
			t.Errorf("%s: no error", tc.what)
			continue
		}
		wantMessage(t, err, "", tc.parts...)
	}
}

// TestPredictBadTokenIDs checks token ids that are not integers or out of
// the Embedding's range: the error names the input, its shape and the
// layer. (The fixture's Keras 2.2.4 input is declared float32, as Keras
// 2.2.4 wrote it; an input declared int32 is checked before anything runs:
// runtime's TestIntegerInputs.)
func TestPredictBadTokenIDs(t *testing.T) {
	m := loadFixture(t, "embedding") // (None, 6) ids below 10
	for _, tc := range []struct {
		v     float32
		parts []string
	}{
		{1.5, []string{"embedding_1_input", "(None, 6)", "embedding_1", "1.5", "not an integer in [0, 10)"}},
		{10, []string{"embedding_1_input", "(None, 6)", "embedding_1", "10", "[0, 10)"}},
		{-1, []string{"embedding_1_input", "(None, 6)", "-1"}},
		{float32(math.NaN()), []string{"embedding_1_input", "(None, 6)", "NaN"}},
	} {
		x := runtime.Zeros(2, 6)
		x.Data[7] = tc.v
		_, err := m.Predict(x)
		wantMessage(t, err, "", tc.parts...)
	}
	if _, err := m.Predict(runtime.Zeros(2, 6)); err != nil {
		t.Error(err)
	}
}

// TestPredictNaN checks that NaN and Inf inputs flow through as in Keras:
// a NaN in one sample makes that sample's Dense outputs NaN (relu(NaN) is
// NaN, as tf.nn.relu gives) and leaves the other samples exactly as they
// are without it; +Inf gives relu(±Inf), +Inf or 0; an LSTM carries a NaN
// to every later step of its sample only.
func TestPredictNaN(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	t.Run("Dense", func(t *testing.T) {
		m := loadFixture(t, "dense_rank2") // Dense(5 -> 3), relu
		x := runtime.Zeros(3, 5)
		for i := range x.Data {
			x.Data[i] = float32(i%7) - 3
		}
		clean, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		x.Data[1*5+2] = nan // sample 1
		got, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got[0].Data {
			row := i / 3
			switch {
			case row == 1 && !math.IsNaN(float64(v)):
				t.Errorf("output %d of the NaN sample is %v, want NaN", i, v)
			case row != 1 && math.Float32bits(v) != math.Float32bits(clean[0].Data[i]):
				t.Errorf("output %d of a clean sample is %v, want %v", i, v, clean[0].Data[i])
			}
		}
		x.Data[1*5+2] = inf
		got, err = m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got[0].Data {
			row := i / 3
			switch {
			case row == 1 && !math.IsInf(float64(v), 1) && v != 0:
				t.Errorf("output %d of the Inf sample is %v, want relu(±Inf)", i, v)
			case row != 1 && math.Float32bits(v) != math.Float32bits(clean[0].Data[i]):
				t.Errorf("output %d of a clean sample is %v, want %v", i, v, clean[0].Data[i])
			}
		}
	})
	t.Run("LSTM", func(t *testing.T) {
		m := loadFixture(t, "lstm_seq") // (None, 6, 4), return_sequences
		x := runtime.Zeros(2, 6, 4)
		for i := range x.Data {
			x.Data[i] = float32(i%5)/5 - 0.4
		}
		clean, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		x.Data[(0*6+3)*4+1] = nan // sample 0, step 3
		got, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		units := got[0].Shape[2]
		for i, v := range got[0].Data {
			sample, step := i/(6*units), (i/units)%6
			nanWant := sample == 0 && step >= 3
			if nanWant != math.IsNaN(float64(v)) {
				t.Errorf("sample %d step %d: %v", sample, step, v)
			}
			if !nanWant && math.Float32bits(v) != math.Float32bits(clean[0].Data[i]) {
				t.Errorf("sample %d step %d: %v, want %v as without the NaN", sample, step, v, clean[0].Data[i])
			}
		}
	})
}

// TestNaNWeights loads a file whose Dense kernel holds a NaN (row 1,
// column 0) and whose bias holds +Inf (column 2). They load, and flow
// through as in Keras: column 0 of every output is NaN, even for a sample
// whose input 1 is exactly 0 (0·NaN is NaN in IEEE arithmetic, and Keras's
// matrix product does not skip zeros), column 2 is +Inf and column 1 is
// finite.
func TestNaNWeights(t *testing.T) {
	m, err := Load(filepath.Join(badDir, "weights_nan.h5"), nil)
	if err != nil {
		t.Fatal(err)
	}
	x := runtime.Zeros(2, 4)
	for i := range x.Data {
		x.Data[i] = float32(i) + 1
	}
	x.Data[1] = 0 // sample 0 multiplies the NaN by zero
	got, err := m.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got[0].Data {
		switch i % 3 {
		case 0:
			if !math.IsNaN(float64(v)) {
				t.Errorf("output %d = %v, want NaN", i, v)
			}
		case 1:
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Errorf("output %d = %v, want a finite value", i, v)
			}
		case 2:
			if !math.IsInf(float64(v), 1) {
				t.Errorf("output %d = %v, want +Inf", i, v)
			}
		}
	}
}
