package layers

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/kerasrun/kerasrun/runtime"
)

// BatchNormalization and LayerNormalization. Both pass masks on (Keras:
// supports_masking = True).

// ---- BatchNormalization ----------------------------------------------------

// batchNormLayer computes, at inference,
//
//	y = (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta
//
// per position of the normalised axes, as scale·x + shift with
//
//	scale = gamma / sqrt(moving_variance + epsilon), shift = beta - moving_mean·scale.
type batchNormLayer struct {
	base
	axes   []int // resolved
	pshape []int // sizes of the normalised axes
	scale  []float32
	shift  []float32
}

type batchNormConfig struct {
	passMask
	spec          Spec
	axes          []int // as configured
	eps           float64
	center, scale bool
	keras1        bool // Keras 1 weight names (running_mean, running_std)
}

// decodeNormOptions reads the options BatchNormalization and
// LayerNormalization share: axis, epsilon, center and scale.
func decodeNormOptions(r *Reader) (axes []int, eps float64, center, scale bool) {
	axes = r.Ints("axis", []int{-1})
	if len(axes) == 0 {
		r.Errorf("axis", "empty list")
		axes = []int{-1}
	}
	eps = r.Float("epsilon", 1e-3)
	if eps < 0 {
		r.Errorf("epsilon", "must not be negative, got %v", eps)
	}
	return axes, eps, r.Bool("center", true), r.Bool("scale", true)
}

func decodeBatchNormalization(r *Reader) (Config, error) {
	c := &batchNormConfig{spec: r.Spec()}
	c.axes, c.eps, c.center, c.scale = decodeNormOptions(r)
	r.Ignore("momentum", "moving_mean_initializer", "moving_variance_initializer",
		"beta_initializer", "gamma_initializer", "beta_regularizer", "gamma_regularizer",
		"beta_constraint", "gamma_constraint",
		// Keras: fused only picks the kernel; synchronized (Keras 3) only
		// changes training statistics across replicas.
		"fused", "synchronized")
	// Keras: renorm keeps extra moving statistics and virtual_batch_size
	// and adjustment change the parameter layout; none is supported.
	r.False("renorm", "")
	r.Ignore("renorm_clipping", "renorm_momentum")
	if r.Has("virtual_batch_size") {
		r.Unsupported("virtual_batch_size", "value %s", r.Get("virtual_batch_size").Raw)
	}
	r.Ignore("virtual_batch_size")
	if r.Has("adjustment") {
		r.Unsupported("adjustment", "a custom adjustment function")
	}
	r.Ignore("adjustment")
	// Keras: Keras 1 had a mode option: 0 normalises with the moving
	// statistics at inference; 1 and 2 use per-sample or per-batch
	// statistics even at test time. Its weights are gamma, beta,
	// running_mean, running_std, where running_std holds the variance.
	c.keras1 = r.Spec().Env.Major() == 1 || r.Has("mode")
	if r.Has("mode") {
		if m := r.Int("mode", 0); m != 0 {
			r.Unsupported("mode", "mode %d normalises with batch statistics at inference", m)
		}
	}
	r.Ignore("beta_init", "gamma_init")
	return c, nil
}

// resolveAxes turns Keras axes into non-batch axes of a tensor of the
// given rank, in the configured order.
func resolveAxes(axes []int, rank int) ([]int, error) {
	out := make([]int, 0, len(axes))
	for _, a := range axes {
		x, ok := kerasAxis(a, rank)
		if !ok || x == 0 {
			return nil, fmt.Errorf("option \"axis\": %v does not fit an input of rank %d (the batch axis cannot be normalised)", axes, rank)
		}
		for _, y := range out {
			if y == x {
				return nil, fmt.Errorf("option \"axis\": %v names axis %d twice", axes, x)
			}
		}
		out = append(out, x)
	}
	return out, nil
}

func maxAxis(axes []int) int {
	m := 0
	for _, a := range axes {
		m = max(m, a)
	}
	return m
}

