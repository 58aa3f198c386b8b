package layers

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestDepthwiseConvDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "DepthwiseConv2D", config: `{"kernel_size": [3, 3], "padding": "causal"}`, unsupported: true, want: []string{"padding", "causal"}},
		{class: "DepthwiseConv2D", config: `{"kernel_size": [3, 3], "groups": 2}`, unsupported: true, want: []string{"groups"}},
		{class: "DepthwiseConv2D", config: `{"kernel_size": [3, 3], "strides": 2, "dilation_rate": 2}`, want: []string{"dilation_rate", "strides"}},
		{class: "DepthwiseConv2D", config: `{"kernel_size": 3, "depth_multiplier": 0}`, want: []string{"depth_multiplier"}},
		{class: "DepthwiseConv2D", config: `{"depth_multiplier": 1}`, want: []string{"kernel_size", "missing"}},
		{class: "DepthwiseConv2D", config: `{"kernel_size": 3, "activation": "mish_plus"}`, unsupported: true, want: []string{"activation", "mish_plus"}},
		{class: "DepthwiseConv2D", config: `{"kernel_size": 3, "shiny": true}`, unsupported: true, want: []string{"shiny"}},
		{class: "SeparableConv2D", config: `{"filters": 0, "kernel_size": 3}`, want: []string{"filters"}},
		{class: "SeparableConv2D", config: `{"filters": 2, "kernel_size": 3, "padding": "full"}`, unsupported: true, want: []string{"padding", "full"}},
	})
}

// TestDepthwiseConv2DSmall checks a 2x2 depthwise kernel over a 3x3 image
// with two channels and depth_multiplier 2, by hand, in both data formats.
func TestDepthwiseConv2DSmall(t *testing.T) {
	// Channel 0 is 1..9, channel 1 is 10 times that. The kernel
	// [kh, kw, in, mult]: channel 0 gets [[1, 0], [0, 0]] and
	// [[0, 0], [0, 1]] (its top-left and bottom-right pixels), channel 1
	// gets all ones and [[0, 1], [0, 0]].
	k := Weight{Name: "d/depthwise_kernel:0", Shape: []int{2, 2, 2, 2}, Data: []float32{
		1, 0, 1, 0, // (0, 0): c0 m0, c0 m1, c1 m0, c1 m1
		0, 0, 1, 1, // (0, 1)
		0, 0, 1, 0, // (1, 0)
		0, 1, 1, 0, // (1, 1)
	}}
	bias := Weight{Name: "d/bias:0", Shape: []int{4}, Data: []float32{0, 0, 0, 0.5}}
	cl := make([]float32, 18) // [1, 3, 3, 2]
	cf := make([]float32, 18) // [1, 2, 3, 3]
	for p := 0; p < 9; p++ {
		cl[2*p], cl[2*p+1] = float32(p+1), float32(10*(p+1))
		cf[p], cf[9+p] = float32(p+1), float32(10*(p+1))
	}
	// Output position (i, j), channels c0m0, c0m1, c1m0, c1m1.
	wantCL := []float32{
		1, 5, 120, 20.5, 2, 6, 160, 30.5,
		4, 8, 240, 50.5, 5, 9, 280, 60.5,
	}
	l, out := l3Build(t, "DepthwiseConv2D", `{"kernel_size": [2, 2], "depth_multiplier": 2}`, keras224, [][]int{{-1, 3, 3, 2}}, k, bias)
	if !l3IntsEq(out[0], []int{-1, 2, 2, 4}) {
		t.Fatalf("shape %v", out[0])
	}
	got, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 3, 3, 2}, cl...)})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "DepthwiseConv2D channels_last", got[0].Data, wantCL)
	l, out = l3Build(t, "DepthwiseConv2D", `{"kernel_size": [2, 2], "depth_multiplier": 2, "data_format": "channels_first"}`, keras224, [][]int{{-1, 2, 3, 3}}, k, bias)
	if !l3IntsEq(out[0], []int{-1, 4, 2, 2}) {
		t.Fatalf("shape %v", out[0])
	}
	got, err = l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2, 3, 3}, cf...)})
	if err != nil {
		t.Fatal(err)
	}
	wantCF := make([]float32, 16)
	for p := 0; p < 4; p++ {
		for c := 0; c < 4; c++ {
			wantCF[c*4+p] = wantCL[p*4+c]
		}
	}
	l3Close(t, "DepthwiseConv2D channels_first", got[0].Data, wantCF)
}

