package layers

import (
	"context"
	"fmt"
	goruntime "runtime"
	"slices"

	"github.com/kerasrun/kerasrun/internal/freelist"
	"github.com/kerasrun/kerasrun/internal/parallel"
	"github.com/kerasrun/kerasrun/runtime"
)

// cell is one recurrent step, kept apart from the time loop (runRecurrent),
// which handles go_backwards, masking, initial states, return_sequences and
// return_state for every recurrent layer.
type cell interface {
	// sizes returns the input width, the number of units, the width of the
	// input projection and the number of states (each of units values).
	sizes() (in, units, gates, states int)
	// project computes the input projection of several rows at once: x
	// [rows, in] with rows lda apart, to the rows of xp [rows, gates] laid
	// ldc apart, bias included where the cell wants it.
	project(x []float32, rows, lda int, xp []float32, ldc int)
	// step advances the states of a batch by one time step, given the input
	// projection of that step (xp [batch, gates], which step may overwrite).
	// states[0] is the output h. desc asks the recurrent product to walk
	// its weights in descending order (kernels.GemmPanelsDesc): the time
	// loop alternates it from step to step, so that each step starts on
	// the weights the step before read last, still in cache.
	step(xp []float32, batch int, states [][]float32, scratch []float32, desc bool)
	// scratchSize is the scratch length step needs for a batch.
	scratchSize(batch int) int
}

// maskOutput says what a recurrent layer outputs at a masked time step.
type maskOutput int

const (
	// maskOutPrevState outputs the state h before the step (multi-backend
	// Keras 1 and 2: the initial state before any unmasked step).
	maskOutPrevState maskOutput = iota
	// maskOutPrevOutput outputs the previous output (tf.keras and Keras 3:
	// zeros before any unmasked step, even from non-zero initial states).
	maskOutPrevOutput
	// maskOutZero outputs zeros (zero_output_for_mask).
	maskOutZero
)

// rnnOptions are the time-loop options that every recurrent layer shares.
type rnnOptions struct {
	returnSequences bool
	returnState     bool
	goBackwards     bool
	stateful        bool
	masked          maskOutput
}

// maskSemantics returns what the version's recurrent layers output at
// masked steps, without zero_output_for_mask.
//
// Keras: multi-backend Keras (keras/backend/tensorflow_backend.py rnn)
// outputs states[0], the state before the step; tf.keras and Keras 3
// (backend.rnn) output prev_output, which starts as zeros. Both are the
// previous output whenever the states start from zeros.
func maskSemantics(env Env) maskOutput {
	if env.TFKeras() || env.Major() >= 3 {
		return maskOutPrevOutput
	}
	return maskOutPrevState
}

// decodeRNNOptions reads the options of the time loop.
func decodeRNNOptions(r *Reader) rnnOptions {
	o := rnnOptions{
		returnSequences: r.Bool("return_sequences", false),
		returnState:     r.Bool("return_state", false),
		goBackwards:     r.Bool("go_backwards", false),
		// Keras: stateful layers carry their final states to the next
		// batch. Model.Predict starts every call from zero states; a
		// runtime.Session carries them.
		stateful: r.Bool("stateful", false),
		masked:   maskSemantics(r.Spec().Env),
	}
	// Keras 3 stores zero_output_for_mask in RNN configs; tf.keras sets it
	// only from Bidirectional, which does not store it.
	if r.Bool("zero_output_for_mask", false) {
		o.masked = maskOutZero
	}
	r.False("time_major", "")
	// Keras: unroll, implementation and use_cudnn (Keras 3) change how the
	// graph is built, not the numbers; dropout rates and their seed act in
	// training only.
	r.Ignore("unroll", "implementation", "use_cudnn", "dropout", "recurrent_dropout", "seed")
	return o
}

// recurrentShapes returns the output shapes of a recurrent layer.
func recurrentShapes(o rnnOptions, in []int, units, states int) [][]int {
	var out [][]int
	if o.returnSequences {
		out = append(out, []int{in[0], in[1], units})
	} else {
		out = append(out, []int{in[0], units})
	}
	if o.returnState {
		for i := 0; i < states; i++ {
			out = append(out, []int{in[0], units})
		}
	}
	return out
}

