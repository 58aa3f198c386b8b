package layers

import (
	"context"
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

// recurrentConfig is implemented by the configs of recurrent layers, so that
// Bidirectional can derive its backward copy.
type recurrentConfig interface {
	Config
	recurrentOptions() rnnOptions
	// withOptions returns a copy with other loop options and another name.
	withOptions(o rnnOptions, name string) Config
}

// bidirectionalLayer runs a recurrent layer forward and a copy backward and
// merges their outputs.
//
// Keras (wrappers.py): the backward copy reads the sequence reversed; its
// sequence output is reversed back before merging; merge_mode is concat,
// sum, mul, ave or None (two outputs); with return_state the outputs are the
// merged output(s), then the forward states, then the backward states.
type bidirectionalLayer struct {
	base
	fwd, bwd    runtime.Layer
	merge       string
	returnSeq   bool
	nstates     int
	fwdUnitsOut int
}

type bidirectionalConfig struct {
	spec     Spec
	fwd, bwd recurrentConfig
	merge    string
}

func decodeBidirectional(r *Reader) (Config, error) {
	c := &bidirectionalConfig{spec: r.Spec()}
	c.merge = "concat"
	if v := r.Get("merge_mode"); v.Exists() {
		if v.Type == gjson.Null {
			c.merge = "none"
		} else {
			c.merge = r.OneOf("merge_mode", "concat", "concat", "sum", "mul", "ave")
		}
	}
	fwd, err := decodeWrapped(r, "layer", "forward_")
	if err != nil {
		return nil, err
	}
	c.fwd = fwd
	o := fwd.recurrentOptions()
	if r.Has("backward_layer") {
		// Keras 2.3+: a distinct backward layer config, already going
		// backwards.
		bwd, err := decodeWrapped(r, "backward_layer", "")
		if err != nil {
			return nil, err
		}
		bo := bwd.recurrentOptions()
		if bo.returnSequences != o.returnSequences || bo.returnState != o.returnState {
			r.Errorf("backward_layer", "return_sequences and return_state must match the forward layer")
		}
		c.bwd = bwd
	} else {
		r.Ignore("backward_layer")
		bo := o
		bo.goBackwards = !o.goBackwards
		c.bwd = fwd.withOptions(bo, "backward_"+r.Get("layer.config.name").String()).(recurrentConfig)
	}
	return c, nil
}

// decodeWrapped decodes the inner layer of a wrapper through the registry.
func decodeWrapped(r *Reader, key, prefix string) (recurrentConfig, error) {
	v := r.Get(key)
	if !v.IsObject() {
		return nil, fmt.Errorf("option %q: want a layer {class_name, config}, got %s", key, clip(v.Raw))
	}
	inner := Spec{
		Name:   prefix + v.Get("config.name").String(),
		Class:  v.Get("class_name").String(),
		Config: v.Get("config"),
		Env:    r.Spec().Env,
	}
	cfg, err := Decode(inner)
	if err != nil {
		return nil, err
	}
	rc, ok := cfg.(recurrentConfig)
	if !ok {
		return nil, fmt.Errorf("option %q: wraps a %s, which is not a supported recurrent layer: %w", key, inner.Class, ErrUnsupported)
	}
	return rc, nil
}

func (c *bidirectionalConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if w.Len()%2 != 0 {
		return nil, nil, fmt.Errorf("%d weights cannot be split evenly between the forward and backward layers", w.Len())
	}
	half := w.Len() / 2
	fw, bw := w.Split(half), w.Split(half)
	fl, fshapes, err := c.fwd.Build(in, fw)
	if err == nil {
		err = fw.Done()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("forward layer: %w", err)
	}
	bl, bshapes, err := c.bwd.Build(in, bw)
	if err == nil {
		err = bw.Done()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("backward layer: %w", err)
	}
	o := c.fwd.recurrentOptions()
	nstates := 0
	if o.returnState {
		nstates = len(fshapes) - 1
	}
	l := &bidirectionalLayer{
		base: base{name: c.spec.Name, class: c.spec.Class, params: fw.takenElements() + bw.takenElements()},
		fwd:  fl, bwd: bl, merge: c.merge, returnSeq: o.returnSequences, nstates: nstates,
	}
	var out [][]int
	fo, bo := fshapes[0], bshapes[0]
	switch c.merge {
	case "none":
		out = append(out, fo, bo)
	case "concat":
		m := append([]int(nil), fo...)
		m[len(m)-1] = fo[len(fo)-1] + bo[len(bo)-1]
		out = append(out, m)
	default:
		out = append(out, fo)
	}
	out = append(out, fshapes[1:]...)
	out = append(out, bshapes[1:]...)
	return l, out, nil
}

func (l *bidirectionalLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	return l.ForwardContext(context.Background(), in)
}

func (l *bidirectionalLayer) ForwardContext(ctx context.Context, in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	fo, err := callLayer(ctx, l.fwd, in)
	if err != nil {
		return nil, err
	}
	bo, err := callLayer(ctx, l.bwd, in)
	if err != nil {
		return nil, err
	}
	f, b := fo[0], bo[0]
	if l.returnSeq {
		b = reverseTime(b)
	}
	var out []*runtime.Tensor
	switch l.merge {
	case "none":
		out = append(out, f, b)
	case "concat":
		out = append(out, concatLast(f, b))
	default:
		out = append(out, mergeElementwise(l.merge, f, b))
	}
	out = append(out, fo[1:]...)
	out = append(out, bo[1:]...)
	return out, nil
}

func callLayer(ctx context.Context, l runtime.Layer, in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	if cl, ok := l.(runtime.ContextLayer); ok {
		return cl.ForwardContext(ctx, in)
	}
	return l.Forward(in)
}

// reverseTime reverses axis 1 of a [batch, time, ...] tensor.
func reverseTime(x *runtime.Tensor) *runtime.Tensor {
	b, t := x.Shape[0], x.Shape[1]
	inner := runtime.NumElements(x.Shape[2:])
	out := &runtime.Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	for bi := 0; bi < b; bi++ {
		for s := 0; s < t; s++ {
			src := x.Data[(bi*t+s)*inner : (bi*t+s+1)*inner]
			copy(out.Data[(bi*t+t-1-s)*inner:(bi*t+t-s)*inner], src)
		}
	}
	return out
}

// concatLast concatenates two tensors along their last axis.
func concatLast(a, b *runtime.Tensor) *runtime.Tensor {
	na, nb := lastDim(a.Shape), lastDim(b.Shape)
	rows := len(a.Data) / na
	shape := append([]int(nil), a.Shape...)
	shape[len(shape)-1] = na + nb
	out := &runtime.Tensor{Shape: shape, Data: make([]float32, rows*(na+nb))}
	for r := 0; r < rows; r++ {
		copy(out.Data[r*(na+nb):], a.Data[r*na:(r+1)*na])
		copy(out.Data[r*(na+nb)+na:], b.Data[r*nb:(r+1)*nb])
	}
	return out
}

func mergeElementwise(mode string, a, b *runtime.Tensor) *runtime.Tensor {
	out := &runtime.Tensor{Shape: append([]int(nil), a.Shape...), Data: make([]float32, len(a.Data))}
	for i := range out.Data {
		x, y := a.Data[i], b.Data[i]
		switch mode {
		case "sum":
			out.Data[i] = x + y
		case "mul":
			out.Data[i] = x * y
		case "ave":
			out.Data[i] = (x + y) / 2
		}
	}
	return out
}

func init() {
	Register("Bidirectional", decodeBidirectional)
}
