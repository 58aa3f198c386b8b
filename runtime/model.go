package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/kerasrun/kerasrun/internal/freelist"
)

// Layer is a built layer: immutable, safe for concurrent use.
type Layer interface {
	// Name is the Keras layer name.
	Name() string
	// Class is the Keras class_name.
	Class() string
	// Forward computes the layer's outputs from its inputs. It must not
	// modify its inputs, and it must keep no reference to its inputs or
	// outputs after it returns: Predict recycles the memory of a tensor
	// once its last reader has run (see Empty). An output may share its
	// input's memory (a view, or the input itself). The list it returns
	// is read once, before anything else runs (One and List make it
	// without allocating).
	Forward(in []*Tensor) ([]*Tensor, error)
}

// ParamCounter is implemented by layers that hold weights.
type ParamCounter interface {
	Params() int
}

// NonTrainableCounter is implemented by layers some of whose weights Keras
// counts as non-trainable (a frozen layer, BatchNormalization's moving
// statistics). NonTrainableParams is at most Params.
type NonTrainableCounter interface {
	NonTrainableParams() int
}

// IO describes one model input or output.
type IO struct {
	Name  string
	Shape []int  // -1 marks a free (None) dimension
	DType string // "float32" or "int32" (token ids); outputs are always float32
}

// LayerInfo describes one layer of a model, for summaries.
type LayerInfo struct {
	Name      string
	Class     string
	OutShapes [][]int
	Params    int
	// NonTrainable is the part of Params that Keras counts as
	// non-trainable.
	NonTrainable int
	Inbound      []string // names of the layers feeding its first call
	// Calls lists, for each call of the layer in the model, the tensors it
	// reads. An InputLayer has none.
	Calls [][]TensorSource
	// MultipleShapes reports that the layer's calls give outputs of
	// different shapes; OutShapes are those of its first call.
	MultipleShapes bool
}

// TensorSource names a tensor as Keras's summary does
// (layer[node][tensor]): the layer that made it, which call of that layer
// (its node index, from 0), and which of that call's outputs.
type TensorSource struct {
	Layer        string
	Node, Tensor int
}

// Ref names a tensor while a graph is built.
type Ref struct{ slot int }

type node struct {
	layer Layer
	in    []int
	out   []int
	inAt  int // where its input list starts in runState.in
}

// Graph builds a Model. Add inputs, then calls in an order where every
// input of a call already exists, then outputs. A Graph is not safe for
// concurrent use.
type Graph struct {
	// Name is the model's name, as Keras gives it.
	Name     string
	inputs   []IO
	inSlots  []int
	outputs  []IO
	outSlots []int
	nodes    []node
	shapes   [][]int // static shape of every slot
	owner    []string
	source   []TensorSource // of every slot
	layers   []LayerInfo
	seen     map[Layer]bool
	infoAt   map[Layer]int // index in layers
	nested   []NestedModel
}

// NestedModel is a model used as a layer of the model, whose layers appear
// in Layers under its name and a "/" ("encoder/dense").
type NestedModel struct {
	Name  string
	Class string // Sequential, Model or Functional
}

// AddNested records a model nested in the graph's model, for summaries.
// For the importer.
func (g *Graph) AddNested(n NestedModel) { g.nested = append(g.nested, n) }

// NewGraph returns an empty graph.
//
// For layer authors and the importer; a program that loads and runs models
// never calls it (see the package doc).
func NewGraph() *Graph { return &Graph{seen: map[Layer]bool{}, infoAt: map[Layer]int{}} }

// Input adds a model input. listed says whether it appears in Layers()
// (Keras lists an explicit InputLayer but not the implicit input of a
// Sequential model).
func (g *Graph) Input(io IO, listed bool) Ref {
	r := g.newSlot(io.Shape, TensorSource{Layer: io.Name})
	g.inputs = append(g.inputs, IO{Name: io.Name, Shape: append([]int(nil), io.Shape...), DType: io.DType})
	g.inSlots = append(g.inSlots, r.slot)
	if listed {
		g.layers = append(g.layers, LayerInfo{Name: io.Name, Class: "InputLayer", OutShapes: [][]int{io.Shape}})
	}
	return r
}

func (g *Graph) newSlot(shape []int, src TensorSource) Ref {
	g.shapes = append(g.shapes, append([]int(nil), shape...))
	g.owner = append(g.owner, src.Layer)
	g.source = append(g.source, src)
	return Ref{slot: len(g.shapes) - 1}
}

// Shape returns the static shape of a tensor of the graph.
func (g *Graph) Shape(r Ref) []int { return g.shapes[r.slot] }

