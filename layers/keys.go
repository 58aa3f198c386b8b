package layers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tidwall/gjson"
)

// The catalogue of config keys: for every class kerasrun registers, every
// key that the get_config of Keras 3.0 to 3.14 and tf.keras 2.x writes, and
// what kerasrun does with it. Reader.Err consults it for the keys a
// decoder did not read:
//
//   - keyRead: implemented. The decoder reads the key and checks its value;
//     a keyRead key left unread is reported as unknown.
//   - keyInert: any value is accepted: the key shapes training or the
//     graph's construction, never the numbers of a forward pass.
//   - keyOff: accepted only at one of its off values (the value with no
//     effect); any other value is refused with the key and value named
//     (ErrUnsupported).
//
// A key in no list is an unknown option and refused. docs/KERAS_CONFIG_KEYS.md
// is rendered from this table (go test ./layers -run TestKeyCatalogueDoc
// -update).
type keyKind uint8

const (
	keyRead keyKind = iota + 1
	keyInert
	keyOff
)

func (k keyKind) String() string {
	switch k {
	case keyRead:
		return "implemented"
	case keyInert:
		return "accepted, any value"
	case keyOff:
		return "off only"
	}
	return "?"
}

// keyRule is what kerasrun does with one config key of one class.
type keyRule struct {
	kind keyKind
	// off lists, for keyOff, the JSON values that have no effect.
	off []string
	// example is a JSON value that the class decodes without error (for
	// keyRead and keyInert); the catalogue test builds a config of the
	// examples of every key of a class.
	example string
	// note says why, for the docs.
	note string
}

func read(example string) keyRule { return keyRule{kind: keyRead, example: example} }

func readNote(example, note string) keyRule {
	return keyRule{kind: keyRead, example: example, note: note}
}

func inert(example, note string) keyRule {
	return keyRule{kind: keyInert, example: example, note: note}
}

func off(note string, values ...string) keyRule {
	return keyRule{kind: keyOff, off: values, note: note}
}

// keySet is the catalogue entry of one class.
type keySet map[string]keyRule

// merge returns the union of sets; a later set wins on a shared key.
func merge(sets ...keySet) keySet {
	out := keySet{}
	for _, s := range sets {
		for k, v := range s {
			out[k] = v
		}
	}
	return out
}

const (
	trainingNote  = "training only"
	loraOffNote   = "LoRA adapters (Keras 3): refused unless null"
	quantOffNote  = "a custom quantization config (Keras 3.13+): refused unless null; the int8 mode itself comes from the dtype policy"
	seedNote      = "the random seed of a training-time effect (dropout, noise)"
	dropoutNote   = "a dropout rate: dropout is the identity at inference"
	recDropNote   = "recurrent dropout: the identity at inference"
	constructNote = "how Keras builds the graph (unrolled loop, fused kernel, cuDNN), not its numbers"
)

// commonKeys are accepted for every class: the keys of Keras's base Layer
// and the input-shape keys that the importer reads from the first layer.
//
// Keras: initializers, regularizers and constraints shape training only;
// trainable does not change the forward pass. dtype is checked by the
// importer (normalizeDType) and by Reader.Err: a quantized policy is
// refused unless the class reads it (Reader.Quantization).
var commonKeys = keySet{
	"name":                   inert(`"x"`, "the layer's name (the importer reads it from the entry)"),
	"trainable":              inert("true", trainingNote),
	"dtype":                  readNote(`"float32"`, "float32 only; a quantized policy only where the class says so (see Dense)"),
	"autocast":               inert("true", "Keras 3 casts float inputs to the compute dtype; kerasrun computes in float32 throughout"),
	"batch_input_shape":      inert("null", "the input shape: the importer reads it from the first layer"),
	"batch_shape":            inert("null", "the input shape (Keras 3): the importer reads it from the first layer"),
	"batch_size":             inert("null", "the input's batch size: kerasrun takes any batch"),
	"input_shape":            inert("null", "the input shape: the importer reads it from the first layer"),
	"input_dim":              inert("null", "the input size (Keras 1 and 2 first layers): the importer reads it"),
	"activity_regularizer":   inert("null", trainingNote),
	"kernel_initializer":     inert("null", trainingNote),
	"bias_initializer":       inert("null", trainingNote),
	"recurrent_initializer":  inert("null", trainingNote),
	"embeddings_initializer": inert("null", trainingNote),
	"kernel_regularizer":     inert("null", trainingNote),
	"bias_regularizer":       inert("null", trainingNote),
	"recurrent_regularizer":  inert("null", trainingNote),
	"embeddings_regularizer": inert("null", trainingNote),
	"kernel_constraint":      inert("null", trainingNote),
	"bias_constraint":        inert("null", trainingNote),
	"recurrent_constraint":   inert("null", trainingNote),
	"embeddings_constraint":  inert("null", trainingNote),
}

