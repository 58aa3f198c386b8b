package layers

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/KERAS_CONFIG_KEYS.md from the key catalogue")

// exampleConfig is a config of class with every catalogue key at its
// example (or first off) value, the common keys included.
func exampleConfig(t *testing.T, class string) string {
	t.Helper()
	var parts []string
	add := func(k string, r keyRule) {
		v := r.example
		if r.kind == keyOff {
			v = r.off[0]
		}
		if !gjson.Valid(v) {
			t.Fatalf("%s: key %q: example %q is not JSON", class, k, v)
		}
		parts = append(parts, `"`+k+`": `+v)
	}
	for _, k := range sortedKeys(commonKeys) {
		if _, own := configKeys[class][k]; !own {
			add(k, commonKeys[k])
		}
	}
	for _, k := range sortedKeys(configKeys[class]) {
		add(k, configKeys[class][k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func k3Spec(class, cfg string) Spec {
	return Spec{Name: "l", Class: class, Config: gjson.Parse(cfg), Env: Env{KerasVersion: "3.13.0"}}
}

// Every registered class has a catalogue entry, and every entry a class.
func TestKeyCatalogueCoversRegistry(t *testing.T) {
	for _, c := range Classes() {
		if _, ok := configKeys[c]; !ok {
			t.Errorf("class %s is registered but has no entry in configKeys (layers/keys.go)", c)
		}
	}
	reg := map[string]bool{}
	for _, c := range Classes() {
		reg[c] = true
	}
	for c := range configKeys {
		if !reg[c] {
			t.Errorf("configKeys has an entry for %s, which is not registered", c)
		}
	}
}

// A config with every catalogue key at its example or off value decodes,
// and the decoder reads every key the catalogue calls implemented.
func TestKeyCatalogueExamples(t *testing.T) {
	for c := range configKeys {
		cfg := exampleConfig(t, c)
		if _, err := Decode(k3Spec(c, cfg)); err != nil {
			t.Errorf("%s: %v\nconfig: %s", c, err, cfg)
			continue
		}
		regMu.RLock()
		d := registry[c]
		regMu.RUnlock()
		r := NewReader(k3Spec(c, cfg))
		if _, err := d(r); err != nil {
			t.Errorf("%s: %v", c, err)
			continue
		}
		for k, rl := range configKeys[c] {
			if rl.kind == keyRead && !r.used[k] {
				t.Errorf("%s: the catalogue says %q is implemented, but the decoder does not read it", c, k)
			}
		}
	}
}

// badValue is a JSON value that is none of off.
func badValue(off []string) string {
	cands := []string{"4", "true", `"x"`, `{"class_name": "X", "config": {}}`}
	switch off[0] {
	case "false", "true":
		cands = []string{"true", "false"}
	default:
		if strings.HasPrefix(off[0], `"`) {
			cands = []string{`"x"`, `"y"`}
		}
	}
	for _, v := range cands {
		if !isOff(gjson.Parse(v), off) {
			return v
		}
	}
	panic("no bad value")
}

// Every off-only key at another value is refused, naming the key and the
// value; the rest of the config stays at its examples.
func TestKeyCatalogueOffRefused(t *testing.T) {
	for c, set := range configKeys {
		for k, rl := range set {
			if rl.kind != keyOff {
				continue
			}
			bad := badValue(rl.off)
			cfg := gjson.Parse(exampleConfig(t, c))
			m := map[string]string{}
			cfg.ForEach(func(key, v gjson.Result) bool { m[key.Str] = v.Raw; return true })
			m[k] = bad
			var parts []string
			for key, v := range m {
				parts = append(parts, `"`+key+`": `+v)
			}
			_, err := Decode(k3Spec(c, "{"+strings.Join(parts, ", ")+"}"))
			if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"`+k+`"`) || !strings.Contains(err.Error(), bad) {
				t.Errorf("%s: %s = %s: got %v, want an unsupported-option error naming the key and value", c, k, bad, err)
			}
		}
	}
}

func TestKeyCatalogueUnknownKey(t *testing.T) {
	_, err := Decode(k3Spec("Dense", `{"units": 2, "frobnicate": 1}`))
	if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"frobnicate"`) {
		t.Fatalf("got %v", err)
	}
}

// The Keras 3.13 Dense config decodes: quantization_config and lora keys
// at their off values, a dtype already reduced by the importer.
func TestKeyCatalogueKeras313Dense(t *testing.T) {
	cfg := `{"name": "dense", "trainable": true, "dtype": "float32", "units": 4, "activation": "relu",
	 "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null},
	 "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
	 "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null,
	 "quantization_config": null, "lora_rank": null}`
	if _, err := Decode(k3Spec("Dense", cfg)); err != nil {
		t.Fatal(err)
	}
	cfg = strings.Replace(cfg, `"quantization_config": null`, `"quantization_config": {"class_name": "Int8QuantizationConfig", "config": {}}`, 1)
	if _, err := Decode(k3Spec("Dense", cfg)); err == nil || !strings.Contains(err.Error(), "quantization_config") {
		t.Fatalf("a quantization_config: got %v", err)
	}
}

// A quantized policy is refused on a class that cannot be quantized, and
// every mode but int8 is refused with its name.
func TestQuantizedDTypeRefused(t *testing.T) {
	_, err := Decode(k3Spec("LSTM", `{"units": 2, "dtype": "int8_from_float32"}`))
	if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "int8_from_float32") {
		t.Fatalf("LSTM int8: got %v", err)
	}
	for _, mode := range []string{"float8", "int4", "gptq", "awq"} {
		for _, c := range []string{"Dense", "Embedding"} {
			cfg := `{"input_dim": 3, "output_dim": 2, "dtype": "` + mode + `_from_float32"}`
			if c == "Dense" {
				cfg = `{"units": 2, "dtype": "` + mode + `_from_float32"}`
			}
			_, err := Decode(k3Spec(c, cfg))
			if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"`+mode+`"`) {
				t.Errorf("%s %s: got %v", c, mode, err)
			}
		}
	}
}

// docs/KERAS_CONFIG_KEYS.md is the rendering of the catalogue.
func TestKeyCatalogueDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "KERAS_CONFIG_KEYS.md")
	want := renderKeyCatalogue()
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: run go test ./layers -run TestKeyCatalogueDoc -update", path)
	}
}
