package layers

// simpleCell is the Keras SimpleRNN cell, h' = act(x·W + b + h·U).
// State: h.
type simpleCell struct {
	in, units int
	kernel    []float32 // [in, u]
	recurrent []float32 // [u, u]
	kernelP   packed
	recP      packed
	bias      []float32 // [u] or nil
	act       ActFunc
}

func (c *simpleCell) sizes() (int, int, int, int) { return c.in, c.units, c.units, 1 }

func (c *simpleCell) project(x []float32, rows, lda int, xp []float32, ldc int) {
	c.kernelP.mulBias(rows, c.units, c.in, x, lda, c.kernel, c.bias, xp, ldc)
}

func (c *simpleCell) scratchSize(int) int { return 0 }

func (c *simpleCell) step(xp []float32, batch int, states [][]float32, _ []float32, desc bool) {
	u := c.units
	h := states[0]
	c.recP.mulStep(batch, u, u, h, u, c.recurrent, nil, xp, u, true, desc)
	c.act(xp[:batch*u], u)
	copy(h, xp[:batch*u])
}

// simpleCellConfig is the decoded cell part of SimpleRNN.
type simpleCellConfig struct {
	n       int
	act     ActFunc
	useBias bool
}

func (c *simpleCellConfig) units() int     { return c.n }
func (c *simpleCellConfig) numStates() int { return 1 }

func decodeSimpleRNN(r *Reader) (Config, error) {
	c := &simpleCellConfig{}
	c.n = r.PositiveInt("units", 0)
	_, c.act = r.activation("activation", "tanh")
	c.useBias = r.Bool("use_bias", true)
	return &rnnConfig{spec: r.Spec(), cell: c, opts: decodeRNNOptions(r)}, nil
}

func (c *simpleCellConfig) build(in int, w *Weights, _ string) (cell, error) {
	u := c.n
	k, err := w.Take("kernel", in, u)
	if err != nil {
		return nil, err
	}
	rk, err := w.Take("recurrent_kernel", u, u)
	if err != nil {
		return nil, err
	}
	cl := &simpleCell{in: k.Shape[0], units: u, kernel: k.Data, recurrent: rk.Data, act: c.act}
	cl.recP.recurrent = true
	if cl.bias, err = takeBias(w, c.useBias, u); err != nil {
		return nil, err
	}
	return cl, nil
}

func init() {
	Register("SimpleRNN", decodeSimpleRNN)
}