// checkRecurrentInput validates the static inputs of a recurrent layer of
// the given units and number of states: the sequence [batch, time, in],
// alone or followed by one initial state [batch, units] per state. It
// returns the sequence's shape.
//
// Keras: an RNN called with initial_state tensors takes them as inputs of
// the call after the sequence (Keras 2 and tf.keras list them in the
// inbound node; Keras 3 passes them as the initial_state argument).
func checkRecurrentInput(in [][]int, units, nstates int) ([]int, error) {
	if len(in) != 1 && len(in) != 1+nstates {
		return nil, fmt.Errorf("takes 1 input (the sequence) or %d (the sequence, then %d initial state(s) of shape (batch, %d)), got %d", 1+nstates, nstates, units, len(in))
	}
	if len(in[0]) != 3 {
		return nil, fmt.Errorf("input shape %s: a recurrent layer needs rank 3 (batch, time, features)", runtime.FormatShape(in[0]))
	}
	if in[0][2] < 0 {
		return nil, fmt.Errorf("input shape %s: a recurrent layer needs a fixed number of features", runtime.FormatShape(in[0]))
	}
	for i, s := range in[1:] {
		if err := checkStateShape(i, s, in[0][0], units); err != nil {
			return nil, err
		}
	}
	return in[0], nil
}

// checkStateShape checks the static shape s of initial state i against
// (batch, units); a free dimension (-1) matches any.
func checkStateShape(i int, s []int, batch, units int) error {
	if len(s) != 2 || s[1] != units || (s[0] >= 0 && batch >= 0 && s[0] != batch) {
		return fmt.Errorf("initial state %d: shape %s, want (batch, %d) with the batch of the sequence (%d)", i, runtime.FormatShape(s), units, batch)
	}
	return nil
}

// splitStates splits the inputs of a call of a layer with n states into
// the sequence and the initial states: those given as inputs after the
// sequence, else states (nil for zeros; a session's carried states).
//
// Keras: RNN.call starts from the carried states of a stateful layer only
// when no initial_state is given; given ones are used as they are.
func splitStates(name, class string, in, states []*runtime.Tensor, n int) (*runtime.Tensor, []*runtime.Tensor, error) {
	switch {
	case len(in) == 1:
		return in[0], states, nil
	case len(in) == 1+n:
		return in[0], in[1:], nil
	}
	return nil, nil, fmt.Errorf("layers: layer %q (%s): %d inputs, want the sequence alone or followed by %d initial state(s)", name, class, len(in), n)
}

// projChunk and projMinSteps bound the input projection's buffer of a
// batch (see runRecurrent): 512 Ki floats (2 MiB), but at least 16 steps.
// Variables for the tests.
var (
	projChunk    = 512 << 10
	projMinSteps = 16
)

// projInPlace is the largest input kernel (in floats, 256 KiB) whose batch
// projection runs one product per step on the inputs in place: such weights
// stay in L2 from step to step, and gathering the inputs (a strided copy of
// the whole input) cost more than the products gain from it. Larger
// weights gather a chunk's inputs and stream once per chunk. A variable for
// the tests.
var projInPlace = 64 << 10

type coresKey struct{}

// withCores returns a context that lets the layers run under it use at
// most n cores: the share of a core budget that a layer running parts in
// parallel (Bidirectional's directions) gives each part, so that a part
// does not split further what already has no core to spare.
func withCores(ctx context.Context, n int) context.Context {
	return &coresCtx{Context: ctx, n: n}
}

// coresCtx is the context withCores returns, a type of its own so that a
// caller can keep it in pooled memory (Bidirectional's biCall).
type coresCtx struct {
	context.Context
	n int
}

func (c *coresCtx) Value(key any) any {
	if key == (coresKey{}) {
		return c.n
	}
	return c.Context.Value(key)
}