// Call adds a call of l on in, whose outputs have the given static shapes.
func (g *Graph) Call(l Layer, in []Ref, outShapes [][]int) []Ref {
	n := node{layer: l}
	var inbound []string
	var sources []TensorSource
	for _, r := range in {
		if r.slot < 0 || r.slot >= len(g.shapes) {
			panic("runtime: Call with a Ref from another graph")
		}
		n.in = append(n.in, r.slot)
		inbound = append(inbound, g.owner[r.slot])
		sources = append(sources, g.source[r.slot])
	}
	if !g.seen[l] {
		g.seen[l] = true
		info := LayerInfo{Name: l.Name(), Class: l.Class(), OutShapes: outShapes, Inbound: inbound}
		if pc, ok := l.(ParamCounter); ok {
			info.Params = pc.Params()
		}
		if nc, ok := l.(NonTrainableCounter); ok {
			info.NonTrainable = min(nc.NonTrainableParams(), info.Params)
		}
		g.infoAt[l] = len(g.layers)
		g.layers = append(g.layers, info)
	}
	info := &g.layers[g.infoAt[l]]
	call := len(info.Calls)
	if call > 0 && !sameShapes(info.OutShapes, outShapes) {
		info.MultipleShapes = true
	}
	info.Calls = append(info.Calls, sources)
	outs := make([]Ref, len(outShapes))
	for i, s := range outShapes {
		outs[i] = g.newSlot(s, TensorSource{Layer: l.Name(), Node: call, Tensor: i})
		n.out = append(n.out, outs[i].slot)
	}
	g.nodes = append(g.nodes, n)
	return outs
}

