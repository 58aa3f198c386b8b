package layers

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Env carries the facts of the file that change Keras semantics.
type Env struct {
	KerasVersion string // root attribute keras_version, "" when absent
	Backend      string // root attribute backend, "" when absent (Keras 1)
}

func (e Env) version() (major, minor, patch int) {
	v := strings.TrimSpace(e.KerasVersion)
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	nums := make([]int, 3)
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(strings.TrimFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' }))
		if err == nil {
			nums[i] = n
		}
	}
	return nums[0], nums[1], nums[2]
}

// Major returns the major Keras version, 2 when the file does not say.
func (e Env) Major() int {
	if e.KerasVersion == "" {
		return 2
	}
	m, _, _ := e.version()
	return m
}

// TFKeras reports whether the file was written by tf.keras: a version with
// the "-tf" suffix, or any 2.x version from 2.4 on (standalone Keras became
// tf.keras then).
func (e Env) TFKeras() bool {
	if strings.Contains(e.KerasVersion, "-tf") {
		return true
	}
	maj, min, _ := e.version()
	return maj == 2 && min >= 4
}

// atLeast reports whether the version is at least maj.min.pat.
func (e Env) atLeast(maj, min, pat int) bool {
	a, b, c := e.version()
	if a != maj {
		return a > maj
	}
	if b != min {
		return b > min
	}
	return c >= pat
}

// Spec is one layer as the model config describes it.
type Spec struct {
	Name   string
	Class  string
	Config gjson.Result // the layer's "config" object
	Env    Env
}

// Reader decodes a layer config, recording every key it reads, so that
// unknown keys and bad values become errors rather than silent defaults.
type Reader struct {
	spec Spec
	used map[string]bool
	errs []error
}

// NewReader returns a reader over s.Config. The keys of trainingOnly (the
// common keys of the catalogue, keys.go, that any value may take) are
// accepted without being read.
func NewReader(s Spec) *Reader {
	r := &Reader{spec: s, used: map[string]bool{}}
	r.Ignore(trainingOnly...)
	return r
}

// Spec returns the spec being read.
func (r *Reader) Spec() Spec { return r.spec }

// Ignore accepts keys without reading them.
func (r *Reader) Ignore(keys ...string) {
	for _, k := range keys {
		r.used[k] = true
	}
}

// Errorf records an error about option key.
func (r *Reader) Errorf(key, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("option %q: %s", key, fmt.Sprintf(format, args...)))
}

// Unsupported records that option key has a value kerasrun cannot run.
func (r *Reader) Unsupported(key, format string, args ...any) {
	r.errs = append(r.errs, unsupportedOption(key, format, args...))
}

// Get returns the raw value of key and marks it read.
func (r *Reader) Get(key string) gjson.Result {
	r.used[key] = true
	return r.spec.Config.Get(gjson.Escape(key))
}

// Has reports whether key is present (and not null).
func (r *Reader) Has(key string) bool {
	v := r.spec.Config.Get(gjson.Escape(key))
	return v.Exists() && v.Type != gjson.Null
}

// Int reads an integer option; def is used when it is absent or null.
func (r *Reader) Int(key string, def int) int {
	v := r.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return def
	}
	if v.Type == gjson.JSON && v.IsArray() && len(v.Array()) == 1 {
		v = v.Array()[0]
	}
	if v.Type != gjson.Number || v.Num != float64(int64(v.Num)) || v.Num > 1<<31 || v.Num < -(1<<31) {
		r.Errorf(key, "want an integer, got %s", clip(v.Raw))
		return def
	}
	return int(v.Num)
}

// PositiveInt reads an integer that must be > 0.
func (r *Reader) PositiveInt(key string, def int) int {
	n := r.Int(key, def)
	if n <= 0 {
		r.Errorf(key, "must be positive, got %d", n)
		return 1
	}
	return n
}

// Float reads a number option.
func (r *Reader) Float(key string, def float64) float64 {
	v := r.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return def
	}
	if v.Type != gjson.Number {
		r.Errorf(key, "want a number, got %s", clip(v.Raw))
		return def
	}
	return v.Num
}

// Bool reads a boolean option.
func (r *Reader) Bool(key string, def bool) bool {
	v := r.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return def
	}
	if v.Type != gjson.True && v.Type != gjson.False {
		r.Errorf(key, "want true or false, got %s", clip(v.Raw))
		return def
	}
	return v.Bool()
}

// String reads a string option.
func (r *Reader) String(key, def string) string {
	v := r.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return def
	}
	if v.Type != gjson.String {
		r.Errorf(key, "want a string, got %s", clip(v.Raw))
		return def
	}
	return v.Str
}

