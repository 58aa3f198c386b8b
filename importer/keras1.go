package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/tidwall/gjson"
)

// Keras 1 files are read by translating them to the Keras 2 form that the
// layers understand, as Keras 2 itself does: layer configs through the
// legacy keyword conversions of keras/legacy/interfaces.py, weights through
// preprocess_weights_for_loading in keras/engine/saving.py (Keras 2.2.4).

// cfgMap is a layer config being rewritten. Values stay raw JSON.
type cfgMap map[string]json.RawMessage

func newCfgMap(cfg gjson.Result) (cfgMap, error) {
	m := cfgMap{}
	if !cfg.Exists() || cfg.Type == gjson.Null {
		return m, nil
	}
	if !cfg.IsObject() {
		return nil, fmt.Errorf("config is not a JSON object: %s", clip(cfg.Raw))
	}
	if err := json.Unmarshal([]byte(cfg.Raw), &m); err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	return m, nil
}

func (m cfgMap) has(key string) bool {
	v, ok := m[key]
	return ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

func (m cfgMap) get(key string) gjson.Result {
	v, ok := m[key]
	if !ok {
		return gjson.Result{}
	}
	return gjson.ParseBytes(v)
}

func (m cfgMap) set(key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with plain values
	}
	m[key] = b
}

// rename moves old to new. Keras refuses a config that has both.
func (m cfgMap) rename(old, new string) error {
	v, ok := m[old]
	if !ok {
		return nil
	}
	if _, dup := m[new]; dup {
		return fmt.Errorf("option %q: the config has both the Keras 1 option %q and the Keras 2 option %q", old, old, new)
	}
	delete(m, old)
	m[new] = v
	return nil
}

func (m cfgMap) result() gjson.Result {
	b, err := json.Marshal(map[string]json.RawMessage(m))
	if err != nil {
		panic(err) // the values came from valid JSON
	}
	return gjson.ParseBytes(b)
}

// keras1Renames are Keras 2's legacy keyword conversions, by the class name
// after keras1Classes is applied.
var keras1Renames = map[string][][2]string{
	"Dense": {{"output_dim", "units"}, {"init", "kernel_initializer"},
		{"W_regularizer", "kernel_regularizer"}, {"b_regularizer", "bias_regularizer"},
		{"W_constraint", "kernel_constraint"}, {"b_constraint", "bias_constraint"}, {"bias", "use_bias"}},
	"Dropout":          {{"p", "rate"}},
	"SpatialDropout1D": {{"p", "rate"}},
	"GaussianDropout":  {{"p", "rate"}},
	"GaussianNoise":    {{"sigma", "stddev"}},
	"Embedding": {{"init", "embeddings_initializer"}, {"W_regularizer", "embeddings_regularizer"},
		{"W_constraint", "embeddings_constraint"}},
	"LSTM": recurrentRenames, "GRU": recurrentRenames, "SimpleRNN": recurrentRenames,
	"Conv1D": {{"nb_filter", "filters"}, {"filter_length", "kernel_size"},
		{"subsample_length", "strides"}, {"border_mode", "padding"}, {"atrous_rate", "dilation_rate"},
		{"init", "kernel_initializer"}, {"W_regularizer", "kernel_regularizer"},
		{"b_regularizer", "bias_regularizer"}, {"W_constraint", "kernel_constraint"},
		{"b_constraint", "bias_constraint"}, {"bias", "use_bias"}},
	"Conv2D": {{"nb_filter", "filters"}, {"subsample", "strides"}, {"border_mode", "padding"},
		{"dim_ordering", "data_format"}, {"init", "kernel_initializer"},
		{"W_regularizer", "kernel_regularizer"}, {"b_regularizer", "bias_regularizer"},
		{"W_constraint", "kernel_constraint"}, {"b_constraint", "bias_constraint"}, {"bias", "use_bias"}},
	"MaxPooling1D":           pooling1DRenames,
	"AveragePooling1D":       pooling1DRenames,
	"MaxPooling2D":           dimOrderingRenames,
	"AveragePooling2D":       dimOrderingRenames,
	"GlobalMaxPooling2D":     dimOrderingRenames,
	"GlobalAveragePooling2D": dimOrderingRenames,
}

