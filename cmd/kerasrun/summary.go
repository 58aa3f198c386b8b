package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/kerasrun/kerasrun/runtime"
)

const summaryUsage = `usage: kerasrun summary MODEL.h5 [--arch ARCH.json] [--line-length N]

Print the model as Keras 2's model.summary() prints it: each layer with its
output shape and parameter count, a "Connected to" column for a model that
is not a single chain of layers, and the total, trainable and non-trainable
parameter counts. The model's inputs and outputs follow, after a blank line.

A model nested in the model has one row, as in Keras. Columns widen to fit
the longest name, so nothing is cut. --line-length N
prints at Keras's column positions for lines of N characters instead,
cutting long fields as Keras does (model.summary(line_length=N)); Keras's
default is 65 for a chain of layers and 98 otherwise.
`

// summaryOptions shape the table.
type summaryOptions struct {
	// lineLength > 0 places the columns as Keras does for lines of that
	// length and cuts long fields; 0 widens the columns to fit.
	lineLength int
}

// writeSummary prints a model the way Keras 2's print_summary does
// (keras/utils/layer_utils.py, Keras 2.3 and tf.keras 2.0-2.4), followed
// by the model's inputs and outputs.
//
// Keras: the rows' parameter counts have no thousands separators and the
// totals have them; every line is padded to its last column; a model that
// is not a chain of single-input layers, each called once, gets a
// "Connected to" column listing each input of each call as
// layer[node][tensor], one per line. Keras 2.2.4 and older print no
// "Model:" line; it is always printed here. tf.keras shows an InputLayer's
// shape as a list, [(None, 4)]; it is shown as Keras 2.3 shows it, (None, 4).
// A nested model has one row, as in Keras (collapseNested). Keras cuts a
// field to its column; by default the columns widen to fit instead (see
// summaryOptions).
func writeSummary(w io.Writer, m *runtime.Model, opts summaryOptions) {
	ls := collapseNested(m.Layers(), m.NestedModels())
	nested := map[string]bool{}
	for _, n := range m.NestedModels() {
		nested[n.Name] = true
	}
	seq := sequentialLike(ls)
	header := []string{"Layer (type)", "Output Shape", "Param #"}
	fractions := []float64{.45, .85, 1}
	lineLength := 65
	if !seq {
		header = append(header, "Connected to")
		fractions = []float64{.33, .55, .67, 1}
		lineLength = 98
	}
	// Each layer's rows: one, or one per connection after the first.
	groups := make([][][]string, len(ls))
	for i, l := range ls {
		shape := "multiple"
		if !l.MultipleShapes {
			shape = pyShapes(l.OutShapes)
		}
		row := []string{l.Name + " (" + l.Class + ")", shape, strconv.Itoa(l.Params)}
		if seq {
			groups[i] = [][]string{row}
			continue
		}
		conns := []string{""}
		for _, call := range l.Calls {
			for _, src := range call {
				node := src.Node
				if nested[src.Layer] {
					// Keras: print_summary names a tensor by its raw node
					// index, and a model built on its own Input has node 0
					// from that construction: its first call in the outer
					// model is node 1.
					node++
				}
				conns = append(conns, fmt.Sprintf("%s[%d][%d]", src.Layer, node, src.Tensor))
			}
		}
		if len(conns) > 1 {
			conns = conns[1:]
		}
		groups[i] = [][]string{append(row, conns[0])}
		for _, c := range conns[1:] {
			groups[i] = append(groups[i], []string{"", "", "", c})
		}
	}
	if opts.lineLength > 0 {
		lineLength = opts.lineLength
	}
	pos := make([]int, len(fractions))
	for i, f := range fractions {
		pos[i] = int(float64(lineLength) * f)
	}
	if opts.lineLength == 0 {
		pos = fitPositions(pos, header, groups)
		lineLength = pos[len(pos)-1]
	}
	line, dline := strings.Repeat("_", lineLength), strings.Repeat("=", lineLength)

	fmt.Fprintf(w, "Model: %q\n%s\n", m.Name(), line)
	fmt.Fprintln(w, kerasRow(header, pos))
	fmt.Fprintln(w, dline)
	for i, g := range groups {
		for _, r := range g {
			fmt.Fprintln(w, kerasRow(r, pos))
		}
		if i == len(groups)-1 {
			fmt.Fprintln(w, dline)
		} else {
			fmt.Fprintln(w, line)
		}
	}
	total, frozen := m.Params(), m.NonTrainableParams()
	fmt.Fprintf(w, "Total params: %s\n", thousands(total))
	fmt.Fprintf(w, "Trainable params: %s\n", thousands(total-frozen))
	fmt.Fprintf(w, "Non-trainable params: %s\n", thousands(frozen))
	fmt.Fprintln(w, line)
	fmt.Fprintln(w)
	for _, in := range m.Inputs() {
		fmt.Fprintf(w, "Input:  %s %s %s\n", in.Name, runtime.FormatShape(in.Shape), in.DType)
	}
	for _, out := range m.Outputs() {
		fmt.Fprintf(w, "Output: %s %s\n", out.Name, runtime.FormatShape(out.Shape))
	}
}

