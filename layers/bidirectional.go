package layers

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync/atomic"

	"github.com/kerasrun/kerasrun/internal/freelist"
	"github.com/kerasrun/kerasrun/internal/parallel"
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
// Initial states given as inputs after the sequence are split the same
// way: the first half goes to the forward layer, the rest to the backward
// one (Bidirectional.call).
type bidirectionalLayer struct {
	base
	fwd, bwd  runtime.Layer
	merge     string
	returnSeq bool
	stateful  bool
	nfwd      int // number of states of the forward layer
	nbwd      int // number of states of the backward layer
}

type bidirectionalConfig struct {
	spec     Spec
	fwd, bwd recurrentConfig
	merge    string
}

// bidirectionalNoMask is a Bidirectional around a layer that refuses masks
// (a CuDNN layer): it has no mask rule, so a masked input is refused at load.
type bidirectionalNoMask struct {
	c *bidirectionalConfig
}

func (c *bidirectionalNoMask) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	return c.c.Build(in, w)
}

// zeroOutputForMask reports whether Bidirectional sets zero_output_for_mask
// on its inner layers when they return sequences.
//
// Keras: tf.keras from TF 1.13 (keras_version 2.2.4-tf) and Keras 3 do
// (wrappers.py force_zero_output_for_mask); multi-backend Keras and older
// tf.keras (2.1.6-tf) do not.
func zeroOutputForMask(env Env) bool {
	return env.Major() >= 3 || (env.TFKeras() && env.atLeast(2, 2, 4))
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
	fwd, fname, err := decodeWrapped(r, "layer", "forward_")
	if err != nil {
		return nil, err
	}
	o := fwd.recurrentOptions()
	var bwd recurrentConfig
	if r.Has("backward_layer") {
		// Keras 2.3+: a distinct backward layer config, already going
		// backwards.
		bwd, _, err = decodeWrapped(r, "backward_layer", "backward_")
		if err != nil {
			return nil, err
		}
		bo := bwd.recurrentOptions()
		// Keras (wrappers.py _verify_layer_config): these must agree, and
		// go_backwards must differ.
		if bo.returnSequences != o.returnSequences || bo.returnState != o.returnState || bo.stateful != o.stateful {
			r.Errorf("backward_layer", "return_sequences, return_state and stateful must match the forward layer")
		}
		if bo.goBackwards == o.goBackwards {
			r.Errorf("backward_layer", "go_backwards must differ from the forward layer's")
		}
	} else {
		r.Ignore("backward_layer")
		bo := o
		bo.goBackwards = !o.goBackwards
		// Keras: the backward copy is the layer rebuilt from its config with
		// go_backwards flipped, named "backward_" + the layer's name.
		bwd = fwd.withOptions(bo, "backward_"+fname).(recurrentConfig)
	}
	if zeroOutputForMask(r.Spec().Env) {
		fo, bo := fwd.recurrentOptions(), bwd.recurrentOptions()
		fo.masked, bo.masked = zeroOrNot(fo), zeroOrNot(bo)
		fwd = fwd.withOptions(fo, "forward_"+fname).(recurrentConfig)
		bwd = bwd.withOptions(bo, bwdName(bwd)).(recurrentConfig)
	}
	c.fwd, c.bwd = fwd, bwd
	_, fm := Config(fwd).(MaskRule)
	_, bm := Config(bwd).(MaskRule)
	if !fm || !bm {
		return &bidirectionalNoMask{c: c}, nil
	}
	return c, nil
}

// zeroOrNot returns the masked-output rule Bidirectional forces on an inner
// layer: zeros when it returns sequences, else the previous output.
func zeroOrNot(o rnnOptions) maskOutput {
	if o.returnSequences {
		return maskOutZero
	}
	if o.masked == maskOutZero {
		return maskOutPrevOutput
	}
	return o.masked
}

func bwdName(c recurrentConfig) string {
	switch v := c.(type) {
	case *rnnConfig:
		return v.spec.Name
	case *cudnnConfig:
		return v.rnn.spec.Name
	}
	return ""
}

