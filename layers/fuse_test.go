package layers

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// fuseWeights returns seeded weights of the given names and shapes.
func fuseWeights(rng *rand.Rand, layer string, named ...any) []Weight {
	var ws []Weight
	for i := 0; i < len(named); i += 2 {
		shape := named[i+1].([]int)
		w := Weight{Name: layer + "/" + named[i].(string) + ":0", Shape: shape, Data: make([]float32, runtime.NumElements(shape))}
		for j := range w.Data {
			w.Data[j] = float32(rng.Float64()*2 - 1)
		}
		if named[i] == "moving_variance" {
			for j := range w.Data {
				w.Data[j] = float32(0.5 + rng.Float64())
			}
		}
		ws = append(ws, w)
	}
	return ws
}

// TestFuse checks that a convolution with a BatchNormalization folded in
// and a ReLU(max_value=6) fused into it computes what the three layers
// compute one after the other, for every convolution class, both data
// formats, with and without a bias, and that the stand-ins keep the fused
// layers' names, classes and parameter counts.
func TestFuse(t *testing.T) {
	type conv struct {
		class, cfg string
		weights    func(ch int) []any // names and shapes
		outCh      int
	}
	const ch = 3
	convs := []conv{
		{"Conv2D", `"filters": 5, "kernel_size": 3, "strides": 2, "padding": "same"`,
			func(ch int) []any { return []any{"kernel", []int{3, 3, ch, 5}} }, 5},
		{"Conv2D", `"filters": 4, "kernel_size": 1`,
			func(ch int) []any { return []any{"kernel", []int{1, 1, ch, 4}} }, 4},
		{"DepthwiseConv2D", `"kernel_size": 3, "padding": "same"`,
			func(ch int) []any { return []any{"depthwise_kernel", []int{3, 3, ch, 1}} }, ch},
		{"DepthwiseConv2D", `"kernel_size": [2, 3], "depth_multiplier": 2, "strides": 2`,
			func(ch int) []any { return []any{"depthwise_kernel", []int{2, 3, ch, 2}} }, 2 * ch},
		{"SeparableConv2D", `"filters": 4, "kernel_size": 3, "padding": "same"`,
			func(ch int) []any {
				return []any{"depthwise_kernel", []int{3, 3, ch, 1}, "pointwise_kernel", []int{1, 1, ch, 4}}
			}, 4},
	}
	rng := rand.New(rand.NewSource(7))
	for _, c := range convs {
		for _, cf := range []bool{false, true} {
			for _, bias := range []bool{false, true} {
				name := fmt.Sprintf("%s{%s} channels_first=%v bias=%v", c.class, c.cfg, cf, bias)
				format, inShape, x := "channels_last", []int{-1, 7, 6, ch}, runtime.Zeros(2, 7, 6, ch)
				bnAxis := -1
				if cf {
					format, inShape, x = "channels_first", []int{-1, ch, 7, 6}, runtime.Zeros(2, ch, 7, 6)
					bnAxis = 1
				}
				for i := range x.Data {
					x.Data[i] = float32(rng.Float64()*4 - 2)
				}
				cfg := fmt.Sprintf(`{%s, "use_bias": %v, "data_format": %q}`, c.cfg, bias, format)
				named := c.weights(ch)
				if bias {
					named = append(named, "bias", []int{c.outCh})
				}
				cw := fuseWeights(rng, "c", named...)
				bw := fuseWeights(rng, "bn", "gamma", []int{c.outCh}, "beta", []int{c.outCh},
					"moving_mean", []int{c.outCh}, "moving_variance", []int{c.outCh})
				build := func() (p, bn, relu runtime.Layer) {
					p, out := l3Build(t, c.class, cfg, keras224, [][]int{inShape}, cloneWeights(cw)...)
					bn, _ = l3Build(t, "BatchNormalization", fmt.Sprintf(`{"axis": %d}`, bnAxis), keras224, out, cloneWeights(bw)...)
					relu, _ = l3Build(t, "ReLU", `{"max_value": 6.0}`, keras224, out)
					return p, bn, relu
				}
				p, bn, relu := build()
				var want []float32
				{
					y, err := p.Forward([]*runtime.Tensor{x})
					if err != nil {
						t.Fatal(err)
					}
					z, err := bn.Forward(y)
					if err != nil {
						t.Fatal(err)
					}
					r, err := relu.Forward(z)
					if err != nil {
						t.Fatal(err)
					}
					want = r[0].Data
				}
				fp, fbn, frelu := build()
				sbn, ok := Fuse(fp, fbn)
				if !ok {
					t.Fatalf("%s: BatchNormalization did not fuse", name)
				}
				srelu, ok := Fuse(fp, frelu)
				if !ok {
					t.Fatalf("%s: ReLU did not fuse", name)
				}
				for _, pair := range [][2]runtime.Layer{{sbn, fbn}, {srelu, frelu}} {
					s, l := pair[0], pair[1]
					if s.Name() != l.Name() || s.Class() != l.Class() ||
						s.(runtime.ParamCounter).Params() != l.(runtime.ParamCounter).Params() {
						t.Fatalf("%s: stand-in %s (%s, %d params), want %s (%s, %d params)", name, s.Name(), s.Class(),
							s.(runtime.ParamCounter).Params(), l.Name(), l.Class(), l.(runtime.ParamCounter).Params())
					}
				}
				y, err := fp.Forward([]*runtime.Tensor{x})
				if err != nil {
					t.Fatal(err)
				}
				y, _ = sbn.Forward(y)
				y, _ = srelu.Forward(y)
				if len(y[0].Data) != len(want) {
					t.Fatalf("%s: %d values, want %d", name, len(y[0].Data), len(want))
				}
				for i, v := range y[0].Data {
					if d := math.Abs(float64(v - want[i])); d > 1e-5 || v != v {
						t.Fatalf("%s: value %d is %v, unfused %v", name, i, v, want[i])
					}
				}
			}
		}
	}
}

