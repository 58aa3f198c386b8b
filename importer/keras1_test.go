package importer

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/tidwall/gjson"
)

// TestNormalizeKeras1 checks the Keras 1 -> Keras 2 config translations
// against Keras 2.2.4's keras/legacy/interfaces.py.
func TestNormalizeKeras1(t *testing.T) {
	for _, c := range []struct {
		class, in string
		wantClass string
		want      map[string]string // key -> raw JSON ("" means absent)
		renamed   []string
	}{
		{"Dense", `{"name":"d","output_dim":3,"init":"glorot_uniform","bias":false,"W_regularizer":null,"b_regularizer":null,"W_constraint":null,"b_constraint":null,"activity_regularizer":null,"input_dim":5,"activation":"relu"}`,
			"Dense", map[string]string{"units": "3", "use_bias": "false", "kernel_initializer": `"glorot_uniform"`, "input_shape": "[5]", "input_dim": "", "output_dim": "", "bias": "", "kernel_regularizer": "null", "activation": `"relu"`},
			[]string{"output_dim → units", "init → kernel_initializer", "W_regularizer → kernel_regularizer", "b_regularizer → bias_regularizer", "W_constraint → kernel_constraint", "b_constraint → bias_constraint", "bias → use_bias"}},
		{"Dense", `{"name":"d","output_dim":3,"batch_input_shape":[null,5],"input_dim":5,"input_dtype":"float32"}`,
			"Dense", map[string]string{"input_shape": "", "input_dim": "", "dtype": `"float32"`, "input_dtype": ""}, nil},
		{"Dropout", `{"name":"x","p":0.5}`, "Dropout", map[string]string{"rate": "0.5", "p": ""}, []string{"p → rate"}},
		{"LSTM", `{"name":"l","output_dim":4,"init":"glorot_uniform","inner_init":"orthogonal","forget_bias_init":"one","inner_activation":"hard_sigmoid","W_regularizer":null,"U_regularizer":null,"b_regularizer":null,"dropout_W":0.2,"dropout_U":0.1,"consume_less":"gpu","input_dim":3,"input_length":7}`,
			"LSTM", map[string]string{"units": "4", "recurrent_initializer": `"orthogonal"`, "unit_forget_bias": "true", "forget_bias_init": "", "recurrent_activation": `"hard_sigmoid"`, "recurrent_regularizer": "null", "dropout": "0.2", "recurrent_dropout": "0.1", "implementation": "2", "input_shape": "[7,3]", "input_dim": "", "input_length": ""}, nil},
		{"LSTM", `{"name":"l","output_dim":4,"forget_bias_init":"zero","consume_less":"cpu","input_dim":null,"input_length":null}`,
			"LSTM", map[string]string{"unit_forget_bias": "", "forget_bias_init": "", "implementation": "0", "input_shape": "", "input_dim": "", "input_length": ""}, nil},
		{"GRU", `{"name":"g","output_dim":4,"inner_activation":"sigmoid"}`, "GRU", map[string]string{"units": "4", "reset_after": "false"}, nil},
		{"GRU", `{"name":"g","units":4,"recurrent_activation":"sigmoid"}`, "GRU", map[string]string{"reset_after": ""}, nil},
		{"Embedding", `{"name":"e","input_dim":4,"output_dim":5,"init":"uniform","W_regularizer":null,"W_constraint":null,"dropout":0.3,"input_length":10,"mask_zero":false,"input_dtype":"int32"}`,
			"Embedding", map[string]string{"input_dim": "4", "output_dim": "5", "input_length": "10", "embeddings_initializer": `"uniform"`, "dropout": "", "dtype": `"int32"`}, nil},
		{"Convolution1D", `{"name":"c","nb_filter":6,"filter_length":3,"border_mode":"same","subsample_length":2,"bias":true,"init":"glorot_uniform","input_dim":null,"input_length":null}`,
			"Conv1D", map[string]string{"filters": "6", "kernel_size": "3", "padding": `"same"`, "strides": "2", "use_bias": "true", "input_length": ""}, []string{"Convolution1D → Conv1D"}},
		{"AtrousConvolution1D", `{"name":"c","nb_filter":6,"filter_length":3,"atrous_rate":2}`, "Conv1D", map[string]string{"dilation_rate": "2"}, nil},
		{"Convolution2D", `{"name":"c","nb_filter":6,"nb_row":3,"nb_col":2,"dim_ordering":"th","subsample":[1,1],"border_mode":"valid"}`,
			"Conv2D", map[string]string{"filters": "6", "kernel_size": "[3,2]", "data_format": `"channels_first"`, "strides": "[1,1]", "nb_row": ""}, nil},
		{"MaxPooling1D", `{"name":"p","pool_length":2,"stride":null,"border_mode":"valid"}`, "MaxPooling1D", map[string]string{"pool_size": "2", "strides": "null", "padding": `"valid"`}, nil},
		{"Bidirectional", `{"name":"b","layer":{"class_name":"LSTM","config":{"name":"l","output_dim":3,"inner_activation":"hard_sigmoid"}},"merge_mode":"concat","input_dtype":"float32"}`,
			"Bidirectional", map[string]string{"layer.config.units": "3", "layer.config.recurrent_activation": `"hard_sigmoid"`, "layer.class_name": `"LSTM"`, "dtype": `"float32"`}, nil},
		{"TimeDistributed", `{"name":"t","layer":{"class_name":"Dense","config":{"name":"d","output_dim":3}}}`,
			"TimeDistributed", map[string]string{"layer.config.units": "3"}, nil},
	} {
		class, cfg, renamed, err := normalizeConfig(c.class, gjson.Parse(c.in))
		if err != nil {
			t.Errorf("%s %s: %v", c.class, c.in, err)
			continue
		}
		if class != c.wantClass {
			t.Errorf("%s: class %q, want %q", c.class, class, c.wantClass)
		}
		for k, v := range c.want {
			got := cfg.Get(k)
			if v == "" && got.Exists() || v != "" && got.Raw != v {
				t.Errorf("%s %s: %s = %q, want %q (config %s)", c.class, c.in, k, got.Raw, v, cfg.Raw)
			}
		}
		for _, r := range c.renamed {
			if !slices.Contains(renamed, r) {
				t.Errorf("%s: renamed %q, want it to include %q", c.class, renamed, r)
			}
		}
	}
}

