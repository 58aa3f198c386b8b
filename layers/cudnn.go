package layers

// CuDNN layers are stored in Keras's gate order but in cuDNN's memory
// layout. They are converted once at load into native weights and then run
// as the native layer with cuDNN's fixed activations (tanh, sigmoid).
//
// How cuDNN reads a CuDNNLSTM kernel [in, 4u]: each gate's column block
// [in, u] is flattened row-major and handed over as a buffer, which cuDNN
// reads as a row-major [u, in] matrix W and applies as W·x. So the native
// [in, u] block is the transpose of that reinterpreted buffer. It equals the
// plain block only when in == u.

func decodeCuDNNLSTM(r *Reader) (Config, error) {
	c := &lstmCellConfig{useBias: true}
	c.n = r.PositiveInt("units", 0)
	// Keras: CuDNN layers always use tanh and sigmoid; their configs have no
	// activation keys.
	c.act, _ = NewActivation("tanh", r.Spec().Env)
	c.ract, _ = NewActivation("sigmoid", r.Spec().Env)
	c.gate = fusedGate("tanh", "sigmoid", r.Spec().Env)
	c.gate = fusedGate("tanh", "sigmoid", r.Spec().Env)
	r.Ignore("unit_forget_bias")
	return &cudnnConfig{rnn: &rnnConfig{spec: r.Spec(), cell: c, opts: decodeRNNOptions(r)}}, nil
}

// decodeCuDNNGRU decodes a CuDNNGRU as the GRU(reset_after=True) that Keras
// converts it to (keras/engine/saving.py _convert_rnn_weights).
func decodeCuDNNGRU(r *Reader) (Config, error) {
	c := &gruCellConfig{useBias: true, resetAfter: true}
	c.n = r.PositiveInt("units", 0)
	// Keras: CuDNNGRU always uses tanh and sigmoid.
	c.act, _ = NewActivation("tanh", r.Spec().Env)
	c.ract, _ = NewActivation("sigmoid", r.Spec().Env)
	return &cudnnConfig{rnn: &rnnConfig{spec: r.Spec(), cell: c, opts: decodeRNNOptions(r)}}, nil
}

// cudnnKernel converts a cuDNN input kernel [in, g*u] to the native layout.
// Keras writes this per gate as k.T.reshape(k.shape, order='F').
func cudnnKernel(k []float32, in, u, g int) []float32 {
	out := make([]float32, len(k))
	cols := g * u
	buf := make([]float32, in*u)
	for gate := 0; gate < g; gate++ {
		// The gate block, flattened row-major.
		for i := 0; i < in; i++ {
			copy(buf[i*u:(i+1)*u], k[i*cols+gate*u:i*cols+(gate+1)*u])
		}
		// Read as W [u, in] (W[r][c] = buf[r*in+c]); native block is W^T.
		for i := 0; i < in; i++ {
			for j := 0; j < u; j++ {
				out[i*cols+gate*u+j] = buf[j*in+i]
			}
		}
	}
	return out
}

// cudnnRecurrent converts a cuDNN recurrent kernel [u, g*u]: a plain
// transpose of every gate block.
func cudnnRecurrent(rk []float32, u, g int) []float32 {
	out := make([]float32, len(rk))
	cols := g * u
	for gate := 0; gate < g; gate++ {
		for i := 0; i < u; i++ {
			for j := 0; j < u; j++ {
				out[i*cols+gate*u+j] = rk[j*cols+gate*u+i]
			}
		}
	}
	return out
}

// convertCuDNNLSTM returns native LSTM weights for cuDNN ones: the kernels
// converted per gate and the bias [8u] folded to [4u] by adding the input
// and recurrent halves.
func convertCuDNNLSTM(kernel, recurrent, bias []float32, in, u int) (k, rk, b []float32) {
	k = cudnnKernel(kernel, in, u, 4)
	rk = cudnnRecurrent(recurrent, u, 4)
	b = make([]float32, 4*u)
	for i := range b {
		b[i] = bias[i] + bias[4*u+i]
	}
	return k, rk, b
}

// convertCuDNNGRU returns the weights of a GRU(reset_after=True) for
// CuDNNGRU ones: the kernels converted per gate (z, r, h, no reordering) and
// the bias [6u] read as [2, 3u], input bias first, recurrent bias second,
// which is its own memory layout.
func convertCuDNNGRU(kernel, recurrent []float32, in, u int) (k, rk []float32) {
	return cudnnKernel(kernel, in, u, 3), cudnnRecurrent(recurrent, u, 3)
}

func init() {
	Register("CuDNNLSTM", decodeCuDNNLSTM)
	Register("CuDNNGRU", decodeCuDNNGRU)
}