// takeNamed takes the next weight called name, or, for a Keras 1 file,
// called "<layer>_<k1name>" as Keras 1 stored it.
func takeNamed(w *Weights, keras1 bool, name, k1name string, shape ...int) (Weight, error) {
	if next, ok := w.Peek(); ok && keras1 {
		if base := BaseName(next.Name); base == k1name || strings.HasSuffix(base, "_"+k1name) {
			return w.Take(base, shape...)
		}
	}
	return w.Take(name, shape...)
}

// normAxes resolves the normalised axes of an input of static shape s and
// returns them with their sizes, which must be fixed.
func normAxes(axes []int, s []int) ([]int, []int, error) {
	resolved, err := resolveAxes(axes, len(s))
	if err != nil {
		return nil, nil, err
	}
	sizes := make([]int, len(resolved))
	for i, a := range resolved {
		if s[a] < 0 {
			return nil, nil, fmt.Errorf("input shape %s: the normalised axis %d must have a fixed size", runtime.FormatShape(s), a)
		}
		sizes[i] = s[a]
	}
	return resolved, sizes, nil
}

func (c *batchNormConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	axes, pshape, err := normAxes(c.axes, s)
	if err != nil {
		return nil, nil, err
	}
	// Keras: one axis gives parameters of shape [n]; several give the
	// input's rank with 1 outside the axes (tf.keras).
	wshape := pshape
	if len(axes) > 1 {
		wshape = make([]int, len(s))
		for i := range wshape {
			wshape[i] = 1
		}
		for i, a := range axes {
			wshape[a] = pshape[i]
		}
	}
	n := runtime.NumElements(pshape)
	gamma, beta := ones(n), make([]float32, n)
	if c.scale {
		g, err := takeNamed(w, c.keras1, "gamma", "gamma", wshape...)
		if err != nil {
			return nil, nil, err
		}
		gamma = g.Data
	}
	if c.center {
		b, err := takeNamed(w, c.keras1, "beta", "beta", wshape...)
		if err != nil {
			return nil, nil, err
		}
		beta = b.Data
	}
	mean, err := takeNamed(w, c.keras1, "moving_mean", "running_mean", wshape...)
	if err != nil {
		return nil, nil, err
	}
	variance, err := takeNamed(w, c.keras1, "moving_variance", "running_std", wshape...)
	if err != nil {
		return nil, nil, err
	}
	// Keras: the moving statistics are non-trainable weights.
	w.nonTrainable(len(mean.Data) + len(variance.Data))
	eps := c.eps
	env := c.spec.Env
	// Keras: with TensorFlow, Keras 2 and tf.keras normalise a rank-4 input
	// over its channel axis with fused_batch_norm, which raises epsilon to
	// at least 1.001e-5 (the cuDNN minimum). Keras 2.2.4 uses it for
	// channels_last only on a CPU; tf.keras for axis 1 or 3. Keras 3 and
	// other ranks use the plain formula.
	if env.Major() == 2 && env.Backend != "theano" && env.Backend != "cntk" && len(s) == 4 && len(axes) == 1 &&
		(axes[0] == 3 || (axes[0] == 1 && env.TFKeras())) {
		eps = math.Max(eps, 1.001e-5)
	}
	l := &batchNormLayer{axes: axes, pshape: pshape, scale: make([]float32, n), shift: make([]float32, n)}
	for i := 0; i < n; i++ {
		sc := float64(gamma[i]) / math.Sqrt(float64(variance.Data[i])+eps)
		l.scale[i] = float32(sc)
		l.shift[i] = float32(float64(beta[i]) - float64(mean.Data[i])*sc)
	}
	l.base = newBase(c.spec, w)
	return l, [][]int{s}, nil
}

