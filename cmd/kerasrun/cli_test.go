package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/runtime"
)

// TestCommandHelp: every command, hidden ones included, prints its own
// usage for --help, -h and `kerasrun help CMD`, on stdout, with exit 0.
func TestCommandHelp(t *testing.T) {
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			code, out, stderr := runCLI(args...)
			if code != 0 || stderr != "" {
				t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
			}
			if !strings.HasPrefix(c.usage, "usage: kerasrun "+c.name) || !strings.HasPrefix(out, c.usage) {
				t.Errorf("%v: output does not start with the command's usage:\n%s", args, out)
			}
			for _, other := range commands {
				if other.name != c.name && strings.Contains(out, "usage: kerasrun "+other.name) {
					t.Errorf("%v: output holds the usage of %s too", args, other.name)
				}
			}
		}
	}
	// A flag's help lists the flags in the form the usage texts use.
	_, out, _ := runCLI("predict", "--help")
	for _, want := range []string{"\n  --input value", "\n  --shape value", "\n  --output string"} {
		if !strings.Contains(out, want) {
			t.Errorf("predict --help lacks %q:\n%s", want, out)
		}
	}
}

// TestGlobalUsage: the command list leaves out the developer's commands.
func TestGlobalUsage(t *testing.T) {
	code, out, _ := runCLI("--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range commands {
		listed := strings.Contains(out, "\n  "+c.name+" ")
		if listed == c.hidden {
			t.Errorf("command %s: listed %v, hidden %v:\n%s", c.name, listed, c.hidden, out)
		}
	}
	if n := strings.Count(out, "\n"); n > 20 {
		t.Errorf("the global usage has %d lines", n)
	}
}

// TestUsageErrors: a usage error is one line naming the command, and a
// hint; exit 2.
func TestUsageErrors(t *testing.T) {
	model := filepath.Join(fixtures, "example", "model.h5")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", model, "--input"}, "kerasrun: predict: flag needs an argument: -input\nrun 'kerasrun predict --help'\n"},
		{[]string{"predict", model, "--output", "x.npy"}, "kerasrun: predict: needs at least one --input\nrun 'kerasrun predict --help'\n"},
		{[]string{"summary", "--bogus", model}, "kerasrun: summary: flag provided but not defined: -bogus\nrun 'kerasrun summary --help'\n"},
		{[]string{"layers", "extra"}, "kerasrun: layers: takes no arguments, got [\"extra\"]\nrun 'kerasrun layers --help'\n"},
		{[]string{"frobnicate"}, "kerasrun: unknown command \"frobnicate\"\nrun 'kerasrun --help'\n"},
		{[]string{"help", "frobnicate"}, "kerasrun: help: unknown command \"frobnicate\"\nrun 'kerasrun --help'\n"},
		{[]string{"predict", model, "--input", "x", "--output", "y", "--shape", "2,0"}, "kerasrun: predict: --shape \"2,0\": want [NAME=]D0,D1,... with positive sizes, such as 2,5,10\nrun 'kerasrun predict --help'\n"},
		{[]string{"summary", model, "--line-length", "5"}, "kerasrun: summary: --line-length 5: want 0 or at least 20\nrun 'kerasrun summary --help'\n"},
	} {
		code, out, stderr := runCLI(tc.args...)
		if code != exitUsage || stderr != tc.want || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr\n%q\nwant exit 2 and\n%q", tc.args, code, out, stderr, tc.want)
		}
	}
}

