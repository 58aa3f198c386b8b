package layers

import (
	"fmt"
	"math"
	"math/rand"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/internal/parallel"
	"github.com/kerasrun/kerasrun/runtime"
)

func TestConv2DDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "Conv2D", config: `{"filters": 2, "kernel_size": [3, 3], "padding": "causal"}`, unsupported: true, want: []string{"padding", "causal"}},
		{class: "Conv2D", config: `{"filters": 2, "kernel_size": [3, 3], "groups": 2}`, unsupported: true, want: []string{"groups"}},
		{class: "Conv2D", config: `{"filters": 2, "kernel_size": [3, 3], "strides": [2, 1], "dilation_rate": [1, 2]}`, want: []string{"dilation_rate", "strides"}},
		{class: "Conv2D", config: `{"filters": 2, "kernel_size": [3, 3, 3]}`, want: []string{"kernel_size"}},
		{class: "Conv2D", config: `{"filters": 2}`, want: []string{"kernel_size", "missing"}},
		{class: "Conv2D", config: `{"filters": 0, "kernel_size": 3}`, want: []string{"filters"}},
		{class: "Conv2D", config: `{"filters": 2, "kernel_size": 3, "activation": "mish_plus"}`, unsupported: true, want: []string{"activation", "mish_plus"}},
		{class: "MaxPooling2D", config: `{"pool_size": [2, 2], "padding": "full"}`, unsupported: true, want: []string{"padding", "full"}},
		{class: "AveragePooling2D", config: `{"pool_size": [2, 0]}`, want: []string{"pool_size"}},
	})
}

// TestConv2DSmall checks a 2x2 kernel over a 3x3 image by hand, in both
// data formats, and the Theano kernel flip.
func TestConv2DSmall(t *testing.T) {
	// One input and one output channel; kernel [[1, 2], [3, 4]].
	k := Weight{Name: "c/kernel:0", Shape: []int{2, 2, 1, 1}, Data: []float32{1, 2, 3, 4}}
	b := Weight{Name: "c/bias:0", Shape: []int{1}, Data: []float32{0.5}}
	img := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	// valid: [1*1+2*2+3*4+4*5, ...] + 0.5
	want := []float32{37.5, 47.5, 67.5, 77.5}
	for _, cf := range []string{"channels_last", "channels_first"} {
		shape := []int{1, 3, 3, 1}
		in := []int{-1, 3, 3, 1}
		if cf == "channels_first" {
			shape, in = []int{1, 1, 3, 3}, []int{-1, 1, 3, 3}
		}
		l, _ := l3Build(t, "Conv2D", `{"filters": 1, "kernel_size": [2, 2], "data_format": "`+cf+`"}`, keras224, [][]int{in}, k, b)
		out, err := l.Forward([]*runtime.Tensor{l3Tensor(shape, img...)})
		if err != nil {
			t.Fatal(err)
		}
		l3Close(t, "Conv2D "+cf, out[0].Data, want)
	}
	theano := Env{KerasVersion: "2.2.4", Backend: "theano"}
	l, _ := l3Build(t, "Conv2D", `{"filters": 1, "kernel_size": [2, 2], "use_bias": false}`, theano, [][]int{{-1, 3, 3, 1}}, k)
	out, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 3, 3, 1}, img...)})
	if err != nil {
		t.Fatal(err)
	}
	// The flipped kernel [[4, 3], [2, 1]].
	l3Close(t, "Conv2D theano", out[0].Data, []float32{4 + 6 + 8 + 5, 8 + 9 + 10 + 6, 16 + 15 + 14 + 8, 20 + 18 + 16 + 9})
}