// decodeWrapped decodes the inner layer of a wrapper through the registry.
// It returns the config and the inner layer's own name.
func decodeWrapped(r *Reader, key, prefix string) (recurrentConfig, string, error) {
	v := r.Get(key)
	if !v.IsObject() {
		return nil, "", fmt.Errorf("option %q: want a layer {class_name, config}, got %s", key, clip(v.Raw))
	}
	name := v.Get("config.name").String()
	inner := Spec{
		Name:   prefix + name,
		Class:  v.Get("class_name").String(),
		Config: v.Get("config"),
		Env:    r.Spec().Env,
	}
	cfg, err := Decode(inner)
	if err != nil {
		return nil, "", err
	}
	rc, ok := cfg.(recurrentConfig)
	if !ok {
		return nil, "", fmt.Errorf("option %q: wraps a %s, which is not a supported recurrent layer: %w", key, inner.Class, ErrUnsupported)
	}
	return rc, name, nil
}

// OutputMasks follows Keras's Bidirectional.compute_mask: the merged
// sequence output (both outputs with merge_mode None) carries the input
// mask; last outputs and states carry none.
func (c *bidirectionalConfig) OutputMasks(in []bool, nout int) []bool {
	out := make([]bool, nout)
	if len(in) == 0 || !in[0] || !c.fwd.recurrentOptions().returnSequences {
		return out
	}
	n := 1
	if c.merge == "none" {
		n = 2
	}
	for i := 0; i < n && i < nout; i++ {
		out[i] = true
	}
	return out
}

