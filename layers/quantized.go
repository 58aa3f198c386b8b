package layers

import (
	"fmt"
	"math"
)

// Keras 3 int8 quantization (dtype policy "int8_from_float32"), as Dense
// and EinsumDense run it (keras/src/layers/core/dense.py _int8_call,
// keras/src/quantizers/quantizers.py abs_max_quantize):
//
//   - the kernel is stored quantized: int8 values q [k, n] and a float32
//     scale per output column, so that kernel ≈ q / scale;
//   - at call time each input row x (the k values a column contracts with)
//     is quantized too: s = 127 / (max|x| + 1e-7), xq = clip(round(x·s),
//     -127, 127), rounding half to even, all in float32;
//   - the product of the int8 values is exact (int32), then cast to float32
//     and divided by scale[j]·s (a float32 product).
//
// kerasrun does the same operations in the same float32 order, so the
// result is Keras's to the last bit up to the float32 cast of the integer
// sum, which is exact for k ≤ 1040.

// int8Epsilon is Keras's backend.epsilon(), added to the abs-max of a row.
const int8Epsilon = float32(1e-7)

// int8Matmul is an int8-quantized kernel [k, n] with its column scales.
type int8Matmul struct {
	k, n  int
	qT    []int8    // [n, k]: column j of the kernel is qT[j*k : (j+1)*k]
	scale []float32 // [n]
}

// newInt8Matmul checks the stored int8 kernel (as float32 values, [k, n])
// and its scale ([n] values) and transposes the kernel into columns.
func newInt8Matmul(k, n int, kernel, scale []float32) (*int8Matmul, error) {
	if len(kernel) != k*n || len(scale) != n {
		return nil, fmt.Errorf("int8 kernel of %d values and scale of %d values for a [%d, %d] kernel", len(kernel), len(scale), k, n)
	}
	m := &int8Matmul{k: k, n: n, qT: make([]int8, k*n), scale: scale}
	for i, v := range kernel {
		if v != float32(math.Trunc(float64(v))) || v < -128 || v > 127 {
			return nil, fmt.Errorf("int8 kernel: value %v at flat index %d is not an int8", v, i)
		}
		r, c := i/n, i%n
		m.qT[c*k+r] = int8(v)
	}
	for j, s := range scale {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return nil, fmt.Errorf("int8 kernel: scale %v of column %d is not a positive number", s, j)
		}
	}
	return m, nil
}

// quantizeRow quantizes x into q as Keras's AbsMaxQuantizer does (axis -1,
// value range ±127) and returns the row's scale.
func quantizeRow(x []float32, q []int8) float32 {
	var amax float32
	for _, v := range x {
		if v < 0 {
			v = -v
		}
		if v > amax {
			amax = v
		}
	}
	d := float32(amax + int8Epsilon)
	s := float32(127 / d)
	for i, v := range x {
		p := float32(v * s)
		r := math.RoundToEven(float64(p))
		if r > 127 {
			r = 127
		} else if r < -127 {
			r = -127
		}
		q[i] = int8(r)
	}
	return s
}

// forward computes out [rows, n] (row stride n) from x [rows, k] (row
// stride k).
func (m *int8Matmul) forward(rows int, x, out []float32) {
	q := make([]int8, m.k)
	for i := 0; i < rows; i++ {
		s := quantizeRow(x[i*m.k:(i+1)*m.k], q)
		o := out[i*m.n : (i+1)*m.n]
		for j := range o {
			col := m.qT[j*m.k : (j+1)*m.k]
			var acc int32
			for t, v := range col {
				acc += int32(v) * int32(q[t])
			}
			d := float32(m.scale[j] * s)
			o[j] = float32(float32(acc) / d)
		}
	}
}

// dequantizeEmbeddings returns the float32 table of a Keras int8 Embedding:
// row i is q[i] / scale[i] (keras/src/layers/core/embedding.py _int8_call,
// which divides after the lookup; the division is the same per row, so it
// is done once here).
func dequantizeEmbeddings(inputDim, outputDim int, q, scale []float32) ([]float32, error) {
	if len(q) != inputDim*outputDim || len(scale) != inputDim {
		return nil, fmt.Errorf("int8 embeddings of %d values and scale of %d values for a [%d, %d] table", len(q), len(scale), inputDim, outputDim)
	}
	out := make([]float32, len(q))
	for i := 0; i < inputDim; i++ {
		s := scale[i]
		for j := 0; j < outputDim; j++ {
			v := q[i*outputDim+j]
			if v != float32(math.Trunc(float64(v))) || v < -128 || v > 127 {
				return nil, fmt.Errorf("int8 embeddings: value %v at [%d, %d] is not an int8", v, i, j)
			}
			out[i*outputDim+j] = float32(v / s)
		}
	}
	return out, nil
}

// takeQuantizedKernel takes the weights of an int8 Dense or EinsumDense:
// kernel (int8 values, shape kshape), bias (when bshape is not nil) and
// kernel_scale (any shape of n values).
//
// Keras: a .keras file stores them in the order of
// variable_serialization_spec["int8"] (kernel, bias, kernel_scale); a
// legacy .h5 file in the order trainable then non-trainable (bias, kernel,
// kernel_scale), since the int8 kernel is not trainable. Positional weights
// (Keras 3 "vars/<i>") follow the first order; named ones say which.
func takeQuantizedKernel(w *Weights, kshape, bshape []int, n int) (kernel, bias, scale Weight, err error) {
	first, _ := w.Peek()
	if bshape != nil && !first.Positional && BaseName(first.Name) == "bias" {
		if bias, err = w.Take("bias", bshape...); err != nil {
			return
		}
		bshape = nil
	}
	if kernel, err = w.Take("kernel", kshape...); err != nil {
		return
	}
	if bshape != nil {
		if bias, err = w.Take("bias", bshape...); err != nil {
			return
		}
	}
	next, ok := w.Peek()
	if !ok {
		_, err = w.Take("kernel_scale", n)
		return
	}
	if runtimeNumElements(next.Shape) != n {
		err = fmt.Errorf("weight %q: expected %d values (one per output column), found shape %v", "kernel_scale", n, next.Shape)
		return
	}
	scale, err = w.Take("kernel_scale", next.Shape...)
	return
}

func runtimeNumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
