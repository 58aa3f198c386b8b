package importer

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/internal/h5"
	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
)

// fuzzOptions keeps the fuzzers' allocations small: a mutated file may
// declare any size, and the limits are what stand in its way.
var fuzzOptions = &Options{MaxTensorElements: 1 << 18, MaxWeightBytes: 4 << 20, MaxLayers: 200}

// fuzzSeedFiles are small valid files of different layouts: Keras 2.2.4
// fixed-length strings, variable-length strings, libver='latest' (a version
// 3 superblock and version 2 object headers), a user block, Keras 1.
var fuzzSeedFiles = []string{
	"fixtures/dense_rank2/model.h5",
	"fixtures/keras224_vlen_ascii_root_attrs/model.h5",
	"fixtures/bad/ok_latest_format.h5",
	"fixtures/bad/ok_userblock.h5",
	"fixtures/bad/weights_nan.h5",
	"fixtures/embedding/model.h5",
	"fixtures/lstm_seq/model.h5",
	"fixtures/f3_k1_lstm_dense/model.h5",
}

// FuzzLoad runs the whole importer over mutated .h5 files: whatever the
// bytes, Load and Inspect must return (a model or an error naming the
// file) without crashing the process, hanging or allocating beyond the
// limits, and a model that loads must run.
//
// libhdf5 parses the bytes that pass the prechecks, and it is C: a crash in
// it kills the process. Seeds in testdata/fuzz/FuzzLoad and the files above
// run on every go test; `make fuzz` mutates them.
func FuzzLoad(f *testing.F) {
	for _, p := range fuzzSeedFiles {
		b, err := os.ReadFile(filepath.Join("..", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		data = fixEOF(data)
		loadFuzzed(t, filepath.Join(dir, "fuzz.h5"), data)
	})
}

// loadFuzzed writes data to path and loads and inspects it: Load returns a
// model or an error naming the file, a model that loads runs, and Inspect
// returns a report or an error.
func loadFuzzed(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, fuzzOptions)
	if err != nil {
		if m != nil {
			t.Fatal("Load returned a model with an error")
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("error %q does not name the file", err)
		}
	} else {
		runZeros(t, m)
	}
	if r, err := Inspect(path); err == nil && r == nil {
		t.Fatal("Inspect returned neither a report nor an error")
	}
	// The Go HDF5 reader, from memory, on the same bytes: it must stand
	// as libhdf5's path does, and refuse what that path refuses.
	gm, gerr := LoadReaderAt(bytes.NewReader(data), int64(len(data)), path, fuzzGoOptions)
	switch {
	case gerr != nil && gm != nil:
		t.Fatal("LoadReaderAt returned a model with an error")
	case gerr != nil && !strings.Contains(gerr.Error(), path):
		t.Fatalf("error %q does not name the file", gerr)
	case gerr == nil:
		runZeros(t, gm)
	}
	if (err == nil) != (gerr == nil) {
		t.Fatalf("libhdf5's path and the Go reader disagree: Load: %v; Go reader: %v", err, gerr)
	}
}

// fuzzGoOptions is fuzzOptions with the Go HDF5 reader.
var fuzzGoOptions = &Options{MaxTensorElements: fuzzOptions.MaxTensorElements, MaxWeightBytes: fuzzOptions.MaxWeightBytes,
	MaxLayers: fuzzOptions.MaxLayers, HDF5Reader: readerGo}

// fixEOF sets the end-of-file address of a superblock at offset 0 with
// 8-byte addresses to the length of data (and fixes a version 2 or 3
// superblock's checksum), so that mutations that insert or remove bytes
// still reach libhdf5 instead of all failing the end-of-file check.
func fixEOF(data []byte) []byte {
	if len(data) < 48 || string(data[:8]) != string(hdf5Signature) {
		return data
	}
	data = append([]byte(nil), data...)
	switch data[8] {
	case 0:
		if data[13] == 8 && len(data) >= 48 {
			binary.LittleEndian.PutUint64(data[40:], uint64(len(data)))
		}
	case 2, 3:
		if data[9] == 8 {
			binary.LittleEndian.PutUint64(data[28:], uint64(len(data)))
			binary.LittleEndian.PutUint32(data[44:], h5.Lookup3(data[:44], 0))
		}
	}
	return data
}

