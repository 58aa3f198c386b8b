//go:build cgo

package importer

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
)

// TestReadersAgree loads every case of fixtures/ and of the shared corpora
// with libhdf5 and with the Go reader (from the file, and from memory
// through LoadReaderAt), and checks that the loads agree: the same
// predictions, bit for bit, on the case's inputs, or the same failure.
//
// A file both readers refuse is refused with the same error class
// (ErrCorrupt, ErrUnsupported, ErrLimit), and with the same message where
// kerasrun's own checks refuse it; where the reader itself does, the
// message quotes that reader (libhdf5's error stack, or internal/h5's
// error), and only the class must match. Such differences are logged.
func TestReadersAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("loads every case three times")
	}
	var cases []golden.Case
	for _, dir := range []string{filepath.Join("..", "fixtures"), corpusDir("keras-real", "KERASRUN_CORPUS"), corpusDir("keras-real-3", "KERASRUN_CORPUS3")} {
		cs, err := golden.Load(dir)
		if errors.Is(err, os.ErrNotExist) {
			t.Logf("%s not found", dir)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, cs...)
	}
	if len(cases) < 50 {
		t.Fatalf("only %d cases found", len(cases))
	}
	var same, failed, differ, predicted int
	for i := range cases {
		c := &cases[i]
		t.Run(c.Dir, func(t *testing.T) {
			ref, rerr := loadWith(c, readerLibhdf5, false)
			for _, fromMemory := range []bool{false, true} {
				m, err := loadWith(c, readerGo, fromMemory)
				switch {
				case (err == nil) != (rerr == nil):
					t.Fatalf("memory=%v: libhdf5: %v; go: %v", fromMemory, rerr, err)
				case err != nil:
					if errClass(err) != errClass(rerr) {
						t.Errorf("memory=%v: libhdf5 error %q (%s), go error %q (%s)", fromMemory, rerr, errClass(rerr), err, errClass(err))
					} else if err.Error() != rerr.Error() {
						differ++
						t.Logf("memory=%v: same class (%s), messages differ:\n  libhdf5: %v\n  go:      %v", fromMemory, errClass(err), rerr, err)
					} else {
						same++
					}
					failed++
					continue
				}
				if len(c.Inputs) == 0 {
					continue
				}
				inputs, err := c.ReadInputs()
				if err != nil {
					t.Fatal(err)
				}
				want, werr := ref.Predict(inputs...)
				got, gerr := m.Predict(inputs...)
				if (werr == nil) != (gerr == nil) {
					t.Fatalf("predict: libhdf5 %v, go %v", werr, gerr)
				}
				if werr != nil {
					continue
				}
				if err := samePrediction(want, got); err != "" {
					t.Errorf("memory=%v: %s", fromMemory, err)
				}
				predicted++
			}
		})
	}
	t.Logf("%d cases; %d loads by the Go reader predicted as libhdf5's; %d refused loads, %d with the same message, %d with the same class and another message",
		len(cases), predicted, failed, same, differ)
	if predicted == 0 {
		t.Error("no prediction compared")
	}
}

// TestReadersAgreeOnBadFiles loads every file of the bad-file corpus
// (fixtures/bad) with both readers: each must load with both or be refused
// by both with the same error class and, where kerasrun's own checks
// refuse it before either reader decodes the damage, the same message.
// Where the reader itself refuses it, each message quotes its reader:
// corrupt_dataset_header.h5 is refused by libhdf5 ("message not aligned;
// can't deserialize first object header chunk") and by the Go reader
// ("object header at 5480: truncated"); for weights_no_group.h5 both say
// "object 'dense_2' doesn't exist", each followed by its reader's detail.
func TestReadersAgreeOnBadFiles(t *testing.T) {
	readerSpecific := map[string]bool{"corrupt_dataset_header.h5": true, "weights_no_group.h5": true}
	for _, c := range readBadManifest(t) {
		path := filepath.Join(badDir, c.File)
		_, rerr := Load(path, &Options{HDF5Reader: readerLibhdf5})
		_, gerr := Load(path, &Options{HDF5Reader: readerGo})
		switch {
		case (rerr == nil) != (gerr == nil):
			t.Errorf("%s: libhdf5: %v; go: %v", c.File, rerr, gerr)
		case rerr == nil:
		case errClass(rerr) != errClass(gerr):
			t.Errorf("%s: libhdf5 error %q (%s), go error %q (%s)", c.File, rerr, errClass(rerr), gerr, errClass(gerr))
		case rerr.Error() != gerr.Error() && !readerSpecific[c.File]:
			t.Errorf("%s: messages differ:\n  libhdf5: %v\n  go:      %v", c.File, rerr, gerr)
		}
	}
}

// loadWith loads a case's model with the HDF5 reader named, from its file
// or, with fromMemory, from a byte slice through LoadReaderAt.
func loadWith(c *golden.Case, reader string, fromMemory bool) (*runtime.Model, error) {
	opts := &Options{HDF5Reader: reader}
	var arch []byte
	if a := c.Arch(); a != "" {
		var err error
		if arch, err = os.ReadFile(a); err != nil {
			return nil, err
		}
	}
	if !fromMemory {
		if arch != nil {
			return LoadWeights(arch, c.Model(), opts)
		}
		return Load(c.Model(), opts)
	}
	data, err := os.ReadFile(c.Model())
	if err != nil {
		// A missing or unreadable file: the file-based load reports it.
		if arch != nil {
			return LoadWeights(arch, c.Model(), opts)
		}
		return Load(c.Model(), opts)
	}
	r := bytes.NewReader(data)
	if arch != nil {
		return LoadWeightsReaderAt(arch, r, int64(len(data)), c.Model(), opts)
	}
	return LoadReaderAt(r, int64(len(data)), c.Model(), opts)
}

// errClass names the class of a load error.
func errClass(err error) string {
	switch {
	case errors.Is(err, ErrLimit):
		return "limit"
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	case errors.Is(err, layers.ErrUnsupported):
		return "unsupported"
	}
	return "other"
}

// samePrediction compares two predictions bit for bit and describes the first
// difference, or returns "".
func samePrediction(want, got []*runtime.Tensor) string {
	if len(want) != len(got) {
		return "different numbers of outputs"
	}
	for k := range want {
		w, g := want[k].Data, got[k].Data
		if len(w) != len(g) {
			return "output sizes differ"
		}
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(g[i]) {
				return "output values differ"
			}
		}
	}
	return ""
}

// BenchmarkLoadW3 loads the W3 workload (about 17 MB of float32 weights)
// with each HDF5 reader: libhdf5 from the file, the Go reader from the
// file and from memory.
func BenchmarkLoadW3(b *testing.B) {
	path := filepath.Join(perfWorkloads(b), "W3.h5")
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		reader string
		memory bool
	}{{"libhdf5", readerLibhdf5, false}, {"go", readerGo, false}, {"go-memory", readerGo, true}} {
		b.Run(c.name, func(b *testing.B) {
			opts := &Options{HDF5Reader: c.reader}
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				var err error
				if c.memory {
					_, err = LoadReaderAt(bytes.NewReader(data), int64(len(data)), "W3.h5", opts)
				} else {
					_, err = Load(path, opts)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