func sameShapes(a, b [][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// Output marks r as a model output with the given name.
func (g *Graph) Output(name string, r Ref) {
	g.outputs = append(g.outputs, IO{Name: name, Shape: append([]int(nil), g.shapes[r.slot]...), DType: "float32"})
	g.outSlots = append(g.outSlots, r.slot)
}

// Build returns the immutable model. The graph must not be used afterwards.
func (g *Graph) Build() (*Model, error) {
	if len(g.inputs) == 0 {
		return nil, errors.New("runtime: model has no inputs")
	}
	if len(g.outputs) == 0 {
		return nil, errors.New("runtime: model has no outputs")
	}
	nin := 0
	for i := range g.nodes {
		g.nodes[i].inAt = nin
		nin += len(g.nodes[i].in)
	}
	m := &Model{
		name:   g.Name,
		inputs: g.inputs, inSlots: g.inSlots,
		outputs: g.outputs, outSlots: g.outSlots,
		nodes: g.nodes, nslots: len(g.shapes), layers: g.layers, nested: g.nested,
		dies: deaths(g.nodes, len(g.shapes), g.inSlots, g.outSlots),
		nin:  nin,
	}
	m.runs.New = m.newRun
	return m, nil
}

// deaths returns, for each node, the slots whose tensors are dead once it
// has run: those it reads for the last time and those it makes that nothing
// reads. Model inputs and outputs never die.
func deaths(nodes []node, nslots int, inSlots, outSlots []int) [][]int {
	last := make([]int, nslots) // node index of the last read; -1: none
	keep := make([]bool, nslots)
	for i := range last {
		last[i] = -1
	}
	for _, s := range inSlots {
		keep[s] = true
	}
	for _, s := range outSlots {
		keep[s] = true
	}
	for ni, n := range nodes {
		for _, s := range n.in {
			last[s] = ni
		}
	}
	dies := make([][]int, len(nodes))
	for ni, n := range nodes {
		for _, s := range n.out {
			if last[s] < 0 && !keep[s] {
				dies[ni] = append(dies[ni], s)
			}
		}
	}
	for s, ni := range last {
		if ni >= 0 && !keep[s] {
			dies[ni] = append(dies[ni], s)
		}
	}
	return dies
}

// Model is an immutable, executable model graph. Predict is safe for
// concurrent use.
type Model struct {
	name     string
	inputs   []IO
	inSlots  []int
	outputs  []IO
	outSlots []int
	nodes    []node
	nslots   int
	layers   []LayerInfo
	nested   []NestedModel
	dies     [][]int // per node: slots dead after it (see deaths)
	nin      int     // the nodes' inputs, all counted
	runs     freelist.List[runState]
}

// Name is the model's name.
func (m *Model) Name() string { return m.name }

// NestedModels lists the models used as layers of the model (not those
// nested deeper), in model order. Their layers appear in Layers with the
// nested model's name and a "/" before their own.
func (m *Model) NestedModels() []NestedModel { return append([]NestedModel(nil), m.nested...) }

// Params is the number of weights of all layers together.
func (m *Model) Params() int {
	n := 0
	for _, l := range m.layers {
		n += l.Params
	}
	return n
}

// NonTrainableParams is the part of Params that Keras counts as
// non-trainable (see LayerInfo.NonTrainable).
func (m *Model) NonTrainableParams() int {
	n := 0
	for _, l := range m.layers {
		n += l.NonTrainable
	}
	return n
}

// Inputs describes the model inputs, in order.
func (m *Model) Inputs() []IO { return cloneIO(m.inputs) }

// Outputs describes the model outputs, in order.
func (m *Model) Outputs() []IO { return cloneIO(m.outputs) }

// Layers describes the model layers in Keras order.
func (m *Model) Layers() []LayerInfo {
	out := make([]LayerInfo, len(m.layers))
	copy(out, m.layers)
	return out
}

func cloneIO(s []IO) []IO {
	out := make([]IO, len(s))
	for i, io := range s {
		out[i] = IO{Name: io.Name, Shape: append([]int(nil), io.Shape...), DType: io.DType}
	}
	return out
}

// Predict runs the model on one tensor per input, in input order, and returns
// one tensor per output. Input shapes are checked against the model before
// anything runs.
func (m *Model) Predict(inputs ...*Tensor) ([]*Tensor, error) {
	return m.PredictContext(context.Background(), inputs...)
}

// PredictContext is Predict with cancellation: it stops between layers, and
// recurrent layers check ctx between time steps, once ctx is done.
func (m *Model) PredictContext(ctx context.Context, inputs ...*Tensor) ([]*Tensor, error) {
	return m.predict(ctx, nil, inputs)
}

// predict runs the plan. A non-nil session runs its stateful layers from
// its states and collects their final states.
func (m *Model) predict(ctx context.Context, sess *sessionRun, inputs []*Tensor) ([]*Tensor, error) {
	return m.run(ctx, sess, inputs, nil)
}

// run is predict with a tracer: a non-nil trace sees the inputs and the
// outputs of each node, by index, before any of them can be recycled (see
// trace.go).
func (m *Model) run(ctx context.Context, sess *sessionRun, inputs []*Tensor, trace func(ni int, in, out []*Tensor)) ([]*Tensor, error) {
	if err := m.checkInputs(inputs); err != nil {
		return nil, err
	}
	rs := m.runs.Get()
	defer m.putRun(rs)
	slots := rs.slots
	for i, s := range m.inSlots {
		slots[s] = inputs[i]
	}
	for ni, n := range m.nodes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		in := rs.in[n.inAt : n.inAt+len(n.in) : n.inAt+len(n.in)]
		for i, s := range n.in {
			in[i] = slots[s]
		}
		out, err := runNode(ctx, sess, ni, n.layer, in)
		if err != nil {
			return nil, m.blameInputs(n, err)
		}
		if len(out) != len(n.out) {
			return nil, fmt.Errorf("runtime: layer %q (%s) returned %d outputs, want %d", n.layer.Name(), n.layer.Class(), len(out), len(n.out))
		}
		for i, s := range n.out {
			slots[s] = out[i]
		}
		if trace != nil {
			trace(ni, in, out)
		}
		for _, s := range m.dies[ni] {
			recycle(slots, s, inputs, sess)
		}
	}
	res := make([]*Tensor, len(m.outSlots))
	for i, s := range m.outSlots {
		res[i] = m.own(slots[s], inputs, res[:i])
	}
	return res, nil
}

// runState is the scratch of one predict call: the tensor in each slot and
// the input list of each node (at node.inAt). Models keep them in a pool.
type runState struct {
	slots []*Tensor
	in    []*Tensor
}

func (m *Model) newRun() *runState {
	return &runState{slots: make([]*Tensor, m.nslots), in: make([]*Tensor, m.nin)}
}

// putRun clears rs, so that the pool holds no tensor, and gives it back.
func (m *Model) putRun(rs *runState) {
	clear(rs.slots)
	clear(rs.in)
	m.runs.Put(rs)
}

// blameInputs names the model inputs that feed node n directly in err: a
// layer that reads a model input fails on bad data in it (a token id out
// of range for an Embedding, say), and the caller must learn which input
// and what shape it takes. Cancellation errors are returned as they are.
func (m *Model) blameInputs(n node, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var names []string
	first := -1
	for _, s := range n.in {
		for i, is := range m.inSlots {
			if is == s {
				names = append(names, fmt.Sprintf("%q (shape %s)", m.inputs[i].Name, FormatShape(m.inputs[i].Shape)))
				if first < 0 {
					first = i
				}
			}
		}
	}
	if len(names) == 0 {
		return err
	}
	msg := fmt.Sprintf("runtime: input %s: %v", strings.Join(names, ", "), err)
	if errors.Is(err, ErrInvalidInput) {
		// The layer found bad data in a model input (a token id out of
		// range): the caller's fault, reported against that input.
		ie := &InputError{Input: m.inputs[first].Name, Want: "shape " + FormatShape(m.inputs[first].Shape), Err: err, msg: msg}
		var inner *InputError
		if errors.As(err, &inner) {
			ie.Want, ie.Got = inner.Want, inner.Got
		}
		return ie
	}
	return fmt.Errorf("runtime: input %s: %w", strings.Join(names, ", "), err)
}

// own returns t such that the caller owns it outright: a copy when t is an
// input or an output already returned, or when its data is shared with one
// (layers such as Dropout or Flatten hand back their input's memory), and
// t with a copy of its mask when only the mask is shared (two outputs with
// the mask of one input, say).
func (m *Model) own(t *Tensor, inputs, prev []*Tensor) *Tensor {
	copyAll, copyMask := false, false
	for _, xs := range [2][]*Tensor{inputs, prev} {
		for _, x := range xs {
			copyAll = copyAll || x == t || overlaps(t.Data, x.Data)
			copyMask = copyMask || overlapsMask(t.Mask, x.Mask)
		}
	}
	switch {
	case copyAll:
		c := Empty(t.Shape...)
		copy(c.Data, t.Data)
		c.Mask = t.Mask
		t = c
	case !copyMask:
		return t
	}
	if t.Mask != nil {
		mask := MaskBuffer(len(t.Mask))
		copy(mask, t.Mask)
		t.Mask = mask
	}
	return t
}

// recycle empties the dead slot s and gives the data and the mask of its
// tensor back to the pools unless another slot still holds them (a view,
// the same tensor, a mask passed on) or they belong to an input, and its
// header (see header.go) unless a live tensor, an input or a session state
// is it or holds its Shape.
func recycle(slots []*Tensor, s int, inputs []*Tensor, sess *sessionRun) {
	t := slots[s]
	slots[s] = nil
	if t == nil {
		return
	}
	data, mask, header := liveParts(t, slots, inputs)
	if cap(t.Data) > 0 && !data {
		PutBuffer(t.Data)
	}
	if cap(t.Mask) > 0 && !mask {
		PutMask(t.Mask)
	}
	if t.recyclable && !header && !sess.holds(t) {
		putHeader(t)
	}
}

// liveParts reports whether a live slot or an input (nil entries are
// skipped) still uses t's data array, its mask array or its header (is t,
// or holds its Shape).
func liveParts(t *Tensor, slots, inputs []*Tensor) (data, mask, header bool) {
	allData, allMask := t.Data[:cap(t.Data)], t.Mask[:cap(t.Mask)]
	for _, xs := range [2][]*Tensor{inputs, slots} {
		for _, x := range xs {
			if x != nil {
				data = data || overlaps(allData, x.Data)
				mask = mask || overlapsMask(allMask, x.Mask)
				header = header || sharesHeader(t, x)
			}
		}
	}
	return data, mask, header
}

func overlaps(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return pa < pb+uintptr(len(b))*4 && pb < pa+uintptr(len(a))*4
}

func overlapsMask(a, b []bool) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return pa < pb+uintptr(len(b)) && pb < pa+uintptr(len(a))
}