// TestDepthwiseSamePadding checks "same" padding with stride 2 on an even
// size (TensorFlow pads only after) and on an odd size, with a 3x3 kernel of
// ones: each output is the sum of the real pixels in its window.
func TestDepthwiseSamePadding(t *testing.T) {
	k := Weight{Name: "d/depthwise_kernel:0", Shape: []int{3, 3, 1, 1}, Data: []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}}
	for _, n := range []int{4, 5} {
		l, out := l3Build(t, "DepthwiseConv2D", `{"kernel_size": 3, "strides": 2, "padding": "same", "use_bias": false}`, keras224, [][]int{{-1, n, n, 1}}, k)
		m := (n + 1) / 2
		if !l3IntsEq(out[0], []int{-1, m, m, 1}) {
			t.Fatalf("n=%d: shape %v", n, out[0])
		}
		img := make([]float32, n*n)
		for i := range img {
			img[i] = 1
		}
		got, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, n, n, 1}, img...)})
		if err != nil {
			t.Fatal(err)
		}
		// total padding = (m-1)*2 + 3 - n: 1 for n=4 (after only), 2 for n=5
		// (one each side); count the real rows of each window.
		rows := func(i int) float32 {
			pt := ((m-1)*2 + 3 - n) / 2
			lo, hi := max(i*2-pt, 0), min(i*2-pt+3, n)
			return float32(hi - lo)
		}
		var want []float32
		for i := 0; i < m; i++ {
			for j := 0; j < m; j++ {
				want = append(want, rows(i)*rows(j))
			}
		}
		l3Close(t, fmt.Sprintf("same n=%d", n), got[0].Data, want)
	}
}

// TestSeparableConv2DComposes checks that SeparableConv2D gives what its
// depthwise step followed by a 1x1 Conv2D gives, in both data formats.
func TestSeparableConv2DComposes(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	const cin, mult, filters = 3, 2, 4
	dk := Weight{Name: "s/depthwise_kernel:0", Shape: []int{3, 2, cin, mult}, Data: imageRand(rng, 3*2*cin*mult)}
	pk := Weight{Name: "s/pointwise_kernel:0", Shape: []int{1, 1, cin * mult, filters}, Data: imageRand(rng, cin*mult*filters)}
	bias := Weight{Name: "s/bias:0", Shape: []int{filters}, Data: imageRand(rng, filters)}
	for _, df := range []string{"channels_last", "channels_first"} {
		in := []int{-1, 7, 6, cin}
		shape := []int{2, 7, 6, cin}
		if df == "channels_first" {
			in, shape = []int{-1, cin, 7, 6}, []int{2, cin, 7, 6}
		}
		opts := `"kernel_size": [3, 2], "strides": [2, 1], "padding": "same", "depth_multiplier": 2, "data_format": "` + df + `"`
		sep, _ := l3Build(t, "SeparableConv2D", `{"filters": 4, `+opts+`}`, keras224, [][]int{in}, dk, pk, bias)
		dw, mid := l3Build(t, "DepthwiseConv2D", `{"use_bias": false, `+opts+`}`, keras224, [][]int{in},
			Weight{Name: "depthwise_kernel", Shape: dk.Shape, Data: dk.Data})
		pw, _ := l3Build(t, "Conv2D", `{"filters": 4, "kernel_size": 1, "data_format": "`+df+`"}`, keras224, mid,
			Weight{Name: "kernel", Shape: pk.Shape, Data: pk.Data}, bias)
		x := runtime.Empty(shape...)
		copy(x.Data, imageRand(rng, len(x.Data)))
		got, err := sep.Forward([]*runtime.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		m, err := dw.Forward([]*runtime.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		want, err := pw.Forward(m)
		if err != nil {
			t.Fatal(err)
		}
		if !l3IntsEq(got[0].Shape, want[0].Shape) {
			t.Fatalf("%s: shape %v, want %v", df, got[0].Shape, want[0].Shape)
		}
		l3Close(t, "SeparableConv2D "+df, got[0].Data, want[0].Data)
	}
}

func TestDepthwiseConvErrors(t *testing.T) {
	k := Weight{Name: "d/depthwise_kernel:0", Shape: []int{3, 3, 2, 1}, Data: make([]float32, 18)}
	if err := l3BuildErr(t, "DepthwiseConv2D", `{"kernel_size": 3, "use_bias": false}`, [][]int{{-1, 2, 5, 2}}, k); err == nil {
		t.Error("a 2x5 input built under a 3x3 valid kernel")
	}
	if err := l3BuildErr(t, "DepthwiseConv2D", `{"kernel_size": 3, "use_bias": false}`, [][]int{{-1, 5, 5, 3}}, k); err == nil {
		t.Error("a kernel for 2 channels built on 3")
	}
	if err := l3BuildErr(t, "DepthwiseConv2D", `{"kernel_size": 3, "use_bias": false}`, [][]int{{-1, 5, 5}}, k); err == nil {
		t.Error("a rank-3 input built")
	}
	l, _ := l3Build(t, "DepthwiseConv2D", `{"kernel_size": 3, "use_bias": false}`, keras224, [][]int{{-1, -1, -1, 2}}, k)
	if _, err := l.Forward([]*runtime.Tensor{runtime.Zeros(1, 2, 2, 2)}); err == nil {
		t.Error("a 2x2 input ran under a 3x3 valid kernel")
	}
	if _, err := l.Forward([]*runtime.Tensor{runtime.Zeros(1, 4, 4, 3)}); err == nil {
		t.Error("3 channels ran on a kernel for 2")
	}
	if _, err := l.Forward([]*runtime.Tensor{runtime.Zeros(4, 4, 2)}); err == nil {
		t.Error("a rank-3 tensor ran")
	}
}

func imageRand(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.Float64()*2 - 1)
	}
	return out
}

