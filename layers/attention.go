package layers

import (
	"fmt"
	"math"

	"github.com/kerasrun/kerasrun/runtime"
)

// attentionLayer is tf.keras's (and Keras 3's) dot-product Attention, the
// Luong style:
//
//	scores = query · keyᵀ              (score_mode "dot"; · scale with use_scale)
//	scores = w · Σ tanh(scale·(q + k))  (score_mode "concat")
//	scores -= 1e9 where the value mask or the causal mask is false
//	out = softmax(scores) · value, times the query mask
//
// Inputs are [query, value] or [query, value, key] (key defaults to value).
// Keras: the products are tf.matmul over the last two axes, so every axis
// before them is a batch axis and a rank-2 input [batch, dim] is one matrix:
// each row of the batch attends over the rows of the other batch.
// Dropout acts only in training. The output carries the query's mask.
type attentionLayer struct {
	base
	concat  bool
	causal  bool
	scale   float32 // 1 without use_scale
	hasSc   bool
	concatW float32
}

type attentionConfig struct {
	spec     Spec
	useScale bool
	concat   bool
	causal   bool
}

// OutputMasks: the output carries the query's mask.
func (c *attentionConfig) OutputMasks(in []bool, nout int) []bool {
	out := make([]bool, nout)
	for i := range out {
		out[i] = len(in) > 0 && in[0]
	}
	return out
}

func decodeAttention(r *Reader) (Config, error) {
	c := &attentionConfig{spec: r.Spec()}
	c.useScale = r.Bool("use_scale", false)
	c.concat = r.OneOf("score_mode", "dot", "dot", "concat") == "concat"
	// Keras: tf.keras 2.1 to 2.10 store "causal"; later versions take
	// use_causal_mask as a call argument instead.
	c.causal = r.Bool("causal", false)
	r.Ignore("dropout", "seed")
	return c, nil
}

func (c *attentionConfig) Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	if len(in) < 2 || len(in) > 3 {
		return nil, nil, fmt.Errorf("takes [query, value] or [query, value, key], got %d inputs", len(in))
	}
	q, v := in[0], in[1]
	k := v
	if len(in) == 3 {
		k = in[2]
	}
	r := len(q)
	if r < 2 || len(v) != r || len(k) != r {
		return nil, nil, fmt.Errorf("input shapes %s: query, value and key need the same rank, at least 2", shapesString(in))
	}
	if dimsClash(q[r-1], k[r-1]) || dimsClash(v[r-2], k[r-2]) {
		return nil, nil, fmt.Errorf("input shapes %s: query and key need the same last dimension, value and key the same number of steps", shapesString(in))
	}
	for i := 0; i < r-2; i++ {
		if dimsClash(q[i], v[i]) || dimsClash(q[i], k[i]) {
			return nil, nil, fmt.Errorf("input shapes %s: batch axes differ", shapesString(in))
		}
	}
	l := &attentionLayer{concat: c.concat, causal: c.causal, scale: 1, concatW: 1}
	if c.useScale {
		s, err := w.Take("scale")
		if err != nil {
			return nil, nil, err
		}
		l.scale, l.hasSc = s.Data[0], true
	}
	if c.concat {
		s, err := w.Take("concat_score_weight")
		if err != nil {
			return nil, nil, err
		}
		l.concatW = s.Data[0]
	}
	l.base = newBase(c.spec, w)
	out := append([]int(nil), q...)
	out[r-1] = v[r-1]
	return l, [][]int{out}, nil
}

func dimsClash(a, b int) bool { return a >= 0 && b >= 0 && a != b }

func (l *attentionLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	if len(in) < 2 || len(in) > 3 {
		return nil, fmt.Errorf("layers: layer %q (Attention): takes 2 or 3 inputs, got %d", l.name, len(in))
	}
	q, v := in[0], in[1]
	k := v
	if len(in) == 3 {
		k = in[2]
	}
	r := q.Rank()
	if r < 2 || v.Rank() != r || k.Rank() != r || q.Shape[r-1] != k.Shape[r-1] || v.Shape[r-2] != k.Shape[r-2] ||
		!equalShapes(q.Shape[:r-2], v.Shape[:r-2]) || !equalShapes(q.Shape[:r-2], k.Shape[:r-2]) {
		return nil, fmt.Errorf("layers: layer %q (Attention): input shapes %v, %v, %v do not fit together", l.name, q.Shape, v.Shape, k.Shape)
	}
	nb := runtime.NumElements(q.Shape[:r-2])
	tq, d := q.Shape[r-2], q.Shape[r-1]
	tv, dv := v.Shape[r-2], v.Shape[r-1]
	// Keras masks cover [batch, steps]; they fit the attention only when
	// the steps are axis 1 of a rank-3 input.
	qMask, vMask := q.Mask, v.Mask
	for _, m := range []struct {
		mask []bool
		n    int
	}{{qMask, nb * tq}, {vMask, nb * tv}} {
		if m.mask != nil && (r != 3 || len(m.mask) != m.n) {
			return nil, fmt.Errorf("layers: layer %q (Attention): a mask of %d values does not fit inputs of shape %v", l.name, len(m.mask), q.Shape)
		}
	}
	var shape [maxFastRank + 1]int
	out := runtime.Zeros(append(append(shape[:0], q.Shape[:r-1]...), dv)...)
	scores := getScratch(tv)
	defer putScratch(scores)
	wtsp := getF64(tv)
	defer putF64(wtsp)
	wts := *wtsp
	for bi := 0; bi < nb; bi++ {
		qb := q.Data[bi*tq*d : (bi+1)*tq*d]
		kb := k.Data[bi*tv*d : (bi+1)*tv*d]
		vb := v.Data[bi*tv*dv : (bi+1)*tv*dv]
		for i := 0; i < tq; i++ {
			qi := qb[i*d : (i+1)*d]
			for j := 0; j < tv; j++ {
				kj := kb[j*d : (j+1)*d]
				var s float32
				if l.concat {
					var sum float64
					for c, x := range qi {
						sum += math.Tanh(float64(l.scale * (x + kj[c])))
					}
					s = l.concatW * float32(sum)
				} else {
					var dot float64
					for c, x := range qi {
						dot += float64(x) * float64(kj[c])
					}
					s = float32(dot)
					if l.hasSc {
						s *= l.scale
					}
				}
				// Keras: the bias is subtracted in float32, so the scores
				// of a fully masked row collapse to one value and that row
				// becomes a uniform average.
				if (vMask != nil && !vMask[bi*tv+j]) || (l.causal && j > i) {
					s -= 1e9
				}
				scores[j] = s
			}
			m := math.Inf(-1)
			for _, s := range scores {
				m = math.Max(m, float64(s))
			}
			var sum float64
			for j, s := range scores {
				wts[j] = math.Exp(float64(s) - m)
				sum += wts[j]
			}
			dst := out.Data[(bi*tq+i)*dv : (bi*tq+i+1)*dv]
			if qMask != nil && !qMask[bi*tq+i] {
				continue // Keras multiplies the row by the query mask: zeros
			}
			for c := range dst {
				var acc float64
				for j := 0; j < tv; j++ {
					acc += wts[j] / sum * float64(vb[j*dv+c])
				}
				dst[c] = float32(acc)
			}
		}
	}
	out.Mask = qMask
	return runtime.One(out), nil
}

func init() {
	Register("Attention", decodeAttention)
}