// ContextLayer is implemented by layers with long loops that honour
// cancellation.
type ContextLayer interface {
	ForwardContext(ctx context.Context, in []*Tensor) ([]*Tensor, error)
}

// runNode runs one layer call. A panic in the layer, which is a bug in it
// that some data reached, is returned as an *InternalError naming the layer
// rather than taking down the process that serves the model.
func runNode(ctx context.Context, sess *sessionRun, ni int, l Layer, in []*Tensor) (out []*Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &InternalError{Layer: l.Name(), Class: l.Class(), Value: r,
				msg: fmt.Sprintf("runtime: layer %q (%s) failed on inputs of shape %s: %v (a kerasrun bug; please report it)", l.Name(), l.Class(), shapesOf(in), r)}
		}
	}()
	if sess != nil {
		return sess.forward(ctx, ni, l, in)
	}
	return forward(ctx, l, in)
}

func shapesOf(in []*Tensor) string {
	parts := make([]string, len(in))
	for i, t := range in {
		if t != nil {
			parts[i] = fmt.Sprint(t.Shape)
		}
	}
	return strings.Join(parts, ", ")
}

func forward(ctx context.Context, l Layer, in []*Tensor) ([]*Tensor, error) {
	if cl, ok := l.(ContextLayer); ok {
		return cl.ForwardContext(ctx, in)
	}
	return l.Forward(in)
}

