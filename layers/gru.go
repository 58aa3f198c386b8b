package layers

import (
	"fmt"

	"github.com/kerasrun/kerasrun/internal/kernels"
)

// gruCell is the Keras GRU cell. Gate order in the kernels and the biases
// is z, r, h:
//
//	z = ra(x·Wz + h·Uz + bz)    r = ra(x·Wr + h·Ur + br)
//	h~ = act(x·Wh + (r*h)·Uh + bh)                   reset_after false
//	h~ = act(x·Wh + b_in_h + r*(h·Uh + b_rec_h))     reset_after true
//	h' = z*h + (1-z)*h~
//
// With reset_after the bias is [2, 3u]: the input bias (row 0) joins the
// input projection and the recurrent bias (row 1) the recurrent one, for
// every gate. Without it the bias is [3u], all on the input side. State: h.
type gruCell struct {
	in, units  int
	resetAfter bool
	kernel     []float32 // [in, 3u]
	bias       []float32 // input-side bias [3u] or nil
	// reset_after false: the recurrent kernel split into its z, r columns
	// and its h columns, each contiguous for the two GEMMs of a step.
	recZR, recH []float32 // [u, 2u], [u, u]
	// reset_after true.
	recurrent []float32 // [u, 3u]
	recBias   []float32 // [3u] or nil
	// The same matrices packed for the kernels.
	kernelP, recP, recZRP, recHP packed
	act, ract                    ActFunc
	// gate is set when act is tanh and ract a sigmoid that the fused
	// reset_after step (kernels.GRUGates) covers.
	gate *kernels.Gate
}

func (c *gruCell) sizes() (int, int, int, int) { return c.in, c.units, 3 * c.units, 1 }

func (c *gruCell) project(x []float32, rows, lda int, xp []float32, ldc int) {
	c.kernelP.mulBias(rows, 3*c.units, c.in, x, lda, c.kernel, c.bias, xp, ldc)
}

func (c *gruCell) scratchSize(batch int) int {
	if c.resetAfter {
		return batch * 3 * c.units
	}
	return batch * c.units
}

func (c *gruCell) step(xp []float32, batch int, states [][]float32, scratch []float32, desc bool) {
	u := c.units
	h := states[0]
	if c.resetAfter {
		// rec = h·U + the recurrent bias, the bias added by the product's
		// kernel as it stores the sum: one pass less than adding it after
		// (and the same bits, for up to one k block of units).
		rec := scratch[:batch*3*u]
		c.recP.mulStep(batch, 3*u, u, h, u, c.recurrent, c.recBias, rec, 3*u, false, desc)
		if c.gate != nil {
			for b := 0; b < batch; b++ {
				kernels.GRUGates(xp[b*3*u:(b+1)*3*u], rec[b*3*u:(b+1)*3*u], h[b*u:(b+1)*u], u, *c.gate)
			}
			return
		}
		for b := 0; b < batch; b++ {
			row, rr := xp[b*3*u:(b+1)*3*u], rec[b*3*u:(b+1)*3*u]
			zr, rzr := row[:2*u], rr[:2*u]
			for j := range zr {
				zr[j] += rzr[j]
			}
			c.ract(zr, u)
			r, hh, rh := row[u:2*u], row[2*u:3*u], rr[2*u:3*u]
			hh, rh = hh[:len(r)], rh[:len(r)]
			for j, rj := range r {
				hh[j] += rj * rh[j]
			}
			c.act(hh, u)
			c.update(row, h[b*u:(b+1)*u])
		}
		return
	}
	c.recZRP.mulStep(batch, 2*u, u, h, u, c.recZR, nil, xp, 3*u, true, desc)
	rh := scratch[:batch*u]
	for b := 0; b < batch; b++ {
		row := xp[b*3*u : (b+1)*3*u]
		c.ract(row[:2*u], u)
		hb, rb := h[b*u:(b+1)*u], rh[b*u:(b+1)*u]
		for j := 0; j < u; j++ {
			rb[j] = row[u+j] * hb[j]
		}
	}
	c.recHP.mulStep(batch, u, u, rh, u, c.recH, nil, xp[2*u:], 3*u, true, desc)
	for b := 0; b < batch; b++ {
		row := xp[b*3*u : (b+1)*3*u]
		c.act(row[2*u:], u)
		c.update(row, h[b*u:(b+1)*u])
	}
}

// update sets h = z*h + (1-z)*h~ from a row holding z, r, h~.
func (c *gruCell) update(row, h []float32) {
	u := c.units
	z, hh := row[:u], row[2*u:3*u]
	h = h[:len(z)]
	hh = hh[:len(z)]
	for j, zj := range z {
		h[j] = zj*h[j] + (1-zj)*hh[j]
	}
}

