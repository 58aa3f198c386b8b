package layers

import "github.com/kerasrun/kerasrun/runtime"

// Load-time fusion. A BatchNormalization over the channel axis that reads
// a linear Conv2D, DepthwiseConv2D or SeparableConv2D is folded into the
// convolution's weights, and an element-wise activation layer (ReLU,
// LeakyReLU, ELU, ThresholdedReLU, Activation other than softmax) that
// reads a convolution whose own activation is linear becomes the
// convolution's activation, applied to its output while it is still in
// cache. The fused-away layer stays in the graph as an identity that keeps
// its name, class and parameter counts, so summaries do not change.
//
// Folding changes rounding only: the convolution computes
// Σ x·(w·scale) + (bias·scale + shift) instead of (Σ x·w + bias)·scale +
// shift. An activation is applied by the same function as in its own
// layer, so its results are bit for bit those of the unfused graph.

// Fuse folds next into prod, where next's only input is prod's only output
// and next is that output's only reader (the caller checks the graph), and
// returns the layer that stands in for next: an identity with next's name,
// class and parameter counts. It returns false, and changes nothing, when
// the pair does not fuse. prod must not have run yet (its packed weights
// are made on the first call), and must not be shared by other calls.
func Fuse(prod, next runtime.Layer) (runtime.Layer, bool) {
	var b base
	switch n := next.(type) {
	case *batchNormLayer:
		if !foldBatchNorm(prod, n) {
			return nil, false
		}
		b = n.base
	case *pointwiseLayer:
		f, vec := n.f, n.vec
		act := func(x []float32, _ int) {
			if vec != nil {
				vec(x, x)
				return
			}
			for i, v := range x {
				x[i] = f(v)
			}
		}
		if !fuseActivation(prod, act) {
			return nil, false
		}
		b = n.base
	case *activationLayer:
		if !n.elementwise || !fuseActivation(prod, n.act) {
			return nil, false
		}
		b = n.base
	default:
		return nil, false
	}
	return &identityLayer{base: b}, true
}

// channelAxis is the channel axis of a rank-4 convolution output.
func channelAxis(channelsFirst bool) int {
	if channelsFirst {
		return 1
	}
	return 3
}

// foldBatchNorm folds bn into a linear convolution: the kernel's output
// channel c is scaled by scale[c], and the bias becomes
// bias·scale + shift.
func foldBatchNorm(prod runtime.Layer, bn *batchNormLayer) bool {
	var kernel *[]float32
	var bias *[]float32
	var channelsFirst bool
	switch p := prod.(type) {
	case *conv2dLayer:
		if !p.linear {
			return false
		}
		kernel, bias, channelsFirst = &p.kernel, &p.bias, p.channelsFirst
	case *depthwiseConv2DLayer:
		if !p.linear {
			return false
		}
		kernel, bias, channelsFirst = &p.dw.kernel, &p.bias, p.dw.channelsFirst
	case *separableConv2DLayer:
		if !p.linear {
			return false
		}
		kernel, bias, channelsFirst = &p.pointwise, &p.bias, p.dw.channelsFirst
	default:
		return false
	}
	scale, shift, ok := bn.channelAffine(channelAxis(channelsFirst))
	n := len(scale)
	if !ok || n == 0 || len(*kernel)%n != 0 || (*bias != nil && len(*bias) != n) {
		return false
	}
	// The output channel is the kernel's innermost axis in every case.
	k := make([]float32, len(*kernel))
	for i, v := range *kernel {
		k[i] = v * scale[i%n]
	}
	nb := make([]float32, n)
	for c := range nb {
		var b0 float32
		if *bias != nil {
			b0 = (*bias)[c]
		}
		nb[c] = b0*scale[c] + shift[c]
	}
	*kernel, *bias = k, nb
	return true
}

// fuseActivation makes act the activation of a convolution whose own is
// linear.
func fuseActivation(prod runtime.Layer, act ActFunc) bool {
	switch p := prod.(type) {
	case *conv2dLayer:
		if !p.linear {
			return false
		}
		p.act, p.linear = act, false
	case *depthwiseConv2DLayer:
		if !p.linear {
			return false
		}
		p.act, p.linear = act, false
	case *separableConv2DLayer:
		if !p.linear {
			return false
		}
		p.act, p.linear = act, false
	default:
		return false
	}
	return true
}