// TestInternalErrorExit: an internal error (a recovered panic in a layer,
// or a panic in the CLI) exits 70 and says it is a bug in kerasrun; the
// user's errors exit 1.
func TestInternalErrorExit(t *testing.T) {
	saved := commands
	defer func() { commands = saved }()
	commands = append(append([]command(nil), saved...),
		command{name: "internal", run: func([]string, io.Writer) error {
			return fmt.Errorf("predict: %w", &runtime.InternalError{Layer: "dense_1", Class: "Dense", Value: "index out of range"})
		}},
		command{name: "panics", run: func([]string, io.Writer) error { panic("oops") }},
		command{name: "fails", run: func([]string, io.Writer) error { return errors.New("no such file") }},
	)
	for _, tc := range []struct {
		cmd  string
		code int
		bug  bool
	}{{"internal", exitInternal, true}, {"panics", exitInternal, true}, {"fails", exitError, false}} {
		code, _, stderr := runCLI(tc.cmd)
		if code != tc.code || strings.Contains(stderr, "this is a bug in kerasrun") != tc.bug {
			t.Errorf("%s: exit %d, stderr %q; want exit %d", tc.cmd, code, stderr, tc.code)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, stderr := runCLI("version")
	if code != 0 || !strings.HasPrefix(out, "kerasrun ") || !strings.Contains(out, "\ngo:       go") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if code, out2, _ := runCLI("--version"); code != 0 || out2 != out {
		t.Errorf("--version: exit %d, %q; want %q", code, out2, out)
	}
	var b strings.Builder
	writeVersion(&b, "v1.2.3", buildInfo{module: "github.com/kerasrun/kerasrun", modVersion: "(devel)",
		revision: "0123abcd", time: "2026-01-02T03:04:05Z", modified: "true", goVersion: "go1.99"})
	for _, want := range []string{"kerasrun v1.2.3\n", "module:   github.com/kerasrun/kerasrun (devel)\n",
		"revision: 0123abcd (modified)\n", "time:     2026-01-02T03:04:05Z\n", "go:       go1.99 "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("version lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	writeVersion(&b, "", buildInfo{modVersion: "v0.4.0", goVersion: "go1.99"})
	if !strings.HasPrefix(b.String(), "kerasrun v0.4.0\n") {
		t.Errorf("the module version does not stand in for main.version:\n%s", b.String())
	}
}

// TestPredictShapes: --shape names an input's shape; a raw file needs one,
// and an .npy file must agree with it.
func TestPredictShapes(t *testing.T) {
	dir := filepath.Join(fixtures, "example")
	model, input := filepath.Join(dir, "model.h5"), filepath.Join(dir, "input.npy")
	out := filepath.Join(t.TempDir(), "y.npy")
	raw := filepath.Join(t.TempDir(), "x.bin")
	if err := os.WriteFile(raw, make([]byte, 4*2*5*10), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--input", input, "--shape", "2,5,10"}, 0, ""},
		{[]string{"--input", input, "--shape", "bidirectional_1_input=2,5,10"}, 0, ""},
		{[]string{"--input", input, "--shape", "3,5,10"}, exitError, "(3, 5, 10)"},
		{[]string{"--input", input, "--shape", "nope=2,5,10"}, exitUsage, `no input "nope"`},
		{[]string{"--input", input, "--shape", "2,5,10", "--shape", "2,5,10"}, exitUsage, "more than one shape"},
		{[]string{"--input", raw}, exitError, "needs a shape"},
		{[]string{"--input", filepath.Join(t.TempDir(), "missing.npy")}, exitError, "missing.npy"},
	} {
		args := append([]string{"predict", model, "--output", out}, tc.args...)
		code, _, stderr := runCLI(args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}

// TestPredictInputForms: the example's input as .npy, JSON (nested lists
// and {"shape", "data"}) and raw float32 with --shape gives the fixture's
// expected output.
func TestPredictInputForms(t *testing.T) {
	dir := filepath.Join(fixtures, "example")
	x, _, err := npyfile.Read(filepath.Join(dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := npyfile.Read(filepath.Join(dir, "expected_0.npy"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	raw := make([]byte, 4*len(x.Data))
	for i, v := range x.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	flat, err := json.Marshal(map[string]any{"shape": x.Shape, "data": x.Data})
	if err != nil {
		t.Fatal(err)
	}
	nested := make([][][]float32, x.Shape[0])
	for i := range nested {
		nested[i] = make([][]float32, x.Shape[1])
		for j := range nested[i] {
			k := (i*x.Shape[1] + j) * x.Shape[2]
			nested[i][j] = x.Data[k : k+x.Shape[2]]
		}
	}
	lists, err := json.Marshal(nested)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"x.bin": raw, "flat.json": flat, "lists.json": lists}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, extra := range [][]string{
		{"--input", filepath.Join(tmp, "x.bin"), "--shape", "2,5,10"},
		{"--input", "bidirectional_1_input=" + filepath.Join(tmp, "x.bin"), "--shape", "bidirectional_1_input=2,5,10"},
		{"--input", filepath.Join(tmp, "flat.json")},
		{"--input", filepath.Join(tmp, "lists.json")},
	} {
		out := filepath.Join(tmp, "y.npy")
		args := append([]string{"predict", filepath.Join(dir, "model.h5"), "--output", out}, extra...)
		if code, _, stderr := runCLI(args...); code != 0 {
			t.Errorf("%v: exit %d: %s", extra, code, stderr)
			continue
		}
		got, _, err := npyfile.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := golden.Compare(got, want, 1e-5, 1e-4); err != nil {
			t.Errorf("%v: %v", extra, err)
		}
	}
	// A raw file whose size does not fit the shape is the user's error.
	code, _, stderr := runCLI("predict", filepath.Join(dir, "model.h5"), "--output", filepath.Join(tmp, "y.npy"),
		"--input", filepath.Join(tmp, "x.bin"), "--shape", "3,5,10")
	if code != exitError {
		t.Errorf("raw file of the wrong size: exit %d: %s", code, stderr)
	}
}