// runZeros runs m on a batch of zeros, each free dimension 2, with a
// deadline: it must return, with outputs or an error. Inputs are kept
// small so that one fuzz iteration stays well under the second the fuzzing
// engine waits for a worker.
func runZeros(t *testing.T, m *runtime.Model) {
	t.Helper()
	var in []*runtime.Tensor
	for _, io := range m.Inputs() {
		shape := make([]int, len(io.Shape))
		n := 1
		for i, d := range io.Shape {
			if d < 0 {
				d = 2
			}
			shape[i] = d
			n *= max(d, 1)
		}
		if n > 1<<14 {
			return
		}
		in = append(in, runtime.Zeros(shape...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = m.PredictContext(ctx, in...)
}

// FuzzBindWeights drives the importer's weight binding (Load's binding by
// layer name and LoadWeights' binding by position, with the Keras 1
// conversions) with arbitrary stored weights for a model config: every
// mismatch must be an error, never a panic.
//
// weights describes the stored weights as text, one group after another:
// "group:name=2x3,name=3;group:;..." (see weightsText).
func FuzzBindWeights(f *testing.F) {
	for _, id := range []string{"dense_rank2", "example", "embedding", "f3_k1_lstm_dense", "f3_k1_gru_theano", "f3_tf_nested_sequential", "f3_shared_dense", "cudnnlstm_seq", "r3_gru_reset_after_last", "r3_cudnngru_seq", "l3_bn_dense", "conv1d_same"} {
		info, fw, err := readFile(filepath.Join("..", "fixtures", id, "model.h5"), nil, false)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(info.ModelConfig, weightsText(fw), false, fw.keras1())
		f.Add(info.ModelConfig, weightsText(fw), true, fw.keras1())
	}
	f.Fuzz(func(t *testing.T, config, weights string, positional, keras1 bool) {
		if len(config) > 1<<16 || len(weights) > 1<<12 || checkJSONDepth("model_config", config) != nil {
			return
		}
		env := layers.Env{KerasVersion: "2.2.4", Backend: "tensorflow"}
		if keras1 {
			env = layers.Env{KerasVersion: "1.2.2", Backend: "theano"}
		}
		spec, err := parseModelConfig(config, env)
		if err != nil {
			return
		}
		fw, ok := parseWeightsText(weights)
		if !ok {
			return
		}
		fw.version, fw.backend = env.KerasVersion, env.Backend
		m, err := build(spec, newBinder(fw, positional), fuzzOptions)
		if err != nil {
			return
		}
		runZeros(t, m)
	})
}

// weightsText writes the groups of fw as FuzzBindWeights reads them.
func weightsText(fw *fileWeights) string {
	var b strings.Builder
	for _, g := range fw.names {
		b.WriteString(g + ":")
		for i, w := range fw.byGroup[g] {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(w.Name + "=")
			for j, d := range w.Shape {
				if j > 0 {
					b.WriteString("x")
				}
				b.WriteString(strconv.Itoa(d))
			}
		}
		b.WriteString(";")
	}
	return b.String()
}

// parseWeightsText reads weightsText's format, with weights of zeros. It
// refuses more than 1<<16 elements in all.
func parseWeightsText(s string) (*fileWeights, bool) {
	fw := &fileWeights{byGroup: map[string][]layers.Weight{}}
	total := 0
	for _, group := range strings.Split(s, ";") {
		name, list, ok := strings.Cut(group, ":")
		if !ok {
			continue
		}
		if _, dup := fw.byGroup[name]; dup {
			return nil, false
		}
		ws := []layers.Weight{}
		for _, w := range strings.Split(list, ",") {
			wn, dims, ok := strings.Cut(w, "=")
			if !ok {
				continue
			}
			var shape []int
			n := 1
			for _, d := range strings.Split(dims, "x") {
				if d == "" {
					continue
				}
				v, err := strconv.Atoi(d)
				if err != nil || v < 0 || v > 1<<12 {
					return nil, false
				}
				shape = append(shape, v)
				n *= v
				if n > 1<<16 {
					return nil, false
				}
			}
			if total += n; total > 1<<16 {
				return nil, false
			}
			ws = append(ws, layers.Weight{Name: wn, Shape: shape, Data: make([]float32, n)})
		}
		fw.names = append(fw.names, name)
		fw.byGroup[name] = ws
	}
	return fw, true
}
