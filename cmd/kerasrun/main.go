// Command kerasrun loads Keras .h5 models and runs them, without Python.
//
//	kerasrun predict MODEL.h5 --input [NAME=]FILE ... --output OUT
//	kerasrun summary MODEL.h5
//	kerasrun inspect MODEL.h5
//	kerasrun layers
//	kerasrun verify MODEL.h5 DIR
//	kerasrun serve --model [NAME=]MODEL.h5 [--addr :8080]
//	kerasrun version
//
// `kerasrun COMMAND --help` prints a command's usage. Errors go to stderr.
// The exit status is 0 on success, 1 for an error in the data or the
// environment (a missing file, a model kerasrun cannot load, an input of
// the wrong shape), 2 for a usage error, and 70 for an internal error,
// which is a bug in kerasrun.
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

// Exit statuses.
const (
	exitError    = 1
	exitUsage    = 2
	exitInternal = 70 // EX_SOFTWARE of sysexits.h
)

// A command of the CLI. A hidden one runs but is left out of the usage:
// bench and soak are tools for kerasrun's developers.
type command struct {
	name, summary string
	usage         string // the text of `kerasrun NAME --help`, before the flags
	run           func(args []string, stdout io.Writer) error
	hidden        bool
}

var commands []command

func init() {
	commands = []command{
		{name: "predict", summary: "run a model on inputs from files", usage: predictUsage, run: cmdPredict},
		{name: "summary", summary: "print the layers and parameter counts, as Keras's model.summary()", usage: summaryUsage, run: cmdSummary},
		{name: "inspect", summary: "show a file without building the model, and what kerasrun cannot run", usage: inspectUsage, run: cmdInspect},
		{name: "layers", summary: "list the supported Keras layer classes", usage: layersUsage, run: cmdLayers},
		{name: "verify", summary: "check a model against the outputs Keras gave (tools/export_golden.py)", usage: verifyUsage, run: cmdVerify},
		{name: "serve", summary: "serve models over HTTP (Open Inference Protocol, KServe V2)", usage: serveUsage, run: cmdServe},
		{name: "version", summary: "print the version of kerasrun", usage: versionUsage, run: cmdVersion},
		{name: "bench", usage: benchUsage, run: cmdBench, hidden: true},
		{name: "soak", usage: soakUsage, run: cmdSoak, hidden: true},
	}
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// globalUsage lists the commands.
func globalUsage() string {
	var b strings.Builder
	b.WriteString("kerasrun loads Keras models (.h5, .keras) and runs them, without Python.\n\nusage: kerasrun COMMAND [ARGS]\n\ncommands:\n")
	for _, c := range commands {
		if !c.hidden {
			fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
		}
	}
	b.WriteString("\nRun 'kerasrun COMMAND --help' for a command's usage.\n")
	return b.String()
}

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

type usageError struct{ msg string }

func (e usageError) Error() string   { return e.msg }
func (e usageError) Is(t error) bool { return t == errUsage }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// helpError asks for a command's usage: -h or --help was given. flags is
// the flag set's listing.
type helpError struct{ flags string }

func (helpError) Error() string { return "help requested" }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		// A panic in the CLI itself is a bug in kerasrun too.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "kerasrun: internal error: %v\nthis is a bug in kerasrun; please report it with the command line\n", r)
			code = exitInternal
		}
	}()
	if len(args) == 0 {
		fmt.Fprint(stderr, globalUsage())
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				return run([]string{c.name, "--help"}, stdin, stdout, stderr)
			}
			fmt.Fprintf(stderr, "kerasrun: help: unknown command %q\nrun 'kerasrun --help'\n", args[1])
			return exitUsage
		}
		fmt.Fprint(stdout, globalUsage())
		return 0
	case "-version", "--version":
		args = []string{"version"}
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "kerasrun: unknown command %q\nrun 'kerasrun --help'\n", args[0])
		return exitUsage
	}
	err := c.run(args[1:], stdout)
	var help helpError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		fmt.Fprint(stdout, c.usage)
		if help.flags != "" {
			fmt.Fprintf(stdout, "\nflags:\n%s", help.flags)
		}
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "kerasrun: %s: %v\nrun 'kerasrun %s --help'\n", c.name, err, c.name)
		return exitUsage
	case errors.Is(err, runtime.ErrInternal):
		fmt.Fprintf(stderr, "kerasrun: %v\nthis is a bug in kerasrun; please report it with the model and the input if you can\n", err)
		return exitInternal
	default:
		fmt.Fprintf(stderr, "kerasrun: %v\n", err)
		return exitError
	}
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// parse parses flags that may come before or after the positional
// arguments, and returns the positional ones. -h and --help give a
// helpError holding the flags' listing.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				var b strings.Builder
				fs.SetOutput(&b)
				fs.PrintDefaults()
				// Shown as --name, the form the usage texts use; the
				// flag package takes -name and --name alike.
				flags := strings.ReplaceAll("\n"+b.String(), "\n  -", "\n  --")[1:]
				return nil, helpError{flags: flags}
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