var (
	recurrentRenames = [][2]string{{"output_dim", "units"}, {"init", "kernel_initializer"},
		{"inner_init", "recurrent_initializer"}, {"inner_activation", "recurrent_activation"},
		{"W_regularizer", "kernel_regularizer"}, {"b_regularizer", "bias_regularizer"},
		{"U_regularizer", "recurrent_regularizer"}, {"dropout_W", "dropout"},
		{"dropout_U", "recurrent_dropout"}, {"consume_less", "implementation"}}
	pooling1DRenames   = [][2]string{{"pool_length", "pool_size"}, {"stride", "strides"}, {"border_mode", "padding"}}
	dimOrderingRenames = [][2]string{{"border_mode", "padding"}, {"dim_ordering", "data_format"}}
)

// keras1Classes maps Keras 1 class names to their Keras 2 layer. Keras 2
// keeps them as aliases (Convolution1D) or legacy constructors
// (AtrousConvolution1D returns a Conv1D with dilation_rate=atrous_rate).
var keras1Classes = map[string]string{
	"Convolution1D":       "Conv1D",
	"AtrousConvolution1D": "Conv1D",
	"Convolution2D":       "Conv2D",
}

// translateKeras1 rewrites the Keras 1 options of one layer config into
// their Keras 2 form. It works on the keys present, as Keras 2's legacy
// interfaces do, so a Keras 2 config passes unchanged.
//
// It appends to renamed each translation it made ("border_mode → padding"),
// so that errors about a translated option can name the option as the file
// has it.
func translateKeras1(class string, m cfgMap, renamed *[]string) (string, error) {
	if k2, ok := keras1Classes[class]; ok {
		*renamed = append(*renamed, class+" → "+k2)
		class = k2
	}
	var errs []error
	// Keras: Layer took input_dtype as a legacy name of dtype.
	if _, ok := m["input_dtype"]; ok {
		if _, dup := m["dtype"]; dup {
			delete(m, "input_dtype")
		} else if err := m.rename("input_dtype", "dtype"); err != nil {
			errs = append(errs, err)
		}
	}
	k1 := false // whether the config used a Keras 1 name
	for _, r := range keras1Renames[class] {
		if _, ok := m[r[0]]; ok {
			k1 = true
			*renamed = append(*renamed, r[0]+" → "+r[1])
		}
		if err := m.rename(r[0], r[1]); err != nil {
			errs = append(errs, err)
		}
	}
	switch class {
	case "Dense":
		// Keras: Dense(input_dim=n) means input_shape=(n,).
		if m.has("input_dim") && !m.has("batch_input_shape") && !m.has("input_shape") {
			m["input_shape"] = json.RawMessage("[" + string(m["input_dim"]) + "]")
		}
		delete(m, "input_dim")
	case "LSTM", "GRU", "SimpleRNN", "Conv1D":
		// Keras: input_dim and input_length become input_shape.
		if _, ok := m["input_dim"]; ok {
			if m.has("input_dim") && !m.has("batch_input_shape") && !m.has("input_shape") {
				length := json.RawMessage("null")
				if m.has("input_length") {
					length = m["input_length"]
				}
				m["input_shape"] = json.RawMessage("[" + string(length) + "," + string(m["input_dim"]) + "]")
			}
			delete(m, "input_dim")
			delete(m, "input_length")
		}
		if class == "Conv1D" {
			break
		}
		// Keras: forget_bias_init="one" became unit_forget_bias=True; any
		// other value was dropped. Both only initialise.
		if fb := m.get("forget_bias_init"); fb.Exists() {
			delete(m, "forget_bias_init")
			if fb.Str == "one" {
				m.set("unit_forget_bias", true)
			}
		}
		if v := m.get("implementation"); v.Type == gjson.String {
			// Keras: consume_less cpu, mem, gpu became implementation 0, 1,
			// 2, which choose how the graph is built, not the numbers.
			if n := slices.Index([]string{"cpu", "mem", "gpu"}, v.Str); n >= 0 {
				m.set("implementation", n)
			}
		}
		if class == "GRU" && k1 && !m.has("reset_after") {
			// Keras: the Keras 1 GRU applies the reset gate before the
			// recurrent product, as GRU(reset_after=False) does.
			m.set("reset_after", false)
		}
	case "Embedding":
		// Keras: Keras 2 drops Embedding's dropout, which Keras 1 applied in
		// training only.
		delete(m, "dropout")
	case "Conv2D":
		if m.has("nb_row") || m.has("nb_col") {
			if m.has("kernel_size") {
				errs = append(errs, fmt.Errorf("option \"nb_row\": the config has both nb_row/nb_col and kernel_size"))
			} else if !m.has("nb_row") || !m.has("nb_col") {
				errs = append(errs, fmt.Errorf("option \"nb_row\": Keras 1 Convolution2D needs both nb_row and nb_col"))
			} else {
				m["kernel_size"] = json.RawMessage("[" + string(m["nb_row"]) + "," + string(m["nb_col"]) + "]")
			}
			delete(m, "nb_row")
			delete(m, "nb_col")
		}
		fallthrough
	case "MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D":
		if v := m.get("data_format"); v.Type == gjson.String {
			// Keras: dim_ordering tf, th, default became data_format
			// channels_last, channels_first, None.
			switch v.Str {
			case "tf":
				m.set("data_format", "channels_last")
			case "th":
				m.set("data_format", "channels_first")
			case "default":
				m["data_format"] = json.RawMessage("null")
			}
		}
	}
	if len(errs) > 0 {
		return class, joinErrors(errs)
	}
	return class, nil
}

