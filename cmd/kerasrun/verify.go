package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/kerasrun/kerasrun/internal/golden"
)

const verifyUsage = `usage: kerasrun verify MODEL DIR [--arch ARCH.json] [--case ID]
                       [--atol A] [--rtol R]

Check kerasrun against Keras: run the model on the inputs of the golden
folder DIR, written by tools/export_golden.py in your Keras environment,
and print each output's max abs and max relative error. Where an output
differs beyond the tolerance, also print the first layer, in the order
the model runs them, whose output differs from Keras's, with its error:
that is where to look.

DIR holds a MANIFEST.json and one folder per case (the layout of
kerasrun's test corpus), or is one case's folder. In a folder of several
cases, --case picks one; without it, the case whose model file is MODEL.
Every element must satisfy |got - want| <= atol + rtol*|want|; atol and
rtol come from the manifest (1e-5 and 1e-4 when it sets neither) unless
given. The exit status is 1 when an output differs.
`

// cmdVerify is `kerasrun verify`.
func cmdVerify(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	arch := fs.String("arch", "", "architecture JSON (model.to_json()) for a weights-only MODEL")
	id := fs.String("case", "", "the case of DIR to check, in a folder of several")
	atol := fs.Float64("atol", 0, "absolute tolerance (default: the manifest's)")
	rtol := fs.Float64("rtol", 0, "relative tolerance (default: the manifest's)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("verify takes a model file and a golden folder, got %d arguments", len(pos))
	}
	if *atol < 0 || *rtol < 0 {
		return usagef("--atol and --rtol must not be negative")
	}
	c, err := golden.Find(pos[1], pos[0], *id)
	if err != nil {
		return err
	}
	m, err := loadModel(pos[0], *arch)
	if err != nil {
		return err
	}
	a, r := c.Tolerance()
	if *atol > 0 || *rtol > 0 {
		a, r = *atol, *rtol
	}
	rep, err := golden.Verify(context.Background(), m, c, a, r)
	if err != nil {
		return err
	}
	rep.Write(stdout)
	if !rep.OK() {
		n := 0
		for _, d := range rep.Outputs {
			if !d.OK {
				n++
			}
		}
		return fmt.Errorf("verify: %d of %d output(s) differ from Keras beyond the tolerance", n, len(rep.Outputs))
	}
	return nil
}
