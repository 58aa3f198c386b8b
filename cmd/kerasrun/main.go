// Command kerasrun loads Keras .h5 models and runs them, without Python.
//
//	kerasrun predict MODEL.h5 [--arch ARCH.json] --input [NAME=]FILE.npy ... --output OUT
//	kerasrun summary MODEL.h5 [--arch ARCH.json]
//	kerasrun inspect MODEL.h5 [--arch ARCH.json]
//	kerasrun layers
//	kerasrun soak MODEL.h5 [--duration 10m]
//	kerasrun serve --model NAME=MODEL.h5 [--addr :8080]
//
// Errors go to stderr with exit status 1; usage errors exit with 2.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kerasrun/kerasrun/importer"
	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  kerasrun predict MODEL.h5 [--arch ARCH.json] --input [NAME=]FILE.npy ... --output OUT
        OUT is an .npy file for a single-output model, and a directory
        holding <output_name>.npy and <index>.npy (0-based, the same
        file) for each output otherwise; "-" prints
        each output as a JSON line {"name", "shape", "data"}.
        Inputs may be float or integer .npy arrays; NAME= may be left out
        when the files are given in the model's input order.
  kerasrun summary MODEL.h5 [--arch ARCH.json]
        print the layers, their output shapes and parameter counts
  kerasrun inspect MODEL.h5 [--arch ARCH.json]
        show the file without building the model: Keras version, backend,
        the layer tree, every stored weight with its shape and dtype, and
        every unsupported layer or option; exits 0 when everything is
        supported and 1 otherwise
  kerasrun layers
        list the supported Keras layer classes
  kerasrun bench --model MODEL.h5 [--batch N] [--threads T] [--input FILE]
                 [--out FILE] [--budget SECONDS] [--json]
        time Predict as ../shared/perf's harness does and print one JSON
        line (median_ms, times_ms, reps, warmup, load_ms); --cpuprofile FILE
        writes a CPU profile of the timed calls
` + soakUsage + serveUsage + `  --arch ARCH.json: MODEL.h5 holds weights only (model.save_weights); its
        architecture is the JSON of model.to_json(). Weights bind to the
        layers by position, as Keras's load_weights does.