// convertKeras1Weights turns the stored weights of one Keras 1 layer into
// the Keras 2 list the layer takes, as Keras 2's
// preprocess_weights_for_loading does: by position, whatever the names.
// class and cfg are the translated (Keras 2) class and config.
func convertKeras1Weights(class string, cfg gjson.Result, ws []layers.Weight) ([]layers.Weight, error) {
	if len(ws) == 0 {
		return ws, nil
	}
	switch class {
	case "Bidirectional":
		if len(ws)%2 != 0 {
			return nil, fmt.Errorf("Keras 1 weights: %d weights cannot be split evenly between the forward and backward layers", len(ws))
		}
		inner := cfg.Get("layer")
		half := len(ws) / 2
		f, err := convertKeras1Weights(inner.Get("class_name").String(), inner.Get("config"), ws[:half])
		if err != nil {
			return nil, fmt.Errorf("forward layer: %w", err)
		}
		b, err := convertKeras1Weights(inner.Get("class_name").String(), inner.Get("config"), ws[half:])
		if err != nil {
			return nil, fmt.Errorf("backward layer: %w", err)
		}
		return append(f, b...), nil
	case "TimeDistributed":
		inner := cfg.Get("layer")
		return convertKeras1Weights(inner.Get("class_name").String(), inner.Get("config"), ws)
	case "Dense":
		return renamed(ws, "kernel", "bias")
	case "SimpleRNN":
		return renamed(ws, "kernel", "recurrent_kernel", "bias")
	case "Embedding":
		return renamed(ws, "embeddings")
	case "Conv1D":
		k, err := keras1Conv1DKernel(ws[0], cfg)
		if err != nil {
			return nil, err
		}
		out, err := renamed(ws, "kernel", "bias")
		if err != nil {
			return nil, err
		}
		k.Name = out[0].Name
		out[0] = k
		return out, nil
	case "Conv2D":
		out, err := renamed(ws, "kernel", "bias")
		if err != nil {
			return nil, err
		}
		if cfg.Get("data_format").Str == "channels_first" && len(out[0].Shape) == 4 {
			// Keras: old (filters, stack, rows, cols), new (rows, cols, stack, filters).
			out[0] = transposeWeight(out[0], []int{2, 3, 1, 0})
		}
		return out, nil
	case "LSTM":
		if len(ws) == 12 {
			// Keras 1 gate order i, c, f, o; Keras 2 i, f, c, o.
			return concatGates(ws, []int{0, 6, 3, 9})
		}
		return renamed(ws, "kernel", "recurrent_kernel", "bias")
	case "GRU":
		if len(ws) == 9 {
			// Keras 1 and Keras 2 both use the gate order z, r, h.
			return concatGates(ws, []int{0, 3, 6})
		}
		return renamed(ws, "kernel", "recurrent_kernel", "bias")
	}
	return ws, nil
}

// renamed gives ws, by position, the Keras 2 names (keeping the stored
// layer scope for messages).
func renamed(ws []layers.Weight, names ...string) ([]layers.Weight, error) {
	if len(ws) > len(names) {
		return nil, fmt.Errorf("Keras 1 weights: %d stored weights, at most %d expected (%s)", len(ws), len(names), weightList(ws))
	}
	out := make([]layers.Weight, len(ws))
	for i, w := range ws {
		out[i] = layers.Weight{Name: keras2Name(w.Name, names[i]), Shape: w.Shape, Data: w.Data}
	}
	return out, nil
}

func keras2Name(stored, base string) string {
	if l := parseWeightName(stored).Layer(); l != "" {
		return l + "/" + base
	}
	return base
}