// shapeText prints a shape as FormatShape does, when it is printed: an
// error message built from it costs nothing until there is an error.
type shapeText []int

func (s shapeText) String() string { return FormatShape(s) }

// checkInputs checks the inputs against the model before anything runs.
// Every error is an *InputError that names the input and its expected
// shape.
func (m *Model) checkInputs(inputs []*Tensor) error {
	if len(inputs) != len(m.inputs) {
		return inputErrorf("", fmt.Sprintf("%d input(s)", len(m.inputs)), fmt.Sprintf("%d input(s)", len(inputs)),
			"runtime: model takes %d input(s) (%s), got %d", len(m.inputs), ioNames(m.inputs), len(inputs))
	}
	batch := -1
	for i, t := range inputs {
		spec := m.inputs[i]
		want := shapeText(spec.Shape) // formatted only for an error
		if t == nil {
			return inputErrorf(spec.Name, "shape "+want.String(), "nil", "runtime: input %q is nil, want a tensor of shape %s", spec.Name, want)
		}
		if n, ok := checkedElements(t.Shape); !ok || n != len(t.Data) {
			return inputErrorf(spec.Name, "shape "+want.String(), fmt.Sprintf("shape %v with %d values", t.Shape, len(t.Data)),
				"runtime: input %q has shape %v but %d values (want shape %s)", spec.Name, t.Shape, len(t.Data), want)
		}
		// Keras: predict does not check the batch axis, even when the
		// model declares a fixed batch size.
		if len(t.Shape) != len(spec.Shape) {
			return inputErrorf(spec.Name, "shape "+want.String(), fmt.Sprintf("shape %v", t.Shape),
				"runtime: input %q has rank %d (shape %v), want rank %d: shape %s", spec.Name, len(t.Shape), t.Shape, len(spec.Shape), want)
		}
		if len(t.Shape) > 0 && !ShapeMatches(spec.Shape[1:], t.Shape[1:]) {
			return inputErrorf(spec.Name, "shape "+want.String(), fmt.Sprintf("shape %v", t.Shape),
				"runtime: input %q has shape %v, want %s", spec.Name, t.Shape, want)
		}
		if len(t.Shape) > 0 {
			if t.Shape[0] == 0 {
				return inputErrorf(spec.Name, "shape "+want.String(), fmt.Sprintf("shape %v", t.Shape),
					"runtime: input %q has an empty batch (shape %v), want at least one sample of shape %s", spec.Name, t.Shape, want)
			}
			if batch >= 0 && t.Shape[0] != batch {
				return inputErrorf(spec.Name, fmt.Sprintf("batch size %d", batch), fmt.Sprintf("batch size %d", t.Shape[0]),
					"runtime: input %q has batch size %d, but an earlier input has %d (want shape %s)", spec.Name, t.Shape[0], batch, want)
			}
			batch = t.Shape[0]
		}
		if t.Mask != nil && (len(t.Shape) < 2 || len(t.Mask) != t.Shape[0]*t.Shape[1]) {
			return inputErrorf(spec.Name, "a mask over the batch and time axes", fmt.Sprintf("a mask of %d values for shape %v", len(t.Mask), t.Shape),
				"runtime: input %q has shape %v and a mask of %d values; a mask covers the batch and time axes (%s)", spec.Name, t.Shape, len(t.Mask), want)
		}
		if isIntegerDType(spec.DType) {
			// Keras: feeding floats to an integer input casts them
			// (truncating); kerasrun refuses values that are not integers
			// instead of guessing.
			for j, v := range t.Data {
				if v != float32(math.Trunc(float64(v))) || math.IsInf(float64(v), 0) {
					return inputErrorf(spec.Name, spec.DType+" values (integers)", fmt.Sprintf("value %v at index %d", v, j),
						"runtime: input %q is %s (shape %s), but value %v at index %d is not an integer", spec.Name, spec.DType, want, v, j)
				}
			}
		}
	}
	return nil
}

// checkedElements returns the product of the dimensions of shape, and
// false when a dimension is negative or the product overflows.
func checkedElements(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// isIntegerDType reports whether a Keras input dtype is an integer type.
func isIntegerDType(dtype string) bool {
	return strings.HasPrefix(dtype, "int") || strings.HasPrefix(dtype, "uint")
}

func ioNames(s []IO) string {
	out := ""
	for i, io := range s {
		if i > 0 {
			out += ", "
		}
		out += io.Name + " " + FormatShape(io.Shape)
	}
	return out
}