// coresOf returns the cores ctx lets a layer use: GOMAXPROCS unless
// withCores said fewer.
func coresOf(ctx context.Context) int {
	n := goruntime.GOMAXPROCS(0)
	if v, ok := ctx.Value(coresKey{}).(int); ok {
		n = min(n, v)
	}
	return max(n, 1)
}

// rowSplitMin is the fewest rows of a batch that runRecurrent gives a
// core of their own (see recurPieces), unless the layer's weights are at
// most rowSplitSmall bytes: then a single row is enough. Variables for
// the tests.
var (
	rowSplitMin   = 4
	rowSplitSmall = 1 << 20
)

// recurPieces returns how many pieces runRecurrent splits a batch of b
// rows (of the given steps) of cell c into, one per core. It returns 1
// when the batch has too few rows, which leaves the cores to split each
// step's product instead (cell.step), and when the cores share the steps
// of an LSTM on a contended machine (lstmCell.sharedSteps). Pieces of rows run whole time loops on their own, so the
// cores never wait for each other between steps, but each streams all
// the weights every step: that costs little once a piece has a few rows,
// or when the weights stay in a core's L2. Measured on the 2-vCPU VM of
// ../shared/perf, alternating runs in one process, pieces of rows against
// split steps: W3 (512-unit CuDNNLSTMs, 6.3 and 8.4 MB of weights) at
// batch 32, 84-87 ms against 92-94; at batch 8, 24.0 ms against 26.0; at
// batch 4 (pieces of 2 rows), 19.2 ms against 14.4. W2 (a 128-unit LSTM,
// 512 KB) at batch 2 (pieces of 1 row), 0.95 ms against 1.32; at batch 8,
// 3.3 against 3.9. Four pieces of 8 rows on 2 cores ran 9% slower than
// two of 16.
func recurPieces(ctx context.Context, c cell, b, steps int) int {
	if lc, ok := c.(*lstmCell); ok && lc.sharedSteps(ctx, b, steps) {
		// Contended: pieces on cores that run at different speeds end
		// as late as the slowest; the shared loop keeps every core busy.
		return 1
	}
	threads := coresOf(ctx)
	in, units, gates, _ := c.sizes()
	rows := rowSplitMin
	if 4*(in+units)*gates <= rowSplitSmall {
		rows = 1
	}
	n := min(threads, b/max(rows, 1))
	if n <= 1 {
		return 1
	}
	return n
}

