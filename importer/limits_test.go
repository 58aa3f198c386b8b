package importer

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"
)

// TestLimits checks each Options limit: hit, it gives an error that names
// the limit, the Options field that raises it and the file; raised, the same
// file loads. The example fixture has 4 layers (an input, two
// Bidirectional LSTMs, a Dense and an Activation) and 4,265 weights; its
// largest weight is [20 40].
func TestLimits(t *testing.T) {
	path := filepath.Join("..", "fixtures", "example", "model.h5")
	for _, tc := range []struct {
		opts  Options
		parts []string
	}{
		{Options{MaxTensorElements: 799}, []string{"bidirectional_2", "kernel:0", "[20 40]", "800 elements", "over the limit of 799", "importer.Options.MaxTensorElements"}},
		{Options{MaxWeightBytes: 4 * 4000}, []string{"over the limit of 16000 bytes", "importer.Options.MaxWeightBytes"}},
		{Options{MaxLayers: 3}, []string{"model_config has more than 3 layers", "importer.Options.MaxLayers"}},
	} {
		_, err := Load(path, &tc.opts)
		wantMessage(t, err, path, tc.parts...)
	}
	for _, opts := range []*Options{nil, {}, {MaxTensorElements: 800, MaxWeightBytes: 4 * 4265, MaxLayers: 5}} {
		if _, err := Load(path, opts); err != nil {
			t.Errorf("Load(%+v): %v", opts, err)
		}
	}
}

// TestLimitsLoadWeights checks the limits on the LoadWeights path, where the
// layers are counted after the architecture is decoded.
func TestLimitsLoadWeights(t *testing.T) {
	dir := filepath.Join("..", "fixtures", "f3_wo_keras2_sequential")
	arch, err := os.ReadFile(filepath.Join(dir, "arch.json"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.h5")
	_, err = LoadWeights(arch, path, &Options{MaxLayers: 1})
	wantMessage(t, err, path, "over the limit of 1", "importer.Options.MaxLayers")
	_, err = LoadWeights(arch, path, &Options{MaxTensorElements: 1})
	wantMessage(t, err, path, "over the limit of 1 elements", "importer.Options.MaxTensorElements")
	if _, err := LoadWeights(arch, path, nil); err != nil {
		t.Error(err)
	}
}

// TestLimitsBeforeData checks that a weight that declares 2^41 elements
// (with no data in the file) is refused on its declared size, whatever the
// Options say.
func TestLimitsBeforeData(t *testing.T) {
	path := filepath.Join(badDir, "weights_huge_shape.h5")
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	_, err := Load(path, &Options{MaxTensorElements: 1 << 62, MaxWeightBytes: 1 << 62})
	goruntime.ReadMemStats(&after)
	wantMessage(t, err, path, "dense_1/kernel:0", "2199023255552 elements", "more than kerasrun reads into one weight")
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Errorf("Load allocated %d bytes for a file of a few KB", n)
	}
}
