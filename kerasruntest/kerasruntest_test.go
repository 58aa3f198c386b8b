package kerasruntest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun"
	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/kerasruntest"
)

// The golden folders of testdata/dl4j hold Keras's own inputs, outputs and
// per-layer activations of the DL4J cases of the corpus, written by
// tools/dl4j_golden.py; the models are the corpus's. testdata/perturbed
// holds corpus models with one layer's kernel shifted by +0.05.
const dl4j = "testdata/dl4j"

// corpus finds ../shared/keras-real (or $KERASRUN_CORPUS), and skips the
// test without it, except in CI.
func corpus(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KERASRUN_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "keras-real")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corpus not found at %s (CI=true)", dir)
		}
		t.Skipf("corpus not found at %s", dir)
	}
	return dir
}

// TestCheckGoldenDL4J checks every DL4J case with Keras activations
// against the corpus model, each through the one-line form where the
// folder is the case's own.
func TestCheckGoldenDL4J(t *testing.T) {
	root := corpus(t)
	cases, err := golden.Load(dl4j)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 10 {
		t.Fatalf("only %d cases in %s", len(cases), dl4j)
	}
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			model := filepath.Join(root, c.ID, "model.h5")
			arch := filepath.Join(root, c.ID, "arch.json")
			if _, err := os.Stat(arch); err != nil {
				kerasruntest.CheckGolden(t, model, filepath.Join(dl4j, c.ID))
				return
			}
			kerasruntest.Check(t, model, dl4j, &kerasruntest.Options{Arch: arch, Case: c.ID})
		})
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs  []string
	fatal bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.fatal = true
	goruntime.Goexit()
}

// check runs Check on a recorder, in a goroutine that Fatalf may end.
func check(t *testing.T, model, dir string, opts *kerasruntest.Options) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		kerasruntest.Check(r, model, dir, opts)
	}()
	<-done
	return r
}

// TestCheckGoldenPerturbed checks that a model with one layer's weights
// changed fails, and that the failure names that layer as the first to
// diverge: the first layer of two (dense, whose change reaches the
// output layer too) and the last (dense_1, after a SimpleRNN that still
// matches Keras).
func TestCheckGoldenPerturbed(t *testing.T) {
	for _, tc := range []struct{ id, layer, class, notFirst string }{
		{"dl4j_leakyrelu_0", "dense", "Dense", "leaky_re_lu_1"},
		{"dl4j_simple_rnn_tf_keras_2", "dense_1", "Dense", "simple_rnn_1"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			model := filepath.Join("testdata", "perturbed", tc.id+"__"+tc.layer+".h5")
			r := check(t, model, dl4j, &kerasruntest.Options{Case: tc.id})
			if r.fatal || len(r.errs) != 1 {
				t.Fatalf("fatal %v, errors %q; want one error", r.fatal, r.errs)
			}
			msg := r.errs[0]
			t.Log(msg)
			want := fmt.Sprintf("first diverging layer: %s (%s): max abs error", tc.layer, tc.class)
			if !strings.Contains(msg, want) || !strings.Contains(msg, "DIFFERS") {
				t.Errorf("message does not contain %q:\n%s", want, msg)
			}
			if strings.Contains(msg, "first diverging layer: "+tc.notFirst) {
				t.Errorf("message names %s:\n%s", tc.notFirst, msg)
			}
		})
	}
}

// TestCheckGoldenTolerance checks that Options' tolerances replace the
// manifest's: a loose one passes the perturbed model.
func TestCheckGoldenTolerance(t *testing.T) {
	model := filepath.Join("testdata", "perturbed", "dl4j_leakyrelu_0__dense.h5")
	if r := check(t, model, filepath.Join(dl4j, "dl4j_leakyrelu_0"), &kerasruntest.Options{Atol: 10}); len(r.errs) != 0 {
		t.Errorf("atol 10: %q", r.errs)
	}
}

// TestCheckGoldenErrors checks the failures that stop a check at once.
func TestCheckGoldenErrors(t *testing.T) {
	model := filepath.Join("testdata", "perturbed", "dl4j_leakyrelu_0__dense.h5")
	for _, tc := range []struct {
		name, model, dir string
		opts             *kerasruntest.Options
		want             string
	}{
		{"no manifest", model, t.TempDir(), nil, "no MANIFEST.json"},
		{"several cases", model, dl4j, nil, "name one"},
		{"no such case", model, dl4j, &kerasruntest.Options{Case: "nope"}, `no case "nope"`},
		{"no model", filepath.Join(t.TempDir(), "missing.h5"), filepath.Join(dl4j, "dl4j_relu_1"), nil, "missing.h5"},
		{"wrong model", filepath.Join("testdata", "perturbed", "dl4j_simple_rnn_tf_keras_2__dense_1.h5"), filepath.Join(dl4j, "dl4j_relu_1"), nil, "input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := check(t, tc.model, tc.dir, tc.opts)
			if !r.fatal || len(r.errs) != 1 || !strings.Contains(r.errs[0], tc.want) {
				t.Errorf("fatal %v, errors %q; want one fatal error containing %q", r.fatal, r.errs, tc.want)
			}
		})
	}
}

// fusedGolden writes, with tools/fused_golden.py, a MobileNetV2-like model
// whose Conv2D -> BatchNormalization -> ReLU chains kerasrun fuses at
// load, its per-layer outputs from the fixtures' numpy references, and a
// copy with expanded_conv_project's kernel shifted. It skips the test
// without python3-numpy and python3-h5py, except in CI.
func fusedGolden(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy, h5py").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-numpy or python3-h5py is missing: %v", err)
		}
		t.Skip("python3-numpy or python3-h5py is missing")
	}
	dir := t.TempDir()
	cmd := exec.Command(py, "-B", filepath.Join("..", "tools", "fused_golden.py"), dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fused_golden.py: %v\n%s", err, b)
	}
	return dir
}

// TestCheckGoldenFused checks a model that kerasrun fuses: it matches
// Keras although the fused convolutions' own outputs no longer exist, and
// with one convolution's kernel shifted, that convolution is named as the
// first to diverge, not the fused one before it.
func TestCheckGoldenFused(t *testing.T) {
	dir := fusedGolden(t)
	kerasruntest.CheckGolden(t, filepath.Join(dir, "model.h5"), dir)

	// Every layer output matches Keras, or is one that fusion removed.
	m, err := kerasrun.Load(filepath.Join(dir, "model.h5"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := golden.Find(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := golden.Verify(context.Background(), m, c, c.Atol, c.Rtol)
	if err != nil {
		t.Fatal(err)
	}
	var fused []string
	for _, d := range rep.Layers {
		if d.FusedInto != "" {
			fused = append(fused, d.Name+"->"+d.FusedInto)
		}
	}
	if len(rep.Layers) != len(c.Activations) || rep.FirstDiverging() != nil || len(fused) == 0 {
		var b strings.Builder
		rep.Write(&b)
		t.Errorf("%d of %d layers compared, fused %v:\n%s", len(rep.Layers), len(c.Activations), fused, b.String())
	}
	t.Logf("fused away: %v", fused)

	r := check(t, filepath.Join(dir, "perturbed.h5"), dir, nil)
	if r.fatal || len(r.errs) != 1 {
		t.Fatalf("fatal %v, errors %q; want one error", r.fatal, r.errs)
	}
	want := "first diverging layer: expanded_conv_project (Conv2D): max abs error"
	if !strings.Contains(r.errs[0], want) {
		t.Errorf("message does not contain %q:\n%s", want, r.errs[0])
	}
}
