package importer

import (
	"errors"

	"github.com/kerasrun/kerasrun/layers"
	"github.com/kerasrun/kerasrun/runtime"
)

// Load-time fusion (layers.Fuse): a layer whose single input is the single
// output of the layer before it, and that output's only reader, may fold
// into that layer (a BatchNormalization into a convolution's weights, a
// ReLU into its output). fuse finds such pairs in the config before
// anything is built and wraps their configs; the wrappers fuse as the
// layers are built, in dependency order, so every layer is still built
// from its own config and takes its own weights, and a fused-away layer
// stays in the graph as an identity under its own name.
//
// Only layers with one call (node) take part: a shared layer's weights
// serve several calls. A model output is never fused away (it is read by
// the caller). Chains fuse transitively: in Conv2D → BatchNormalization →
// ReLU the ReLU fuses into the Conv2D that the BatchNormalization was
// folded into. Masks are unaffected: the configs' mask rules are kept, and
// the layers that take a fusion (the convolutions) support no masks.

// fuseLink is what a wrapped layer computes its output with once built:
// the layer itself, or the layer it was fused into.
type fuseLink struct {
	built runtime.Layer
	fused bool // this layer was fused into prev's layer
}

// fuseConfig wraps a layer's config: it records the built layer in self
// and, when prev is set (the layer before it may take it), tries the
// fusion.
type fuseConfig struct {
	inner      layers.Config
	prev, self *fuseLink
}

// fuseMaskConfig is a fuseConfig over a config with a mask rule.
type fuseMaskConfig struct {
	*fuseConfig
	rule layers.MaskRule
}

func (c fuseMaskConfig) OutputMasks(in []bool, nout int) []bool { return c.rule.OutputMasks(in, nout) }

var errFusedTwice = errors.New("importer: a fused layer was built a second time")

func (c *fuseConfig) Build(in [][]int, w *layers.Weights) (runtime.Layer, [][]int, error) {
	if c.self.fused {
		// The binder builds a single-call layer until a build succeeds,
		// and a fusion follows only a successful one.
		return nil, nil, errFusedTwice
	}
	l, out, err := c.inner.Build(in, w)
	if err != nil {
		return nil, nil, err
	}
	c.self.built = l
	if c.prev != nil && c.prev.built != nil {
		if stand, ok := layers.Fuse(c.prev.built, l); ok {
			c.self.built, c.self.fused = c.prev.built, true
			return stand, out, nil
		}
	}
	return l, out, nil
}

// fuse wraps the configs of the layers that may fuse, and of the layers
// they may fuse into (see fuseLink).
func fuse(spec *modelSpec, cfgs map[string]layers.Config) {
	readers := map[tensorRef]int{}
	for _, e := range spec.layers {
		for _, node := range e.nodes {
			for _, r := range node {
				readers[r]++
			}
		}
	}
	for _, r := range spec.outputs {
		readers[r] += 2 // the caller reads it too
	}
	links := map[string]*fuseConfig{}
	wrap := func(e *layerEntry) *fuseConfig {
		if c := links[e.spec.Name]; c != nil {
			return c
		}
		c := &fuseConfig{inner: cfgs[e.spec.Name], self: &fuseLink{}}
		links[e.spec.Name] = c
		if rule, ok := c.inner.(layers.MaskRule); ok {
			cfgs[e.spec.Name] = fuseMaskConfig{fuseConfig: c, rule: rule}
		} else {
			cfgs[e.spec.Name] = c
		}
		return c
	}
	for _, e := range spec.layers {
		if e.input || len(e.nodes) != 1 || len(e.nodes[0]) != 1 || cfgs[e.spec.Name] == nil {
			continue
		}
		r := e.nodes[0][0]
		p := spec.byName[r.layer]
		if p == nil || p == e || p.input || len(p.nodes) != 1 || r.node != 0 || r.tensor != 0 ||
			readers[r] != 1 || cfgs[p.spec.Name] == nil {
			continue
		}
		pc := wrap(p)
		wrap(e).prev = pc.self
	}
}
