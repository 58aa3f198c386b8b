package layers

import (
	"fmt"
	goruntime "runtime"

	"github.com/kerasrun/kerasrun/internal/freelist"
	"github.com/kerasrun/kerasrun/internal/kernels"
	"github.com/kerasrun/kerasrun/internal/parallel"
)

// lstmCell is the Keras 2 LSTM cell. Gate order in Keras's kernels and
// bias is i, f, c, o:
//
//	i = ra(x·Wi + h·Ui + bi)    f = ra(x·Wf + h·Uf + bf)
//	c' = f*c + i*act(x·Wc + h·Uc + bc)
//	o = ra(x·Wo + h·Uo + bo)    h' = o*act(c')
//
// where act is activation and ra is recurrent_activation. States: h, c.
// The weights are held packed, their columns regrouped in gate blocks
// (gateBlocks), so the input projection is in block order too.
type lstmCell struct {
	in, units int
	blocks    gateBlocks
	kernelP   *kernels.PackedB // [in, 4u], block order
	recP      *kernels.PackedB // [u, 4u], block order
	bias      []float32        // [4u] in block order, or nil
	act, ract ActFunc
	// gate is set when act is tanh and ract a sigmoid the fused kernel
	// knows; the step then runs kernels.LSTMGates.
	gate *kernels.Gate
}

func (c *lstmCell) sizes() (int, int, int, int) { return c.in, c.units, 4 * c.units, 2 }

func (c *lstmCell) project(x []float32, rows, lda int, xp []float32, ldc int) {
	mulPackedBias(c.kernelP, rows, x, lda, c.bias, xp, ldc)
}

// scratchSize is the copy of h that the step's products read while the
// blocks write the new h.
func (c *lstmCell) scratchSize(batch int) int { return batch * c.units }

// stepParMinFlops is the smallest recurrent product of one step that is
// split over goroutines. Handing a step's blocks to a helper and waiting
// for it costs a few µs, about the whole step up to 2^18 FLOPs at batch 1
// (BenchmarkLSTMStepSplit: on 2 cores a step of 2^17 takes 3.5 µs alone and
// 5.7 split, one of 2^19 10.7 alone and 8.5 split).
var stepParMinFlops = 1 << 19

func (c *lstmCell) step(z []float32, batch int, states [][]float32, scratch []float32, desc bool) {
	u := c.units
	nb := c.blocks.n()
	threads := goruntime.GOMAXPROCS(0)
	// A step is short: split it only while no other process competes for
	// the cores, unless it is long (see parallel.SplitWorth).
	flops := 2 * batch * u * 4 * u
	if threads > 1 && nb > 1 && flops >= stepParMinFlops && parallel.SplitWorth(min(nb, threads), flops/min(nb, threads)) {
		// The chunks write h while others still read the old one: they
		// read a copy.
		hp := scratch[:batch*u]
		copy(hp, states[0])
		// One chunk of whole blocks per goroutine (lstmStep.run), so that
		// each product streams its weights in one long run: 4% faster on
		// the W3 steps than two chunks each (alternating runs in one
		// process). A helper that starts late finds its chunk taken.
		st := lstmSteps.Get()
		*st = lstmStep{c: c, z: z, hp: hp, h: states[0], cs: states[1], batch: batch, nb: nb, chunks: min(nb, threads), desc: desc, fn: st.fn}
		parallel.For(st.chunks, threads, st.fn)
		*st = lstmStep{fn: st.fn}
		lstmSteps.Put(st)
		return
	}
	// One goroutine runs every product before any gate writes h: the
	// product reads h itself.
	c.stepBlocks(0, nb, z, batch, states[0], states[0], states[1], desc)
}

// lstmStep is one split step: the arguments of stepBlocks and its chunk
// count and walk, with fn bound to run once per object, so that a step hands
// parallel.For a function without allocating one. The objects are pooled.
type lstmStep struct {
	c                 *lstmCell
	z, hp, h, cs      []float32
	batch, nb, chunks int
	desc              bool
	fn                func(i int)
}

var lstmSteps = freelist.List[lstmStep]{New: func() *lstmStep {
	st := &lstmStep{}
	st.fn = st.run
	return st
}}

// run runs chunk i of the step: a near-equal share of the blocks.
func (st *lstmStep) run(i int) {
	b0, b1 := st.nb*i/st.chunks, st.nb*(i+1)/st.chunks
	st.c.stepBlocks(b0, b1, st.z, st.batch, st.hp, st.h, st.cs, st.desc)
}