func TestNormalizeUnchanged(t *testing.T) {
	in := `{"name": "dense_1", "units": 3, "dtype": "float32", "activation": "relu"}`
	class, cfg, renamed, err := normalizeConfig("Dense", gjson.Parse(in))
	if err != nil || class != "Dense" || cfg.Raw != in || len(renamed) != 0 {
		t.Errorf("a Keras 2 config changed: %q %s %v %v", class, cfg.Raw, renamed, err)
	}
}

func TestNormalizeKeras1Duplicate(t *testing.T) {
	_, _, _, err := normalizeConfig("Dense", gjson.Parse(`{"name":"d","output_dim":3,"units":3}`))
	if err == nil || !strings.Contains(err.Error(), "output_dim") || !strings.Contains(err.Error(), "units") {
		t.Errorf("both output_dim and units: %v", err)
	}
	_, _, _, err = normalizeConfig("Convolution2D", gjson.Parse(`{"name":"c","nb_filter":2,"nb_row":3}`))
	if err == nil || !strings.Contains(err.Error(), "nb_col") {
		t.Errorf("nb_row without nb_col: %v", err)
	}
}

func w(name string, shape []int, data ...float32) layers.Weight {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if data == nil {
		data = make([]float32, n)
		for i := range data {
			data[i] = float32(i)
		}
	}
	return layers.Weight{Name: name, Shape: shape, Data: data}
}

// TestConvertKeras1LSTM checks that the 12 per-gate arrays, stored i, c, f,
// o, become kernel, recurrent_kernel and bias in the order i, f, c, o.
func TestConvertKeras1LSTM(t *testing.T) {
	var ws []layers.Weight
	for gi, g := range "icfo" {
		v := float32(gi + 1) // every value of gate g is its stored index + 1
		ws = append(ws,
			w("lstm_1_W_"+string(g)+":0", []int{2, 1}, v, v),
			w("lstm_1_U_"+string(g)+":0", []int{1, 1}, 10*v),
			w("lstm_1_b_"+string(g)+":0", []int{1}, 100*v))
	}
	out, err := convertKeras1Weights("LSTM", gjson.Parse(`{}`), ws)
	if err != nil {
		t.Fatal(err)
	}
	// i=1, f=3, c=2, o=4
	want := [][]float32{{1, 3, 2, 4, 1, 3, 2, 4}, {10, 30, 20, 40}, {100, 300, 200, 400}}
	names := []string{"lstm_1/kernel", "lstm_1/recurrent_kernel", "lstm_1/bias"}
	shapes := [][]int{{2, 4}, {1, 4}, {4}}
	for i := range out {
		if out[i].Name != names[i] || !slices.Equal(out[i].Shape, shapes[i]) || !slices.Equal(out[i].Data, want[i]) {
			t.Errorf("weight %d: %s %v %v, want %s %v %v", i, out[i].Name, out[i].Shape, out[i].Data, names[i], shapes[i], want[i])
		}
	}
	// consume_less="gpu": already concatenated, only renamed.
	out, err = convertKeras1Weights("LSTM", gjson.Parse(`{}`), []layers.Weight{w("lstm_1_W", []int{2, 4}), w("lstm_1_U", []int{1, 4}), w("lstm_1_b", []int{4})})
	if err != nil || out[0].Name != "lstm_1/kernel" || out[2].Name != "lstm_1/bias" {
		t.Errorf("gpu LSTM: %v %v", out, err)
	}
}

