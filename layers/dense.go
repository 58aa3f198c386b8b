package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// denseLayer computes act(x·kernel + bias) over the last axis of x. A Keras
// int8 Dense (q set) computes x·kernel as Keras's int8 mode does
// (quantized.go).
type denseLayer struct {
	base
	in, units int
	kernel    []float32 // [in, units]; nil when q is set
	kernelP   packed
	q         *int8Matmul
	bias      []float32 // [units] or nil
	act       ActFunc
}

type denseConfig struct {
	passMask
	spec    Spec
	units   int
	useBias bool
	act     ActFunc
	quant   string // "" or "int8" (Reader.Quantization)
}

func decodeDense(r *Reader) (Config, error) {
	c := &denseConfig{spec: r.Spec()}
	// Keras: Keras 1 called the option output_dim.
	if !r.Has("units") && r.Has("output_dim") {
		c.units = r.PositiveInt("output_dim", 0)
	} else {
		c.units = r.PositiveInt("units", 0)
	}
	_, c.act = r.activation("activation", "linear")
	c.useBias = r.Bool("use_bias", true)
	c.quant = r.Quantization()
	return c, nil
}

func (c *denseConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) < 2 {
		return nil, nil, fmt.Errorf("input of rank %d: Dense needs rank 2 or more", len(s))
	}
	l := &denseLayer{units: c.units, act: c.act, in: s[len(s)-1]}
	if c.quant == "int8" {
		var bshape []int
		if c.useBias {
			bshape = []int{c.units}
		}
		k, b, sc, err := takeQuantizedKernel(w, []int{l.in, c.units}, bshape, c.units)
		if err != nil {
			return nil, nil, err
		}
		l.in, l.bias = k.Shape[0], b.Data
		if l.q, err = newInt8Matmul(l.in, c.units, k.Data, sc.Data); err != nil {
			return nil, nil, err
		}
		l.base = newBase(c.spec, w)
		out := append(append([]int(nil), s[:len(s)-1]...), c.units)
		return l, [][]int{out}, nil
	}
	k, err := w.Take("kernel", l.in, c.units)
	if err != nil {
		return nil, nil, err
	}
	l.in, l.kernel = k.Shape[0], k.Data
	if l.bias, err = takeBias(w, c.useBias, c.units); err != nil {
		return nil, nil, err
	}
	l.base = newBase(c.spec, w)
	out := append(append([]int(nil), s[:len(s)-1]...), c.units)
	return l, [][]int{out}, nil
}

func (l *denseLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if lastDim(x.Shape) != l.in || x.Rank() < 2 {
		return nil, fmt.Errorf("layers: layer %q (Dense): input shape %v, want last dimension %d", l.name, x.Shape, l.in)
	}
	rows := runtime.NumElements(x.Shape[:x.Rank()-1])
	var shape [8]int // on the stack for ranks up to 8
	outShape := append(append(shape[:0], x.Shape[:x.Rank()-1]...), l.units)
	out := runtime.Zeros(outShape...)
	if l.q != nil {
		l.q.forward(rows, x.Data, out.Data)
		if l.bias != nil {
			addBias(out.Data, l.bias)
		}
		l.act(out.Data, l.units)
		return runtime.One(withMask(out, x)), nil
	}
	l.kernelP.mulBias(rows, l.units, l.in, x.Data, l.in, l.kernel, l.bias, out.Data, l.units)
	l.act(out.Data, l.units)
	return runtime.One(withMask(out, x)), nil
}

func init() {
	Register("Dense", decodeDense)
}
