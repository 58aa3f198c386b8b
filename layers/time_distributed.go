package layers

import (
	"context"
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// timeDistributedLayer applies its inner layer to every time step of a
// [batch, time, ...] input, by running it once on the input reshaped to
// [batch*time, ...]. Its weights are the inner layer's.
//
// Keras (wrappers.py TimeDistributed): without a fixed batch size Keras
// reshapes the same way; with one it loops over the time steps, which gives
// the same numbers for a layer without state. The output carries the input
// mask; the inner layer runs on every step.
type timeDistributedLayer struct {
	base
	inner runtime.Layer
}

type timeDistributedConfig struct {
	spec      Spec
	innerSpec Spec
	inner     Config
}

// timeDistributedNoMask wraps an inner layer that would consume a mask (a
// recurrent layer or a wrapper): Keras passes it the mask reshaped to
// [batch*time] (tf.keras) or not at all (Keras 2.2), so a masked input is
// refused at load.
type timeDistributedNoMask struct {
	c *timeDistributedConfig
}

func (c *timeDistributedNoMask) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	return c.c.Build(in, w)
}

// passMask: the output carries the input mask.
func (c *timeDistributedConfig) OutputMasks(in []bool, nout int) []bool {
	return passMask{}.OutputMasks(in, nout)
}

func decodeTimeDistributed(r *Reader) (Config, error) {
	v := r.Get("layer")
	if !v.IsObject() {
		return nil, fmt.Errorf("option %q: want a layer {class_name, config}, got %s", "layer", clip(v.Raw))
	}
	inner := Spec{
		Name:   v.Get("config.name").String(),
		Class:  v.Get("class_name").String(),
		Config: v.Get("config"),
		Env:    r.Spec().Env,
	}
	cfg, err := Decode(inner)
	if err != nil {
		return nil, err
	}
	c := &timeDistributedConfig{spec: r.Spec(), innerSpec: inner, inner: cfg}
	if rc, ok := cfg.(recurrentConfig); ok && rc.recurrentOptions().stateful {
		return nil, fmt.Errorf("option %q: TimeDistributed around a stateful %s: %w", "layer", inner.Class, ErrUnsupported)
	}
	if m, _ := OutputMasks(inner, cfg, []bool{false}, 1); len(m) > 0 && m[0] {
		return nil, fmt.Errorf("option %q: TimeDistributed around a %s that creates a mask: %w", "layer", inner.Class, ErrUnsupported)
	}
	switch cfg.(type) {
	case recurrentConfig, *bidirectionalConfig, *bidirectionalNoMask, *timeDistributedConfig, *timeDistributedNoMask:
		return &timeDistributedNoMask{c: c}, nil
	}
	return c, nil
}

func (c *timeDistributedConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	if len(s) < 3 {
		return nil, nil, fmt.Errorf("input shape %s: TimeDistributed needs rank 3 or more (batch, time, ...)", runtime.FormatShape(s))
	}
	rows := -1
	if s[0] >= 0 && s[1] >= 0 {
		rows = s[0] * s[1]
	}
	innerIn := append([]int{rows}, s[2:]...)
	l, outs, err := Build(c.innerSpec, c.inner, [][]int{innerIn}, w)
	if err != nil {
		return nil, nil, fmt.Errorf("wrapped layer: %w", err)
	}
	if len(outs) != 1 || len(outs[0]) < 1 {
		return nil, nil, fmt.Errorf("wrapped layer %q (%s) has %d outputs; TimeDistributed needs one: %w", c.innerSpec.Name, c.innerSpec.Class, len(outs), ErrUnsupported)
	}
	out := append([]int{s[0], s[1]}, outs[0][1:]...)
	return &timeDistributedLayer{base: newBase(c.spec, w), inner: l}, [][]int{out}, nil
}

func (l *timeDistributedLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	return l.ForwardContext(context.Background(), in)
}

func (l *timeDistributedLayer) ForwardContext(ctx context.Context, in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() < 3 {
		return nil, fmt.Errorf("layers: layer %q (TimeDistributed): input shape %v, want (batch, time, ...)", l.name, x.Shape)
	}
	b, t := x.Shape[0], x.Shape[1]
	var shape [maxFastRank + 1]int
	xi := runtime.View(x.Data, append(append(shape[:0], b*t), x.Shape[2:]...)...)
	ys, err := callLayer(ctx, l.inner, runtime.One(xi))
	if err != nil {
		runtime.Recycle(xi, x)
		return nil, err
	}
	if len(ys) != 1 || ys[0].Rank() < 1 || ys[0].Shape[0] != b*t {
		return nil, fmt.Errorf("layers: layer %q (TimeDistributed): the wrapped layer returned an unexpected output", l.name)
	}
	y := ys[0]
	out := runtime.View(y.Data, append(append(shape[:0], b, t), y.Shape[1:]...)...)
	out.Mask = x.Mask
	// The headers of the inner call go back; their data lives on in x
	// and out.
	if y != xi {
		runtime.Recycle(y, out)
	}
	runtime.Recycle(xi, x, out)
	return runtime.One(out), nil
}

func init() {
	Register("TimeDistributed", decodeTimeDistributed)
}