// kerasRow lays fields out as Keras's print_row does: field i ends at
// column pos[i] and is cut there, and the last character before each
// later field becomes a space.
func kerasRow(fields []string, pos []int) string {
	line := ""
	for i, f := range fields {
		if i > 0 {
			line = line[:len(line)-1] + " "
		}
		line += f
		if len(line) > pos[i] {
			line = line[:pos[i]]
		}
		line += strings.Repeat(" ", pos[i]-len(line))
	}
	return line
}

// fitPositions moves column ends right so that every field fits: a field
// other than the last needs one more column for the space after it.
func fitPositions(pos []int, header []string, groups [][][]string) []int {
	widths := make([]int, len(pos))
	for i := range pos {
		start := 0
		if i > 0 {
			start = pos[i-1]
		}
		widths[i] = pos[i] - start
	}
	fit := func(r []string) {
		for i, f := range r {
			need := len(f)
			if i < len(r)-1 {
				need++
			}
			widths[i] = max(widths[i], need)
		}
	}
	fit(header)
	for _, g := range groups {
		for _, r := range g {
			fit(r)
		}
	}
	out := make([]int, len(pos))
	end := 0
	for i, wd := range widths {
		end += wd
		out[i] = end
	}
	return out
}

// sequentialLike says whether Keras prints the model without a
// "Connected to" column. Keras: a model is sequential-like when every
// depth of its graph holds one node, no node reads more than one tensor,
// and no layer has two nodes in it (print_summary's test over
// _nodes_by_depth). A node's depth is the longest path from it to an
// output, and a model input is a node. Sequential models pass the test.
func sequentialLike(ls []runtime.LayerInfo) bool {
	type key struct {
		layer string
		node  int
	}
	// Every node, the nodes reading its outputs, and the inputs of models
	// whose InputLayer is not listed.
	readers := map[key][]key{}
	var nodes []key
	add := func(k key) {
		if _, ok := readers[k]; !ok {
			readers[k] = nil
			nodes = append(nodes, k)
		}
	}
	for _, l := range ls {
		if len(l.Calls) == 0 {
			add(key{l.Name, 0})
		}
		if len(l.Calls) > 1 {
			return false
		}
		for ci, call := range l.Calls {
			if len(call) > 1 {
				return false
			}
			k := key{l.Name, ci}
			add(k)
			for _, src := range call {
				s := key{src.Layer, src.Node}
				add(s)
				readers[s] = append(readers[s], k)
			}
		}
	}
	depth := map[key]int{}
	var depthOf func(k key, seen int) int
	depthOf = func(k key, seen int) int {
		if d, ok := depth[k]; ok {
			return d
		}
		if seen > len(nodes) { // a cycle, which Build refuses
			return 0
		}
		d := 0
		for _, r := range readers[k] {
			d = max(d, depthOf(r, seen+1)+1)
		}
		depth[k] = d
		return d
	}
	used := map[int]bool{}
	for _, k := range nodes {
		d := depthOf(k, 0)
		if used[d] {
			return false
		}
		used[d] = true
	}
	return true
}

