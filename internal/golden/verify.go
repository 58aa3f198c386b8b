package golden

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/runtime"
)

// Activation is one layer output recorded by Keras: output Output (0 for
// a layer with one output) of the first call of layer Layer in the model.
// Layer is the Keras layer name; for a nested model it is the nested
// model's name, and the output is the nested model's output.
type Activation struct {
	Layer  string `json:"layer"`
	Class  string `json:"class,omitempty"`
	Output int    `json:"output"`
	File   string `json:"file"`
	DType  string `json:"dtype,omitempty"`
	Shape  []int  `json:"shape"`
}

// Default tolerances, for a case whose manifest gives neither atol nor
// rtol: kerasrun's float32 contract (1e-5 absolute, 1e-4 relative).
const (
	DefaultAtol = 1e-5
	DefaultRtol = 1e-4
)

// Tolerance returns the case's atol and rtol, or the defaults when the
// manifest sets neither.
func (c *Case) Tolerance() (atol, rtol float64) {
	if c.Atol == 0 && c.Rtol == 0 {
		return DefaultAtol, DefaultRtol
	}
	return c.Atol, c.Rtol
}

// Find returns the case of dir for model. dir is either a folder with a
// MANIFEST.json or a case folder whose parent has one. In a manifest of
// several cases, the case is the one named id, or else the one whose model
// file is model; a manifest of one case needs neither.
func Find(dir, model, id string) (*Case, error) {
	cases, err := Load(dir)
	if errors.Is(err, fs.ErrNotExist) {
		parent := filepath.Dir(filepath.Clean(dir))
		if pc, perr := Load(parent); perr == nil {
			if id == "" {
				id = filepath.Base(filepath.Clean(dir))
			}
			cases = pc
			err = nil
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("golden: no MANIFEST.json in %s or its parent", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	var ids []string
	for i := range cases {
		c := &cases[i]
		if id != "" && c.ID == id {
			return c, nil
		}
		ids = append(ids, c.ID)
	}
	if id != "" {
		return nil, fmt.Errorf("golden: no case %q in %s (cases: %s)", id, dir, clipList(ids))
	}
	if len(cases) == 1 {
		return &cases[0], nil
	}
	if mi, err := os.Stat(model); err == nil {
		for i := range cases {
			if ci, err := os.Stat(cases[i].Model()); err == nil && os.SameFile(mi, ci) {
				return &cases[i], nil
			}
		}
	}
	return nil, fmt.Errorf("golden: %s holds %d cases and none has the model file %s; name one (cases: %s)", dir, len(cases), model, clipList(ids))
}

func clipList(ids []string) string {
	if len(ids) > 8 {
		return strings.Join(ids[:8], ", ") + fmt.Sprintf(", ... (%d more)", len(ids)-8)
	}
	return strings.Join(ids, ", ")
}

// Diff is how far one tensor is from its reference.
type Diff struct {
	// Name is the output's name, or the layer's.
	Name string
	// Class is the layer's class (layers only).
	Class string
	// Index is the output's position among the model outputs, or among the
	// layer's outputs.
	Index int
	// MaxAbs is the largest |got - want|; MaxRel the largest
	// |got - want| / |want| over the elements where want is not 0 (as
	// numpy's assert_allclose reports them). A NaN on one side only counts
	// as an infinite difference.
	MaxAbs, MaxRel float64
	// OK reports whether every element satisfies
	// |got - want| <= atol + rtol*|want|, with NaN matching NaN only.
	OK bool
	// Problem, when not "", is why the tensors were not compared element
	// by element (their shapes differ, say); OK is then false.
	Problem string
	// Chain lists the pass-through layers after this one, each the only
	// reader of the one before (see Verify): identities, or layers that
	// kerasrun computes inside this one (load-time fusion).
	Chain []string
	// FusedInto, when not "", names a layer of Chain that matches Keras
	// although this one does not: this layer's own output was fused away,
	// so it does not count as diverging.
	FusedInto string
}

func (d Diff) String() string {
	name := d.Name
	if d.Class != "" {
		name = fmt.Sprintf("%s (%s)", d.Name, d.Class)
	}
	if d.Problem != "" {
		return name + ": " + d.Problem
	}
	s := fmt.Sprintf("%s: max abs error %.3g, max rel error %.3g", name, d.MaxAbs, d.MaxRel)
	if len(d.Chain) > 0 {
		s += fmt.Sprintf(" (its output also stands for the pass-through layers after it: %s)", clipList(d.Chain))
	}
	return s
}

// Measure compares got with want elementwise.
func Measure(got, want *runtime.Tensor, atol, rtol float64) Diff {
	if !slices.Equal(got.Shape, want.Shape) {
		return Diff{Problem: fmt.Sprintf("shape %s, want %s", runtime.FormatShape(got.Shape), runtime.FormatShape(want.Shape))}
	}
	d := Diff{OK: true}
	for i := range want.Data {
		g, w := float64(got.Data[i]), float64(want.Data[i])
		e := math.Abs(g - w)
		switch {
		case math.IsNaN(g) && math.IsNaN(w):
			continue
		case math.IsNaN(e):
			e = math.Inf(1)
		}
		if !(e <= atol+rtol*math.Abs(w)) {
			d.OK = false
		}
		d.MaxAbs = math.Max(d.MaxAbs, e)
		if w != 0 {
			d.MaxRel = math.Max(d.MaxRel, e/math.Abs(w))
		}
	}
	return d
}

// Report is the result of Verify.
type Report struct {
	Case       *Case
	Atol, Rtol float64
	// Outputs has one entry per model output.
	Outputs []Diff
	// Layers has one entry per activation of the case found in the model,
	// in the order the model ran the layers.
	Layers []Diff
	// Unmatched lists the activations of the case that no layer of the
	// model produces (a layer the importer folds into another, say).
	Unmatched []string
}

// OK reports whether every output is within tolerance.
func (r *Report) OK() bool {
	for _, d := range r.Outputs {
		if !d.OK {
			return false
		}
	}
	return true
}

// FirstDiverging returns the first layer, in the order the model ran
// them, whose output is not within tolerance of Keras's and not explained
// by fusion (Diff.FusedInto), or nil.
func (r *Report) FirstDiverging() *Diff {
	for i := range r.Layers {
		if !r.Layers[i].OK && r.Layers[i].FusedInto == "" {
			return &r.Layers[i]
		}
	}
	return nil
}

// traced is one layer call of a Trace.
type traced struct {
	seq    int // its position among the calls
	name   string
	class  string
	inputs []int
	pass   bool
	outs   []*runtime.Tensor // kept only for calls that an activation may name
}

// Verify runs m on the case's inputs and compares its outputs with the
// case's, and the output of every layer with the case's activations, all
// within atol + rtol*|want|.
//
// Layer names: a layer of m inlined from a nested model is named
// "<model>/<layer>". An activation named after a layer of m is compared
// with the first call of that layer. One named after a nested model is
// compared with the last layer of that model to run in its first call,
// which is its output when it has one; the activation is left out, in
// Unmatched, when that layer's output has another shape.
//
// Fusion: the importer may fold a layer into the layer before it (a
// BatchNormalization or a ReLU into a convolution), which then computes
// both, while the folded layer passes its input through. The first
// layer's output then differs from Keras's own by design. A layer whose
// output is read only by a pass-through layer (runtime.LayerOutput), in a
// chain that reaches a layer matching Keras, is therefore not counted as
// diverging: its Diff names that layer in FusedInto.
func Verify(ctx context.Context, m *runtime.Model, c *Case, atol, rtol float64) (*Report, error) {
	ins, err := c.ReadInputs()
	if err != nil {
		return nil, fmt.Errorf("golden: case %s: %w", c.ID, err)
	}
	if len(c.Outputs) != len(m.Outputs()) {
		return nil, fmt.Errorf("golden: case %s has %d outputs, the model %d", c.ID, len(c.Outputs), len(m.Outputs()))
	}
	wantOut := make([]*runtime.Tensor, len(c.Outputs))
	for k, o := range c.Outputs {
		if o.File == "" {
			return nil, fmt.Errorf("golden: case %s: output %d (%s) has no reference file", c.ID, k, o.Name)
		}
		if wantOut[k], _, err = npyfile.Read(filepath.Join(c.Dir, o.File)); err != nil {
			return nil, fmt.Errorf("golden: case %s: %w", c.ID, err)
		}
	}
	named := map[string]bool{} // the layer names of the activations
	for _, a := range c.Activations {
		named[a.Layer] = true
	}
	var calls []*traced
	first := map[string]*traced{}  // layer name -> its first call
	nested := map[string]*traced{} // nested model name -> its last layer of call 0
	var trace func(runtime.LayerOutput)
	if len(c.Activations) > 0 {
		trace = func(o runtime.LayerOutput) {
			t := &traced{seq: len(calls), name: o.Layer, class: o.Class, inputs: o.Inputs, pass: o.PassThrough}
			calls = append(calls, t)
			if o.Call != 0 {
				return
			}
			keep := named[o.Layer]
			if first[o.Layer] == nil {
				first[o.Layer] = t
			}
			for i := 0; i < len(o.Layer); i++ {
				if o.Layer[i] == '/' && named[o.Layer[:i]] {
					nested[o.Layer[:i]] = t
					keep = true
				}
			}
			if keep {
				t.outs = o.Outputs
			}
		}
	}
	got, err := m.Trace(ctx, ins, trace)
	if err != nil {
		return nil, err
	}
	r := &Report{Case: c, Atol: atol, Rtol: rtol}
	outs := m.Outputs()
	for k := range wantOut {
		d := Measure(got[k], wantOut[k], atol, rtol)
		d.Name, d.Index = outs[k].Name, k
		r.Outputs = append(r.Outputs, d)
	}
	var at []int // the call of each entry of r.Layers
	for _, a := range c.Activations {
		label := a.Layer
		if a.Output != 0 {
			label = fmt.Sprintf("%s[%d]", a.Layer, a.Output)
		}
		t, exact := first[a.Layer], true
		if t == nil {
			t, exact = nested[a.Layer], false
		}
		if t == nil || a.Output < 0 || a.Output >= len(t.outs) || t.outs[a.Output] == nil {
			r.Unmatched = append(r.Unmatched, label)
			continue
		}
		want, _, err := npyfile.Read(filepath.Join(c.Dir, a.File))
		if err != nil {
			return nil, fmt.Errorf("golden: case %s: activation %s: %w", c.ID, label, err)
		}
		g := t.outs[a.Output]
		if !exact && !slices.Equal(g.Shape, want.Shape) {
			r.Unmatched = append(r.Unmatched, label)
			continue
		}
		d := Measure(g, want, atol, rtol)
		d.Name, d.Index = label, a.Output
		if d.Class = a.Class; d.Class == "" {
			d.Class = t.class
		}
		r.Layers = append(r.Layers, d)
		at = append(at, t.seq)
	}
	explainFusion(r.Layers, at, calls)
	sort.Stable(byRun{r.Layers, at})
	return r, nil
}

// explainFusion sets FusedInto and Chain on the layer diffs (made by the
// calls at) whose call heads a chain of pass-through calls, each the only
// reader of the one before it.
func explainFusion(diffs []Diff, at []int, calls []*traced) {
	readers := make([]int, len(calls))
	for _, t := range calls {
		for _, p := range t.inputs {
			if p >= 0 {
				readers[p]++
			}
		}
	}
	next := make([]int, len(calls)) // the pass-through call reading a call's output alone; -1: none
	for i := range next {
		next[i] = -1
	}
	for _, t := range calls {
		if t.pass && len(t.inputs) > 0 && t.inputs[0] >= 0 && readers[t.inputs[0]] == 1 {
			next[t.inputs[0]] = t.seq
		}
	}
	diffAt := map[int]int{} // call -> index in diffs
	for i, s := range at {
		diffAt[s] = i
	}
	for i, s := range at {
		for n := next[s]; n >= 0; n = next[n] {
			diffs[i].Chain = append(diffs[i].Chain, calls[n].name)
			if j, ok := diffAt[n]; ok && diffs[j].OK && diffs[i].FusedInto == "" && !diffs[i].OK {
				diffs[i].FusedInto = calls[n].name
			}
		}
	}
}

// byRun sorts layer diffs by when their layers ran.
type byRun struct {
	d  []Diff
	at []int
}

func (b byRun) Len() int           { return len(b.d) }
func (b byRun) Less(i, j int) bool { return b.at[i] < b.at[j] }
func (b byRun) Swap(i, j int) {
	b.d[i], b.d[j] = b.d[j], b.d[i]
	b.at[i], b.at[j] = b.at[j], b.at[i]
}

// Write prints the report: one line per output, then the first layer
// whose output diverges from Keras's, or how many layers agree.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "case %s: atol %g, rtol %g\n", r.Case.ID, r.Atol, r.Rtol)
	for _, d := range r.Outputs {
		verdict := "ok"
		if !d.OK {
			verdict = "DIFFERS"
		}
		fmt.Fprintf(w, "output %d %s  %s\n", d.Index, d, verdict)
	}
	switch first := r.FirstDiverging(); {
	case len(r.Layers) == 0 && len(r.Case.Activations) == 0:
		fmt.Fprintln(w, "layers: the case has no layer outputs to compare")
	case first != nil:
		fmt.Fprintf(w, "first diverging layer: %s\n", first)
	default:
		fused := 0
		for _, d := range r.Layers {
			if d.FusedInto != "" {
				fused++
			}
		}
		note := ""
		if fused > 0 {
			note = fmt.Sprintf(" (%d fused into a later layer)", fused)
		}
		fmt.Fprintf(w, "layers: %d layer output(s) compared, all within tolerance%s\n", len(r.Layers), note)
	}
	if len(r.Unmatched) > 0 {
		fmt.Fprintf(w, "not compared (no matching layer in the model): %s\n", clipList(r.Unmatched))
	}
}
