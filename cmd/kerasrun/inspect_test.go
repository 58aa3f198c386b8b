package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/runtime"
)

func TestInspect(t *testing.T) {
	dir := filepath.Join(fixtures, "f3_tf_nested_shared_model")
	code, out, stderr := runCLI("inspect", filepath.Join(dir, "model.h5"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"keras:    2.7.0", "backend:  tensorflow", `model:    Functional "siamese"`,
		"  encoder (Functional)\n", "    enc_dense (Dense)\n", "enc_dense/kernel:0", "(4, 3)", "float32",
		"supported: every layer and option"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
}

func TestInspectUnsupported(t *testing.T) {
	code, out, stderr := runCLI("inspect", filepath.Join(fixtures, "f3_k3_unsupported_all", "model.h5"))
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "unsupported: 2 problem(s)") || !strings.Contains(out, "mixed_float16") || !strings.Contains(out, `call argument "mask"`) {
		t.Errorf("inspect output:\n%s", out)
	}
	if !strings.Contains(stderr, "2 problem(s)") {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestInspectWeightsOnly(t *testing.T) {
	dir := filepath.Join(fixtures, "f3_wo_keras2_sequential")
	code, out, _ := runCLI("inspect", filepath.Join(dir, "model.h5"))
	if code != 1 || !strings.Contains(out, "weights only") || !strings.Contains(out, "--arch") {
		t.Errorf("inspect of a weights-only file: exit %d\n%s", code, out)
	}
	code, out, stderr := runCLI("inspect", filepath.Join(dir, "model.h5"), "--arch", filepath.Join(dir, "arch.json"))
	if code != 0 || !strings.Contains(out, "conv1d_5 (Conv1D)") || !strings.Contains(out, "conv1d_1/kernel:0") {
		t.Errorf("inspect --arch: exit %d %s\n%s", code, stderr, out)
	}
}

func TestInspectUsage(t *testing.T) {
	if code, _, _ := runCLI("inspect"); code != 2 {
		t.Errorf("inspect without a file: exit %d, want 2", code)
	}
	if code, _, _ := runCLI("inspect", "a.h5", "b.h5"); code != 2 {
		t.Errorf("inspect with two files: exit %d, want 2", code)
	}
	if code, _, _ := runCLI("inspect", filepath.Join(t.TempDir(), "missing.h5")); code != 1 {
		t.Errorf("inspect of a missing file: exit %d, want 1", code)
	}
}

// TestPredictArch runs `kerasrun predict --arch` on every fixture that is a
// weights file with its architecture JSON.
func TestPredictArch(t *testing.T) {
	cases, err := golden.Load(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range cases {
		c := &cases[i]
		if c.Arch() == "" {
			continue
		}
		n++
		t.Run(c.ID, func(t *testing.T) {
			args := []string{"predict", c.Model(), "--arch", c.Arch()}
			for _, in := range c.Inputs {
				args = append(args, "--input", in.Name+"="+filepath.Join(c.Dir, in.File))
			}
			out := filepath.Join(t.TempDir(), "out.npy")
			args = append(args, "--output", out)
			code, _, stderr := runCLI(args...)
			if c.Expect == "error" {
				if code != 1 {
					t.Errorf("exit %d, want 1", code)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got, _, err := npyfile.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			want, _, err := npyfile.Read(filepath.Join(c.Dir, c.Outputs[0].File))
			if err != nil {
				t.Fatal(err)
			}
			if err := golden.Compare(got, want, c.Atol, c.Rtol); err != nil {
				t.Fatal(err)
			}
		})
	}
	if n < 3 {
		t.Errorf("only %d fixtures with arch.json", n)
	}
	code, out, _ := runCLI("summary", filepath.Join(fixtures, "f3_wo_nested_functional", "model.h5"),
		"--arch", filepath.Join(fixtures, "f3_wo_nested_functional", "arch.json"))
	if code != 0 || !strings.Contains(out, `Model: "model_2"`) {
		t.Errorf("summary --arch: exit %d\n%s", code, out)
	}
}

// TestKeras3Forms: predict, summary and inspect take a .keras archive and
// a Keras 3 .weights.h5 with its config.json, and inspect exits 0 exactly
// where predict runs.
func TestKeras3Forms(t *testing.T) {
	for _, c := range []struct {
		dir, model string
		arch       bool
	}{
		{"k4_func_lstm_gru_bidi", "model.keras", false},
		{"k4_weights_arch", "model.weights.h5", true},
	} {
		dir := filepath.Join(fixtures, c.dir)
		model := filepath.Join(dir, c.model)
		var extra []string
		if c.arch {
			extra = []string{"--arch", filepath.Join(dir, "arch.json")}
		}
		out := filepath.Join(t.TempDir(), "y.npy")
		args := append([]string{"predict", model, "--input", filepath.Join(dir, "input_0.npy"), "--output", out}, extra...)
		if code, _, stderr := runCLI(args...); code != 0 {
			t.Errorf("%s: predict: exit %d: %s", c.dir, code, stderr)
			continue
		}
		cs, err := golden.Load(fixtures)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cs {
			if cs[i].ID == c.dir {
				got, _, err := npyfile.Read(out)
				if err != nil {
					t.Fatal(err)
				}
				if err := cs[i].Check([]*runtime.Tensor{got}); err != nil {
					t.Errorf("%s: predict: %v", c.dir, err)
				}
			}
		}
		if code, sout, stderr := runCLI(append([]string{"summary", model}, extra...)...); code != 0 || !strings.Contains(sout, "Total params") {
			t.Errorf("%s: summary: exit %d: %s\n%s", c.dir, code, stderr, sout)
		}
		code, sout, stderr := runCLI(append([]string{"inspect", model}, extra...)...)
		if code != 0 || !strings.Contains(sout, "Keras 3") || !strings.Contains(sout, "/vars/0") {
			t.Errorf("%s: inspect: exit %d: %s\n%s", c.dir, code, stderr, sout)
		}
	}
	code, _, stderr := runCLI("inspect", filepath.Join(fixtures, "k4_weights_arch", "model.weights.h5"))
	if code != 1 || !strings.Contains(stderr, "Keras 3 weights file") || !strings.Contains(stderr, "--arch") {
		t.Errorf("inspect of a Keras 3 .weights.h5 without its architecture: exit %d: %s", code, stderr)
	}
}
