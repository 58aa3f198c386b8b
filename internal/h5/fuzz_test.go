package h5

import (
	"bytes"
	"hash/crc32"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are small files of every layout: the seeds of the importer's
// FuzzLoad (Keras 2 fixed-length and variable-length strings,
// libver='latest', a user block, Keras 1), and the layout
// files of testdata (chunk indexes, filters, dense groups and attributes,
// big-endian and integer types). The fuzzer takes those of at most
// maxSize bytes: the engine minimises large inputs slowly.
func fuzzSeeds(tb testing.TB, maxSize int) [][]byte {
	paths := []string{
		"../../fixtures/dense_rank2/model.h5",
		"../../fixtures/keras224_vlen_ascii_root_attrs/model.h5",
		"../../fixtures/bad/ok_latest_format.h5",
		"../../fixtures/bad/ok_userblock.h5",
		"../../fixtures/lstm_seq/model.h5",
		"../../fixtures/bad/weights_nan.h5",
		"../../fixtures/embedding/model.h5",
		"../../fixtures/f3_k1_lstm_dense/model.h5",
	}
	more, _ := filepath.Glob("testdata/*.h5")
	paths = append(paths, more...)
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		if len(b) <= maxSize {
			out = append(out, b)
		}
	}
	return out
}

// FuzzOpen opens mutated files, walks every group, and reads every
// attribute and dataset: whatever the bytes, the reader returns values or
// an error, without panicking, hanging or allocating without bound.
func FuzzOpen(f *testing.F) {
	for _, b := range fuzzSeeds(f, 16<<10) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzOne(data)
	})
}

func fuzzOne(data []byte) {
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return
	}
	walkAll(f, nil)
}

// TestMutations runs the fuzzer's body over deterministic mutations of
// every seed (bytes flipped, set to 0xff, files cut short), so that every
// go test exercises the error paths of every structure.
func TestMutations(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 30
	}
	for _, seed := range fuzzSeeds(t, 1<<30) {
		rng := rand.New(rand.NewSource(int64(crc32.ChecksumIEEE(seed))))
		for i := 0; i < n; i++ {
			b := append([]byte(nil), seed...)
			switch i % 3 {
			case 0:
				for k := 0; k < 4; k++ {
					b[rng.Intn(len(b))] ^= byte(1 << rng.Intn(8))
				}
			case 1:
				p := rng.Intn(len(b))
				for k := p; k < min(len(b), p+8); k++ {
					b[k] = 0xff
				}
			case 2:
				b = b[:rng.Intn(len(b))]
			}
			fuzzOne(b)
		}
	}
}
