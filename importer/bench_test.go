package importer

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// The perf workloads W1-W3 of ../shared/perf (WORKLOADS.md), generated once
// per test binary by its peers/gen.py into a temporary folder (removed by
// TestMain when the tests end), or taken from $KERASRUN_PERF_BUILD.
var (
	perfOnce  sync.Once
	perfBuild string
	perfTemp  string
	perfErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if perfTemp != "" {
		os.RemoveAll(perfTemp)
	}
	os.Exit(code)
}

func perfWorkloads(b testing.TB) string {
	perfOnce.Do(func() {
		if d := os.Getenv("KERASRUN_PERF_BUILD"); d != "" {
			perfBuild = d
			return
		}
		gen := filepath.Join("..", "..", "shared", "perf", "peers", "gen.py")
		if _, err := os.Stat(gen); err != nil {
			perfErr = err
			return
		}
		dir, err := os.MkdirTemp("", "kerasrun-perf-")
		if err != nil {
			perfErr = err
			return
		}
		perfTemp = dir
		if out, err := exec.Command("/usr/bin/python3", gen, dir).CombinedOutput(); err != nil {
			perfErr = fmt.Errorf("%v: %s", err, out)
			return
		}
		perfBuild = dir
	})
	if perfErr != nil {
		b.Skipf("perf workloads unavailable: %v", perfErr)
	}
	return perfBuild
}

// readRaw reads a raw little-endian input of the harness: float32, or int32
// token ids when ints is set.
func readRaw(b testing.TB, path string, shape []int, ints bool) *runtime.Tensor {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]float32, len(raw)/4)
	for i := range data {
		u := binary.LittleEndian.Uint32(raw[4*i:])
		if ints {
			data[i] = float32(int32(u))
		} else {
			data[i] = math.Float32frombits(u)
		}
	}
	t, err := runtime.NewTensor(shape, data)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

var sink []*runtime.Tensor

// BenchmarkPredict times Model.Predict on the perf workloads at batch 1 and
// 32, with GOMAXPROCS as set by -cpu.
func BenchmarkPredict(b *testing.B) {
	for _, w := range []struct {
		name  string
		shape []int
		ints  bool
	}{
		{"W1", []int{100, 32}, false},
		{"W2", []int{200}, true},
		{"W3", []int{50, 256}, false},
	} {
		for _, batch := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/batch=%d", w.name, batch), func(b *testing.B) {
				dir := perfWorkloads(b)
				m, err := Load(filepath.Join(dir, w.name+".h5"), nil)
				if err != nil {
					b.Fatal(err)
				}
				x := readRaw(b, filepath.Join(dir, fmt.Sprintf("%s.b%d.input.bin", w.name, batch)), append([]int{batch}, w.shape...), w.ints)
				if _, err := m.Predict(x); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					sink, err = m.Predict(x)
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