func TestConvertKeras1GRUAndBidirectional(t *testing.T) {
	var gru []layers.Weight
	for gi, g := range "zrh" {
		v := float32(gi + 1)
		gru = append(gru, w("g_W_"+string(g), []int{1, 1}, v), w("g_U_"+string(g), []int{1, 1}, v), w("g_b_"+string(g), []int{1}, v))
	}
	out, err := convertKeras1Weights("GRU", gjson.Parse(`{}`), gru)
	if err != nil || !slices.Equal(out[0].Data, []float32{1, 2, 3}) || !slices.Equal(out[2].Data, []float32{1, 2, 3}) {
		t.Errorf("GRU: %v %v", out, err)
	}
	bidi := append(append([]layers.Weight(nil), gru...), gru...)
	for i := range bidi {
		prefix := "forward_"
		if i >= 9 {
			prefix = "backward_"
		}
		bidi[i].Name = prefix + bidi[i].Name
	}
	out, err = convertKeras1Weights("Bidirectional", gjson.Parse(`{"layer":{"class_name":"GRU","config":{}}}`), bidi)
	if err != nil || len(out) != 6 || out[0].Name != "forward_g/kernel" || out[3].Name != "backward_g/kernel" {
		t.Errorf("Bidirectional(GRU): %v %v", out, err)
	}
	if _, err := convertKeras1Weights("Bidirectional", gjson.Parse(`{"layer":{"class_name":"GRU"}}`), bidi[:5]); err == nil {
		t.Error("an odd number of Bidirectional weights was accepted")
	}
}

func TestConvertKeras1Conv1D(t *testing.T) {
	cfg := gjson.Parse(`{"filters": 3, "kernel_size": [2]}`)
	// (k=2, 1, in=2, out=3), values 0..11.
	out, err := convertKeras1Weights("Conv1D", cfg, []layers.Weight{w("c_W:0", []int{2, 1, 2, 3}), w("c_b:0", []int{3})})
	if err != nil || !slices.Equal(out[0].Shape, []int{2, 2, 3}) || out[0].Data[11] != 11 || out[1].Name != "c/bias" {
		t.Fatalf("Conv1D: %v %v", out, err)
	}
	// Keras 1.1: (out=3, in=2, k=2, 1); element [o][i][k] = 100o + 10i + k.
	legacy := w("c_W:0", []int{3, 2, 2, 1})
	for o := 0; o < 3; o++ {
		for i := 0; i < 2; i++ {
			for k := 0; k < 2; k++ {
				legacy.Data[(o*2+i)*2+k] = float32(100*o + 10*i + k)
			}
		}
	}
	out, err = convertKeras1Weights("Conv1D", cfg, []layers.Weight{legacy})
	if err != nil || !slices.Equal(out[0].Shape, []int{2, 2, 3}) {
		t.Fatalf("Conv1D legacy: %v %v", out, err)
	}
	for k := 0; k < 2; k++ {
		for i := 0; i < 2; i++ {
			for o := 0; o < 3; o++ {
				if got := out[0].Data[(k*2+i)*3+o]; got != float32(100*o+10*i+k) {
					t.Fatalf("legacy kernel [%d][%d][%d] = %v", k, i, o, got)
				}
			}
		}
	}
	if _, err := convertKeras1Weights("Conv1D", cfg, []layers.Weight{w("c_W:0", []int{5, 1, 2, 3})}); err == nil {
		t.Error("a kernel of the wrong shape was accepted")
	}
}

func TestConvertKeras1Mismatch(t *testing.T) {
	_, err := convertKeras1Weights("Dense", gjson.Parse(`{}`), []layers.Weight{w("a", []int{1}), w("b", []int{1}), w("c", []int{1})})
	if err == nil {
		t.Error("three Dense weights were accepted")
	}
	_, err = convertKeras1Weights("LSTM", gjson.Parse(`{}`), append(make([]layers.Weight, 11), w("x", []int{2, 2})))
	if err == nil {
		t.Error("per-gate arrays of different shapes were accepted")
	}
	if errors.Is(err, layers.ErrUnsupported) {
		t.Error("bad data reported as unsupported")
	}
}
