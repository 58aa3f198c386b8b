package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kerasrun/kerasrun"
	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/runtime"
)

// TestBench runs `kerasrun bench` the way ../shared/perf's harness does: a
// raw little-endian input, one JSON line, the output as raw float32.
func TestBench(t *testing.T) {
	dir := filepath.Join(fixtures, "example")
	x, _, err := npyfile.Read(filepath.Join(dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	raw := make([]byte, 4*len(x.Data))
	for i, v := range x.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	in := filepath.Join(tmp, "in.bin")
	if err := os.WriteFile(in, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out.bin")
	code, stdout, stderr := runCLI("bench", "--model", filepath.Join(dir, "model.h5"), "--batch", "2", "--threads", "1",
		"--input", in, "--out", out, "--budget", "0.05", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Median float64   `json:"median_ms"`
		Times  []float64 `json:"times_ms"`
		Reps   int       `json:"reps"`
		Warmup int       `json:"warmup"`
		Load   float64   `json:"load_ms"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	if res.Median <= 0 || res.Reps < 3 || len(res.Times) != res.Reps || res.Warmup < 1 || res.Load <= 0 {
		t.Fatalf("implausible result %+v", res)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := &runtime.Tensor{Shape: []int{2, 5}, Data: make([]float32, len(b)/4)}
	for i := range got.Data {
		got.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	want, _, err := npyfile.Read(filepath.Join(dir, "expected_0.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if err := golden.Compare(got, want, 1e-5, 1e-4); err != nil {
		t.Fatal(err)
	}
	// --pin-threads turns the opt-in on for the run, and the result says
	// so; without it, pinning stays off.
	for _, pin := range []bool{true, false} {
		args := []string{"bench", "--model", filepath.Join(dir, "model.h5"), "--batch", "2", "--input", in, "--budget", "0.01"}
		if pin {
			args = append(args, "--pin-threads")
		}
		code, stdout, stderr := runCLI(args...)
		if code != 0 {
			t.Fatalf("pin %v: exit %d: %s", pin, code, stderr)
		}
		var r struct {
			Pin bool `json:"pin_threads"`
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.Pin != pin || kerasrun.ThreadPinning() != pin {
			t.Fatalf("--pin-threads %v: output %q (%v), ThreadPinning %v", pin, stdout, err, kerasrun.ThreadPinning())
		}
	}
	if code, _, _ := runCLI("bench", "--model", filepath.Join(dir, "model.h5"), "--input", in, "--batch", "3", "--budget", "0.01"); code != 1 {
		t.Fatalf("a raw input of the wrong size: exit %d, want 1", code)
	}
}