// OneOf reads a string option that must be one of allowed.
func (r *Reader) OneOf(key, def string, allowed ...string) string {
	s := r.String(key, def)
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	r.Unsupported(key, "value %q (supported: %s)", s, strings.Join(allowed, ", "))
	return def
}

// False records an unsupported-option error when key is true.
func (r *Reader) False(key, why string) {
	if r.Bool(key, false) {
		r.Unsupported(key, "true is not supported%s", why)
	}
}

// Ints reads an option that is an integer or a list of integers.
func (r *Reader) Ints(key string, def []int) []int {
	v := r.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return def
	}
	var out []int
	items := []gjson.Result{v}
	if v.IsArray() {
		items = v.Array()
	}
	for _, it := range items {
		if it.Type != gjson.Number || it.Num != float64(int64(it.Num)) || it.Num > 1<<31 || it.Num < -(1<<31) {
			r.Errorf(key, "want integers, got %s", clip(v.Raw))
			return def
		}
		out = append(out, int(it.Num))
	}
	return out
}

// Shape reads an optional shape list where null marks a free dimension (-1).
func (r *Reader) Shape(key string) ([]int, bool) {
	v := r.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return nil, false
	}
	return parseShape(v, func(msg string) { r.Errorf(key, "%s", msg) })
}

func parseShape(v gjson.Result, fail func(string)) ([]int, bool) {
	if !v.IsArray() {
		fail("want a list, got " + clip(v.Raw))
		return nil, false
	}
	var out []int
	for _, it := range v.Array() {
		switch {
		case it.Type == gjson.Null:
			out = append(out, -1)
		case it.Type == gjson.Number && it.Num == float64(int64(it.Num)) && it.Num >= 0 && it.Num < 1<<31:
			out = append(out, int(it.Num))
		default:
			fail("bad dimension " + clip(it.Raw))
			return nil, false
		}
	}
	return out, true
}

// ParseShape decodes a Keras shape list ([null, 5, 10]) with -1 for null.
func ParseShape(v gjson.Result) ([]int, error) {
	var err error
	s, ok := parseShape(v, func(msg string) { err = fmt.Errorf("layers: shape: %s", msg) })
	if !ok && err == nil {
		err = fmt.Errorf("layers: shape: missing")
	}
	return s, err
}

// Err returns every recorded error, plus one for each key in the config that
// nobody read and that the catalogue (keys.go) does not accept at its value,
// joined into one error.
func (r *Reader) Err() error {
	var unread []string
	r.spec.Config.ForEach(func(k, _ gjson.Result) bool {
		if !r.used[k.String()] {
			unread = append(unread, k.String())
		}
		return true
	})
	sort.Strings(unread)
	errs := r.errs
	for _, k := range unread {
		v := r.spec.Config.Get(gjson.Escape(k))
		if k == "dtype" {
			if err := r.checkDType(v); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := checkUnread(r.spec.Class, k, v); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrs(errs)
}

// quantSep separates the mode from the source dtype in the name of a
// Keras quantized dtype policy: "int8_from_float32".
const quantSep = "_from_"

// checkDType checks a dtype that the decoder did not read: the importer
// has already reduced a policy object to its name and refused other float
// types, so what is left to refuse is a quantized policy on a class that
// does not read it (Quantization).
func (r *Reader) checkDType(v gjson.Result) error {
	if v.Type == gjson.String && strings.Contains(v.Str, quantSep) {
		return unsupportedOption("dtype", "the quantized dtype policy %q: kerasrun runs quantized Dense, EinsumDense and Embedding layers only", v.Str)
	}
	return nil
}

// Quantization reads the dtype of a class that can be quantized and returns
// its quantization mode: "" for a float32 layer, "int8" for a Keras int8
// layer (dtype policy "int8_from_float32"). Every other mode is refused
// with its name.
func (r *Reader) Quantization() string {
	v := r.Get("dtype")
	if v.Type != gjson.String || !strings.Contains(v.Str, quantSep) {
		if err := r.checkDType(v); err != nil {
			r.errs = append(r.errs, err)
		}
		return ""
	}
	mode, src, _ := strings.Cut(v.Str, quantSep)
	if src != "float32" {
		r.Unsupported("dtype", "the quantized dtype policy %q computes in %s; kerasrun computes in float32", v.Str, src)
		return ""
	}
	if mode != "int8" {
		r.Unsupported("dtype", "quantization mode %q (policy %q): kerasrun runs the int8 mode only", mode, v.Str)
		return ""
	}
	return mode
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

type multiErr []error

func (m multiErr) Error() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (m multiErr) Unwrap() []error { return m }

func joinErrs(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return multiErr(errs)
}