const predictUsage = `usage: kerasrun predict MODEL.h5 [--arch ARCH.json] --input [NAME=]FILE ...
                        [--shape [NAME=]D0,D1,...] --output OUT

Run the model on one batch of inputs and write its outputs.

Each --input is a file per model input, named (NAME=FILE) or, all of them,
given in the model's input order. A file holds one of:
  a NumPy array (.npy), float or integer, C or Fortran order;
  JSON (.json): nested lists of numbers, or {"shape": [...], "data": [...]}
    with the data flat and row-major;
  raw little-endian float32 values, row-major, when --shape gives the
    array's shape, batch included (NAME= may be left out for a model with
    one input).
A file with the NUMPY magic is read as .npy whatever its name; another
file, not named .npy or .json, is raw when it has a --shape and JSON
otherwise. A --shape given for an .npy or JSON file must be its shape.

OUT is an .npy file for a single-output model, and a directory holding
<output_name>.npy and <index>.npy (0-based, the same file) for each output
otherwise; "-" prints each output as a JSON line {"name", "shape", "data"}.

--arch ARCH.json: MODEL.h5 holds weights only (model.save_weights); its
architecture is the JSON of model.to_json(). Weights bind to the layers by
position, as Keras's load_weights does.
`

func cmdPredict(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	var inputs, shapes listFlag
	fs.Var(&inputs, "input", "an input as [NAME=]FILE (.npy, .json, or raw float32 with --shape); repeat for several inputs")
	fs.Var(&shapes, "shape", "the shape of a raw input as [NAME=]D0,D1,... (batch first); repeat for several inputs")
	out := fs.String("output", "", "output .npy file, directory for several outputs, or - for JSON lines on stdout")
	arch := fs.String("arch", "", "architecture JSON (model.to_json()) for a weights-only MODEL.h5")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("takes one model file, got %d arguments", len(pos))
	}
	if *out == "" {
		return usagef("needs --output")
	}
	if len(inputs) == 0 {
		return usagef("needs at least one --input")
	}
	shapeOf, err := parseShapes(shapes)
	if err != nil {
		return err
	}
	for _, a := range inputs {
		if _, err := os.Stat(a); err == nil {
			continue
		}
		if _, file, ok := strings.Cut(a, "="); ok {
			a = file
		}
		if _, err := os.Stat(a); err != nil {
			return fmt.Errorf("--input: %w", err)
		}
	}
	m, err := loadModel(pos[0], *arch)
	if err != nil {
		return err
	}
	tensors, err := readInputs(m.Inputs(), inputs, shapeOf)
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

// parseShapes reads the --shape values: [NAME=]D0,D1,... The key "" holds
// a shape given without a name.
func parseShapes(args []string) (map[string][]int, error) {
	out := map[string][]int{}
	for _, a := range args {
		name, dims := "", a
		if n, d, ok := strings.Cut(a, "="); ok {
			name, dims = n, d
		}
		if _, dup := out[name]; dup {
			if name == "" {
				return nil, usagef("--shape: more than one shape without a NAME=")
			}
			return nil, usagef("--shape: input %q given twice", name)
		}
		var shape []int
		for _, f := range strings.Split(dims, ",") {
			d, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || d < 1 {
				return nil, usagef("--shape %q: want [NAME=]D0,D1,... with positive sizes, such as 2,5,10", a)
			}
			shape = append(shape, d)
		}
		out[name] = shape
	}
	return out, nil
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
// named (NAME=FILE) or, all of them, given in model order. shapeOf holds
// the --shape values by input name ("" for one without a name).
func readInputs(specs []runtime.IO, args []string, shapeOf map[string][]int) ([]*runtime.Tensor, error) {
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
					return nil, usagef("--input: input %q given twice", name)
				}
				files[i] = file
				continue
			}
			if _, err := os.Stat(a); err != nil {
				return nil, usagef("--input: the model has no input %q (inputs: %s)", name, names(specs))
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
		return nil, usagef("--input: %d input file(s) too many: the model takes %d input(s) (%s)", len(unnamed), len(specs), names(specs))
	}
	shapes := make([][]int, len(specs))
	for name, s := range shapeOf {
		if name == "" {
			if len(specs) != 1 {
				return nil, usagef("--shape without NAME= needs a model with one input; this one takes %s", names(specs))
			}
			name = specs[0].Name
		}
		i, ok := byName[name]
		if !ok {
			return nil, usagef("--shape: the model has no input %q (inputs: %s)", name, names(specs))
		}
		if shapes[i] != nil {
			return nil, usagef("--shape: input %q given twice", name)
		}
		shapes[i] = s
	}
	out := make([]*runtime.Tensor, len(specs))
	for i, f := range files {
		if f == "" {
			return nil, usagef("--input: missing input %q; the model takes %s", specs[i].Name, names(specs))
		}
		t, err := readInputFile(f, shapes[i])
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
	lineLength := fs.Int("line-length", 0, "place the columns as Keras does for lines of N characters, cutting long fields (0: widen the columns to fit)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("takes one model file, got %d arguments", len(pos))
	}
	if *lineLength < 0 || (*lineLength > 0 && *lineLength < 20) {
		return usagef("--line-length %d: want 0 or at least 20", *lineLength)
	}
	m, err := loadModel(pos[0], *arch)
	if err != nil {
		return err
	}
	writeSummary(stdout, m, summaryOptions{lineLength: *lineLength})
	return nil
}

const layersUsage = `usage: kerasrun layers

List the Keras layer classes that kerasrun runs, one a line.
`

func cmdLayers(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("layers", flag.ContinueOnError)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("takes no arguments, got %q", pos)
	}
	for _, c := range layers.Classes() {
		fmt.Fprintln(stdout, c)
	}
	return nil
}
