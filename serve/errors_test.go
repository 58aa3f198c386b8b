package serve

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/oip"
	"github.com/kerasrun/kerasrun/runtime"
)

// failing is a model whose Predict fails with err, or panics with
// panicValue when it is set.
type failing struct {
	Model
	err        error
	panicValue any
}

func (f failing) PredictContext(ctx context.Context, in ...*runtime.Tensor) ([]*runtime.Tensor, error) {
	if f.panicValue != nil {
		panic(f.panicValue)
	}
	return nil, f.err
}

// TestPredictErrorStatus checks that a failed Predict is answered by the
// class of its error, and that a panicking model answers 500 and leaves
// the server serving.
func TestPredictErrorStatus(t *testing.T) {
	m := load(t, "tagger")
	models := map[string]Model{"ok": m}
	cases := []struct {
		name  string
		model failing
		code  int
		words string
	}{
		{"input", failing{err: &runtime.InputError{Input: "x", Want: "a", Got: "b"}}, 400, `input "x"`},
		{"plain", failing{err: errors.New("some refusal")}, 400, "some refusal"},
		{"limit", failing{err: fmt.Errorf("too big: %w", runtime.ErrLimit)}, 413, "too big"},
		{"unsupported", failing{err: fmt.Errorf("no such mode: %w", layers.ErrUnsupported)}, 422, "no such mode"},
		{"internal", failing{err: &runtime.InternalError{Layer: "l", Class: "C", Value: "boom"}}, 500, "boom"},
		{"panic", failing{panicValue: "kaboom"}, 500, "kaboom"},
	}
	for _, tc := range cases {
		tc.model.Model = m
		models[tc.name] = tc.model
	}
	ts := start(t, &Options{MaxBatch: 1}, models)
	x := tensor(t, []int{1, 7, 5}, make([]float32, 35))
	infer := func(name string) error {
		_, err := ts.c.Infer(context.Background(), name, &oip.InferRequest{Inputs: []oip.Tensor{oip.NewFP32("conv1d_1_input", shapeOf(x.Shape), x.Data)}})
		return err
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := infer(tc.name)
			var oe *oip.Error
			if !errors.As(err, &oe) || oe.StatusCode != tc.code {
				t.Fatalf("got %v, want status %d", err, tc.code)
			}
			if !strings.Contains(oe.Message, tc.words) {
				t.Errorf("message %q does not say %q", oe.Message, tc.words)
			}
			if tc.code == 500 && !regexp.MustCompile(`internal error [0-9a-f]{16}`).MatchString(oe.Message) {
				t.Errorf("message %q has no incident id", oe.Message)
			}
		})
	}
	if err := infer("ok"); err != nil {
		t.Fatalf("after the failures: %v", err)
	}
}