func TestPool2DSame(t *testing.T) {
	l, out := l3Build(t, "AveragePooling2D", `{"pool_size": [2, 2], "padding": "same"}`, keras224, [][]int{{-1, 3, 3, 1}})
	if !l3IntsEq(out[0], []int{-1, 2, 2, 1}) {
		t.Fatalf("shape %v", out[0])
	}
	got, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 3, 3, 1}, 1, 2, 3, 4, 5, 6, 7, 8, 9)})
	if err != nil {
		t.Fatal(err)
	}
	// Windows: {1,2,4,5}, {3,6}, {7,8}, {9}: padding is not counted.
	l3Close(t, "AveragePooling2D same", got[0].Data, []float32{3, 4.5, 7.5, 9})
	m, _ := l3Build(t, "MaxPooling2D", `{"pool_size": [2, 2], "strides": [1, 1], "data_format": "channels_first"}`, keras224, [][]int{{-1, 1, 3, 3}})
	got, err = m.Forward([]*runtime.Tensor{l3Tensor([]int{1, 1, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "MaxPooling2D", got[0].Data, []float32{5, 6, 8, 9})
}

// TestConv2DBlocksBitIdentical: Conv2D computes its im2col rows and the
// product a block of output rows at a time (blocks that may span samples),
// on the caller or on the helpers, with the activation applied as the
// product stores its rows. Every sample of a batch must get the bits it
// gets alone, on one goroutine or two, with padding on every edge,
// strides, dilation, a kernel wider than the input under "same", and an
// activation that normalises over a row (softmax). The numbers themselves
// are checked against Keras by the golden fixtures (l3_conv2d_*).
func TestConv2DBlocksBitIdentical(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(0))
	defer func(r, f int) { conv2DBlockRows, conv2DBlockFloats = r, f }(conv2DBlockRows, conv2DBlockFloats)
	parallel.OverrideContention(parallel.ContentionQuiet)
	defer parallel.OverrideContention(parallel.ContentionMachine)
	rng := rand.New(rand.NewSource(21))
	for _, c := range []struct {
		config      string
		h, w, in, f int
	}{
		{`"kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "activation": "relu"`, 17, 23, 3, 16},
		{`"kernel_size": [3, 3], "padding": "valid"`, 9, 40, 5, 7},
		{`"kernel_size": [5, 3], "dilation_rate": [2, 2], "padding": "same", "activation": "softmax"`, 8, 6, 4, 19},
		{`"kernel_size": [7, 7], "padding": "same", "activation": "tanh"`, 4, 5, 2, 33},
		{`"kernel_size": [1, 3], "strides": [1, 2], "padding": "same", "use_bias": false, "activation": "relu"`, 3, 130, 1, 8},
		{`"kernel_size": [3, 3], "padding": "same", "data_format": "channels_first", "activation": "sigmoid"`, 6, 7, 3, 5},
	} {
		var kh, kw int
		if _, err := fmt.Sscanf(c.config, `"kernel_size": [%d, %d]`, &kh, &kw); err != nil {
			t.Fatal(err)
		}
		cf := strings.Contains(c.config, "channels_first")
		shape := func(b int) []int {
			if cf {
				return []int{b, c.in, c.h, c.w}
			}
			return []int{b, c.h, c.w, c.in}
		}
		ws := []Weight{{Name: "c/kernel:0", Shape: []int{kh, kw, c.in, c.f}, Data: randTensor(rng, kh*kw*c.in*c.f).Data}}
		if !strings.Contains(c.config, "use_bias") {
			ws = append(ws, Weight{Name: "c/bias:0", Shape: []int{c.f}, Data: randTensor(rng, c.f).Data})
		}
		in := shape(-1)
		l, _ := l3Build(t, "Conv2D", `{"filters": `+strconv.Itoa(c.f)+`, `+c.config+`}`, keras224, [][]int{in}, ws...)
		const b = 5
		x := randTensor(rng, shape(b)...)
		per := len(x.Data) / b
		goruntime.GOMAXPROCS(1)
		var want [][]float32
		for i := 0; i < b; i++ {
			out, err := l.Forward([]*runtime.Tensor{l3Tensor(shape(1), x.Data[i*per:(i+1)*per]...)})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, out[0].Data)
		}
		// Blocks of every output row alone, of a few rows (across samples),
		// and the default blocks.
		for _, blk := range [][3]int{{1, 1, 1}, {1, 1, 2}, {25, 1, 2}, {96, 1 << 16, 1}, {96, 1 << 16, 2}} {
			conv2DBlockRows, conv2DBlockFloats = blk[0], blk[1]
			procs := blk[2]
			goruntime.GOMAXPROCS(procs)
			out, err := l.Forward([]*runtime.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			n := len(out[0].Data) / b
			for i := 0; i < b; i++ {
				for j, v := range out[0].Data[i*n : (i+1)*n] {
					if math.Float32bits(v) != math.Float32bits(want[i][j]) {
						t.Fatalf("%s, blocks %v: sample %d value %d = %v in the batch, %v alone", c.config, blk, i, j, v, want[i][j])
					}
				}
			}
		}
	}
}
