// Package textgenrnn shows how to run a Keras model that uses a custom layer
// kerasrun does not ship: textgenrnn's AttentionWeightedAverage.
//
// A custom layer is a Keras class_name registered with layers.Register
// before the model is loaded. Its Decoder reads the layer's config through
// a layers.Reader (every key must be read or ignored, so a new option is
// never silently dropped) and returns a layers.Config, whose Build takes the
// static input shapes and the layer's weights in stored order and returns a
// runtime.Layer. A layer that accepts Keras masks implements
// layers.MaskRule. See Example for the whole flow.
//
// A layer package such as this one imports kerasrun's engine, package
// runtime, for its tensors and memory pools, and needs no cgo; the program
// that loads the model imports only github.com/kerasrun/kerasrun (and this
// package, to register the layer).
package textgenrnn

import (
	"fmt"
	"math"
	"sync"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
)

var once sync.Once

// Register makes AttentionWeightedAverage available to the importer. It
// may be called more than once.
func Register() {
	once.Do(func() { layers.Register("AttentionWeightedAverage", decode) })
}

// config is the decoded layer config.
type config struct {
	name, class     string
	returnAttention bool
}

func decode(r *layers.Reader) (layers.Config, error) {
	s := r.Spec()
	return &config{name: s.Name, class: s.Class, returnAttention: r.Bool("return_attention", false)}, nil
}

// OutputMasks: the layer uses its input's mask and returns no mask
// (textgenrnn: supports_masking = True, compute_mask returns None).
func (c *config) OutputMasks(in []bool, nout int) []bool { return make([]bool, nout) }

func (c *config) Build(in [][]int, w *layers.Weights) (runtime.Layer, [][]int, error) {
	if len(in) != 1 || len(in[0]) != 3 {
		return nil, nil, fmt.Errorf("want one input of shape (batch, time, features), got %v", in)
	}
	s := in[0]
	// textgenrnn names its weight "<layer name>_W", shape [features, 1].
	wt, err := w.Take(c.name+"_W", s[2], 1)
	if err != nil {
		return nil, nil, err
	}
	l := &attentionLayer{name: c.name, class: c.class, w: wt.Data, features: wt.Shape[0], returnAttention: c.returnAttention}
	out := [][]int{{s[0], s[2]}}
	if c.returnAttention {
		out = append(out, []int{s[0], s[1]})
	}
	return l, out, nil
}

// attentionLayer pools a sequence [batch, time, features] into
// [batch, features] with weights a = softmax-like(x·W) over time:
//
//	a_t = exp(l_t - max l) * mask_t / (sum_t exp(l_t - max l) * mask_t + 1e-7)
//	y = sum_t a_t x_t
type attentionLayer struct {
	name, class     string
	w               []float32
	features        int
	returnAttention bool
}

func (l *attentionLayer) Name() string  { return l.name }
func (l *attentionLayer) Class() string { return l.class }
func (l *attentionLayer) Params() int   { return len(l.w) }

func (l *attentionLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() != 3 || x.Shape[2] != l.features {
		return nil, fmt.Errorf("textgenrnn: layer %q: input shape %v, want (batch, time, %d)", l.name, x.Shape, l.features)
	}
	b, t, f := x.Shape[0], x.Shape[1], x.Shape[2]
	y := runtime.Zeros(b, f)
	att := runtime.Zeros(b, t)
	logits := make([]float64, t)
	for bi := 0; bi < b; bi++ {
		mx := math.Inf(-1)
		for ti := 0; ti < t; ti++ {
			row := x.Data[(bi*t+ti)*f : (bi*t+ti+1)*f]
			var s float64
			for j, v := range row {
				s += float64(v) * float64(l.w[j])
			}
			logits[ti] = s
			mx = math.Max(mx, s)
		}
		var sum float64
		for ti := range logits {
			a := math.Exp(logits[ti] - mx)
			if x.Mask != nil && !x.Mask[bi*t+ti] {
				a = 0
			}
			logits[ti] = a
			sum += a
		}
		// Keras: K.epsilon() is 1e-7.
		for ti, a := range logits {
			a /= sum + 1e-7
			att.Data[bi*t+ti] = float32(a)
			row := x.Data[(bi*t+ti)*f : (bi*t+ti+1)*f]
			dst := y.Data[bi*f : (bi+1)*f]
			for j, v := range row {
				dst[j] += float32(a) * v
			}
		}
	}
	if l.returnAttention {
		return []*runtime.Tensor{y, att}, nil
	}
	return []*runtime.Tensor{y}, nil
}