// gruCellConfig is the decoded cell part of GRU and CuDNNGRU.
type gruCellConfig struct {
	n          int
	act, ract  ActFunc
	gate       *kernels.Gate // see gruCell.gate
	useBias    bool
	resetAfter bool
}

func (c *gruCellConfig) units() int     { return c.n }
func (c *gruCellConfig) numStates() int { return 1 }

func decodeGRU(r *Reader) (Config, error) {
	env := r.Spec().Env
	c := &gruCellConfig{}
	c.n = r.PositiveInt("units", 0)
	act, fa := r.activation("activation", "tanh")
	ract, fr := r.activation("recurrent_activation", defaultRecurrentActivation(env))
	c.act, c.ract, c.gate = fa, fr, fusedGate(act, ract, env)
	c.useBias = r.Bool("use_bias", true)
	// Keras: reset_after defaults to false in multi-backend Keras 2 and to
	// true in tf.keras 2 (GRU v2) and Keras 3. Every config written since
	// the option exists (Keras 2.1.3) stores it.
	c.resetAfter = r.Bool("reset_after", env.TFKeras() || env.Major() >= 3)
	return &rnnConfig{spec: r.Spec(), cell: c, opts: decodeRNNOptions(r)}, nil
}

// gruKind names a GRU weight format for messages.
func gruKind(resetAfter bool) string {
	if resetAfter {
		return "GRU(reset_after=True)"
	}
	return "GRU(reset_after=False)"
}

func (c *gruCellConfig) build(in int, w *Weights, class string) (cell, error) {
	u := c.n
	cl := &gruCell{units: u, resetAfter: c.resetAfter, act: c.act, ract: c.ract, gate: c.gate}
	cl.recP.recurrent, cl.recZRP.recurrent, cl.recHP.recurrent = true, true, true
	k, err := w.Take("kernel", in, 3*u)
	if err != nil {
		return nil, err
	}
	rk, err := w.Take("recurrent_kernel", u, 3*u)
	if err != nil {
		return nil, err
	}
	cl.in, cl.kernel = k.Shape[0], k.Data
	target := gruKind(c.resetAfter)
	if class == "CuDNNGRU" {
		target = "CuDNNGRU"
	}
	var biasData []float32
	if !c.useBias {
		if class == "CuDNNGRU" {
			return nil, fmt.Errorf("CuDNNGRU without a bias: cuDNN layers always have one")
		}
	} else {
		// Keras: the source of the weights is told by the bias shape, not
		// by the class (keras/engine/saving.py _convert_rnn_weights): [6u]
		// is cuDNN's, [2, 3u] a GRU(reset_after=True)'s and [3u] a
		// GRU(reset_after=False)'s. CuDNN weights convert to and from
		// reset_after ones; reset_after=False ones convert to nothing.
		b, ok := w.Peek()
		source := ""
		if ok && b.Is("bias") {
			switch {
			case len(b.Shape) == 1 && b.Shape[0] == 6*u:
				source = "CuDNNGRU"
			case len(b.Shape) == 2 && b.Shape[0] == 2 && b.Shape[1] == 3*u:
				source = gruKind(true)
			case len(b.Shape) == 1 && b.Shape[0] == 3*u:
				source = gruKind(false)
			}
		}
		switch {
		case source == "":
			want := []int{3 * u}
			if c.resetAfter {
				want = []int{2, 3 * u}
			}
			_, err := w.Take("bias", want...)
			return nil, fmt.Errorf("%w (a GRU(reset_after=False) stores a bias of [3*units], a GRU(reset_after=True) one of [2, 3*units], a CuDNNGRU one of [6*units])", err)
		case (source == gruKind(false)) != (target == gruKind(false)):
			return nil, fmt.Errorf("the layer is a %s but its bias %v is a %s's: Keras cannot convert between them", target, b.Shape, source)
		}
		b, _ = w.Take("bias", b.Shape...)
		biasData = b.Data
		if source == "CuDNNGRU" {
			cl.kernel, rk.Data = convertCuDNNGRU(cl.kernel, rk.Data, cl.in, u)
		}
	}
	if c.resetAfter {
		cl.recurrent = rk.Data
		if biasData != nil {
			cl.bias, cl.recBias = biasData[:3*u], biasData[3*u:]
		}
		return cl, nil
	}
	cl.bias = biasData
	cl.recZR = make([]float32, u*2*u)
	cl.recH = make([]float32, u*u)
	for i := 0; i < u; i++ {
		copy(cl.recZR[i*2*u:(i+1)*2*u], rk.Data[i*3*u:i*3*u+2*u])
		copy(cl.recH[i*u:(i+1)*u], rk.Data[i*3*u+2*u:(i+1)*3*u])
	}
	return cl, nil
}

func init() {
	Register("GRU", decodeGRU)
}
