package importer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/runtime"
)

// runCase loads a golden case and checks it: an ok case must match its
// expected outputs, an error case must fail with a message that names what
// is wrong.
func runCase(t *testing.T, c *golden.Case) {
	t.Helper()
	m, err := loadCase(c)
	if err == nil && c.Expect == "error" && len(c.Inputs) > 0 {
		inputs, rerr := c.ReadInputs()
		if rerr != nil {
			t.Fatal(rerr)
		}
		_, err = m.Predict(inputs...)
	}
	switch c.Expect {
	case "error":
		if err == nil {
			t.Fatalf("loaded and ran without error; want an error (%v)", deref(c.Why))
		}
		msg := strings.ToLower(err.Error())
		for _, part := range c.WantErrorParts() {
			if !strings.Contains(msg, strings.ToLower(part)) {
				t.Errorf("error %q does not mention %q", err, part)
			}
		}
		if !strings.Contains(err.Error(), c.Model()) {
			t.Errorf("error %q does not name the file", err)
		}
		return
	case "ok":
	default:
		t.Skipf("expect=%s", c.Expect)
	}
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	for k, in := range m.Inputs() {
		if k < len(c.Inputs) && in.Name != c.Inputs[k].Name {
			t.Errorf("input %d is named %q, Keras calls it %q", k, in.Name, c.Inputs[k].Name)
		}
	}
	// Keras 3 names every output of a layer after the layer; kerasrun
	// makes the names unique as tf.keras does (see uniqueName).
	seen := map[string]int{}
	for k, out := range m.Outputs() {
		if k >= len(c.Outputs) {
			break
		}
		if want := uniqueName(seen, c.Outputs[k].Name); out.Name != want {
			t.Errorf("output %d is named %q, Keras calls it %q (%q as a unique name)", k, out.Name, c.Outputs[k].Name, want)
		}
	}
	inputs, err := c.ReadInputs()
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Predict(inputs...)
	if err != nil {
		t.Fatalf("predict: %v", err)
	}
	if err := c.Check(got); err != nil {
		t.Fatal(err)
	}
}

// loadCase loads a case's model: a full model file, or a weights-only file
// with its architecture JSON.
func loadCase(c *golden.Case) (*runtime.Model, error) {
	a := c.Arch()
	if a == "" {
		return Load(c.Model(), nil)
	}
	arch, err := os.ReadFile(a)
	if err != nil {
		return nil, err
	}
	return LoadWeights(arch, c.Model(), nil)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestFixtures runs every case in fixtures/: expected outputs come from the
// numpy and PyTorch references of tools/gen_fixtures.py.
func TestFixtures(t *testing.T) {
	cases, err := golden.Load(filepath.Join("..", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 50 {
		t.Fatalf("only %d fixture cases found", len(cases))
	}
	for i := range cases {
		c := &cases[i]
		t.Run(c.ID, func(t *testing.T) { runCase(t, c) })
	}
}

// corpusSkips lists the corpus cases that need layers or file formats of a
// later issue. It is the only place a corpus case may be skipped, and it
// shrinks to empty as those land.
var corpusSkips = map[string]string{}

// corpusDir finds a corpus in ../shared: keras-real (or $KERASRUN_CORPUS),
// keras-real-3 (or $KERASRUN_CORPUS3).
func corpusDir(name, env string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", name)
}

// TestCorpus runs the real-model corpus: files saved by real Keras releases
// with outputs from Keras itself or two independent references.
func TestCorpus(t *testing.T) {
	runCorpus(t, corpusDir("keras-real", "KERASRUN_CORPUS"))
}

// TestCorpus3 runs the corpus of files saved by current Keras (3.0 to
// 3.14, and tf.keras 2.x): .keras archives, a .weights.h5 with its
// config.json, Keras 3 legacy .h5 files, seq2seq models with initial
// states and Teachable Machine's MobileNetV2, with outputs from two
// independent references.
func TestCorpus3(t *testing.T) {
	runCorpus(t, corpusDir("keras-real-3", "KERASRUN_CORPUS3"))
}

func runCorpus(t *testing.T, dir string) {
	cases, err := golden.Load(dir)
	if errors.Is(err, os.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corpus not found at %s (CI=true)", dir)
		}
		t.Skipf("corpus not found at %s", dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		c := &cases[i]
		t.Run(c.ID, func(t *testing.T) {
			if why, ok := corpusSkips[c.ID]; ok {
				t.Skip(why)
			}
			if c.Expect == "ok" && !c.HasGold() {
				t.Skip("no reference output")
			}
			runCase(t, c)
		})
	}
}