// concatGates joins Keras 1's per-gate arrays (W, U, b for each gate, in
// stored order) into kernel, recurrent_kernel and bias, taking the gates in
// the order given by the indexes of their W arrays.
func concatGates(ws []layers.Weight, order []int) ([]layers.Weight, error) {
	out := make([]layers.Weight, 3)
	for part, base := range []string{"kernel", "recurrent_kernel", "bias"} {
		var pieces []layers.Weight
		for _, g := range order {
			pieces = append(pieces, ws[g+part])
		}
		w, err := concatLast(pieces)
		if err != nil {
			return nil, fmt.Errorf("Keras 1 weights: %s: %w", base, err)
		}
		w.Name = keras2Name(pieces[0].Name, base)
		out[part] = w
	}
	return out, nil
}

// concatLast concatenates arrays of equal shape but the last axis along
// their last axis.
func concatLast(ws []layers.Weight) (layers.Weight, error) {
	first := ws[0].Shape
	if len(first) == 0 {
		return layers.Weight{}, fmt.Errorf("%s is a scalar", ws[0].Name)
	}
	rows := 1
	for _, d := range first[:len(first)-1] {
		rows *= d
	}
	total := 0
	for _, w := range ws {
		if len(w.Shape) != len(first) || !slices.Equal(w.Shape[:len(first)-1], first[:len(first)-1]) {
			return layers.Weight{}, fmt.Errorf("per-gate arrays of different shapes: %s %v and %s %v", ws[0].Name, first, w.Name, w.Shape)
		}
		total += w.Shape[len(first)-1]
	}
	data := make([]float32, 0, rows*total)
	for r := 0; r < rows; r++ {
		for _, w := range ws {
			n := w.Shape[len(first)-1]
			data = append(data, w.Data[r*n:(r+1)*n]...)
		}
	}
	shape := append(append([]int(nil), first[:len(first)-1]...), total)
	return layers.Weight{Shape: shape, Data: data}, nil
}

// keras1Conv1DKernel turns a Keras 1 Convolution1D kernel, stored 4-D as
// (filter_length, 1, input_dim, nb_filter), or (nb_filter, input_dim,
// filter_length, 1) by Keras 1.1, into Keras 2's (kernel_size, in, filters).
func keras1Conv1DKernel(w layers.Weight, cfg gjson.Result) (layers.Weight, error) {
	if len(w.Shape) == 3 {
		return w, nil
	}
	if len(w.Shape) != 4 {
		return layers.Weight{}, fmt.Errorf("Keras 1 Convolution1D kernel %s has shape %v, want 4 dimensions", w.Name, w.Shape)
	}
	k := int(cfg.Get("kernel_size").Int())
	if a := cfg.Get("kernel_size"); a.IsArray() && len(a.Array()) == 1 {
		k = int(a.Array()[0].Int())
	}
	filters := int(cfg.Get("filters").Int())
	s := w.Shape
	if !(s[0] == k && s[1] == 1 && s[3] == filters) {
		// Keras: the Keras 1.1 layout.
		if !(s[0] == filters && s[2] == k && s[3] == 1) {
			return layers.Weight{}, fmt.Errorf("Keras 1 Convolution1D kernel %s has shape %v, which fits neither (%d, 1, in, %d) nor (%d, in, %d, 1)", w.Name, s, k, filters, filters, k)
		}
		w = transposeWeight(w, []int{2, 3, 1, 0})
		s = w.Shape
	}
	return layers.Weight{Name: w.Name, Shape: []int{s[0], s[2], s[3]}, Data: w.Data}, nil
}

// transposeWeight permutes the axes of w: out axis i is w's axis perm[i].
func transposeWeight(w layers.Weight, perm []int) layers.Weight {
	n := len(w.Shape)
	shape := make([]int, n)
	for i, p := range perm {
		shape[i] = w.Shape[p]
	}
	inStride := make([]int, n)
	st := 1
	for i := n - 1; i >= 0; i-- {
		inStride[i] = st
		st *= w.Shape[i]
	}
	out := make([]float32, len(w.Data))
	idx := make([]int, n)
	for o := range out {
		src := 0
		for i := range idx {
			src += idx[i] * inStride[perm[i]]
		}
		out[o] = w.Data[src]
		for i := n - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return layers.Weight{Name: w.Name, Shape: shape, Data: out}
}

func weightList(ws []layers.Weight) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s %v", w.Name, w.Shape)
	}
	return strings.Join(parts, ", ")
}
