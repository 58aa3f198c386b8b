package kerasrun_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// userMain is a program as a user writes it, in a module of its own: the
// common path (load, predict, every class of error) with one import.
const userMain = `package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kerasrun/kerasrun"
)

func main() {
	fixtures := os.Args[1]
	m, err := kerasrun.Load(filepath.Join(fixtures, "example", "model.h5"), nil)
	if err != nil {
		fmt.Println("load:", err)
		os.Exit(1)
	}
	x, err := kerasrun.NewTensor([]int{1, 5, 10}, make([]float32, 50))
	if err != nil {
		fmt.Println("tensor:", err)
		os.Exit(1)
	}
	out, err := m.Predict(x)
	if err != nil {
		fmt.Println("predict:", err)
		os.Exit(1)
	}
	fmt.Println("predict", out[0].Shape)

	bad, _ := kerasrun.NewTensor([]int{1, 4, 10}, make([]float32, 40))
	_, err = m.Predict(bad)
	var ie *kerasrun.InputError
	fmt.Println("invalid input", errors.Is(err, kerasrun.ErrInvalidInput) && errors.As(err, &ie) && ie.Input == m.Inputs()[0].Name)

	_, err = kerasrun.Load(filepath.Join(fixtures, "not_hdf5", "model.h5"), nil)
	fmt.Println("corrupt", errors.Is(err, kerasrun.ErrCorrupt))

	_, err = kerasrun.Load(filepath.Join(fixtures, "f3_k3_unsupported_all", "model.h5"), nil)
	var le *kerasrun.LayerError
	fmt.Println("unsupported", errors.Is(err, kerasrun.ErrUnsupported) && errors.As(err, &le) && le.Class != "")

	_, err = kerasrun.Load(filepath.Join(fixtures, "example", "model.h5"), &kerasrun.Options{MaxLayers: 1})
	var lim *kerasrun.LimitError
	fmt.Println("limit", errors.Is(err, kerasrun.ErrLimit) && errors.As(err, &lim) && lim.Option == "MaxLayers")

	_, err = kerasrun.Load(filepath.Join(fixtures, "no_such_model.h5"), nil)
	fmt.Println("not found", errors.Is(err, fs.ErrNotExist) && !kerasrun.IsInternal(err))

	err = internal(fixtures) // internal.go: the one file that needs package layers
	var ie2 *kerasrun.InternalError
	fmt.Println("internal", kerasrun.IsInternal(err) && errors.As(err, &ie2) && !errors.Is(err, kerasrun.ErrInvalidInput))
}
`

// userInternal registers a custom layer that panics, standing for a
// kerasrun bug, so that the program can see an internal error.
const userInternal = `package main

import (
	"path/filepath"

	"github.com/kerasrun/kerasrun"
	"github.com/kerasrun/kerasrun/layers"
)

type boomConfig struct{ name string }

func (c boomConfig) Build(in [][]int, w *layers.Weights) (kerasrun.Layer, [][]int, error) {
	return boom(c), [][]int{in[0]}, nil
}

type boom boomConfig

func (b boom) Name() string  { return b.name }
func (b boom) Class() string { return "FooBar" }
func (b boom) Forward(in []*kerasrun.Tensor) ([]*kerasrun.Tensor, error) {
	panic("boom")
}

func internal(fixtures string) error {
	layers.Register("FooBar", func(r *layers.Reader) (layers.Config, error) {
		r.Ignore("alpha")
		return boomConfig{name: r.Spec().Name}, nil
	})
	m, err := kerasrun.Load(filepath.Join(fixtures, "unknown_class", "model.h5"), nil)
	if err != nil {
		return err
	}
	x, err := kerasrun.NewTensor([]int{1, 6, 4}, make([]float32, 24))
	if err != nil {
		return err
	}
	_, err = m.Predict(x)
	return err
}
`

// TestExternalModule builds and runs a program in a module outside the
// repository that requires kerasrun (replaced by this tree), offline: what
// a user's program may do, it can do with the exported API alone.
func TestExternalModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	goLine := ""
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for sc := bufio.NewScanner(strings.NewReader(string(mod))); sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "go ") {
			goLine = sc.Text()
		}
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/user\n\n" + goLine + "\n\nrequire github.com/kerasrun/kerasrun v0.0.0\n\n" +
			"replace github.com/kerasrun/kerasrun => " + root + "\n",
		"go.sum":      string(sum),
		"main.go":     userMain,
		"internal.go": userInternal,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goBin, "run", ".", filepath.Join(root, "fixtures"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	want := "predict [1 5]\ninvalid input true\ncorrupt true\nunsupported true\nlimit true\nnot found true\ninternal true\n"
	if string(out) != want {
		t.Errorf("the program printed\n%s\nwant\n%s", out, want)
	}
}
