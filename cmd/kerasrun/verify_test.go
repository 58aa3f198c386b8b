package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/internal/golden"
)

// The golden folders of the DL4J corpus cases, with Keras's per-layer
// activations, and the perturbed models of kerasruntest's tests.
var (
	dl4jGolden = filepath.Join("..", "..", "kerasruntest", "testdata", "dl4j")
	perturbed  = filepath.Join("..", "..", "kerasruntest", "testdata", "perturbed")
)

// verifyCorpus finds ../shared/keras-real (or $KERASRUN_CORPUS), and skips
// the test without it, except in CI.
func verifyCorpus(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KERASRUN_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "keras-real")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corpus not found at %s (CI=true)", dir)
		}
		t.Skipf("corpus not found at %s", dir)
	}
	return dir
}

// TestVerifyDL4J runs verify on every DL4J corpus case that has Keras's
// per-layer activations: every output and every layer must match.
func TestVerifyDL4J(t *testing.T) {
	root := verifyCorpus(t)
	cases, err := golden.Load(dl4jGolden)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			args := []string{filepath.Join(root, c.ID, "model.h5"), dl4jGolden, "--case", c.ID}
			if arch := filepath.Join(root, c.ID, "arch.json"); fileExists(arch) {
				args = append(args, "--arch", arch)
			}
			var out strings.Builder
			if err := cmdVerify(args, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			want := fmt.Sprintf("layers: %d layer output(s) compared, all within tolerance", len(c.Activations))
			if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "not compared") {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
			if n := strings.Count(out.String(), "  ok\n"); n != len(c.Outputs) {
				t.Errorf("%d outputs ok, want %d:\n%s", n, len(c.Outputs), out.String())
			}
		})
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestVerifyNamesPerturbedLayer checks that verify fails on a model with
// one layer's kernel shifted, prints each output's errors and names that
// layer as the first to diverge, with its error.
func TestVerifyNamesPerturbedLayer(t *testing.T) {
	for _, tc := range []struct{ id, layer string }{
		{"dl4j_leakyrelu_0", "dense"},
		{"dl4j_simple_rnn_tf_keras_2", "dense_1"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			model := filepath.Join(perturbed, tc.id+"__"+tc.layer+".h5")
			var out strings.Builder
			// The case's own folder: no --case needed.
			err := cmdVerify([]string{model, filepath.Join(dl4jGolden, tc.id)}, &out)
			if err == nil || !strings.Contains(err.Error(), "1 of 1 output(s) differ") {
				t.Fatalf("err %v, want 1 of 1 outputs differing\n%s", err, out.String())
			}
			s := out.String()
			if !regexp.MustCompile(`(?m)^output 0 \S+: max abs error [0-9.e+-]+, max rel error [0-9.e+-]+  DIFFERS$`).MatchString(s) {
				t.Errorf("no output line with its errors:\n%s", s)
			}
			re := regexp.MustCompile(`(?m)^first diverging layer: (\S+) \(Dense\): max abs error ([0-9.e+-]+), max rel error [0-9.e+-]+$`)
			m := re.FindStringSubmatch(s)
			if m == nil || m[1] != tc.layer {
				t.Errorf("first diverging layer is not %s:\n%s", tc.layer, s)
			}
		})
	}
}

// TestVerifyUsage checks the usage errors and the failures before any
// model runs.
func TestVerifyUsage(t *testing.T) {
	model := filepath.Join(perturbed, "dl4j_leakyrelu_0__dense.h5")
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{model}, true, "got 1 arguments"},
		{[]string{model, dl4jGolden, "--atol", "-1"}, true, "must not be negative"},
		{[]string{model, dl4jGolden, "--nope"}, true, "nope"},
		{[]string{model, t.TempDir()}, false, "no MANIFEST.json"},
		{[]string{model, dl4jGolden}, false, "name one"},
		{[]string{model, dl4jGolden, "--case", "dl4j_relu_9"}, false, `no case "dl4j_relu_9"`},
	} {
		err := cmdVerify(tc.args, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, errUsage) != tc.usage {
			t.Errorf("%q: err %v, want one containing %q (usage error: %v)", tc.args, err, tc.want, tc.usage)
		}
	}
	var help helpError
	if err := cmdVerify([]string{"--help"}, &strings.Builder{}); !errors.As(err, &help) {
		t.Errorf("--help: %v", err)
	}
}

// TestVerifyTolerance checks that --atol replaces the manifest's
// tolerance.
func TestVerifyTolerance(t *testing.T) {
	model := filepath.Join(perturbed, "dl4j_leakyrelu_0__dense.h5")
	var out strings.Builder
	if err := cmdVerify([]string{model, filepath.Join(dl4jGolden, "dl4j_leakyrelu_0"), "--atol", "10"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "atol 10, rtol 0") {
		t.Errorf("tolerance not shown:\n%s", out.String())
	}
}
