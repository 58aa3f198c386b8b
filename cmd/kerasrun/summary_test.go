package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSummaryGolden compares `kerasrun summary` with the text real Keras
// printed for the same model: testdata/summary/<case>/summary.txt, taken
// from the notebooks of a repository the corpus came from (see each
// case's SOURCE and tools/summary_goldens.py). Adding a folder adds a case.
// Keras's text is never rewritten from Go.
//
// At Keras's line length the output must begin with Keras's text, byte for
// byte. By default the columns widen to fit: every row then holds each
// layer's whole name and class where Keras cut them, and the totals agree.
func TestSummaryGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "summary", "*", "summary.txt"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden summaries: %v", err)
	}
	for _, golden := range dirs {
		dir := filepath.Dir(golden)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			want := string(b)
			lines := strings.Split(want, "\n")
			// The line length Keras used is that of its rules.
			lineLength := len(lines[1])
			args := []string{"summary", filepath.Join(dir, "weights.h5"), "--arch", filepath.Join(dir, "arch.json")}
			code, got, stderr := runCLI(append(args, "--line-length", strconv.Itoa(lineLength))...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.HasPrefix(got, want) {
				t.Errorf("at --line-length %d, the summary differs from Keras's:\n%s", lineLength, lineDiff(want, got))
			}

			code, fit, stderr := runCLI(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, l := range lines {
				if strings.HasPrefix(l, "Total params") || strings.HasPrefix(l, "Trainable params") || strings.HasPrefix(l, "Non-trainable params") || strings.HasPrefix(l, "Model: ") {
					if !strings.Contains(fit, l+"\n") {
						t.Errorf("the fitted summary lacks %q", l)
					}
				}
			}
			// Between the header's rule and the last rule, every row starts
			// with a whole "name (Class)" and a space.
			rows := strings.Split(fit, "\n")
			n := 0
			for i := 4; i < len(rows) && !strings.HasPrefix(rows[i], "="); i++ {
				if strings.HasPrefix(rows[i], "_") || strings.HasPrefix(rows[i], " ") {
					continue
				}
				n++
				if !layerRow.MatchString(rows[i]) {
					t.Errorf("a layer row cut short: %q", rows[i])
				}
			}
			if want := strings.Count(want, "\n_") - 1; n != want {
				t.Errorf("%d layer rows, want %d", n, want)
			}
		})
	}
}

// lineDiff shows the first line where two texts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range w {
		if i >= len(g) || w[i] != g[i] {
			gl := "(none)"
			if i < len(g) {
				gl = strconv.Quote(g[i])
			}
			return "line " + strconv.Itoa(i+1) + ":\nkeras:    " + strconv.Quote(w[i]) + "\nkerasrun: " + gl
		}
	}
	return "(the same)"
}

var layerRow = regexp.MustCompile(`^[^ ]+ \([A-Za-z0-9_]+\) +\(`)

// TestSummaryConnectedTo checks the functional form on f3_shared_dense (one
// Dense called on inputs a and b, then Add of its two calls), at the
// column positions of Keras 2's print_summary for 98 characters (32, 53,
// 65, 98), written out by hand from its code: each input of each call as
// layer[node][tensor], those after the first on rows of their own.
func TestSummaryConnectedTo(t *testing.T) {
	code, got, stderr := runCLI("summary", filepath.Join(fixtures, "f3_shared_dense", "model.h5"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	row := func(layer, shape, params, conn string) string {
		return fmt.Sprintf("%-32s%-21s%-12s%-33s", layer, shape, params, conn)
	}
	line, dline := strings.Repeat("_", 98), strings.Repeat("=", 98)
	want := strings.Join([]string{
		`Model: "model_1"`, line,
		row("Layer (type)", "Output Shape", "Param #", "Connected to"), dline,
		row("a (InputLayer)", "(None, 6, 4)", "0", ""), line,
		row("b (InputLayer)", "(None, 6, 4)", "0", ""), line,
		row("shared (Dense)", "(None, 6, 3)", "15", "a[0][0]"),
		row("", "", "", "b[0][0]"), line,
		row("add_1 (Add)", "(None, 6, 3)", "0", "shared[0][0]"),
		row("", "", "", "shared[1][0]"), dline,
		"Total params: 15", "Trainable params: 15", "Non-trainable params: 0", line, "",
	}, "\n")
	if !strings.HasPrefix(got, want) {
		t.Errorf("summary differs:\n%s", lineDiff(want, got))
	}

	// A functional model that is a chain prints as a Sequential one does.
	code, got, _ = runCLI("summary", filepath.Join(fixtures, "tfkeras_functional_vlen", "model.h5"))
	if code != 0 || strings.Contains(got, "Connected to") || !strings.Contains(got, "\n"+strings.Repeat("_", 65)+"\n") ||
		!strings.Contains(got, "\ninput_1 (InputLayer)         (None, 6, 4)              0         \n") {
		t.Errorf("a functional chain:\n%s", got)
	}
}

// TestSummaryNested: a model nested in the model has one row, as in Keras,
// with the parameters of its layers, and the layers after it read its
// outputs (node 1: node 0 is the nested model's own construction).
func TestSummaryNested(t *testing.T) {
	code, got, stderr := runCLI("summary", filepath.Join(fixtures, "f3_tf_nested_shared_model", "model.h5"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"\nencoder (Functional)            [(None, 3), (None, 3)] 15          input_a[0][0]",
		"\nconcatenate (Concatenate)       (None, 6)              0           encoder[1][0]",
		"encoder[1][1]",
		"\nTotal params: 29\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "encoder/") {
		t.Errorf("the nested model's layers have rows of their own:\n%s", got)
	}
	// A chain through a nested Sequential prints as a chain.
	code, got, _ = runCLI("summary", filepath.Join(fixtures, "f3_tf_nested_sequential", "model.h5"))
	if code != 0 || strings.Contains(got, "Connected to") || strings.Contains(got, "/") ||
		!strings.Contains(got, "\nsequential (Sequential)      (None, 4)                 64        \n") {
		t.Errorf("nested Sequential:\n%s", got)
	}
	// A Sequential model has no row for its InputLayer, even one its
	// config lists (Keras's Sequential.layers leaves it out).
	code, got, _ = runCLI("summary", filepath.Join(fixtures, "k4_seq_dense", "model.keras"))
	if code != 0 || strings.Contains(got, "(InputLayer)") {
		t.Errorf("Sequential with an InputLayer:\n%s", got)
	}
}

// TestSummaryNonTrainable: Dense(5) then BatchNormalization on 5 features
// is 25 + 20 parameters, of which BatchNormalization's moving mean and
// variance (10) are non-trainable, as Keras counts them.
func TestSummaryNonTrainable(t *testing.T) {
	code, got, stderr := runCLI("summary", filepath.Join(fixtures, "l3_bn_dense", "model.h5"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(got, "\nTotal params: 45\nTrainable params: 35\nNon-trainable params: 10\n") {
		t.Errorf("summary:\n%s", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 846070: "846,070", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
