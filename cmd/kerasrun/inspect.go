package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kerasrun/kerasrun/importer"
	"github.com/kerasrun/kerasrun/runtime"
)

// errUnsupported ends an inspect that found problems: exit status 1.
var errUnsupported = errors.New("unsupported")

const inspectUsage = `usage: kerasrun inspect MODEL.h5 [--arch ARCH.json]

Show the file without building the model: Keras version, backend, the
layer tree, every stored weight with its shape and dtype, and every
unsupported layer or option. Exits 0 when everything is supported and 1
otherwise.

--arch ARCH.json: MODEL.h5 holds weights only (model.save_weights); its
architecture is the JSON of model.to_json().
`

func cmdInspect(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	arch := fs.String("arch", "", "architecture JSON (model.to_json()) for a weights-only MODEL.h5")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("takes one model file, got %d arguments", len(pos))
	}
	var r *importer.Report
	if *arch != "" {
		js, err := os.ReadFile(*arch)
		if err != nil {
			return err
		}
		r, err = importer.InspectWeights(js, pos[0])
		if err != nil {
			return err
		}
	} else if r, err = importer.Inspect(pos[0]); err != nil {
		return err
	}
	writeReport(stdout, r)
	if !r.Supported() {
		return fmt.Errorf("%s: %d problem(s), listed above: kerasrun cannot load this model: %w", pos[0], len(r.Problems), errUnsupported)
	}
	return nil
}

// writeReport prints an inspect report: the file's facts, the layer tree
// with each layer's stored weights, the weight groups of a weights-only
// file, and every problem.
func writeReport(w io.Writer, r *importer.Report) {
	fmt.Fprintf(w, "file:     %s (%s)\n", r.Path, r.Format)
	version := r.KerasVersion
	if version == "" {
		version = "not recorded (Keras 1)"
	}
	fmt.Fprintf(w, "keras:    %s\n", version)
	backend := r.Backend
	if backend == "" {
		backend = "not recorded"
	}
	if r.BackendNote != "" {
		backend += " (" + r.BackendNote + ")"
	}
	fmt.Fprintf(w, "backend:  %s\n", backend)
	if r.ModelClass != "" {
		fmt.Fprintf(w, "model:    %s %q\n", r.ModelClass, r.ModelName)
	}
	if len(r.Layers) > 0 {
		fmt.Fprintln(w, "\nlayers:")
		for _, l := range r.Layers {
			writeLayer(w, l, 1)
		}
	}
	// A Keras 3 file binds each layer's variables by its path, shown
	// with the layer above; a legacy weights file binds by position.
	if r.Format != "full model" && !strings.HasPrefix(r.Format, "Keras 3") && len(r.Groups) > 0 {
		fmt.Fprintln(w, "\nweights, by layer group of the file (bound to the layers by position):")
		for _, g := range r.Groups {
			fmt.Fprintf(w, "  %s\n", g.Name)
			writeWeights(w, g, 2)
		}
	}
	fmt.Fprintln(w)
	if r.Supported() {
		fmt.Fprintln(w, "supported: every layer and option")
		return
	}
	fmt.Fprintf(w, "unsupported: %d problem(s)\n", len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %v\n", p)
	}
}

func writeLayer(w io.Writer, l *importer.LayerReport, depth int) {
	ind := strings.Repeat("  ", depth)
	role := ""
	if l.Role != "" {
		role = l.Role + ": "
	}
	class := l.Class
	if l.ReadAs != "" {
		class += ", read as " + l.ReadAs
	}
	line := fmt.Sprintf("%s%s%s (%s)", ind, role, l.Name, class)
	if l.Shape != nil {
		line += " " + runtime.FormatShape(l.Shape)
	}
	if len(l.Problems) > 0 {
		line += "  [unsupported]"
	}
	fmt.Fprintln(w, line)
	if l.Group != nil {
		writeWeights(w, l.Group, depth+2)
	}
	for _, c := range l.Children {
		writeLayer(w, c, depth+1)
	}
}

func writeWeights(w io.Writer, g *importer.GroupReport, depth int) {
	ind := strings.Repeat("  ", depth)
	for _, wt := range g.Weights {
		fmt.Fprintf(w, "%s%-40s %-16s %s\n", ind, wt.Name, runtime.FormatShape(wt.Shape), wt.DType)
	}
}