func (c *bidirectionalConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if w.Len()%2 != 0 {
		return nil, nil, fmt.Errorf("%d weights cannot be split evenly between the forward and backward layers", w.Len())
	}
	half := w.Len() / 2
	fw, bw := w.Split(half), w.Split(half)
	nf, nb := numStates(c.fwd), numStates(c.bwd)
	fin, bin := in, in
	if len(in) > 1 {
		// Keras (Bidirectional.call): the first half of initial_state goes
		// to the forward layer, the second half to the backward layer.
		if len(in)-1 != nf+nb {
			return nil, nil, fmt.Errorf("takes 1 input (the sequence) or %d (the sequence, then %d initial state(s) of the forward layer and %d of the backward layer), got %d", 1+nf+nb, nf, nb, len(in))
		}
		fin = append([][]int{in[0]}, in[1:1+nf]...)
		bin = append([][]int{in[0]}, in[1+nf:]...)
	}
	fl, fshapes, err := c.fwd.Build(fin, fw)
	if err == nil {
		err = fw.Done()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("forward layer: %w", err)
	}
	bl, bshapes, err := c.bwd.Build(bin, bw)
	if err == nil {
		err = bw.Done()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("backward layer: %w", err)
	}
	o := c.fwd.recurrentOptions()
	fo, bo := fshapes[0], bshapes[0]
	if c.merge != "concat" && c.merge != "none" && !intsEq(fo, bo) {
		return nil, nil, fmt.Errorf("merge_mode %q needs outputs of one shape, got %s forward and %s backward", c.merge, runtime.FormatShape(fo), runtime.FormatShape(bo))
	}
	b := base{name: c.spec.Name, class: c.spec.Class, params: fw.takenElements() + bw.takenElements(),
		nonTrainable: fw.frozenElements() + bw.frozenElements()}
	if frozen(c.spec) {
		b.nonTrainable = b.params
	}
	l := &bidirectionalLayer{
		base: b,
		fwd:  fl, bwd: bl, merge: c.merge, returnSeq: o.returnSequences,
		stateful: o.stateful, nfwd: nf, nbwd: nb,
	}
	var out [][]int
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

// numStates returns the number of states of a recurrent layer's cell.
func numStates(c recurrentConfig) int {
	switch v := c.(type) {
	case *rnnConfig:
		return v.cell.numStates()
	case *cudnnConfig:
		return v.rnn.cell.numStates()
	}
	return 0
}

func intsEq(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (l *bidirectionalLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	return l.ForwardContext(context.Background(), in)
}

func (l *bidirectionalLayer) ForwardContext(ctx context.Context, in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	out, _, err := l.run(ctx, in, nil, false)
	return out, err
}

// Stateful reports whether the wrapped layer is stateful.
func (l *bidirectionalLayer) Stateful() bool { return l.stateful }

// ForwardStates runs both directions from the given states (the forward
// layer's, then the backward layer's; nil for zeros; initial states given
// as inputs take their place) and returns their final states in the same
// order.
func (l *bidirectionalLayer) ForwardStates(ctx context.Context, in []*runtime.Tensor, states []*runtime.Tensor) ([]*runtime.Tensor, []*runtime.Tensor, error) {
	return l.run(ctx, in, states, true)
}

func (l *bidirectionalLayer) run(ctx context.Context, in []*runtime.Tensor, states []*runtime.Tensor, withStates bool) ([]*runtime.Tensor, []*runtime.Tensor, error) {
	if len(in) != 1 && len(in) != 1+l.nfwd+l.nbwd {
		return nil, nil, fmt.Errorf("layers: layer %q (%s): %d inputs, want the sequence alone or followed by %d initial states (the forward layer's %d, then the backward layer's %d)", l.name, l.class, len(in), l.nfwd+l.nbwd, l.nfwd, l.nbwd)
	}
	var fs, bs []*runtime.Tensor
	if withStates {
		if states != nil {
			if len(states) < l.nfwd {
				return nil, nil, fmt.Errorf("layers: layer %q (%s): %d initial states, want the forward layer's %d then the backward layer's", l.name, l.class, len(states), l.nfwd)
			}
			fs, bs = states[:l.nfwd], states[l.nfwd:]
		}
		_, ok1 := l.fwd.(runtime.StatefulLayer)
		_, ok2 := l.bwd.(runtime.StatefulLayer)
		if !ok1 || !ok2 {
			return nil, nil, fmt.Errorf("layers: layer %q (%s): inner layers cannot carry states", l.name, l.class)
		}
	}
	// A concatenated sequence of two recurrent layers is written in place:
	// each direction writes its half of the merged output, the backward one
	// reversed back in time (seqView), which gives the numbers of merging
	// afterwards (concatLast) without the directions' own sequences and the
	// copy.
	bc := biCalls.Get()
	defer bc.done()
	bc.cores = coresCtx{Context: ctx, n: directionCores(ctx)}
	bc.ctx, bc.withStates = &bc.cores, withStates
	bc.in[0], bc.in[1] = in, in
	if len(in) > 1 {
		// Each direction gets the sequence and its own initial states.
		bc.in[0] = append(append(bc.inBuf[0][:0], in[0]), in[1:1+l.nfwd]...)
		bc.in[1] = append(append(bc.inBuf[1][:0], in[0]), in[1+l.nfwd:]...)
	}
	bc.inner[0], bc.inner[1], bc.states[0], bc.states[1] = l.fwd, l.bwd, fs, bs
	var merged *runtime.Tensor
	fr, ok1 := l.fwd.(*rnnLayer)
	br, ok2 := l.bwd.(*rnnLayer)
	if x := in[0]; l.merge == "concat" && l.returnSeq && ok1 && ok2 && x.Rank() == 3 {
		_, uf, _, _ := fr.cell.sizes()
		_, ub, _, _ := br.cell.sizes()
		w := uf + ub
		merged = runtime.Empty(x.Shape[0], x.Shape[1], w)
		bc.views[0] = seqView{data: merged.Data, stride: w}
		bc.views[1] = seqView{data: merged.Data, stride: w, off: uf, reverse: true}
		bc.into = true
	}
	if ok1 && ok2 && len(in) == 1 && l.piecesWorth(ctx, fr, br, in[0], withStates) {
		out, err := l.runPieces(ctx, fr, br, in[0], merged)
		return out, nil, err
	}
	parallel.For(2, goruntime.GOMAXPROCS(0), bc.direction)
	res := &bc.res
	fo, bo := res[0].out, res[1].out
	if err := errors.Join(res[0].err, res[1].err); err != nil {
		if merged != nil {
			runtime.PutBuffer(merged.Data)
		}
		return nil, nil, err
	}
	var final []*runtime.Tensor
	if withStates {
		final = append(res[0].final, res[1].final...)
	}
	var mask []bool
	if l.returnSeq {
		mask = in[0].Mask
	}
	// The inner layers' states (return_state), when they return any (the
	// in-place recurrent layers return only those), taken before merging:
	// a list may live in its first tensor (runtime.List), which merging
	// recycles.
	fst, bst := fo, bo
	if merged == nil {
		fst, bst = fo[1:], bo[1:]
	}
	var extraBuf [4]*runtime.Tensor
	extra := append(append(extraBuf[:0], fst...), bst...)
	var out []*runtime.Tensor
	if merged != nil {
		merged.Mask = mask
		out = runtime.One(merged)
	} else {
		out = l.mergeOutputs(fo[0], bo[0], in[0], mask)
	}
	if len(extra) > 0 {
		var all [6]*runtime.Tensor
		out = runtime.List(append(append(all[:0], out...), extra...)...)
	}
	return out, final, nil
}

// bidiRowPieces is how many pieces of rows runPieces cuts each direction
// into: four pieces on two cores ran W1 (../shared/perf) at batch 32 with
// one core kept busy by another process in 39.6 ms, eight in 42.8, the
// two directions whole in 45.5 (medians of 3 runs each, alternating).
const bidiRowPieces = 2

// piecesWorth reports whether run cuts the directions into pieces of rows
// (runPieces): on a contended machine (parallel.Contended), for a batch of
// at least bidiRowPieces·rowSplitMin rows, two recurrent layers that
// return no states, concatenated, from zero states (run also checks that
// no initial states come as inputs).
func (l *bidirectionalLayer) piecesWorth(ctx context.Context, fr, br *rnnLayer, x *runtime.Tensor, withStates bool) bool {
	return !withStates && l.merge == "concat" && !fr.opts.returnState && !br.opts.returnState &&
		x.Rank() == 3 && x.Shape[0] >= bidiRowPieces*rowSplitMin && coresOf(ctx) > 1 && parallel.Contended()
}

// runPieces runs both directions cut into pieces of rows, each piece a time
// loop of its own on one core, which the cores claim one at a time
// (parallel.For), and writes them into their parts of the
// concatenated output (merged, when the sequence is returned; else a new
// [batch, uf+ub]). With a direction a core, the direction that another
// process's core runs at half speed ends twice as late; with pieces the
// other core runs more of them. Every row comes out as from its direction
// run whole.
func (l *bidirectionalLayer) runPieces(ctx context.Context, fr, br *rnnLayer, x, merged *runtime.Tensor) ([]*runtime.Tensor, error) {
	_, uf, _, _ := fr.cell.sizes()
	_, ub, _, _ := br.cell.sizes()
	if merged == nil {
		merged = runtime.Empty(x.Shape[0], uf+ub)
	}
	bidiPieceRuns.Add(1)
	bp := biPiecesPool.Get()
	if bp.fn == nil {
		bp.fn = bp.run
	}
	bp.one = coresCtx{Context: ctx, n: 1}
	bp.layers = [2]*rnnLayer{fr, br}
	bp.x, bp.out, bp.uf, bp.seq = x, merged, uf, l.returnSeq
	parallel.For(2*bidiRowPieces, coresOf(ctx), bp.fn)
	err := errors.Join(bp.errs[:]...)
	fn := bp.fn
	*bp = biPieces{fn: fn}
	biPiecesPool.Put(bp)
	if err != nil {
		runtime.PutBuffer(merged.Data)
		return nil, err
	}
	if l.returnSeq {
		merged.Mask = x.Mask
	}
	return runtime.One(merged), nil
}

// biPieces is one runPieces call, pooled so that a call allocates nothing.
type biPieces struct {
	one    coresCtx // ctx with one core: each piece runs on its own
	layers [2]*rnnLayer
	x, out *runtime.Tensor
	uf     int
	seq    bool
	views  [2 * bidiRowPieces]seqView
	errs   [2 * bidiRowPieces]error
	fn     func(i int) // run, bound once
}

var biPiecesPool = freelist.List[biPieces]{New: func() *biPieces { return &biPieces{} }}

// bidiPieceRuns counts the runPieces calls, for the tests.
var bidiPieceRuns atomic.Int64

// run runs piece i: direction i%2 over piece i/2 of the rows.
func (bp *biPieces) run(i int) {
	d, p := i%2, i/2
	x, l := bp.x, bp.layers[d]
	b, steps, nin := x.Shape[0], x.Shape[1], x.Shape[2]
	r0, r1 := b*p/bidiRowPieces, b*(p+1)/bidiRowPieces
	xi := runtime.View(x.Data[r0*steps*nin:r1*steps*nin], r1-r0, steps, nin)
	if x.Mask != nil {
		xi.Mask = x.Mask[r0*steps : r1*steps]
	}
	defer runtime.Recycle(xi, x)
	w := bp.out.Shape[len(bp.out.Shape)-1]
	var v *seqView
	if bp.seq {
		off := 0
		if d == 1 {
			off = bp.uf
		}
		bp.views[i] = seqView{data: bp.out.Data[r0*steps*w : r1*steps*w], stride: w, off: off, reverse: d == 1}
		v = &bp.views[i]
	}
	out, _, err := runRecurrent(&bp.one, l.name, l.class, l.cell, l.opts, xi, nil, false, v)
	if err != nil || bp.seq {
		bp.errs[i] = err
		return
	}
	// The last outputs: rows r0..r1 of this direction's half.
	_, u, _, _ := l.cell.sizes()
	off := 0
	if d == 1 {
		off = bp.uf
	}
	for r := r0; r < r1; r++ {
		copy(bp.out.Data[r*w+off:r*w+off+u], out[0].Data[(r-r0)*u:(r-r0+1)*u])
	}
	runtime.Recycle(out[0], xi)
}

// biCall is one Bidirectional call's run of both directions, pooled so
// that a call allocates nothing: each direction's layer, states, output
// view (when the directions write into the merged output) and results.
type biCall struct {
	cores      coresCtx              // the directions' context (directionCores)
	ctx        context.Context       // &cores
	in         [2][]*runtime.Tensor  // each direction's inputs
	inBuf      [2][3]*runtime.Tensor // their storage with initial states
	withStates bool
	into       bool
	inner      [2]runtime.Layer
	states     [2][]*runtime.Tensor
	views      [2]seqView
	res        [2]struct {
		out, final []*runtime.Tensor
		err        error
	}
	direction func(i int) // runDirection, bound once
}

var biCalls = freelist.List[biCall]{New: func() *biCall {
	bc := &biCall{}
	bc.direction = bc.runDirection
	return bc
}}

// runDirection runs direction i (0 forward, 1 backward). parallel.For
// runs the two on two cores when GOMAXPROCS allows; it never waits for a
// helper goroutine that has not started: on a busy machine the caller
// simply runs both.
func (bc *biCall) runDirection(i int) {
	var v *seqView
	if bc.into {
		v = &bc.views[i]
	}
	r := &bc.res[i]
	r.out, r.final, r.err = direction(bc.ctx, bc.inner[i], bc.in[i], bc.states[i], bc.withStates, v)
}

// done gives bc back, holding no memory.
func (bc *biCall) done() {
	direction := bc.direction
	*bc = biCall{direction: direction}
	biCalls.Put(bc)
}

// direction runs one direction: into the view v when it is set (a
// recurrent layer), else from the states st when withStates is set.
func direction(ctx context.Context, inner runtime.Layer, in, st []*runtime.Tensor, withStates bool, v *seqView) ([]*runtime.Tensor, []*runtime.Tensor, error) {
	switch {
	case v != nil:
		return inner.(*rnnLayer).run(ctx, in, st, withStates, v)
	case withStates:
		return inner.(runtime.StatefulLayer).ForwardStates(ctx, in, st)
	}
	out, err := callLayer(ctx, inner, in)
	return out, nil, err
}

// mergeOutputs merges the directions' first outputs f and b by merge_mode. The
// backward sequence is in processing order: with return_sequences its time
// axis is reversed back while merging.
func (l *bidirectionalLayer) mergeOutputs(f, b, x *runtime.Tensor, mask []bool) []*runtime.Tensor {
	var out []*runtime.Tensor
	switch l.merge {
	case "none":
		if l.returnSeq {
			rb := reverseTime(b)
			runtime.Recycle(b, x)
			b = rb
		}
		f.Mask, b.Mask = mask, mask
		return runtime.List(f, b)
	case "concat":
		out = runtime.One(concatLast(f, b, l.returnSeq))
	default:
		out = runtime.One(mergeElementwise(l.merge, f, b, l.returnSeq))
	}
	out[0].Mask = mask
	runtime.Recycle(f, x)
	runtime.Recycle(b, x)
	return out
}

// directionCores is the cores each direction may use: half of those ctx
// allows (at least one), the other half running the other direction.
func directionCores(ctx context.Context) int {
	return max(1, coresOf(ctx)/2)
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
	out := runtime.Empty(x.Shape...)
	for bi := 0; bi < b; bi++ {
		for s := 0; s < t; s++ {
			src := x.Data[(bi*t+s)*inner : (bi*t+s+1)*inner]
			copy(out.Data[(bi*t+t-1-s)*inner:(bi*t+t-s)*inner], src)
		}
	}
	return out
}

// rowOf returns the index of the row of b that merges with row r of a:
// r itself, or with rev the row of the same sample at the mirrored time
// step (a and b are [batch, time, features] with rows of features).
func rowOf(r int, shape []int, rev bool) int {
	if !rev {
		return r
	}
	t := shape[1]
	bi, s := r/t, r%t
	return bi*t + t - 1 - s
}

// concatLast concatenates two tensors along their last axis, b's time axis
// reversed when rev is set.
func concatLast(a, b *runtime.Tensor, rev bool) *runtime.Tensor {
	na, nb := lastDim(a.Shape), lastDim(b.Shape)
	rows := len(a.Data) / na
	var buf [8]int // on the stack for ranks up to 8
	shape := append(buf[:0], a.Shape...)
	shape[len(shape)-1] = na + nb
	out := runtime.Empty(shape...)
	for r := 0; r < rows; r++ {
		rb := rowOf(r, a.Shape, rev)
		copy(out.Data[r*(na+nb):], a.Data[r*na:(r+1)*na])
		copy(out.Data[r*(na+nb)+na:], b.Data[rb*nb:(rb+1)*nb])
	}
	return out
}

// mergeElementwise merges two tensors of one shape element by element, b's
// time axis reversed when rev is set.
func mergeElementwise(mode string, a, b *runtime.Tensor, rev bool) *runtime.Tensor {
	n := lastDim(a.Shape)
	out := runtime.Empty(a.Shape...)
	for r := 0; r < len(a.Data)/max(n, 1); r++ {
		rb := rowOf(r, a.Shape, rev)
		x, y, o := a.Data[r*n:(r+1)*n], b.Data[rb*n:(rb+1)*n], out.Data[r*n:(r+1)*n]
		for i := range o {
			switch mode {
			case "sum":
				o[i] = x[i] + y[i]
			case "mul":
				o[i] = x[i] * y[i]
			case "ave":
				o[i] = (x[i] + y[i]) / 2
			}
		}
	}
	return out
}

func init() {
	Register("Bidirectional", decodeBidirectional)
}