// pyShapes prints output shapes as Python prints Keras's output_shape: a
// tuple, or a list of tuples for a layer with several outputs.
func pyShapes(shapes [][]int) string {
	if len(shapes) == 1 {
		return runtime.FormatShape(shapes[0])
	}
	parts := make([]string, len(shapes))
	for i, s := range shapes {
		parts[i] = runtime.FormatShape(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// thousands formats n with commas between groups of three digits, as
// Python's "{:,}" does.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// collapseNested gives each model nested in the model one row, as Keras's
// summary does: its name and class, the shapes of its outputs, the
// parameters of all its layers and the tensors from outside it that it
// reads. A layer that reads a nested layer's output reads the nested
// model's output instead, at the output's place among the nested model's
// outputs (those read outside it, in order of first reading; a nested
// model that nothing reads, the last in a model, gives its last layer's
// outputs).
//
// A nested model called more than once is shown as one call.
func collapseNested(ls []runtime.LayerInfo, nested []runtime.NestedModel) []runtime.LayerInfo {
	if len(nested) == 0 {
		return ls
	}
	class := map[string]string{}
	for _, n := range nested {
		class[n.Name] = n.Class
	}
	groupOf := func(name string) string {
		if i := strings.IndexByte(name, '/'); i > 0 {
			if _, ok := class[name[:i]]; ok {
				return name[:i]
			}
		}
		return ""
	}
	byName := map[string]runtime.LayerInfo{}
	for _, l := range ls {
		byName[l.Name] = l
	}
	// The nested models' outputs: the inner tensors read from outside.
	outputs := map[string][]runtime.TensorSource{}
	outIndex := map[runtime.TensorSource]int{}
	for _, l := range ls {
		for _, call := range l.Calls {
			for _, src := range call {
				g := groupOf(src.Layer)
				if g == "" || g == groupOf(l.Name) {
					continue
				}
				if _, ok := outIndex[src]; !ok {
					outIndex[src] = len(outputs[g])
					outputs[g] = append(outputs[g], src)
				}
			}
		}
	}
	rename := func(src runtime.TensorSource) runtime.TensorSource {
		if g := groupOf(src.Layer); g != "" {
			return runtime.TensorSource{Layer: g, Tensor: outIndex[src]}
		}
		return src
	}
	var out []runtime.LayerInfo
	at := map[string]int{}
	last := map[string]string{}
	for _, l := range ls {
		g := groupOf(l.Name)
		if g == "" {
			c := l
			c.Calls = make([][]runtime.TensorSource, len(l.Calls))
			for i, call := range l.Calls {
				for _, src := range call {
					c.Calls[i] = append(c.Calls[i], rename(src))
				}
			}
			out = append(out, c)
			continue
		}
		i, ok := at[g]
		if !ok {
			i = len(out)
			at[g] = i
			out = append(out, runtime.LayerInfo{Name: g, Class: class[g], Calls: [][]runtime.TensorSource{nil}})
		}
		last[g] = l.Name
		r := &out[i]
		r.Params += l.Params
		r.NonTrainable += l.NonTrainable
		for _, call := range l.Calls {
			for _, src := range call {
				if groupOf(src.Layer) == g {
					continue
				}
				src = rename(src)
				if !slices.Contains(r.Calls[0], src) {
					r.Calls[0] = append(r.Calls[0], src)
				}
			}
		}
	}
	for g, i := range at {
		if outs := outputs[g]; len(outs) > 0 {
			for _, src := range outs {
				if s := byName[src.Layer].OutShapes; src.Tensor < len(s) {
					out[i].OutShapes = append(out[i].OutShapes, s[src.Tensor])
				}
			}
		} else {
			out[i].OutShapes = byName[last[g]].OutShapes
		}
	}
	return out
}