// trainingOnly are the common keys accepted whatever their value.
var trainingOnly = func() []string {
	var out []string
	for k, r := range commonKeys {
		if r.kind == keyInert {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}()

var (
	loraKeys = keySet{
		"lora_rank":  off(loraOffNote, "null"),
		"lora_alpha": inert("null", "the LoRA scale: no effect while lora_rank is null"),
	}
	dropoutKeys = keySet{
		"rate":        inert("0.5", dropoutNote),
		"noise_shape": inert("null", dropoutNote),
		"seed":        inert("null", seedNote),
	}
	rnnKeys = keySet{
		"units":                read("3"),
		"use_bias":             read("true"),
		"return_sequences":     read("false"),
		"return_state":         read("false"),
		"go_backwards":         read("false"),
		"stateful":             read("false"),
		"zero_output_for_mask": read("false"),
		"time_major":           off("tf.keras: time-major inputs", "false"),
		"unroll":               inert("false", constructNote),
		"implementation":       inert("2", constructNote),
		"use_cudnn":            inert(`"auto"`, constructNote),
		"dropout":              inert("0.0", dropoutNote),
		"recurrent_dropout":    inert("0.0", recDropNote),
		"seed":                 inert("null", seedNote),
	}
	cudnnKeys = keySet{
		"units":            read("3"),
		"return_sequences": read("false"),
		"return_state":     read("false"),
		"go_backwards":     read("false"),
		"stateful":         read("false"),
		"time_major":       off("tf.keras: time-major inputs", "false"),
	}
	pool1DKeys = keySet{
		"pool_size":   read("[2]"),
		"strides":     read("[2]"),
		"padding":     read(`"valid"`),
		"data_format": read(`"channels_last"`),
	}
	pool2DKeys = keySet{
		"pool_size":   read("[2, 2]"),
		"strides":     read("[2, 2]"),
		"padding":     read(`"valid"`),
		"data_format": read(`"channels_last"`),
	}
	globalPoolKeys = keySet{
		"data_format": read(`"channels_last"`),
		"keepdims":    read("false"),
	}
	convKeys = keySet{
		"filters":       read("4"),
		"padding":       read(`"valid"`),
		"data_format":   read(`"channels_last"`),
		"groups":        read("1"),
		"activation":    read(`"linear"`),
		"use_bias":      read("true"),
		"lora_rank":     off(loraOffNote, "null"),
		"lora_alpha":    inert("null", "the LoRA scale: no effect while lora_rank is null"),
		"kernel_size":   read("[3]"),
		"strides":       read("[1]"),
		"dilation_rate": read("[1]"),
	}
	depthwiseTrainKeys = keySet{
		"depthwise_initializer": inert("null", trainingNote),
		"depthwise_regularizer": inert("null", trainingNote),
		"depthwise_constraint":  inert("null", trainingNote),
	}
	pointwiseTrainKeys = keySet{
		"pointwise_initializer": inert("null", trainingNote),
		"pointwise_regularizer": inert("null", trainingNote),
		"pointwise_constraint":  inert("null", trainingNote),
	}
	normTrainKeys = keySet{
		"beta_initializer":  inert("null", trainingNote),
		"gamma_initializer": inert("null", trainingNote),
		"beta_regularizer":  inert("null", trainingNote),
		"gamma_regularizer": inert("null", trainingNote),
		"beta_constraint":   inert("null", trainingNote),
		"gamma_constraint":  inert("null", trainingNote),
	}
	// separableKeys: Keras 3's BaseSeparableConv writes neither groups nor
	// LoRA keys.
	separableKeys = func() keySet {
		s := merge(convKeys, depthwiseTrainKeys, pointwiseTrainKeys)
		delete(s, "groups")
		delete(s, "lora_rank")
		delete(s, "lora_alpha")
		return s
	}()
	noKeys = keySet{}
)

// innerLSTM is the example of a wrapped layer.
const innerLSTM = `{"class_name": "LSTM", "config": {"name": "inner", "units": 2, "return_sequences": true}}`

// configKeys is the catalogue, by class name.
var configKeys = map[string]keySet{
	"Dense": merge(loraKeys, keySet{
		"units":               read("3"),
		"activation":          read(`"linear"`),
		"use_bias":            read("true"),
		"quantization_config": off(quantOffNote, "null"),
	}),
	"EinsumDense": merge(loraKeys, keySet{
		"equation":                  read(`"ab,bc->ac"`),
		"output_shape":              read("[3]"),
		"bias_axes":                 read(`"c"`),
		"activation":                read(`"linear"`),
		"quantization_config":       off(quantOffNote, "null"),
		"gptq_unpacked_column_size": off("GPTQ quantization (Keras 3.12+): refused unless null", "null"),
	}),
	"Embedding": merge(loraKeys, keySet{
		"input_dim":           read("10"),
		"output_dim":          read("3"),
		"mask_zero":           read("false"),
		"input_length":        readNote("null", "tf.keras and Keras 2: the fixed sequence length (removed in Keras 3)"),
		"sparse":              inert("false", "tf.keras 2.13+: the output is a sparse tensor with the same values"),
		"quantization_config": off(quantOffNote, "null"),
	}),

	"Dropout":          dropoutKeys,
	"SpatialDropout1D": dropoutKeys,
	"AlphaDropout":     dropoutKeys,
	"GaussianDropout": keySet{
		"rate": inert("0.1", dropoutNote),
		"seed": inert("null", seedNote),
	},
	"GaussianNoise": keySet{
		"stddev": inert("0.1", "noise is added in training only"),
		"seed":   inert("null", seedNote),
	},
	"ActivityRegularization": keySet{
		"l1": inert("0.0", trainingNote),
		"l2": inert("0.0", trainingNote),
	},

	"LSTM": merge(rnnKeys, keySet{
		"activation":           read(`"tanh"`),
		"recurrent_activation": read(`"sigmoid"`),
		"unit_forget_bias":     inert("true", "how the bias is initialised"),
	}),
	"GRU": merge(rnnKeys, keySet{
		"activation":           read(`"tanh"`),
		"recurrent_activation": read(`"sigmoid"`),
		"reset_after":          read("true"),
	}),
	"SimpleRNN": merge(rnnKeys, keySet{
		"activation": read(`"tanh"`),
	}),
	"CuDNNLSTM": merge(cudnnKeys, keySet{
		"unit_forget_bias": inert("true", "how the bias is initialised"),
	}),
	"CuDNNGRU": cudnnKeys,
	"Bidirectional": keySet{
		"layer":          read(innerLSTM),
		"merge_mode":     read(`"concat"`),
		"backward_layer": readNote("null", "Keras 2.3+ and 3: checked against the forward layer"),
	},
	"TimeDistributed": keySet{
		"layer": read(`{"class_name": "Dense", "config": {"name": "inner", "units": 2}}`),
	},

	"BatchNormalization": merge(normTrainKeys, keySet{
		"axis":                        read("-1"),
		"epsilon":                     read("0.001"),
		"center":                      read("true"),
		"scale":                       read("true"),
		"momentum":                    inert("0.99", "the moving statistics' update rate in training"),
		"moving_mean_initializer":     inert("null", trainingNote),
		"moving_variance_initializer": inert("null", trainingNote),
		"synchronized":                inert("false", "Keras 3: synchronises batch statistics across devices in training; inference uses the moving statistics"),
		"renorm":                      read("false"),
		"renorm_clipping":             inert("null", "batch renormalisation acts in training only"),
		"renorm_momentum":             inert("0.99", "batch renormalisation acts in training only"),
		"virtual_batch_size":          read("null"),
		"adjustment":                  read("null"),
	}),
	"LayerNormalization": merge(normTrainKeys, keySet{
		"axis":        read("-1"),
		"epsilon":     read("0.001"),
		"center":      read("true"),
		"scale":       read("true"),
		"rms_scaling": read("false"),
	}),

	"Conv1D":          convKeys,
	"Conv2D":          merge(convKeys, keySet{"kernel_size": read("[3, 3]"), "strides": read("[1, 1]"), "dilation_rate": read("[1, 1]")}),
	"SeparableConv1D": merge(separableKeys, keySet{"depth_multiplier": read("1")}),
	"SeparableConv2D": merge(separableKeys, keySet{
		"depth_multiplier": read("1"), "kernel_size": read("[3, 3]"), "strides": read("[1, 1]"), "dilation_rate": read("[1, 1]"),
	}),
	"DepthwiseConv2D": merge(depthwiseTrainKeys, keySet{
		"depth_multiplier": read("1"),
		"kernel_size":      read("[3, 3]"),
		"strides":          read("[1, 1]"),
		"padding":          read(`"valid"`),
		"data_format":      read(`"channels_last"`),
		"dilation_rate":    read("[1, 1]"),
		"activation":       read(`"linear"`),
		"use_bias":         read("true"),
	}),

	"MaxPooling1D":           pool1DKeys,
	"AveragePooling1D":       pool1DKeys,
	"MaxPooling2D":           pool2DKeys,
	"AveragePooling2D":       pool2DKeys,
	"GlobalMaxPooling1D":     globalPoolKeys,
	"GlobalAveragePooling1D": globalPoolKeys,
	"GlobalMaxPooling2D":     globalPoolKeys,
	"GlobalAveragePooling2D": globalPoolKeys,

	"Normalization": keySet{
		"axis":     read("-1"),
		"mean":     readNote("null", "null when the statistics are weights (an adapted layer)"),
		"variance": readNote("null", "null when the statistics are weights (an adapted layer)"),
		"invert":   read("false"),
	},
	"Rescaling": keySet{
		"scale":  read("0.5"),
		"offset": read("0.0"),
	},
	"Flatten":       keySet{"data_format": read(`"channels_last"`)},
	"Reshape":       keySet{"target_shape": read("[-1]")},
	"Permute":       keySet{"dims": read("[2, 1]")},
	"RepeatVector":  keySet{"n": read("2")},
	"Cropping1D":    keySet{"cropping": read("[1, 1]")},
	"ZeroPadding1D": keySet{"padding": read("[1, 1]"), "data_format": read(`"channels_last"`)},
	"UpSampling1D":  keySet{"size": read("2")},
	"UpSampling2D": keySet{
		"size":          read("[2, 2]"),
		"data_format":   read(`"channels_last"`),
		"interpolation": read(`"nearest"`),
	},
	"Conv2DTranspose": keySet{
		"filters":        read("4"),
		"kernel_size":    read("[3, 3]"),
		"strides":        read("[1, 1]"),
		"padding":        read(`"valid"`),
		"output_padding": read("null"),
		"data_format":    read(`"channels_last"`),
		"dilation_rate":  read("[1, 1]"),
		"groups":         read("1"),
		"activation":     read(`"linear"`),
		"use_bias":       read("true"),
	},
	"Cropping2D": keySet{
		"cropping":    read("[[1, 1], [1, 1]]"),
		"data_format": read(`"channels_last"`),
	},
	"ZeroPadding2D": keySet{
		"padding":     read("[[1, 1], [1, 1]]"),
		"data_format": read(`"channels_last"`),
	},

	"Activation": keySet{"activation": read(`"relu"`)},
	"ReLU": keySet{
		"max_value":      read("null"),
		"negative_slope": read("0.0"),
		"threshold":      read("0.0"),
	},
	"LeakyReLU": keySet{
		"negative_slope": read("0.3"),
		"alpha":          readNote("null", "tf.keras's name of negative_slope"),
	},
	"ELU":             keySet{"alpha": read("1.0")},
	"ThresholdedReLU": keySet{"theta": read("1.0")},
	"PReLU": keySet{
		"shared_axes":       read("null"),
		"alpha_initializer": inert("null", trainingNote),
		"alpha_regularizer": inert("null", trainingNote),
		"alpha_constraint":  inert("null", trainingNote),
	},
	"Softmax": keySet{"axis": read("-1")},
	"Masking": keySet{"mask_value": read("0.0")},

	"Add":         noKeys,
	"Subtract":    noKeys,
	"Multiply":    noKeys,
	"Average":     noKeys,
	"Maximum":     noKeys,
	"Minimum":     noKeys,
	"Concatenate": keySet{"axis": read("-1")},
	"Dot":         keySet{"axes": read("-1"), "normalize": read("false")},
	"Attention": keySet{
		"use_scale":  read("false"),
		"score_mode": read(`"dot"`),
		"causal":     readNote("false", "tf.keras 2.x; Keras 3 makes it a call argument"),
		"dropout":    inert("0.0", dropoutNote),
		"seed":       inert("null", seedNote),
	},
}

// rule returns what kerasrun does with key of class: the class's own entry,
// else the common keys.
func rule(class, key string) (keyRule, bool) {
	if r, ok := configKeys[class][key]; ok {
		return r, true
	}
	r, ok := commonKeys[key]
	return r, ok
}

// isOff reports whether v equals one of the JSON values of off. Numbers
// compare by value (0 and 0.0 are the same), everything else by its
// compact JSON form.
func isOff(v gjson.Result, off []string) bool {
	for _, o := range off {
		w := gjson.Parse(o)
		switch {
		case v.Type == gjson.Number && w.Type == gjson.Number:
			if v.Num == w.Num {
				return true
			}
		case v.Type != w.Type:
		case v.Type == gjson.String:
			if v.Str == w.Str {
				return true
			}
		case v.Type == gjson.JSON:
			if compactJSON(v.Raw) == compactJSON(w.Raw) {
				return true
			}
		default: // null, true, false
			return true
		}
	}
	return false
}

func compactJSON(s string) string {
	var b strings.Builder
	inStr, esc := false, false
	for _, c := range s {
		switch {
		case inStr:
			b.WriteRune(c)
			if esc {
				esc = false
			} else if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
			b.WriteRune(c)
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// checkUnread returns the error for a key of class that no decoder read,
// or nil when the catalogue accepts its value.
func checkUnread(class, key string, v gjson.Result) error {
	r, ok := rule(class, key)
	if !ok || r.kind == keyRead {
		return unsupportedOption(key, "unknown option (value %s)", clip(v.Raw))
	}
	if r.kind == keyInert || isOff(v, r.off) {
		return nil
	}
	return unsupportedOption(key, "value %s: kerasrun runs %s only with %s = %s", clip(v.Raw), class, key, strings.Join(r.off, " or "))
}

// renderKeyCatalogue writes the catalogue as Markdown, the text of
// docs/KERAS_CONFIG_KEYS.md.
func renderKeyCatalogue() string {
	var b strings.Builder
	b.WriteString(keyDocHeader)
	row := func(key string, r keyRule) {
		what := r.kind.String()
		if r.kind == keyOff {
			what = "off only: " + "`" + strings.Join(r.off, "` or `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", key, what, r.note)
	}
	b.WriteString("\n## Every class\n\nThe keys of Keras's base `Layer` and the input-shape keys, accepted for every class.\n\n| key | kerasrun | note |\n|---|---|---|\n")
	for _, k := range sortedKeys(commonKeys) {
		row(k, commonKeys[k])
	}
	var classes []string
	for c := range configKeys {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		fmt.Fprintf(&b, "\n## %s\n\n", c)
		if len(configKeys[c]) == 0 {
			b.WriteString("No keys of its own.\n")
			continue
		}
		b.WriteString("| key | kerasrun | note |\n|---|---|---|\n")
		for _, k := range sortedKeys(configKeys[c]) {
			row(k, configKeys[c][k])
		}
	}
	return b.String()
}

func sortedKeys(s keySet) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

const keyDocHeader = `# Keras config keys

<!-- Generated from layers/keys.go by: go test ./layers -run TestKeyCatalogueDoc -update. Do not edit. -->

Every key that the ` + "`get_config`" + ` of Keras 3.0 to 3.14 and tf.keras 2.x writes for the
classes kerasrun runs, and what kerasrun does with it:

- **implemented**: the layer reads the key and runs its values (or refuses a value it cannot
  run, naming the key).
- **accepted, any value**: the key shapes training or how Keras builds its graph, never the
  numbers of a forward pass.
- **off only**: accepted only at the listed value, the one with no effect; any other value
  is refused at load with the layer, its class, the key and the value (` + "`ErrUnsupported`" + `).

A key that is in no list is refused as an unknown option. Keras 1 keys are translated by
the importer first (` + "`importer/keras1.go`" + `).

Keys outside a layer's ` + "`config`" + `: the importer reads ` + "`class_name`" + `, ` + "`config`" + `, ` + "`name`" + ` and
` + "`inbound_nodes`" + ` of each layer entry; Keras 3's ` + "`module`" + `, ` + "`registered_name`" + `,
` + "`build_config`" + ` and ` + "`compile_config`" + ` there describe how Keras rebuilds the object and are
not used. ` + "`InputLayer`" + ` is read by the importer: ` + "`batch_shape`" + `/` + "`batch_input_shape`" + `,
` + "`dtype`" + `, ` + "`name`" + `; ` + "`sparse`" + ` and ` + "`ragged`" + ` are refused when true; Keras 3.10+'s ` + "`optional`" + `
is accepted (it lets a caller pass None, which kerasrun never does).

Dtype policies: ` + "`{\"class_name\": \"DTypePolicy\", \"config\": {\"name\": \"float32\"}}`" + ` is reduced to
its name by the importer (` + "`importer/keras3.go`" + ` normalizeDType); other float dtypes and mixed
precision are refused. A ` + "`QuantizedDTypePolicy`" + ` (Keras 3.4+: ` + "`{\"mode\": \"int8\", \"source_name\":\n\"float32\"}`" + `; Keras 3.3: ` + "`{\"name\": \"int8_from_float32\"}`" + `) becomes the name
` + "`int8_from_float32`" + `: Dense, EinsumDense and Embedding run the int8 mode; every other mode
(float8, int4, gptq, awq) and every other class refuse it, naming the mode.
`