// runRecurrent runs cell c over x [batch, time, in], from init (one
// [batch, units] tensor per state; nil for zeros). It returns the layer's
// outputs and, when wantStates is set, its final states, which share no
// memory with the outputs.
//
// Keras: with go_backwards the sequence (and its mask) is read from the last
// step to the first, and the returned sequence is in that processing order.
// At a masked step every state is carried over unchanged and the output is
// given by o.masked; the output mask is the input mask when the sequence is
// returned (RNN.compute_mask).
//
// With into set (and return_sequences), the sequence is written into that
// view instead of a tensor of its own, and the list holds only the states
// that return_state adds (it is nil without).
func runRecurrent(ctx context.Context, name, class string, c cell, o rnnOptions, x *runtime.Tensor, init []*runtime.Tensor, wantStates bool, into *seqView) ([]*runtime.Tensor, [][]float32, error) {
	nin, units, _, nstates := c.sizes()
	if x.Rank() != 3 || x.Shape[2] != nin {
		return nil, nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want (batch, time, %d)", name, class, x.Shape, nin)
	}
	b, steps := x.Shape[0], x.Shape[1]
	if steps == 0 {
		return nil, nil, fmt.Errorf("layers: layer %q (%s): input has no time steps", name, class)
	}
	mask := x.Mask
	if mask != nil && len(mask) != b*steps {
		return nil, nil, fmt.Errorf("layers: layer %q (%s): input mask has %d values, want %d (batch %d x time %d)", name, class, len(mask), b*steps, b, steps)
	}
	// The states live in pooled scratch; wantStates returns copies. The
	// per-call bookkeeping comes from a pool too (recurCall).
	rc := recurCalls.Get()
	defer rc.done()
	for range nstates {
		rc.states = append(rc.states, zeroScratch(b*units))
	}
	states := rc.states
	if init != nil {
		if len(init) != nstates {
			return nil, nil, fmt.Errorf("layers: layer %q (%s): %d initial states, want %d", name, class, len(init), nstates)
		}
		for i, st := range init {
			if st == nil {
				return nil, nil, fmt.Errorf("layers: layer %q (%s): initial state %d is missing", name, class, i)
			}
			if len(st.Shape) != 2 || st.Shape[0] != b || st.Shape[1] != units || len(st.Data) != b*units {
				return nil, nil, fmt.Errorf("layers: layer %q (%s): initial state %d has shape %s, want [%d %d] (batch, units)", name, class, i, runtime.FormatShape(st.Shape), b, units)
			}
			copy(states[i], st.Data)
		}
	}
	// Every row of the sequence, or of last, is written in full.
	var seq *runtime.Tensor
	view := seqView{stride: units}
	switch {
	case !o.returnSequences:
	case into != nil:
		if into.stride < units || into.off < 0 || into.off+units > into.stride || len(into.data) != b*steps*into.stride {
			return nil, nil, fmt.Errorf("layers: layer %q (%s): output view of %d values (stride %d, offset %d) for a sequence of [%d %d %d]", name, class, len(into.data), into.stride, into.off, b, steps, units)
		}
		view = *into
	default:
		seq = runtime.Empty(b, steps, units)
		seq.Mask = mask
		view.data = seq.Data
	}
	var last *runtime.Tensor
	if !o.returnSequences {
		last = runtime.Empty(b, units)
	}
	// Every row of the batch is independent of the others: with rows to
	// spare the rows are split over the cores (recurPieces), each piece
	// running its own time loop, with no hand-off between steps.
	rc.rows = recurRows{c: c, o: o, x: x.Data, b: b, steps: steps, mask: mask, states: states, seq: view}
	if last != nil {
		rc.rows.last = last.Data
	}
	if err := rc.run(ctx, recurPieces(ctx, c, b, steps)); err != nil {
		runtime.Recycle(seq)
		runtime.Recycle(last)
		return nil, nil, err
	}
	first := seq
	if last != nil {
		first = last
	}
	var out []*runtime.Tensor
	switch {
	case o.returnState:
		var list [3]*runtime.Tensor // an LSTM's output and two states
		outs := list[:0]
		if first != nil {
			outs = append(outs, first)
		}
		for _, st := range states {
			t := runtime.Empty(b, units)
			copy(t.Data, st)
			outs = append(outs, t)
		}
		out = runtime.List(outs...)
	case first != nil:
		out = runtime.One(first)
	}
	if !wantStates {
		return out, nil, nil
	}
	final := make([][]float32, nstates)
	for i, st := range states {
		final[i] = append([]float32(nil), st...)
	}
	return out, final, nil
}

// rnnLayer runs a cell through the shared time loop. It implements
// runtime.StatefulLayer, so that a runtime.Session can carry its states.
type rnnLayer struct {
	base
	cell cell
	opts rnnOptions
}

func (l *rnnLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	return l.ForwardContext(context.Background(), in)
}

func (l *rnnLayer) ForwardContext(ctx context.Context, in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	out, _, err := l.run(ctx, in, nil, false, nil)
	return out, err
}

// Stateful reports whether Keras carries this layer's states between
// batches (stateful=True).
func (l *rnnLayer) Stateful() bool { return l.opts.stateful }

// ForwardStates runs the layer from the given initial states (nil for
// zeros; overridden by initial states given as inputs, see splitStates)
// and also returns its final states.
func (l *rnnLayer) ForwardStates(ctx context.Context, in []*runtime.Tensor, states []*runtime.Tensor) ([]*runtime.Tensor, []*runtime.Tensor, error) {
	return l.run(ctx, in, states, true, nil)
}