`

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

type usageError struct{ msg string }

func (e usageError) Error() string   { return e.msg }
func (e usageError) Is(t error) bool { return t == errUsage }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "predict":
		err = cmdPredict(args[1:], stdout)
	case "summary":
		err = cmdSummary(args[1:], stdout)
	case "inspect":
		err = cmdInspect(args[1:], stdout)
	case "layers":
		err = cmdLayers(args[1:], stdout)
	case "bench":
		err = cmdBench(args[1:], stdout)
	case "soak":
		err = cmdSoak(args[1:], stdout)
	case "serve":
		err = cmdServe(args[1:], stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usagef("unknown command %q", args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "kerasrun: %v\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "kerasrun: %v\n", err)
		return 1
	}
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// parse parses flags that may come before or after the positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func cmdPredict(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	var inputs listFlag
	fs.Var(&inputs, "input", "an input as [NAME=]FILE.npy (repeat for several inputs)")
	out := fs.String("output", "", "output .npy file, or directory for several outputs")
	arch := fs.String("arch", "", "architecture JSON (model.to_json()) for a weights-only MODEL.h5")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("predict takes one model file, got %d arguments", len(pos))
	}
	if *out == "" {
		return usagef("predict needs --output")
	}
	if len(inputs) == 0 {
		return usagef("predict needs at least one --input")
	}
	m, err := loadModel(pos[0], *arch)
	if err != nil {
		return err
	}
	tensors, err := readInputs(m.Inputs(), inputs)
	if err != nil {
		return err
	}
	res, err := m.Predict(tensors...)
	if err != nil {
		return err
	}
	if *out == "-" {
		return printOutputs(stdout, m.Outputs(), res)
	}
	return writeOutputs(m.Outputs(), res, *out)
}

// loadModel loads a full model file, or a weights file with its
// architecture JSON when arch is not "".
func loadModel(path, arch string) (*runtime.Model, error) {
	if arch == "" {
		return importer.Load(path, nil)
	}
	js, err := os.ReadFile(arch)
	if err != nil {
		return nil, err
	}
	return importer.LoadWeights(js, path, nil)
}

// printOutputs writes each output as one JSON line:
// {"name": ..., "shape": [...], "data": [...]} with data flat, row-major.
func printOutputs(w io.Writer, specs []runtime.IO, res []*runtime.Tensor) error {
	enc := json.NewEncoder(w)
	for i, t := range res {
		// The shortest decimal that reads back as the same float32; NaN and
		// infinities, which JSON numbers cannot hold, as strings.
		data := make([]any, len(t.Data))
		for j, v := range t.Data {
			s := strconv.FormatFloat(float64(v), 'g', -1, 32)
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				data[j] = s
			} else {
				data[j] = json.Number(s)
			}
		}
		if err := enc.Encode(struct {
			Name  string `json:"name"`
			Shape []int  `json:"shape"`
			Data  []any  `json:"data"`
		}{specs[i].Name, t.Shape, data}); err != nil {
			return err
		}
	}
	return nil
}

// readInputs matches --input values to the model inputs. Inputs may be
// named (NAME=FILE) or, all of them, given in model order.
func readInputs(specs []runtime.IO, args []string) ([]*runtime.Tensor, error) {
	byName := map[string]int{}
	for i, s := range specs {
		byName[s.Name] = i
	}
	files := make([]string, len(specs))
	var unnamed []string
	for _, a := range args {
		if name, file, ok := strings.Cut(a, "="); ok {
			if i, known := byName[name]; known {
				if files[i] != "" {
					return nil, usagef("input %q given twice", name)
				}
				files[i] = file
				continue
			}
			if _, err := os.Stat(a); err != nil {
				return nil, usagef("the model has no input %q (inputs: %s)", name, names(specs))
			}
		}
		unnamed = append(unnamed, a)
	}
	for i := range files {
		if files[i] == "" && len(unnamed) > 0 {
			files[i], unnamed = unnamed[0], unnamed[1:]
		}
	}
	if len(unnamed) > 0 {
		return nil, usagef("%d input file(s) too many: the model takes %d input(s) (%s)", len(unnamed), len(specs), names(specs))
	}
	out := make([]*runtime.Tensor, len(specs))
	for i, f := range files {
		if f == "" {
			return nil, usagef("missing input %q; the model takes %s", specs[i].Name, names(specs))
		}
		t, _, err := npyfile.Read(f)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", specs[i].Name, err)
		}
		out[i] = t
	}
	return out, nil
}

func names(specs []runtime.IO) string {
	var s []string
	for _, io := range specs {
		s = append(s, io.Name+" "+runtime.FormatShape(io.Shape))
	}
	return strings.Join(s, ", ")
}

func writeOutputs(specs []runtime.IO, res []*runtime.Tensor, out string) error {
	if len(res) == 1 {
		if st, err := os.Stat(out); err == nil && st.IsDir() {
			out = filepath.Join(out, specs[0].Name+".npy")
		}
		return npyfile.Write(out, res[0])
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for i, t := range res {
		named := filepath.Join(out, specs[i].Name+".npy")
		if err := npyfile.Write(named, t); err != nil {
			return err
		}
		// Output names made unique (tf.keras appends _1, _2 to a layer
		// that gives several outputs) can be a name of another layer, so
		// each output is also written under its index.
		indexed := filepath.Join(out, strconv.Itoa(i)+".npy")
		if indexed == named {
			continue
		}
		os.Remove(indexed)
		if os.Link(named, indexed) != nil {
			if err := npyfile.Write(indexed, t); err != nil {
				return err
			}
		}
	}
	return nil
}

func cmdSummary(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	arch := fs.String("arch", "", "architecture JSON (model.to_json()) for a weights-only MODEL.h5")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("summary takes one model file, got %d arguments", len(pos))
	}
	m, err := loadModel(pos[0], *arch)
	if err != nil {
		return err
	}
	writeSummary(stdout, m)
	return nil
}

// writeSummary prints a Keras-style summary table.
func writeSummary(w io.Writer, m *runtime.Model) {
	const line = "_________________________________________________________________________________"
	const dline = "================================================================================="
	fmt.Fprintf(w, "Model: %q\n%s\n", m.Name(), line)
	fmt.Fprintf(w, "%-40s %-28s %s\n%s\n", "Layer (type)", "Output Shape", "Param #", dline)
	for i, l := range m.Layers() {
		var shapes []string
		for _, s := range l.OutShapes {
			shapes = append(shapes, runtime.FormatShape(s))
		}
		shape := strings.Join(shapes, ", ")
		if len(shapes) > 1 {
			shape = "[" + shape + "]"
		}
		fmt.Fprintf(w, "%-40s %-28s %d\n", l.Name+" ("+l.Class+")", shape, l.Params)
		if i < len(m.Layers())-1 {
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintf(w, "%s\nTotal params: %d\n", dline, m.Params())
	for _, in := range m.Inputs() {
		fmt.Fprintf(w, "Input:  %s %s %s\n", in.Name, runtime.FormatShape(in.Shape), in.DType)
	}
	for _, out := range m.Outputs() {
		fmt.Fprintf(w, "Output: %s %s\n", out.Name, runtime.FormatShape(out.Shape))
	}
}

func cmdLayers(args []string, stdout io.Writer) error {
	if len(args) != 0 {
		return usagef("layers takes no arguments")
	}
	for _, c := range layers.Classes() {
		fmt.Fprintln(stdout, c)
	}
	return nil
}