func cloneWeights(ws []Weight) []Weight {
	out := make([]Weight, len(ws))
	for i, w := range ws {
		out[i] = Weight{Name: w.Name, Shape: w.Shape, Data: append([]float32(nil), w.Data...)}
	}
	return out
}

// TestFuseRefuses checks the pairs that must not fuse, and that a refused
// fusion leaves the convolution as it was.
func TestFuseRefuses(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	bnW := func() []Weight {
		return fuseWeights(rng, "bn", "gamma", []int{2}, "beta", []int{2}, "moving_mean", []int{2}, "moving_variance", []int{2})
	}
	in := [][]int{{-1, 4, 4, 2}}
	for _, tc := range []struct {
		what, conv, nextClass, nextCfg string
		next                           []Weight
	}{
		{"BatchNormalization after a ReLU convolution", `{"filters": 2, "kernel_size": 1, "activation": "relu"}`, "BatchNormalization", `{"axis": -1}`, bnW()},
		{"BatchNormalization over rows", `{"filters": 2, "kernel_size": 1}`, "BatchNormalization", `{"axis": 2}`,
			fuseWeights(rng, "bn", "gamma", []int{4}, "beta", []int{4}, "moving_mean", []int{4}, "moving_variance", []int{4})},
		{"ReLU after a tanh convolution", `{"filters": 2, "kernel_size": 1, "activation": "tanh"}`, "ReLU", `{}`, nil},
		{"softmax", `{"filters": 2, "kernel_size": 1}`, "Activation", `{"activation": "softmax"}`, nil},
		{"Dense after a convolution", `{"filters": 2, "kernel_size": 1}`, "Dense", `{"units": 2}`,
			fuseWeights(rng, "d", "kernel", []int{2, 2}, "bias", []int{2})},
	} {
		kw := fuseWeights(rng, "c", "kernel", []int{1, 1, 2, 2}, "bias", []int{2})
		p, out := l3Build(t, "Conv2D", tc.conv, keras224, in, kw...)
		next, _ := l3Build(t, tc.nextClass, tc.nextCfg, keras224, out, tc.next...)
		before := append([]float32(nil), p.(*conv2dLayer).kernel...)
		if _, ok := Fuse(p, next); ok {
			t.Errorf("%s: fused", tc.what)
		}
		for i, v := range p.(*conv2dLayer).kernel {
			if v != before[i] {
				t.Fatalf("%s: the kernel changed", tc.what)
			}
		}
	}
	// Once an activation is fused, a BatchNormalization may not follow.
	p, out := l3Build(t, "Conv2D", `{"filters": 2, "kernel_size": 1}`, keras224, in,
		fuseWeights(rng, "c", "kernel", []int{1, 1, 2, 2}, "bias", []int{2})...)
	relu, _ := l3Build(t, "ReLU", `{}`, keras224, out)
	bn, _ := l3Build(t, "BatchNormalization", `{}`, keras224, out, bnW()...)
	if _, ok := Fuse(p, relu); !ok {
		t.Fatal("ReLU did not fuse")
	}
	if _, ok := Fuse(p, bn); ok {
		t.Fatal("BatchNormalization fused after a ReLU")
	}
}