// run is Forward from the given states (nil for zeros; initial states
// given as inputs after the sequence take their place), with the final
// states when wantStates is set, and the sequence written into `into` when
// that is set (runRecurrent).
func (l *rnnLayer) run(ctx context.Context, in []*runtime.Tensor, states []*runtime.Tensor, wantStates bool, into *seqView) ([]*runtime.Tensor, []*runtime.Tensor, error) {
	_, units, _, nstates := l.cell.sizes()
	x, init, err := splitStates(l.name, l.class, in, states, nstates)
	if err != nil {
		return nil, nil, err
	}
	out, final, err := runRecurrent(ctx, l.name, l.class, l.cell, l.opts, x, init, wantStates, into)
	if err != nil || !wantStates {
		return out, nil, err
	}
	b := x.Shape[0]
	fs := make([]*runtime.Tensor, len(final))
	for i, st := range final {
		fs[i] = &runtime.Tensor{Shape: []int{b, units}, Data: st}
	}
	return out, fs, nil
}

// cellConfig is the decoded, cell-specific part of a recurrent layer's
// config: it builds the cell from the layer's weights.
type cellConfig interface {
	// build makes the cell for inputs of width in, taking its weights from
	// w. class is the layer's Keras class, for checks and messages.
	build(in int, w *Weights, class string) (cell, error)
	units() int
	numStates() int
}

// rnnConfig is the decoded config of a recurrent layer that supports
// masking (LSTM, GRU, SimpleRNN).
type rnnConfig struct {
	spec Spec
	cell cellConfig
	opts rnnOptions
}

func (c *rnnConfig) recurrentOptions() rnnOptions { return c.opts }

func (c *rnnConfig) withOptions(o rnnOptions, name string) Config {
	cp := *c
	cp.opts = o
	cp.spec.Name = name
	return &cp
}

func (c *rnnConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	s, err := checkRecurrentInput(in, c.cell.units(), c.cell.numStates())
	if err != nil {
		return nil, nil, err
	}
	cl, err := c.cell.build(s[2], w, c.spec.Class)
	if err != nil {
		return nil, nil, err
	}
	l := &rnnLayer{base: newBase(c.spec, w), cell: cl, opts: c.opts}
	return l, recurrentShapes(c.opts, s, c.cell.units(), c.cell.numStates()), nil
}

// OutputMasks follows Keras's RNN.compute_mask: the sequence output carries
// the input mask, the last output and the states carry none.
func (c *rnnConfig) OutputMasks(in []bool, nout int) []bool {
	out := make([]bool, nout)
	if len(in) > 0 && in[0] && c.opts.returnSequences && nout > 0 {
		out[0] = true
	}
	return out
}

// cudnnConfig is the config of a CuDNN recurrent layer: an rnnConfig
// without a mask rule.
//
// Keras: CuDNN layers refuse masks ("Masking is not supported for CuDNN
// RNNs", keras/layers/cudnn_recurrent.py), so a masked input is refused at
// load.
type cudnnConfig struct {
	rnn *rnnConfig
}

func (c *cudnnConfig) recurrentOptions() rnnOptions { return c.rnn.opts }

func (c *cudnnConfig) withOptions(o rnnOptions, name string) Config {
	return &cudnnConfig{rnn: c.rnn.withOptions(o, name).(*rnnConfig)}
}

func (c *cudnnConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	return c.rnn.Build(in, w)
}

// defaultRecurrentActivation is the version's default recurrent_activation.
//
// Keras: hard_sigmoid up to Keras 2.2.5, sigmoid from 2.3.0, in tf.keras and
// in Keras 3.
func defaultRecurrentActivation(env Env) string {
	if env.TFKeras() || env.atLeast(2, 3, 0) {
		return "sigmoid"
	}
	return "hard_sigmoid"
}

// recurRows is the time loop of runRecurrent over some rows of the batch:
// x [b, steps, in], mask [b*steps] or nil, states (each [b, units], updated
// in place), and the output: seq (rows of the sequence, see seqView), or
// last [b, units].
type recurRows struct {
	c        cell
	o        rnnOptions
	x        []float32
	b, steps int
	mask     []bool
	states   [][]float32
	seq      seqView
	last     []float32
	err      error // set by a shared loop (runShared)
}

