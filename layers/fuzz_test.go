package layers

import (
	"context"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

// FuzzLayer decodes an arbitrary config for a registered class, builds it
// for an arbitrary static input shape with arbitrary weight shapes, and runs
// it on a matching input. Every step may fail with an error, but nothing
// may panic.
func FuzzLayer(f *testing.F) {
	seeds := []struct {
		class, cfg string
		shape      []byte
		weights    []byte
	}{
		{"Dense", `{"name":"d","units":3,"activation":"relu"}`, []byte{2, 4}, []byte{4, 3, 0, 3}},
		{"Conv1D", `{"name":"c","filters":2,"kernel_size":[3],"strides":[2],"padding":"same"}`, []byte{2, 7, 3}, []byte{3, 3, 2, 0, 2}},
		{"LSTM", `{"name":"l","units":2,"return_sequences":true,"go_backwards":true}`, []byte{2, 5, 3}, []byte{3, 8, 0, 2, 8, 0, 8}},
		{"GRU", `{"name":"g","units":2,"reset_after":true}`, []byte{1, 4, 3}, []byte{3, 6, 0, 2, 6, 0, 2, 6}},
		{"SimpleRNN", `{"name":"s","units":2}`, []byte{1, 4, 3}, []byte{3, 2, 0, 2, 2, 0, 2}},
		{"Bidirectional", `{"name":"b","layer":{"class_name":"LSTM","config":{"name":"l","units":1}},"merge_mode":null}`, []byte{1, 3, 2}, []byte{2, 4, 0, 1, 4, 0, 4, 0, 2, 4, 0, 1, 4, 0, 4}},
		{"Reshape", `{"name":"r","target_shape":[-1,2]}`, []byte{2, 4, 3}, nil},
		{"Permute", `{"name":"p","dims":[2,1]}`, []byte{2, 4, 3}, nil},
		{"Cropping1D", `{"name":"c","cropping":[3,3]}`, []byte{2, 4, 3}, nil},
		{"MaxPooling1D", `{"name":"m","pool_size":[9],"strides":[1],"padding":"valid"}`, []byte{2, 4, 3}, nil},
		{"AveragePooling1D", `{"name":"a","pool_size":[2],"padding":"same","data_format":"channels_first"}`, []byte{2, 4, 3}, nil},
		{"UpSampling1D", `{"name":"u","size":3}`, []byte{2, 4, 3}, nil},
		{"ZeroPadding1D", `{"name":"z","padding":[1,2]}`, []byte{2, 4, 3}, nil},
		{"RepeatVector", `{"name":"r","n":3}`, []byte{2, 4}, nil},
		{"Flatten", `{"name":"f","data_format":"channels_first"}`, []byte{2, 4, 3}, nil},
		{"Embedding", `{"name":"e","input_dim":5,"output_dim":2,"mask_zero":true}`, []byte{2, 4}, []byte{5, 2}},
		{"Masking", `{"name":"m","mask_value":0.0}`, []byte{2, 4, 3}, nil},
		{"Softmax", `{"name":"s","axis":1}`, []byte{2, 4, 3}, nil},
		{"Activation", `{"name":"a","activation":"softmax"}`, []byte{2, 4, 3}, nil},
		{"BatchNormalization", `{"name":"b","axis":-1,"epsilon":0.001}`, []byte{2, 4, 3}, []byte{3, 0, 3, 0, 3, 0, 3}},
		{"LayerNormalization", `{"name":"n","axis":[-1]}`, []byte{2, 4, 3}, []byte{3, 0, 3}},
		{"TimeDistributed", `{"name":"t","layer":{"class_name":"Dense","config":{"name":"d","units":2}}}`, []byte{2, 4, 3}, []byte{3, 2, 0, 2}},
		{"Conv2D", `{"name":"c","filters":2,"kernel_size":[2,2],"padding":"same"}`, []byte{1, 4, 4, 1}, []byte{2, 2, 1, 2, 0, 2}},
		{"SeparableConv1D", `{"name":"s","filters":2,"kernel_size":[2],"depth_multiplier":2}`, []byte{1, 4, 3}, []byte{2, 3, 2, 0, 1, 6, 2, 0, 2}},
		{"GlobalAveragePooling1D", `{"name":"g","keepdims":true}`, []byte{2, 4, 3}, nil},
	}
	for _, s := range seeds {
		f.Add(s.class, s.cfg, s.shape, s.weights)
	}
	f.Fuzz(func(t *testing.T, class, cfg string, shape, weights []byte) {
		if !gjson.Valid(cfg) || len(shape) == 0 || len(shape) > 5 || len(weights) > 64 {
			return
		}
		spec := Spec{Name: "fuzz", Class: class, Config: gjson.Parse(cfg), Env: Env{KerasVersion: "2.2.4", Backend: "tensorflow"}}
		c, err := Decode(spec)
		if err != nil {
			return
		}
		in := make([]int, len(shape))
		for i, d := range shape {
			in[i] = int(d % 9)
		}
		// weights: runs of dimensions separated by zero bytes.
		var ws []Weight
		var dims []int
		flush := func() {
			n := 1
			for _, d := range dims {
				n *= d
				if n > 1<<12 {
					dims = nil
					return
				}
			}
			names := []string{"kernel", "recurrent_kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", "embeddings", "depthwise_kernel", "pointwise_kernel"}
			ws = append(ws, Weight{Name: names[len(ws)%len(names)], Shape: dims, Data: make([]float32, n)})
			dims = nil
		}
		for _, b := range weights {
			if b == 0 {
				flush()
				continue
			}
			dims = append(dims, int(b%17))
		}
		if len(dims) > 0 {
			flush()
		}
		// Names follow the order layers usually take them; let Take's name
		// check reject the rest.
		l, outs, err := Build(spec, c, [][]int{in}, NewWeights(ws))
		if err != nil {
			return
		}
		// The importer refuses a model whose static output shapes exceed
		// Options.MaxTensorElements before anything runs (a RepeatVector
		// with n = 10^9, say); layers rely on that, so the fuzzer does too.
		for _, o := range outs {
			n := 1
			for i, d := range o {
				if d < 0 && i < len(in) {
					d = in[i]
				}
				n *= max(d, 1)
				if n > 1<<20 {
					return
				}
			}
		}
		x := runtime.Zeros(in...)
		for i := range x.Data {
			x.Data[i] = float32(i%7) - 3
		}
		if cl, ok := l.(runtime.ContextLayer); ok {
			_, _ = cl.ForwardContext(context.Background(), []*runtime.Tensor{x})
			return
		}
		_, _ = l.Forward([]*runtime.Tensor{x})
	})
}
