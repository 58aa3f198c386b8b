package layers

import (
	"math"

	"github.com/kerasrun/kerasrun/internal/kernels"
	"sort"

	"github.com/kerasrun/kerasrun/runtime"
)

// ActFunc applies an activation in place. last is the size of the last axis,
// which softmax normalises over; element-wise activations ignore it.
type ActFunc func(x []float32, last int)

var elementwise = map[string]func(float64) float64{
	"linear":  func(x float64) float64 { return x },
	"relu":    func(x float64) float64 { return math.Max(x, 0) },
	"sigmoid": sigmoid64,
	"tanh":    math.Tanh,
	"elu": func(x float64) float64 {
		if x > 0 {
			return x
		}
		return math.Expm1(x)
	},
	"selu": func(x float64) float64 {
		// Keras: the constants of Klambauer et al. (2017), as in keras/activations.py.
		const alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
		if x > 0 {
			return scale * x
		}
		return scale * alpha * math.Expm1(x)
	},
	"softplus": func(x float64) float64 {
		if x > 30 {
			return x
		}
		return math.Log1p(math.Exp(x))
	},
	"softsign":    func(x float64) float64 { return x / (1 + math.Abs(x)) },
	"exponential": math.Exp,
	"swish":       func(x float64) float64 { return x * sigmoid64(x) },
	"silu":        func(x float64) float64 { return x * sigmoid64(x) },
	// Keras: gelu defaults to the exact erf form (approximate=False).
	"gelu": func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) },
}

func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// hardSigmoid returns the version's hard_sigmoid.
//
// Keras: Keras 1, Keras 2 and tf.keras use clip(0.2x+0.5, 0, 1); Keras 3
// uses clip(x/6+0.5, 0, 1) (keras/src/activations/activations.py).
func hardSigmoid(env Env) func(float64) float64 {
	slope := hardSigmoidSlope(env)
	return func(x float64) float64 { return math.Min(1, math.Max(0, slope*x+0.5)) }
}

// hardSigmoidSlope is the slope of the version's hard_sigmoid.
func hardSigmoidSlope(env Env) float64 {
	if env.Major() >= 3 {
		return 1.0 / 6
	}
	return 0.2
}

// ActivationNames lists the activation names kerasrun accepts.
func ActivationNames() []string {
	names := []string{"softmax", "hard_sigmoid"}
	for n := range elementwise {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewActivation returns the activation called name under the semantics of
// env, or false when it is not supported.
func NewActivation(name string, env Env) (ActFunc, bool) {
	switch name {
	case "softmax":
		return softmax, true
	case "hard_sigmoid":
		slope := float32(hardSigmoidSlope(env))
		return func(x []float32, _ int) { kernels.HardSigmoid(x, slope) }, true
	case "linear":
		return func([]float32, int) {}, true
	case "relu":
		return func(x []float32, _ int) { kernels.Relu(x) }, true
	case "sigmoid":
		// The kernels' sigmoid and tanh are within 1e-7 absolute of float64
		// math (internal/kernels/act.go, enforced by its tests).
		return func(x []float32, _ int) { kernels.Sigmoid(x) }, true
	case "tanh":
		return func(x []float32, _ int) { kernels.Tanh(x) }, true
	}
	f, ok := elementwise[name]
	if !ok {
		return nil, false
	}
	return mapAct(f), true
}

func mapAct(f func(float64) float64) ActFunc {
	return func(x []float32, _ int) {
		for i, v := range x {
			x[i] = float32(f(float64(v)))
		}
	}
}

func softmax(x []float32, last int) {
	if last <= 0 {
		return
	}
	for off := 0; off+last <= len(x); off += last {
		row := x[off : off+last]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - m)
		}
		for i, v := range row {
			row[i] = float32(math.Exp(float64(v)-m) / sum)
		}
	}
}

// activation reads an activation option and resolves it.
func (r *Reader) activation(key, def string) (string, ActFunc) {
	name := r.String(key, def)
	f, ok := NewActivation(name, r.spec.Env)
	if !ok {
		r.Unsupported(key, "activation %q", name)
		return name, func([]float32, int) {}
	}
	return name, f
}

// activationLayer is the Keras Activation layer.
type activationLayer struct {
	base
	act         ActFunc
	elementwise bool // act maps each value on its own (not softmax)
}

type activationConfig struct {
	passMask
	spec        Spec
	act         ActFunc
	elementwise bool
}

func decodeActivation(r *Reader) (Config, error) {
	c := &activationConfig{spec: r.Spec()}
	var name string
	name, c.act = r.activation("activation", "linear")
	c.elementwise = name != "softmax"
	return c, nil
}

func (c *activationConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	return &activationLayer{base: newBase(c.spec, w), act: c.act, elementwise: c.elementwise}, in, nil
}

func (l *activationLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	out := runtime.Empty(in[0].Shape...)
	copy(out.Data, in[0].Data)
	out.Mask = in[0].Mask
	l.act(out.Data, lastDim(out.Shape))
	return runtime.One(out), nil
}

func lastDim(shape []int) int {
	if len(shape) == 0 {
		return 1
	}
	return shape[len(shape)-1]
}

func init() {
	Register("Activation", decodeActivation)
}
