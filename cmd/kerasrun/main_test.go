package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/internal/npyfile"
)

const fixtures = "../../fixtures"

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

// TestPredictFixtures runs `kerasrun predict` on every ok fixture and checks
// the written .npy files against the fixture's expected outputs.
func TestPredictFixtures(t *testing.T) {
	cases, err := golden.Load(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		c := &cases[i]
		if c.Expect != "ok" {
			continue
		}
		t.Run(c.ID, func(t *testing.T) {
			args := []string{"predict", c.Model()}
			if a := c.Arch(); a != "" {
				args = append(args, "--arch", a)
			}
			for _, in := range c.Inputs {
				args = append(args, "--input", in.Name+"="+filepath.Join(c.Dir, in.File))
			}
			out := filepath.Join(t.TempDir(), "out")
			if len(c.Outputs) == 1 {
				out += ".npy"
			}
			args = append(args, "--output", out)
			code, _, stderr := runCLI(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for k, o := range c.Outputs {
				p := out
				if len(c.Outputs) > 1 {
					p = filepath.Join(out, o.Name+".npy")
				}
				got, _, err := npyfile.Read(p)
				if err != nil {
					t.Fatal(err)
				}
				want, _, err := npyfile.Read(filepath.Join(c.Dir, o.File))
				if err != nil {
					t.Fatal(err)
				}
				if err := golden.Compare(got, want, c.Atol, c.Rtol); err != nil {
					t.Fatalf("output %d: %v", k, err)
				}
			}
		})
	}
}

// TestPredictNumpyReadsOutput checks that numpy itself reads what predict
// writes and finds the fixture's expected values.
func TestPredictNumpyReadsOutput(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import numpy").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3-numpy is missing")
		}
		t.Skip("python3-numpy is missing")
	}
	out := filepath.Join(t.TempDir(), "y.npy")
	dir := filepath.Join(fixtures, "example")
	code, _, stderr := runCLI("predict", filepath.Join(dir, "model.h5"), "--input", filepath.Join(dir, "input.npy"), "--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	script := `import numpy as np, sys
y = np.load(sys.argv[1]); e = np.load(sys.argv[2])
assert y.dtype == np.float32 and y.shape == e.shape, (y.dtype, y.shape, e.shape)
assert np.abs(y - e).max() <= 1e-5, np.abs(y - e).max()`
	if b, err := exec.Command("/usr/bin/python3", "-c", script, out, filepath.Join(dir, "expected_0.npy")).CombinedOutput(); err != nil {
		t.Fatalf("numpy check: %v\n%s", err, b)
	}
}

func TestSummary(t *testing.T) {
	code, out, stderr := runCLI("summary", filepath.Join(fixtures, "example", "model.h5"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Parameter counts of the seed example, as Keras counts them:
	// Bidirectional(LSTM(10)) on 10 features: 2*4*(10*10+10*10+10) = 1680;
	// on 20 features: 2*4*(20*10+10*10+10) = 2480; Dense(5) on 20: 105.
	for _, want := range []string{
		`Model: "sequential_1"`,
		"bidirectional_1 (Bidirectional)", "(None, 5, 20)", "1680",
		"bidirectional_2 (Bidirectional)", "(None, 20)", "2480",
		"dense_1 (Dense)", "105",
		"activation_1 (Activation)",
		"Total params: 4,265", "Trainable params: 4,265", "Non-trainable params: 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestExitCodes(t *testing.T) {
	model := filepath.Join(fixtures, "example", "model.h5")
	input := filepath.Join(fixtures, "example", "input.npy")
	tmp := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no args", nil, 2, "usage"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"predict without output", []string{"predict", model, "--input", input}, 2, "--output"},
		{"predict without input", []string{"predict", model, "--output", filepath.Join(tmp, "a.npy")}, 2, "--input"},
		{"unknown input name", []string{"predict", model, "--input", "nope=" + input, "--output", filepath.Join(tmp, "a.npy")}, 2, "no input \"nope\""},
		{"too many inputs", []string{"predict", model, "--input", input, "--input", input, "--output", filepath.Join(tmp, "a.npy")}, 2, "too many"},
		{"missing model", []string{"summary", filepath.Join(tmp, "nope.h5")}, 1, "nope.h5"},
		{"not hdf5", []string{"summary", filepath.Join(fixtures, "not_hdf5", "model.h5")}, 1, "not an HDF5 file"},
		{"wrong input shape", []string{"predict", model, "--input", filepath.Join(fixtures, "tagger", "input_0.npy"), "--output", filepath.Join(tmp, "a.npy")}, 1, "bidirectional_1_input"},
		{"unknown class", []string{"summary", filepath.Join(fixtures, "unknown_class", "model.h5")}, 1, "FooBar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.msg) {
				t.Fatalf("stderr %q does not mention %q", stderr, tc.msg)
			}
		})
	}
}

func TestLayersCommand(t *testing.T) {
	code, out, _ := runCLI("layers")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range []string{"Bidirectional", "Conv1D", "CuDNNLSTM", "Dense", "LSTM"} {
		if !strings.Contains(out, c+"\n") {
			t.Errorf("layers does not list %s", c)
		}
	}
}
