package importer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoReaderReadsInPlace: the Go HDF5 reader reads a model held in
// memory, and the weights inside a .keras archive, where they lie, without
// a temporary file: with TMPDIR naming a folder that does not exist (so
// that creating a temporary file fails), both still load.
func TestGoReaderReadsInPlace(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	opts := &Options{HDF5Reader: readerGo}
	for _, p := range []string{
		filepath.Join("..", "fixtures", "k4_func_lstm_gru_bidi", "model.keras"),
		filepath.Join("..", "fixtures", "q4_embedding_int8", "model.keras"),
		filepath.Join("..", "fixtures", "dense_rank2", "model.h5"),
	} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LoadReaderAt(bytes.NewReader(data), int64(len(data)), p, opts); err != nil {
			t.Errorf("LoadReaderAt: %v", err)
		}
		if _, err := Load(p, opts); err != nil {
			t.Errorf("Load: %v", err)
		}
	}
}

// TestHDF5ReaderOption checks the names Options.HDF5Reader takes.
func TestHDF5ReaderOption(t *testing.T) {
	p := filepath.Join("..", "fixtures", "q4_embedding_int8", "model.keras")
	if _, err := Load(p, &Options{HDF5Reader: "h5py"}); err == nil || !strings.Contains(err.Error(), "HDF5Reader") {
		t.Errorf("HDF5Reader h5py: %v, want an error naming the option", err)
	}
	_, err := Load(p, &Options{HDF5Reader: readerLibhdf5})
	if haveLibhdf5 != (err == nil) {
		t.Errorf("HDF5Reader libhdf5 with libhdf5 in the build %v: %v", haveLibhdf5, err)
	}
	for _, name := range []string{"", readerGo} {
		if _, err := Load(p, &Options{HDF5Reader: name}); err != nil {
			t.Errorf("HDF5Reader %q: %v", name, err)
		}
	}
}