// ---- benchmarks ----------------------------------------------------------------

var imageSink []*runtime.Tensor

// imageLayer is one layer of an image benchmark: a class, its options and
// the shapes of its weights (filled at random).
type imageLayer struct {
	class, opts string
	weights     [][]int
}

// benchImage times a chain of layers on a [batch, n, n, ch] input.
func benchImage(b *testing.B, batch, n, ch int, chain []imageLayer) {
	rng := rand.New(rand.NewSource(1))
	shape := [][]int{{-1, n, n, ch}}
	var ls []runtime.Layer
	for i, c := range chain {
		var ws []Weight
		for j, s := range c.weights {
			ws = append(ws, Weight{Name: fmt.Sprintf("w%d", j), Shape: s, Data: imageRand(rng, runtime.NumElements(s)), Positional: true})
		}
		if c.class == "BatchNormalization" { // a positive variance
			for j := range ws[3].Data {
				ws[3].Data[j] = 1 + ws[3].Data[j]*ws[3].Data[j]
			}
		}
		spec := Spec{Name: fmt.Sprintf("layer_%d", i), Class: c.class, Config: l3Parse(b, "{"+c.opts+"}"), Env: keras224}
		cfg, err := Decode(spec)
		if err != nil {
			b.Fatal(err)
		}
		l, out, err := Build(spec, cfg, shape, NewWeights(ws))
		if err != nil {
			b.Fatal(err)
		}
		ls, shape = append(ls, l), out
	}
	x := runtime.Empty(batch, n, n, ch)
	copy(x.Data, imageRand(rng, len(x.Data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cur := []*runtime.Tensor{x}
		for _, l := range ls {
			next, err := l.Forward(cur)
			if err != nil {
				b.Fatal(err)
			}
			if cur[0] != x {
				runtime.Recycle(cur[0])
			}
			cur = next
		}
		imageSink = cur
	}
}

func dwLayer(ch, stride int) imageLayer {
	return imageLayer{"DepthwiseConv2D", fmt.Sprintf(`"kernel_size": 3, "strides": %d, "padding": "same", "use_bias": false`, stride), [][]int{{3, 3, ch, 1}}}
}

func bnLayer(ch int) imageLayer {
	return imageLayer{"BatchNormalization", `"axis": 3`, [][]int{{ch}, {ch}, {ch}, {ch}}}
}

var relu6 = imageLayer{"ReLU", `"max_value": 6`, nil}

func pointwiseLayer1x1(in, out int) imageLayer {
	return imageLayer{"Conv2D", fmt.Sprintf(`"filters": %d, "kernel_size": 1, "use_bias": false`, out), [][]int{{1, 1, in, out}}}
}

// mobileNetV2Block is an inverted residual block of MobileNetV2 without
// its Add: expand 1x1, BN, ReLU(6), depthwise 3x3, BN, ReLU(6), project
// 1x1, BN.
func mobileNetV2Block(in, expand, out, stride int) []imageLayer {
	return []imageLayer{pointwiseLayer1x1(in, in*expand), bnLayer(in * expand), relu6,
		dwLayer(in*expand, stride), bnLayer(in * expand), relu6,
		pointwiseLayer1x1(in*expand, out), bnLayer(out)}
}

func BenchmarkDepthwiseConv2D112x32(b *testing.B) {
	benchImage(b, 1, 112, 32, []imageLayer{dwLayer(32, 1)})
}
func BenchmarkDepthwiseConv2D56x144S2(b *testing.B) {
	benchImage(b, 1, 56, 144, []imageLayer{dwLayer(144, 2)})
}
func BenchmarkDepthwiseConv2D28x192B8(b *testing.B) {
	benchImage(b, 8, 28, 192, []imageLayer{dwLayer(192, 1)})
}
func BenchmarkMobileNetV2Block56(b *testing.B) {
	benchImage(b, 1, 56, 24, mobileNetV2Block(24, 6, 24, 1))
}

// TestDepthwiseGeometries checks DepthwiseConv2D against a direct float64
// sum over its window, over kernel sizes, strides, dilations, paddings,
// channel counts around the vector widths and depth multipliers: the
// window kernel (three kernel columns, depth_multiplier 1) covers the
// interior columns and the tap-by-tap path the padded edges.
func TestDepthwiseGeometries(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, k := range [][2]int{{3, 3}, {5, 3}, {1, 3}, {3, 2}} {
		for _, sd := range [][4]int{{1, 1, 1, 1}, {2, 2, 1, 1}, {1, 2, 1, 1}, {1, 1, 2, 2}, {1, 1, 1, 3}} {
			for _, pad := range []string{"same", "valid"} {
				for _, ch := range []int{1, 8, 13, 40} {
					for _, mult := range []int{1, 2} {
						h, w := 6+rng.Intn(4), 7+rng.Intn(5)
						name := fmt.Sprintf("k%v strides %v dil %v %s ch %d mult %d %dx%d", k, sd[:2], sd[2:], pad, ch, mult, h, w)
						oh := convOutLen(h, k[0], sd[0], sd[2], pad)
						ow := convOutLen(w, k[1], sd[1], sd[3], pad)
						if oh <= 0 || ow <= 0 {
							continue
						}
						cfg := fmt.Sprintf(`{"kernel_size": [%d, %d], "strides": [%d, %d], "dilation_rate": [%d, %d], "padding": %q, "depth_multiplier": %d}`,
							k[0], k[1], sd[0], sd[1], sd[2], sd[3], pad, mult)
						kw := Weight{Name: "d/depthwise_kernel:0", Shape: []int{k[0], k[1], ch, mult}, Data: imageRand(rng, k[0]*k[1]*ch*mult)}
						bias := Weight{Name: "d/bias:0", Shape: []int{ch * mult}, Data: imageRand(rng, ch*mult)}
						l, _ := l3Build(t, "DepthwiseConv2D", cfg, keras224, [][]int{{-1, h, w, ch}}, kw, bias)
						x := runtime.Zeros(2, h, w, ch)
						copy(x.Data, imageRand(rng, len(x.Data)))
						got, err := l.Forward([]*runtime.Tensor{x})
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						pt := samePad(pad, h, oh, k[0], sd[0], sd[2])
						pl := samePad(pad, w, ow, k[1], sd[1], sd[3])
						cm := ch * mult
						for b := 0; b < 2; b++ {
							for i := 0; i < oh; i++ {
								for j := 0; j < ow; j++ {
									for c := 0; c < cm; c++ {
										sum := float64(bias.Data[c])
										for u := 0; u < k[0]; u++ {
											for v := 0; v < k[1]; v++ {
												y, xx := i*sd[0]+u*sd[2]-pt, j*sd[1]+v*sd[3]-pl
												if y < 0 || y >= h || xx < 0 || xx >= w {
													continue
												}
												sum += float64(x.Data[((b*h+y)*w+xx)*ch+c/mult]) * float64(kw.Data[(u*k[1]+v)*cm+c])
											}
										}
										g := got[0].Data[((b*oh+i)*ow+j)*cm+c]
										if math.Abs(float64(g)-sum) > 1e-5 {
											t.Fatalf("%s: output (%d, %d, %d, %d) is %v, want %v", name, b, i, j, c, g, sum)
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
}
