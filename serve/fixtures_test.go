package serve

import (
	"context"
	"os"
	"testing"

	"github.com/kerasrun/kerasrun/importer"
	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/oip"
	"github.com/kerasrun/kerasrun/runtime"
)

// TestServeFixtures serves every fixture that has expected outputs (from
// tools/) and checks what the protocol returns against them, half of the
// cases in JSON and half in binary.
func TestServeFixtures(t *testing.T) {
	s, served := fixtureServer(t)
	c := startServer(t, s).c
	for i, fc := range served {
		ins, err := fc.ReadInputs()
		if err != nil {
			t.Fatal(err)
		}
		req := &oip.InferRequest{ID: fc.ID, BinaryOutput: i%2 == 1}
		for k, x := range ins {
			var in oip.Tensor
			if fc.Inputs[k].DType == "int32" {
				ids := make([]int32, len(x.Data))
				for j, v := range x.Data {
					ids[j] = int32(v)
				}
				in = oip.NewINT32(fc.Inputs[k].Name, shapeOf(x.Shape), ids)
			} else {
				in = oip.NewFP32(fc.Inputs[k].Name, shapeOf(x.Shape), x.Data)
			}
			in.Binary = i%2 == 1
			req.Inputs = append(req.Inputs, in)
		}
		res, err := c.Infer(context.Background(), fc.ID, req)
		if err != nil {
			t.Errorf("%s: %v", fc.ID, err)
			continue
		}
		var got []*runtime.Tensor
		for k := range res.Outputs {
			d := outFloats(t, res, k)
			shape := make([]int, len(res.Outputs[k].Shape))
			for j, v := range res.Outputs[k].Shape {
				shape[j] = int(v)
			}
			got = append(got, tensor(t, shape, d))
		}
		if err := fc.Check(got); err != nil {
			t.Errorf("%s: %v", fc.ID, err)
		}
	}
	t.Logf("%d fixtures served and checked", len(served))
}

// fixtureServer returns a server with every fixture that has golden
// outputs added under its id, and those fixtures.
func fixtureServer(t *testing.T) (*Server, []*golden.Case) {
	t.Helper()
	cases, err := golden.Load("../fixtures")
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil)
	var served []*golden.Case
	for i := range cases {
		c := &cases[i]
		if c.Expect != "ok" || !c.HasGold() {
			continue
		}
		var m *runtime.Model
		if a := c.Arch(); a != "" {
			js, err := os.ReadFile(a)
			if err != nil {
				t.Fatal(err)
			}
			m, err = importer.LoadWeights(js, c.Model(), nil)
		} else {
			m, err = importer.Load(c.Model(), nil)
		}
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		if err := s.Add(c.ID, m); err != nil {
			t.Fatal(err)
		}
		served = append(served, c)
	}
	if len(served) < 50 {
		t.Fatalf("only %d fixtures", len(served))
	}
	return s, served
}
