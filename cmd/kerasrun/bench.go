package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/kerasrun/kerasrun"
	"github.com/kerasrun/kerasrun/importer"
	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/runtime"
)

const benchUsage = `usage: kerasrun bench --model MODEL.h5 [--batch N] [--threads T] [--input FILE]
                      [--out FILE] [--budget SECONDS] [--json] [--cpuprofile FILE]
                      [--pin-threads]

A developer's tool, left out of the command list: time Predict as the perf
harness does and print one JSON line (median_ms, times_ms, reps, warmup,
load_ms). --input is an .npy file, or raw little-endian values in the
model's input shape and dtype (random when absent); --out gets the output
of the timed input as raw float32 (or .npy); --cpuprofile writes a CPU
profile of the timed calls; --pin-threads turns on thread pinning
(kerasrun.SetThreadPinning), as kerasrun serve's flag does.
`

// cmdBench times Predict the way ../shared/perf's harness times its peers:
// load, warm up (at least one run; up to 3 runs or 20% of the budget), then
// time single calls until the budget is spent with at least 3 samples, or
// 200 samples. It prints one JSON line and writes the output of the timed
// input to --out as raw little-endian float32 (or .npy when the name ends
// in .npy).
func cmdBench(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	model := fs.String("model", "", "model .h5 file")
	batch := fs.Int("batch", 1, "batch size (rows of the input)")
	threads := fs.Int("threads", 0, "GOMAXPROCS for the run (0: leave as is)")
	input := fs.String("input", "", "input .npy, or raw little-endian .bin in the model's input shape and dtype (random when empty)")
	out := fs.String("out", "", "write the output here (raw float32 LE, or .npy)")
	budget := fs.Float64("budget", 2, "seconds of timed calls")
	// The result is always one JSON line; --json is accepted because the
	// harness's command line passes it.
	fs.Bool("json", false, "print the result as one JSON line (always the case)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed calls to this file (go tool pprof)")
	pin := fs.Bool("pin-threads", false, "keep helper threads off their caller's CPU while another process competes for the cores (Linux)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *model == "" && len(pos) == 1 {
		*model = pos[0]
	} else if len(pos) > 0 {
		return usagef("takes --model, got extra arguments %v", pos)
	}
	if *model == "" {
		return usagef("needs --model")
	}
	if *batch < 1 {
		return usagef("--batch must be at least 1")
	}
	if *threads > 0 {
		goruntime.GOMAXPROCS(*threads)
	}
	kerasrun.SetThreadPinning(*pin)
	t0 := time.Now()
	m, err := importer.Load(*model, nil)
	if err != nil {
		return err
	}
	loadMS := ms(time.Since(t0))
	ins := m.Inputs()
	if len(ins) != 1 {
		return fmt.Errorf("bench: the model has %d inputs; bench supports one", len(ins))
	}
	in := ins[0]
	if feedsEmbedding(m, in.Name) {
		// Keras feeds token ids to an Embedding: the harness writes them as
		// int32 whatever dtype the input layer declares.
		in.DType = "int32"
	}
	x, err := benchInput(in, *input, *batch)
	if err != nil {
		return err
	}
	run := func() ([]*runtime.Tensor, time.Duration, error) {
		s := time.Now()
		y, err := m.Predict(x)
		return y, time.Since(s), err
	}
	y, first, err := run()
	if err != nil {
		return err
	}
	warmup := 1
	spent := first
	for warmup < 3 && spent.Seconds() < 0.2**budget {
		_, d, err := run()
		if err != nil {
			return err
		}
		warmup++
		spent += d
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var times []float64
	var total time.Duration
	for len(times) < 200 && (len(times) < 3 || total.Seconds() < *budget) {
		_, d, err := run()
		if err != nil {
			return err
		}
		times = append(times, ms(d))
		total += d
	}
	if *out != "" {
		if err := writeBenchOutput(*out, y[0]); err != nil {
			return err
		}
	}
	sorted := append([]float64(nil), times...)
	sort.Float64s(sorted)
	med := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		med = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	return json.NewEncoder(stdout).Encode(map[string]any{
		"median_ms": med, "times_ms": times, "reps": len(times), "warmup": warmup,
		"load_ms": loadMS, "batch": *batch, "threads": goruntime.GOMAXPROCS(0),
		"pin_threads": kerasrun.ThreadPinning(),
	})
}

// feedsEmbedding reports whether the input named in goes straight into an
// Embedding layer.
func feedsEmbedding(m *runtime.Model, in string) bool {
	for _, l := range m.Layers() {
		if l.Class != "Embedding" {
			continue
		}
		for _, src := range l.Inbound {
			if src == in {
				return true
			}
		}
	}
	return false
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// benchInput reads the input: .npy as is; anything else as raw
// little-endian data of the model's input dtype, shaped [batch, ...].
func benchInput(spec runtime.IO, path string, batch int) (*runtime.Tensor, error) {
	shape := append([]int{batch}, spec.Shape[1:]...)
	if path == "" {
		for i, d := range shape {
			if d < 0 {
				return nil, fmt.Errorf("bench: input %q has a free dimension %d; give --input", spec.Name, i)
			}
		}
		t := runtime.Zeros(shape...)
		if !strings.HasPrefix(spec.DType, "int") {
			for i := range t.Data {
				t.Data[i] = float32(math.Sin(float64(i)))
			}
		}
		return t, nil
	}
	if strings.HasSuffix(path, ".npy") {
		t, _, err := npyfile.Read(path)
		return t, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw)%4 != 0 {
		return nil, fmt.Errorf("bench: %s: %d bytes is not a whole number of 4-byte values", path, len(raw))
	}
	n := len(raw) / 4
	// A free dimension (other than the batch) is sized from the file.
	known, free := 1, -1
	for i, d := range shape {
		if d < 0 {
			if free >= 0 {
				return nil, fmt.Errorf("bench: input %q has more than one free dimension", spec.Name)
			}
			free = i
			continue
		}
		known *= d
	}
	if free >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("bench: %s: %d values do not fit shape %v", path, n, shape)
		}
		shape[free] = n / known
	}
	if runtime.NumElements(shape) != n {
		return nil, fmt.Errorf("bench: %s holds %d values, the input shape %v needs %d", path, n, shape, runtime.NumElements(shape))
	}
	data := make([]float32, n)
	isInt := strings.HasPrefix(spec.DType, "int")
	for i := range data {
		u := binary.LittleEndian.Uint32(raw[4*i:])
		if isInt {
			data[i] = float32(int32(u))
		} else {
			data[i] = math.Float32frombits(u)
		}
	}
	return runtime.NewTensor(shape, data)
}

func writeBenchOutput(path string, t *runtime.Tensor) error {
	if strings.HasSuffix(path, ".npy") {
		return npyfile.Write(path, t)
	}
	buf := make([]byte, 4*len(t.Data))
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return os.WriteFile(path, buf, 0o644)
}
