// Package golden finds and checks kerasrun's golden cases: the fixtures in
// fixtures/ (made by tools/gen_fixtures.py) and the real-model corpus in
// ../shared/keras-real and ../shared/keras-real-3, and the folders that
// tools/export_golden.py writes from a user's Keras (verify.go). All use the
// MANIFEST.json layout of the corpus.
// Expected outputs always come from those files, never from Go.
package golden

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/runtime"
)

// IO is one input or output entry of a case.
type IO struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
}

// Case is one MANIFEST.json entry.
type Case struct {
	ID           string   `json:"id"`
	Family       string   `json:"family"`
	Files        []string `json:"files"`
	KerasVersion *string  `json:"keras_version"`
	ModelClass   *string  `json:"model_class"`
	LayerClasses []string `json:"layer_classes"`
	Expect       string   `json:"expect"`
	Why          *string  `json:"why"`
	Inputs       []IO     `json:"inputs"`
	Outputs      []IO     `json:"outputs"`
	Atol         float64  `json:"atol"`
	Rtol         float64  `json:"rtol"`
	Notes        string   `json:"notes"`
	// Activations are layer outputs recorded by Keras, for cases made by
	// tools/export_golden.py (see verify.go).
	Activations []Activation `json:"activations,omitempty"`

	Dir string `json:"-"` // the case folder
}

// Model is the path of the case's model file: the first of its files that
// is model.h5, model.keras or model.weights.h5 (model.h5 when none is).
func (c *Case) Model() string {
	for _, f := range c.Files {
		switch f {
		case "model.h5", "model.keras", "model.weights.h5":
			return filepath.Join(c.Dir, f)
		}
	}
	return filepath.Join(c.Dir, "model.h5")
}

// Arch is the path of the case's architecture JSON, or "" when it has none.
func (c *Case) Arch() string {
	for _, f := range c.Files {
		if f == "arch.json" {
			return filepath.Join(c.Dir, f)
		}
	}
	return ""
}

// HasGold reports whether every output has a reference file.
func (c *Case) HasGold() bool {
	if len(c.Outputs) == 0 {
		return false
	}
	for _, o := range c.Outputs {
		if o.File == "" {
			return false
		}
	}
	return true
}

// Load reads root/MANIFEST.json.
func Load(root string) ([]Case, error) {
	b, err := os.ReadFile(filepath.Join(root, "MANIFEST.json"))
	if err != nil {
		return nil, err
	}
	var cases []Case
	if err := json.Unmarshal(b, &cases); err != nil {
		return nil, fmt.Errorf("%s/MANIFEST.json: %w", root, err)
	}
	for i := range cases {
		cases[i].Dir = filepath.Join(root, cases[i].ID)
	}
	return cases, nil
}

// Inputs reads the case's inputs, in model input order.
func (c *Case) ReadInputs() ([]*runtime.Tensor, error) {
	var out []*runtime.Tensor
	for _, in := range c.Inputs {
		t, _, err := npyfile.Read(filepath.Join(c.Dir, in.File))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Check compares got with the case's expected outputs: every element must
// satisfy |got - want| <= atol + rtol*|want|, as check_candidate.py does.
func (c *Case) Check(got []*runtime.Tensor) error {
	if len(got) != len(c.Outputs) {
		return fmt.Errorf("%d outputs, want %d", len(got), len(c.Outputs))
	}
	for k, o := range c.Outputs {
		want, _, err := npyfile.Read(filepath.Join(c.Dir, o.File))
		if err != nil {
			return err
		}
		if err := Compare(got[k], want, c.Atol, c.Rtol); err != nil {
			return fmt.Errorf("output %d (%s): %w", k, o.Name, err)
		}
	}
	return nil
}

// Compare checks got against want elementwise within atol + rtol*|want|.
// Shapes must be equal.
func Compare(got, want *runtime.Tensor, atol, rtol float64) error {
	if !slices.Equal(got.Shape, want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	worst, at := 0.0, -1
	for i := range want.Data {
		g, w := float64(got.Data[i]), float64(want.Data[i])
		d := math.Abs(g - w)
		if math.IsNaN(g) != math.IsNaN(w) || (!math.IsNaN(w) && !(d <= atol+rtol*math.Abs(w))) {
			if at < 0 || d > worst || math.IsNaN(d) {
				worst, at = d, i
			}
		}
	}
	if at >= 0 {
		return fmt.Errorf("element %d: got %g, want %g (|diff| %g > atol %g + rtol %g)", at, got.Data[at], want.Data[at], worst, atol, rtol)
	}
	return nil
}

// MaxAbsDiff returns the largest |got - want|.
func MaxAbsDiff(got, want *runtime.Tensor) float64 {
	m := 0.0
	for i := range want.Data {
		m = math.Max(m, math.Abs(float64(got.Data[i])-float64(want.Data[i])))
	}
	return m
}

// WantErrorParts returns the substrings an expect=error case's message must
// contain (case-insensitive), from its "why" field: "a | b".
func (c *Case) WantErrorParts() []string {
	if c.Why == nil || c.Family != "fixture" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(*c.Why, "|") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
