package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/internal/kernels"
)

// lstmCell is the Keras 2 LSTM cell. Gate order in the kernels and the bias
// is i, f, c, o:
//
//	i = ra(x·Wi + h·Ui + bi)    f = ra(x·Wf + h·Uf + bf)
//	c' = f*c + i*act(x·Wc + h·Uc + bc)
//	o = ra(x·Wo + h·Uo + bo)    h' = o*act(c')
//
// where act is activation and ra is recurrent_activation. States: h, c.
type lstmCell struct {
	in, units int
	kernel    []float32 // [in, 4u]
	recurrent []float32 // [u, 4u]
	kernelP   packed
	recP      packed
	bias      []float32 // [4u] or nil
	act, ract ActFunc
	// gate is set when act is tanh and ract a sigmoid the fused kernel
	// knows; the step then runs kernels.LSTMGates.
	gate *kernels.Gate
}

func (c *lstmCell) sizes() (int, int, int, int) { return c.in, c.units, 4 * c.units, 2 }

func (c *lstmCell) project(x []float32, rows int, xp []float32, ldc int) {
	c.kernelP.mulBias(rows, 4*c.units, c.in, x, c.in, c.kernel, c.bias, xp, ldc)
}

func (c *lstmCell) scratchSize(int) int { return 0 }

func (c *lstmCell) step(z []float32, batch int, states [][]float32, _ []float32) {
	u := c.units
	h, cs := states[0], states[1]
	c.recP.mul(batch, 4*u, u, h, u, c.recurrent, z, 4*u, true)
	if c.gate != nil {
		for b := 0; b < batch; b++ {
			kernels.LSTMGates(z[b*4*u:(b+1)*4*u], cs[b*u:(b+1)*u], h[b*u:(b+1)*u], u, *c.gate)
		}
		return
	}
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

// lstmCellConfig is the decoded cell part of LSTM and CuDNNLSTM.
type lstmCellConfig struct {
	n       int
	act     ActFunc
	ract    ActFunc
	useBias bool
	gate    *kernels.Gate // see lstmCell.gate
}

// fusedGate returns the kernels' gate for activation act and recurrent
// activation ract, or nil when the fused step does not cover them.
func fusedGate(act, ract string, env Env) *kernels.Gate {
	if act != "tanh" {
		return nil
	}
	switch ract {
	case "sigmoid":
		return &kernels.Gate{Kind: kernels.GateSigmoid}
	case "hard_sigmoid":
		return &kernels.Gate{Kind: kernels.GateHardSigmoid, Slope: float32(hardSigmoidSlope(env))}
	}
	return nil
}

func (c *lstmCellConfig) units() int     { return c.n }
func (c *lstmCellConfig) numStates() int { return 2 }

func decodeLSTM(r *Reader) (Config, error) {
	env := r.Spec().Env
	c := &lstmCellConfig{}
	c.n = r.PositiveInt("units", 0)
	act, fa := r.activation("activation", "tanh")
	ract, fr := r.activation("recurrent_activation", defaultRecurrentActivation(env))
	c.act, c.ract, c.gate = fa, fr, fusedGate(act, ract, env)
	c.useBias = r.Bool("use_bias", true)
	r.Ignore("unit_forget_bias")
	return &rnnConfig{spec: r.Spec(), cell: c, opts: decodeRNNOptions(r)}, nil
}

func (c *lstmCellConfig) build(in int, w *Weights, class string) (cell, error) {
	u := c.n
	cl := &lstmCell{units: u, act: c.act, ract: c.ract, gate: c.gate}
	k, err := w.Take("kernel", in, 4*u)
	if err != nil {
		return nil, err
	}
	rk, err := w.Take("recurrent_kernel", u, 4*u)
	if err != nil {
		return nil, err
	}
	cl.in, cl.kernel, cl.recurrent = k.Shape[0], k.Data, rk.Data
	if !c.useBias {
		if class == "CuDNNLSTM" {
			return nil, fmt.Errorf("CuDNNLSTM without a bias: cuDNN layers always have one")
		}
		return cl, nil
	}
	// Keras: the source of the weights is told by the bias length, not by
	// the class: 8u is cuDNN's pair of input and recurrent biases, 4u is a
	// native LSTM's (keras/engine/saving.py _convert_rnn_weights).
	b, ok := w.Peek()
	if ok && BaseName(b.Name) == "bias" && len(b.Shape) == 1 && b.Shape[0] == 8*u {
		b, _ = w.Take("bias", 8*u)
		cl.kernel, cl.recurrent, cl.bias = convertCuDNNLSTM(cl.kernel, cl.recurrent, b.Data, cl.in, u)
		return cl, nil
	}
	bw, err := w.Take("bias", 4*u)
	if err != nil {
		return nil, fmt.Errorf("%w (a native LSTM stores a bias of 4*units, cuDNN one of 8*units)", err)
	}
	cl.bias = bw.Data
	return cl, nil
}

func init() {
	Register("LSTM", decodeLSTM)
}