// recurCall is the bookkeeping of one runRecurrent call, pooled so that a
// call allocates nothing: its states, its rows, and when the rows are split
// into pieces (run), each piece's rows, error and states.
type recurCall struct {
	ctx    context.Context
	states [][]float32
	rows   recurRows
	pieces []recurRows
	errs   []error
	pst    [][]float32 // the pieces' states, nstates per piece
	piece  func(i int) // runPiece, bound once
}

var recurCalls = freelist.List[recurCall]{New: func() *recurCall {
	rc := &recurCall{}
	rc.piece = rc.runPiece
	return rc
}}

// done gives back the states' scratch and rc itself, holding no memory.
func (rc *recurCall) done() {
	for _, st := range rc.states {
		putScratch(st)
	}
	clear(rc.states)
	rc.states = rc.states[:0]
	rc.rows = recurRows{}
	clear(rc.pieces)
	clear(rc.errs)
	clear(rc.pst)
	rc.ctx = nil
	recurCalls.Put(rc)
}

// run runs rc.rows, split into n pieces of rows on as many goroutines when
// n > 1.
func (rc *recurCall) run(ctx context.Context, n int) error {
	if n <= 1 {
		return rc.rows.run(ctx)
	}
	r := &rc.rows
	nin, units, _, nstates := r.c.sizes()
	rc.ctx = ctx
	rc.pieces = slices.Grow(rc.pieces[:0], n)[:n]
	rc.errs = slices.Grow(rc.errs[:0], n)[:n]
	rc.pst = slices.Grow(rc.pst[:0], n*nstates)[:n*nstates]
	for i := range n {
		r0, r1 := r.b*i/n, r.b*(i+1)/n
		p := recurRows{c: r.c, o: r.o, x: r.x[r0*r.steps*nin : r1*r.steps*nin], b: r1 - r0, steps: r.steps,
			states: rc.pst[i*nstates : (i+1)*nstates : (i+1)*nstates]}
		if r.mask != nil {
			p.mask = r.mask[r0*r.steps : r1*r.steps]
		}
		for k, st := range r.states {
			p.states[k] = st[r0*units : r1*units]
		}
		if r.seq.data != nil {
			p.seq = r.seq
			p.seq.data = r.seq.data[r0*r.steps*r.seq.stride : r1*r.steps*r.seq.stride]
		} else {
			p.last = r.last[r0*units : r1*units]
		}
		rc.pieces[i] = p
	}
	parallel.For(n, n, rc.piece)
	for _, err := range rc.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (rc *recurCall) runPiece(i int) { rc.errs[i] = rc.pieces[i].run(rc.ctx) }

func (r *recurRows) run(ctx context.Context) error {
	c, o, b, steps, mask, states := r.c, r.o, r.b, r.steps, r.mask, r.states
	nin, units, gates, nstates := c.sizes()
	// The projection is laid out time-major, [steps, batch, gates], so that
	// each step's rows are contiguous and the step works on them in place.
	// With a batch it is computed a chunk of steps at a time (so that its
	// buffer stays near projChunk floats), as one product over the chunk's
	// inputs gathered time-major: the weights are streamed once per chunk.
	// An LSTM on a contended machine shares its steps among the cores
	// (runShared); it projects every step at once.
	lc, _ := c.(*lstmCell)
	shared := lc != nil && lc.sharedSteps(ctx, b, steps)
	chunk := steps
	var xin []float32 // a chunk's inputs, [chunk, batch, in]
	if b > 1 && !shared {
		chunk = min(steps, max(projMinSteps, projChunk/(b*gates)))
	}
	if b > 1 && nin*gates > projInPlace {
		xin = getScratch(chunk * b * nin)
		defer putScratch(xin)
	}
	xp := getScratch(chunk * b * gates)
	c0 := -1 // first step of the chunk in xp
	project := func(t int) {
		c0 = t - t%chunk
		n := min(chunk, steps-c0)
		switch {
		case b == 0:
			return
		case b == 1:
			c.project(r.x[c0*nin:], n, nin, xp, gates)
			return
		}
		if nin*gates <= projInPlace {
			// Weights that stay in L2: one product per step, over the
			// batch's rows of that step read in place (steps*in apart).
			for s := 0; s < n; s++ {
				c.project(r.x[(c0+s)*nin:], b, steps*nin, xp[s*b*gates:], gates)
			}
			return
		}
		for s := 0; s < n; s++ {
			for bi := 0; bi < b; bi++ {
				src := (bi*steps + c0 + s) * nin
				copy(xin[(s*b+bi)*nin:(s*b+bi+1)*nin], r.x[src:src+nin])
			}
		}
		c.project(xin, n*b, nin, xp, gates)
	}
	if shared {
		project(0)
		return r.runShared(ctx, lc, xp)
	}
	defer putScratch(xp)
	scratch := getScratch(c.scratchSize(b))
	defer putScratch(scratch)
	var saved []float32 // states of the masked rows of one step
	var seen []bool     // whether a row has had an unmasked step
	var maskedRows []int
	if mask != nil {
		saved = getScratch(nstates * b * units)
		defer putScratch(saved)
		seen = runtime.MaskBuffer(b)
		clear(seen)
		defer runtime.PutMask(seen)
		rows := getInts(b)
		defer putInts(rows)
		maskedRows = (*rows)[:0]
	}
	for s := 0; s < steps; s++ {
		if s&63 == 63 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		t := s
		if o.goBackwards {
			t = steps - 1 - s
		}
		if c0 < 0 || t < c0 || t >= c0+chunk {
			project(t)
		}
		stepIn := xp[(t-c0)*b*gates : (t-c0+1)*b*gates]
		maskedRows = maskedRows[:0]
		if mask != nil {
			for bi := 0; bi < b; bi++ {
				if !mask[bi*steps+t] {
					maskedRows = append(maskedRows, bi)
					for k, st := range states {
						copy(saved[(k*b+bi)*units:(k*b+bi+1)*units], st[bi*units:(bi+1)*units])
					}
				}
			}
		}
		c.step(stepIn, b, states, scratch, s&1 == 1)
		for _, bi := range maskedRows {
			for k, st := range states {
				copy(st[bi*units:(bi+1)*units], saved[(k*b+bi)*units:(k*b+bi+1)*units])
			}
		}
		r.emit(s, t, states[0], seen)
	}
	return nil
}

// emit writes the output of step s (time t; see run) from h, the output
// state after the step: h, or for a masked row the rule of o.masked.
// Without return_sequences only the last step's is kept. It then counts
// the step's unmasked rows in seen.
func (r *recurRows) emit(s, t int, h []float32, seen []bool) {
	b, steps, mask, o := r.b, r.steps, r.mask, r.o
	_, units, _, _ := r.c.sizes()
	if r.seq.data != nil || s == steps-1 {
		for bi := 0; bi < b; bi++ {
			var dst []float32
			if r.seq.data != nil {
				tt := s
				if r.seq.reverse {
					tt = steps - 1 - s
				}
				i := (bi*steps+tt)*r.seq.stride + r.seq.off
				dst = r.seq.data[i : i+units]
			} else {
				dst = r.last[bi*units : (bi+1)*units]
			}
			if mask != nil && !mask[bi*steps+t] &&
				(o.masked == maskOutZero || o.masked == maskOutPrevOutput && !seen[bi]) {
				clear(dst)
				continue
			}
			copy(dst, h[bi*units:(bi+1)*units])
		}
	}
	if mask != nil {
		for bi := 0; bi < b; bi++ {
			if mask[bi*steps+t] {
				seen[bi] = true
			}
		}
	}
}

// seqView is where a recurrent layer writes its sequence: the output of
// sample bi at step s (in processing order) goes to
// data[(bi*steps+t)*stride+off:][:units], with t = s, or steps-1-s when
// reverse is set. A layer's own sequence has stride units and offset 0;
// Bidirectional has its two directions write the halves of its
// concatenated output, the backward one reversed back in time, as Keras
// merges them.
type seqView struct {
	data        []float32
	stride, off int
	reverse     bool
}
