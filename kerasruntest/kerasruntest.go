// Package kerasruntest checks kerasrun against your own Keras in Go tests,
// as net/http/httptest does for net/http.
//
// Make a golden folder once, in the Python environment where the model
// lives (tf.keras 2.x or Keras 3), with the repository's
// tools/export_golden.py:
//
//	python export_golden.py model.h5 --out testdata/golden
//
// It saves the inputs (given, or seeded random ones), Keras's outputs and
// every layer's output as .npy files, with a MANIFEST.json. Then one line
// in a Go test checks that kerasrun gives the same outputs:
//
//	func TestModel(t *testing.T) {
//		kerasruntest.CheckGolden(t, "testdata/model.h5", "testdata/golden")
//	}
//
// When an output differs beyond the tolerance, the failure names the
// first layer whose output differs from Keras's, with its error, which is
// where to look. `kerasrun verify model.h5 DIR` prints the same report
// from the command line.
//
// A golden folder holds cases in the layout of kerasrun's test corpus:
// DIR/MANIFEST.json lists them and DIR/<id>/ holds each one's files. DIR
// may also be one case's folder. Each element must satisfy
// |got - want| <= atol + rtol*|want|, with atol and rtol from the
// manifest (1e-5 and 1e-4 when it sets neither) unless Options sets them.
package kerasruntest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun"
	"github.com/kerasrun/kerasrun/internal/golden"
)

// Options adjusts Check. The zero value, like a nil *Options, uses the
// manifest's tolerances and picks the case as Check describes.
type Options struct {
	// Arch is the architecture JSON (model.to_json()) when the model file
	// holds weights only (model.save_weights).
	Arch string
	// Case is the id of the case to check in a folder of several.
	Case string
	// Atol and Rtol, when either is above 0, replace the manifest's.
	Atol, Rtol float64
}

// CheckGolden loads the model, runs it on the inputs of the golden folder
// dir and reports a test error, through t, for every output that differs
// from Keras's beyond the tolerance, naming the first layer whose output
// diverges. It is Check with nil options.
func CheckGolden(t testing.TB, model, dir string) {
	t.Helper()
	Check(t, model, dir, nil)
}

// Check is CheckGolden with options. In a folder of several cases it
// checks the case opts.Case, or else the case whose model file is model.
// A model that fails to load or run, or a folder that cannot be read,
// fails the test at once (t.Fatal).
func Check(t testing.TB, model, dir string, opts *Options) {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	c, err := golden.Find(dir, model, opts.Case)
	if err != nil {
		t.Fatalf("kerasruntest: %v", err)
	}
	m, err := load(model, opts.Arch)
	if err != nil {
		t.Fatalf("kerasruntest: %v", err)
	}
	atol, rtol := c.Tolerance()
	if opts.Atol > 0 || opts.Rtol > 0 {
		atol, rtol = opts.Atol, opts.Rtol
	}
	r, err := golden.Verify(context.Background(), m, c, atol, rtol)
	if err != nil {
		t.Fatalf("kerasruntest: %s against %s: %v", model, c.Dir, err)
	}
	if r.OK() {
		return
	}
	var b strings.Builder
	r.Write(&b)
	t.Errorf("kerasruntest: %s differs from Keras (%s):\n%s", model, c.Dir, strings.TrimRight(b.String(), "\n"))
}

func load(model, arch string) (*kerasrun.Model, error) {
	if arch == "" {
		return kerasrun.Load(model, nil)
	}
	js, err := os.ReadFile(arch)
	if err != nil {
		return nil, err
	}
	return kerasrun.LoadWeights(js, model, nil)
}
