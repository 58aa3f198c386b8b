package importer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/layers"
)

func findLayer(ls []*LayerReport, name string) *LayerReport {
	for _, l := range ls {
		if l.Name == name {
			return l
		}
		if c := findLayer(l.Children, name); c != nil {
			return c
		}
	}
	return nil
}

func TestInspectFullModel(t *testing.T) {
	c := fixture(t, "f3_tf_nested_shared_model")
	before := openObjects()
	r, err := Inspect(c.Model())
	if err != nil {
		t.Fatal(err)
	}
	if now := openObjects(); now != before {
		t.Errorf("%d HDF5 objects open after Inspect, %d before", now, before)
	}
	if !r.Supported() || r.Format != "full model" || r.KerasVersion != "2.7.0" || r.Backend != "tensorflow" || r.ModelClass != "Functional" || r.ModelName != "siamese" {
		t.Errorf("report %+v", r)
	}
	enc := findLayer(r.Layers, "encoder")
	if enc == nil || enc.Class != "Functional" || len(enc.Children) != 2 || enc.Children[1].Name != "enc_dense" {
		t.Fatalf("nested model not shown as a subtree: %+v", enc)
	}
	// The nested model's group is shown with the layers its weight names
	// name.
	if g := enc.Children[1].Group; enc.Group != nil || g == nil || g.Name != "encoder" || len(g.Weights) != 2 {
		t.Fatalf("nested model weights: %+v, %+v", enc.Group, g)
	}
	k := enc.Children[1].Group.Weights[0]
	if k.Name != "enc_dense/kernel:0" || k.DType != "float32" || len(k.Shape) != 2 || k.Shape[0] != 4 || k.Shape[1] != 3 {
		t.Errorf("weight %+v", k)
	}
	if in := findLayer(r.Layers, "input_a"); in == nil || len(in.Shape) != 2 || in.Shape[0] != -1 {
		t.Errorf("input layer %+v", in)
	}
}

func TestInspectWrappersAndKeras1(t *testing.T) {
	c := fixture(t, "f3_k1_bidirectional_gpu_sum")
	r, err := Inspect(c.Model())
	if err != nil {
		t.Fatal(err)
	}
	b := findLayer(r.Layers, "bidirectional_1")
	if !r.Supported() || b == nil || len(b.Children) != 1 || b.Children[0].Role != "layer" || b.Children[0].Class != "LSTM" || b.Group == nil || len(b.Group.Weights) != 6 {
		t.Fatalf("report %+v, bidirectional %+v", r, b)
	}
	if r.KerasVersion != "1.2.2" || r.Backend != "tensorflow" || r.BackendNote == "" {
		t.Errorf("Keras 1 file: version %q backend %q (%s)", r.KerasVersion, r.Backend, r.BackendNote)
	}
	th := fixture(t, "f3_k1_conv1d_theano")
	r, err = Inspect(th.Model())
	if err != nil || r.Backend != "theano" {
		t.Fatalf("Keras 1 Theano file: %+v %v", r, err)
	}
	if c := findLayer(r.Layers, "convolution1d_1"); c == nil || c.Class != "Convolution1D" || c.ReadAs != "Conv1D" {
		t.Errorf("Keras 1 class: %+v", c)
	}
}

// TestInspectListsEveryProblem checks that Inspect reports every unsupported
// layer and option at once.
func TestInspectListsEveryProblem(t *testing.T) {
	for id, want := range map[string][]string{
		"f3_k1_removed_layers":     {"MaxoutDense", "Highway"},
		"f3_k3_unsupported_all":    {"mixed_float16", "mask"},
		"f3_k1_conv1d_border_full": {`"full" (supported: valid, same, causal): unsupported (the file's Keras 1 option, read as Keras 2: border_mode → padding)`},
	} {
		r, err := Inspect(fixture(t, id).Model())
		if err != nil {
			t.Fatal(err)
		}
		if r.Supported() || len(r.Problems) != len(want) {
			t.Errorf("%s: %d problems %v, want %d", id, len(r.Problems), r.Problems, len(want))
			continue
		}
		for i, w := range want {
			if !strings.Contains(r.Problems[i].Error(), w) || !errors.Is(r.Problems[i], layers.ErrUnsupported) {
				t.Errorf("%s: problem %d %q, want it to mention %q and wrap ErrUnsupported", id, i, r.Problems[i], w)
			}
		}
	}
}

func TestInspectWeightsOnly(t *testing.T) {
	c := fixture(t, "f3_wo_nested_functional")
	r, err := Inspect(c.Model())
	if err != nil {
		t.Fatal(err)
	}
	if r.Supported() || r.Format != "weights only" || len(r.Groups) != 3 || !strings.Contains(r.Problems[0].Error(), "architecture") {
		t.Errorf("weights-only file without its architecture: %+v", r)
	}
	arch, err := os.ReadFile(c.Arch())
	if err != nil {
		t.Fatal(err)
	}
	r, err = InspectWeights(arch, c.Model())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Supported() || r.Format != "weights with architecture" || findLayer(r.Layers, "dense_10") == nil || len(r.Groups) != 3 || len(r.Groups[1].Weights) != 2 {
		t.Errorf("weights with architecture: %+v %v", r, r.Problems)
	}
}

func TestInspectNotKeras(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.h5")
	if err := os.WriteFile(p, []byte("not hdf5"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("Inspect of a non-HDF5 file: %v", err)
	}
}