func ones(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// paramIndex maps every flat position of a tensor of shape to the flat
// index of its parameter over the given axes (sizes pshape).
// The table is scratch from getInts, to give back; it is nil on the fast
// path.
func paramIndex(shape, axes, pshape []int) (*[]int, error) {
	var smallBuf [maxFastRank]int
	small := intsIn(smallBuf[:], len(shape))
	for i := range small {
		small[i] = 1
	}
	for i, a := range axes {
		if shape[a] != pshape[i] {
			return nil, fmt.Errorf("input shape %v: axis %d has size %d, want %d", shape, a, shape[a], pshape[i])
		}
		small[a] = pshape[i]
	}
	if len(axes) == 1 && axes[0] == len(shape)-1 {
		return nil, nil // the fast path: parameters cycle along the last axis
	}
	return broadcastIndex(shape, small), nil
}

func (l *batchNormLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() <= maxAxis(l.axes) {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank > %d", l.name, l.class, x.Shape, maxAxis(l.axes))
	}
	// channels_first (axis 1 of a rank >= 3 input) needs no index table.
	planes := len(l.axes) == 1 && l.axes[0] == 1 && x.Rank() >= 3 && x.Shape[1] == l.pshape[0]
	var idx *[]int
	if !planes {
		var err error
		if idx, err = paramIndex(x.Shape, l.axes, l.pshape); err != nil {
			return nil, fmt.Errorf("layers: layer %q (%s): %w", l.name, l.class, err)
		}
	}
	out := runtime.Empty(x.Shape...)
	n := len(l.scale)
	switch {
	case idx == nil && !planes:
		// The parameters cycle along the last axis: rows of n, in chunks
		// of whole rows.
		if rows := len(x.Data) / max(n, 1); rows > 0 {
			per := max(pointwiseChunk/n, 1)
			bnRows.forSamples((rows+per-1)/per, per*n, bnRowsArgs{l: l, src: x.Data, dst: out.Data, per: per})
		}
	case planes:
		// One parameter per plane of the trailing axes.
		inner := runtime.NumElements(x.Shape[2:])
		for off, p := 0, 0; off+inner <= len(x.Data) && inner > 0; off, p = off+inner, (p+1)%n {
			sc, sh := l.scale[p], l.shift[p]
			o := out.Data[off : off+inner]
			for i, v := range x.Data[off : off+inner] {
				o[i] = v*sc + sh
			}
		}
	default:
		for i, v := range x.Data {
			p := (*idx)[i]
			out.Data[i] = v*l.scale[p] + l.shift[p]
		}
		putInts(idx)
	}
	return runtime.One(withMask(out, x)), nil
}

// channelAffine returns the layer's scale and shift when it normalises the
// single (resolved) axis, for folding into the layer that feeds it (Fuse).
func (l *batchNormLayer) channelAffine(axis int) (scale, shift []float32, ok bool) {
	if len(l.axes) != 1 || l.axes[0] != axis {
		return nil, nil, false
	}
	return l.scale, l.shift, true
}

// bnRowsArgs is what a chunk of rows of BatchNormalization over the last
// axis needs (bnRowsRun).
type bnRowsArgs struct {
	l        *batchNormLayer
	src, dst []float32
	per      int // rows per chunk
}

var bnRows = newSamplePool(bnRowsRun)

// bnRowsRun normalises chunk i: rows [i·per, (i+1)·per) of len(scale).
func bnRowsRun(a *bnRowsArgs, i int) {
	n := len(a.l.scale)
	lo, hi := i*a.per*n, min((i+1)*a.per*n, len(a.src)/n*n)
	sc, sh := a.l.scale[:n], a.l.shift[:n]
	for off := lo; off < hi; off += n {
		row, o := a.src[off:off+n], a.dst[off:off+n]
		for p, v := range row {
			o[p] = v*sc[p] + sh[p]
		}
	}
}

// ---- LayerNormalization ----------------------------------------------------

// layerNormLayer normalises each sample over its axes with that sample's
// mean and (population) variance, then applies gamma and beta, which have
// the sizes of the normalised axes.
type layerNormLayer struct {
	base
	axes   []int
	pshape []int
	eps    float64
	gamma  []float32 // nil when scale is false
	beta   []float32 // nil when center is false
}

type layerNormConfig struct {
	passMask
	spec          Spec
	axes          []int
	eps           float64
	center, scale bool
}

func decodeLayerNormalization(r *Reader) (Config, error) {
	c := &layerNormConfig{spec: r.Spec()}
	c.axes, c.eps, c.center, c.scale = decodeNormOptions(r)
	// Keras: Keras 3's rms_scaling normalises by the root mean square only.
	r.False("rms_scaling", "")
	r.Ignore("beta_initializer", "gamma_initializer", "beta_regularizer", "gamma_regularizer",
		"beta_constraint", "gamma_constraint")
	return c, nil
}

func (c *layerNormConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if err := oneInput(in); err != nil {
		return nil, nil, err
	}
	s := in[0]
	axes, pshape, err := normAxes(c.axes, s)
	if err != nil {
		return nil, nil, err
	}
	l := &layerNormLayer{axes: axes, pshape: pshape, eps: c.eps}
	// Keras: gamma is built before beta, both of shape [sizes of the axes]
	// in the order the axes are configured.
	if c.scale {
		g, err := w.Take("gamma", pshape...)
		if err != nil {
			return nil, nil, err
		}
		l.gamma = g.Data
	}
	if c.center {
		b, err := w.Take("beta", pshape...)
		if err != nil {
			return nil, nil, err
		}
		l.beta = b.Data
	}
	l.base = newBase(c.spec, w)
	return l, [][]int{s}, nil
}

func (l *layerNormLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := in[0]
	if x.Rank() <= maxAxis(l.axes) {
		return nil, fmt.Errorf("layers: layer %q (%s): input shape %v, want rank > %d", l.name, l.class, x.Shape, maxAxis(l.axes))
	}
	for i, a := range l.axes {
		if x.Shape[a] != l.pshape[i] {
			return nil, fmt.Errorf("layers: layer %q (%s): input shape %v: axis %d has size %d, want %d", l.name, l.class, x.Shape, a, x.Shape[a], l.pshape[i])
		}
	}
	// Move the normalised axes last: [groups, n].
	rank := x.Rank()
	var permBuf [maxFastRank]int
	perm := permBuf[:0]
	for i := 0; i < rank; i++ {
		if !slices.Contains(l.axes, i) {
			perm = append(perm, i)
		}
	}
	perm = append(perm, l.axes...)
	out := runtime.Empty(x.Shape...)
	data, res := x.Data, out.Data
	var moved *runtime.Tensor
	if !isIdentity(perm) {
		moved = permuteTensor(x, perm)
		data, res = moved.Data, getScratch(len(x.Data))
		defer runtime.Recycle(moved)
		defer putScratch(res)
	}
	n := runtime.NumElements(l.pshape)
	for g := 0; g+n <= len(data) && n > 0; g += n {
		row := data[g : g+n]
		var mean float64
		for _, v := range row {
			mean += float64(v)
		}
		mean /= float64(n)
		var variance float64
		for _, v := range row {
			d := float64(v) - mean
			variance += d * d
		}
		variance /= float64(n)
		inv := 1 / math.Sqrt(variance+l.eps)
		for j, v := range row {
			y := (float64(v) - mean) * inv
			if l.gamma != nil {
				y *= float64(l.gamma[j])
			}
			if l.beta != nil {
				y += float64(l.beta[j])
			}
			res[g+j] = float32(y)
		}
	}
	if moved != nil {
		var invBuf [maxFastRank]int
		inv := intsIn(invBuf[:], len(perm))
		for i, p := range perm {
			inv[p] = i
		}
		permuteInto(out.Data, res, moved.Shape, inv)
	}
	return runtime.One(withMask(out, x)), nil
}

func isIdentity(perm []int) bool {
	for i, p := range perm {
		if i != p {
			return false
		}
	}
	return true
}

func init() {
	Register("BatchNormalization", decodeBatchNormalization)
	Register("LayerNormalization", decodeLayerNormalization)
}
