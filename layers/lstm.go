package layers

import (
	"context"
	"fmt"

	"github.com/kerasrun/kerasrun/runtime"
)

// lstmCell is the Keras 2 LSTM cell. Gate order in the kernels and the bias
// is i, f, c, o:
//
//	i = ra(x·Wi + h·Ui + bi)    f = ra(x·Wf + h·Uf + bf)
//	c' = f*c + i*act(x·Wc + h·Uc + bc)
//	o = ra(x·Wo + h·Uo + bo)    h' = o*act(c')
//
// where act is activation and ra is recurrent_activation.
type lstmCell struct {
	in, units int
	kernel    []float32 // [in, 4u]
	recurrent []float32 // [u, 4u]
	bias      []float32 // [4u] or nil
	act, ract ActFunc
}

func (c *lstmCell) sizes() (int, int, int, int) { return c.in, c.units, 4 * c.units, 2 }

func (c *lstmCell) project(x []float32, rows int, xp []float32) {
	matmul(rows, 4*c.units, c.in, x, c.kernel, xp, false)
	if c.bias != nil {
		addBias(xp, c.bias)
	}
}

func (c *lstmCell) scratchSize(int) int { return 0 }

func (c *lstmCell) step(z []float32, batch int, states [][]float32, _ []float32) {
	u := c.units
	h, cs := states[0], states[1]
	matmul(batch, 4*u, u, h, c.recurrent, z, true)
	for b := 0; b < batch; b++ {
		row := z[b*4*u : (b+1)*4*u]
		c.ract(row[:2*u], u)
		c.act(row[2*u:3*u], u)
		c.ract(row[3*u:], u)
		hb, cb := h[b*u:(b+1)*u], cs[b*u:(b+1)*u]
		for j := 0; j < u; j++ {
			cb[j] = row[u+j]*cb[j] + row[j]*row[2*u+j]
		}
		copy(hb, cb)
		c.act(hb, u)
		for j := 0; j < u; j++ {
			hb[j] *= row[3*u+j]
		}
	}
}

// lstmLayer runs an lstmCell through the shared time loop.
type lstmLayer struct {
	base
	cell lstmCell
	opts rnnOptions
}

func (l *lstmLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	return l.ForwardContext(context.Background(), in)
}

func (l *lstmLayer) ForwardContext(ctx context.Context, in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	return runRecurrent(ctx, l.name, l.class, &l.cell, l.opts, in[0])
}

// lstmConfig is the decoded config of LSTM and CuDNNLSTM.
type lstmConfig struct {
	spec    Spec
	units   int
	act     ActFunc
	ract    ActFunc
	useBias bool
	opts    rnnOptions
}

func decodeLSTM(r *Reader) (Config, error) {
	env := r.Spec().Env
	c := &lstmConfig{spec: r.Spec()}
	c.units = r.PositiveInt("units", 0)
	_, c.act = r.activation("activation", "tanh")
	// Keras: recurrent_activation defaulted to hard_sigmoid up to Keras
	// 2.2.5 and to sigmoid from 2.3.0 and in tf.keras.
	defRA := "hard_sigmoid"
	if env.TFKeras() || env.atLeast(2, 3, 0) {
		defRA = "sigmoid"
	}
	_, c.ract = r.activation("recurrent_activation", defRA)
	c.useBias = r.Bool("use_bias", true)
	c.opts = decodeRNNOptions(r)
	r.Ignore("unit_forget_bias")
	return c, nil
}

func (c *lstmConfig) recurrentOptions() rnnOptions { return c.opts }

func (c *lstmConfig) withOptions(o rnnOptions, name string) Config {
	cp := *c
	cp.opts = o
	cp.spec.Name = name
	return &cp
}

func (c *lstmConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	s, err := checkRecurrentInput(in)
	if err != nil {
		return nil, nil, err
	}
	u := c.units
	l := &lstmLayer{opts: c.opts}
	l.cell = lstmCell{units: u, act: c.act, ract: c.ract}
	k, err := w.Take("kernel", s[2], 4*u)
	if err != nil {
		return nil, nil, err
	}
	rk, err := w.Take("recurrent_kernel", u, 4*u)
	if err != nil {
		return nil, nil, err
	}
	l.cell.in, l.cell.kernel, l.cell.recurrent = k.Shape[0], k.Data, rk.Data
	if c.useBias {
		// Keras: the source of the weights is told by the bias length, not
		// by the class: 8u is cuDNN's pair of input and recurrent biases,
		// 4u is a native LSTM's (keras/engine/saving.py _convert_rnn_weights).
		b, ok := w.Peek()
		if ok && BaseName(b.Name) == "bias" && len(b.Shape) == 1 && b.Shape[0] == 8*u {
			b, _ = w.Take("bias", 8*u)
			l.cell.kernel, l.cell.recurrent, l.cell.bias = convertCuDNNLSTM(l.cell.kernel, l.cell.recurrent, b.Data, l.cell.in, u)
		} else {
			b, err := w.Take("bias", 4*u)
			if err != nil {
				return nil, nil, fmt.Errorf("%w (a native LSTM stores a bias of 4*units, cuDNN one of 8*units)", err)
			}
			l.cell.bias = b.Data
		}
	} else if c.spec.Class == "CuDNNLSTM" {
		return nil, nil, fmt.Errorf("CuDNNLSTM without a bias: cuDNN layers always have one")
	}
	l.base = newBase(c.spec, w)
	return l, recurrentShapes(c.opts, s, u, 2), nil
}

func init() {
	Register("LSTM", decodeLSTM)
}