// stepBlocks runs blocks [b0, b1) of a step: z += hp·U for their columns
// (walking U's panels in descending order when desc is set), then their
// gates for every row, writing h and c.
func (c *lstmCell) stepBlocks(b0, b1 int, z []float32, batch int, hp, h, cs []float32, desc bool) {
	u := c.units
	p0, _ := c.blocks.panels(b0)
	_, p1 := c.blocks.panels(b1 - 1)
	if desc {
		kernels.GemmPanelsDesc(batch, hp, u, c.recP, p0, p1, z, 4*u, true)
	} else {
		kernels.GemmPanels(batch, hp, u, c.recP, p0, p1, z, 4*u, true)
	}
	// Whole blocks go to the kernel in one call per row; only the last
	// block of the layer may be narrower.
	full := b1 - b0
	if _, _, w := c.blocks.block(b1 - 1); w < blockUnits {
		full--
	}
	for r := 0; r < batch; r++ {
		b := b0
		if c.gate != nil && full > 0 {
			j0, col0, _ := c.blocks.block(b0)
			kernels.LSTMGatesBlocks(z[r*4*u+col0:], cs[r*u+j0:], h[r*u+j0:], blockUnits, full, *c.gate)
			b += full
		}
		for ; b < b1; b++ {
			j0, col0, w := c.blocks.block(b)
			zb := z[r*4*u+col0 : r*4*u+col0+4*w]
			cb := cs[r*u+j0 : r*u+j0+w]
			hb := h[r*u+j0 : r*u+j0+w]
			if c.gate != nil {
				kernels.LSTMGates(zb, cb, hb, w, *c.gate)
				continue
			}
			c.ract(zb[:2*w], w)
			c.act(zb[2*w:3*w], w)
			c.ract(zb[3*w:], w)
			for j := 0; j < w; j++ {
				cb[j] = zb[w+j]*cb[j] + zb[j]*zb[2*w+j]
			}
			copy(hb, cb)
			c.act(hb, w)
			for j := 0; j < w; j++ {
				hb[j] *= zb[3*w+j]
			}
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
	cl := &lstmCell{units: u, blocks: gateBlocks{units: u, gates: 4}, act: c.act, ract: c.ract, gate: c.gate}
	k, err := w.Take("kernel", in, 4*u)
	if err != nil {
		return nil, err
	}
	rk, err := w.Take("recurrent_kernel", u, 4*u)
	if err != nil {
		return nil, err
	}
	cl.in = k.Shape[0]
	kernel, recurrent, bias, err := c.lstmBias(w, class, k.Data, rk.Data, cl.in)
	if err != nil {
		return nil, err
	}
	// Packed once at load; the Keras-order copies are dropped.
	cols := cl.blocks.srcCols()
	cl.kernelP = kernels.PackBCols(cl.in, kernel, 4*u, cols)
	cl.recP = kernels.PackBCols(u, recurrent, 4*u, cols).AddRows()
	cl.bias = cl.blocks.regroup(bias, 1)
	return cl, nil
}

// lstmBias takes the bias (if any) and returns the native kernel, recurrent
// kernel and bias, converting cuDNN weights.
func (c *lstmCellConfig) lstmBias(w *Weights, class string, kernel, recurrent []float32, in int) (k, rk, bias []float32, err error) {
	u := c.n
	if !c.useBias {
		if class == "CuDNNLSTM" {
			return nil, nil, nil, fmt.Errorf("CuDNNLSTM without a bias: cuDNN layers always have one")
		}
		return kernel, recurrent, nil, nil
	}
	// Keras: the source of the weights is told by the bias length, not by
	// the class: 8u is cuDNN's pair of input and recurrent biases, 4u is a
	// native LSTM's (keras/engine/saving.py _convert_rnn_weights).
	b, ok := w.Peek()
	if ok && b.Is("bias") && len(b.Shape) == 1 && b.Shape[0] == 8*u {
		b, _ = w.Take("bias", 8*u)
		k, rk, bias = convertCuDNNLSTM(kernel, recurrent, b.Data, in, u)
		return k, rk, bias, nil
	}
	bw, err := w.Take("bias", 4*u)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w (a native LSTM stores a bias of 4*units, cuDNN one of 8*units)", err)
	}
	return kernel, recurrent, bw.Data, nil
}

func init() {
	Register("LSTM", decodeLSTM)
}
