package importer

import (
	"errors"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/tidwall/gjson"
)

// Quantized dtype policies become their Keras name, "<mode>_from_<source>",
// so the layer sees its mode; their source dtype is checked like any other.
func TestNormalizeQuantizedDType(t *testing.T) {
	cases := []struct{ in, want, err string }{
		// Keras 3.4+ (QuantizedDTypePolicy.get_config).
		{`{"dtype": {"module": "keras", "class_name": "QuantizedDTypePolicy", "config": {"mode": "int8", "source_name": "float32"}, "registered_name": null}}`, "int8_from_float32", ""},
		{`{"dtype": {"module": "keras", "class_name": "Int4DTypePolicy", "config": {"mode": "int4", "source_name": "float32", "block_size": 128}, "registered_name": null}}`, "int4_from_float32", ""},
		// Keras 3.3 (the policy's name).
		{`{"dtype": {"module": "keras", "class_name": "QuantizedDTypePolicy", "config": {"name": "int8_from_float32"}, "registered_name": null}}`, "int8_from_float32", ""},
		{`{"dtype": {"class_name": "QuantizedDTypePolicy", "config": {"mode": "int8", "source_name": "mixed_bfloat16"}}}`, "", "mixed_bfloat16"},
		{`{"dtype": {"class_name": "QuantizedDTypePolicy", "config": {"mode": "int8", "source_name": "float16"}}}`, "", "float16"},
		{`{"dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null, "shared_object_id": 1}}`, "float32", ""},
	}
	for _, c := range cases {
		_, cfg, _, err := normalizeConfig("Dense", gjson.Parse(c.in))
		if c.err != "" {
			if err == nil || !errors.Is(err, layers.ErrUnsupported) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %v, want an unsupported error naming %s", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := cfg.Get("dtype").String(); got != c.want {
			t.Errorf("%s: dtype %q, want %q", c.in, got, c.want)
		}
	}
}
