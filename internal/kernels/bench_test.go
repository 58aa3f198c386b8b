package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// The benchmark shapes: the recurrent steps and input projections of the
// perf workloads (see shared/perf/WORKLOADS.md) and a few odd sizes.
var benchShapes = []struct{ m, k, n int }{
	{1, 512, 2048},    // W3 batch-1 step h·U
	{32, 512, 2048},   // W3 batch-32 step
	{30, 512, 2048},   // (tile check)
	{24, 512, 2048},   // (tile check)
	{1, 128, 512},     // W1 bidir-1 batch-1 step
	{32, 128, 512},    // W1 bidir-1 batch-32 step
	{50, 256, 2048},   // W3 layer-1 x·W, batch 1 (50 steps)
	{1600, 256, 2048}, // W3 layer-1 x·W, batch 32
	{1600, 512, 2048}, // W3 layer-2 x·W, batch 32
	{3200, 64, 512},   // W1 bidir-1 x·W (one direction), batch 32
	{6272, 640, 128},  // W2 conv1d as im2col GEMM, batch 32
	{100, 64, 512},    // W1 bidir-1 x·W, batch 1
	{100, 256, 256},   // W1 bidir-2 x·W, batch 1
	{1, 128, 10},      // W1 dense
	{33, 100, 3},      // odd
}

var sinkF32 float32

func gflops(b *testing.B, m, k, n int) {
	b.ReportMetric(2*float64(m)*float64(k)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkGemm compares Gemm (the kernels of the path in force: run with
// KERASRUN_ISA=avx2 or avx512 to pick one, and the pure-Go kernels),
// GemmParallel with 2 threads and gonum's blas32 Sgemm on the same data.
func BenchmarkGemm(b *testing.B) {
	for _, s := range benchShapes {
		r := rand.New(rand.NewPCG(1, 2))
		a := randSlice(r, s.m*s.k)
		w := randSlice(r, s.k*s.n)
		c := make([]float32, s.m*s.n)
		pb := PackB(s.k, s.n, w, s.n)
		name := fmt.Sprintf("m=%d,k=%d,n=%d", s.m, s.k, s.n)
		b.Run(name+"/kernels", func(b *testing.B) {
			for b.Loop() {
				Gemm(s.m, a, s.k, pb, c, s.n, false)
			}
			gflops(b, s.m, s.k, s.n)
		})
		if s.m == 1 {
			// The recurrent layers' batch-1 copy (AddRows).
			pr := PackB(s.k, s.n, w, s.n).AddRows()
			b.Run(name+"/rows", func(b *testing.B) {
				for b.Loop() {
					Gemm(s.m, a, s.k, pr, c, s.n, false)
				}
				gflops(b, s.m, s.k, s.n)
			})
			b.Run(name+"/rows-2t", func(b *testing.B) {
				for b.Loop() {
					GemmParallel(s.m, a, s.k, pr, c, s.n, false, 2)
				}
				gflops(b, s.m, s.k, s.n)
			})
		}
		b.Run(name+"/kernels-2t", func(b *testing.B) {
			for b.Loop() {
				GemmParallel(s.m, a, s.k, pb, c, s.n, false, 2)
			}
			gflops(b, s.m, s.k, s.n)
		})
		b.Run(name+"/purego", func(b *testing.B) {
			defer forceISA(b, "generic")()
			for b.Loop() {
				Gemm(s.m, a, s.k, pb, c, s.n, false)
			}
			gflops(b, s.m, s.k, s.n)
		})
		b.Run(name+"/gonum", func(b *testing.B) {
			A := blas32.General{Rows: s.m, Cols: s.k, Stride: s.k, Data: a}
			B := blas32.General{Rows: s.k, Cols: s.n, Stride: s.n, Data: w}
			C := blas32.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: c}
			for b.Loop() {
				blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, A, B, 0, C)
			}
			gflops(b, s.m, s.k, s.n)
		})
		sinkF32 += c[0]
	}
}

// BenchmarkRecurrentStep measures the batch-1 product of a recurrent step
// repeated as a time loop runs it, over matrices of 2, 4 and 8 MiB (larger
// than L2, within L3): from the panels and from the batch-1 copy, walked
// forwards at every step ("fwd") or forwards and backwards on alternate
// steps ("alt", GemmPanels and GemmPanelsDesc), in GB/s of weights read.
func BenchmarkRecurrentStep(b *testing.B) {
	for _, s := range []struct{ k, n int }{{512, 1024}, {512, 2048}, {1024, 2048}} {
		r := rand.New(rand.NewPCG(3, 4))
		a := randSlice(r, s.k)
		w := randSlice(r, s.k*s.n)
		c := make([]float32, s.n)
		for _, layout := range []string{"panels", "rows"} {
			pb := PackB(s.k, s.n, w, s.n)
			if layout == "rows" {
				pb.AddRows()
			}
			for _, walk := range []string{"fwd", "alt"} {
				b.Run(fmt.Sprintf("k=%d,n=%d/%s/%s", s.k, s.n, layout, walk), func(b *testing.B) {
					b.SetBytes(int64(4 * s.k * s.n))
					step := 0
					for b.Loop() {
						if walk == "alt" && step&1 == 1 {
							GemmPanelsDesc(1, a, s.k, pb, 0, pb.Panels(), c, s.n, false)
						} else {
							GemmPanels(1, a, s.k, pb, 0, pb.Panels(), c, s.n, false)
						}
						step++
					}
				})
			}
		}
		sinkF32 += c[0]
	}
}

// BenchmarkConv1D measures W2's Conv1D(128, 5) over one sample of 200
// steps as one Gemm on the input in place (overlapping rows of A:
// lda = 128, k = 640), against gonum on an im2col copy (not timed).
func BenchmarkConv1D(b *testing.B) {
	const T, in, kw, out = 200, 128, 5, 128
	m, k := T-kw+1, kw*in
	r := rand.New(rand.NewPCG(1, 2))
	x := randSlice(r, T*in)
	w := randSlice(r, k*out)
	c := make([]float32, m*out)
	pb := PackB(k, out, w, out)
	b.Run("T=200,in=128,k=5,out=128/kernels", func(b *testing.B) {
		for b.Loop() {
			Gemm(m, x, in, pb, c, out, false)
		}
		gflops(b, m, k, out)
	})
	b.Run("T=200,in=128,k=5,out=128/gonum-im2col", func(b *testing.B) {
		col := make([]float32, m*k)
		for t := 0; t < m; t++ {
			copy(col[t*k:(t+1)*k], x[t*in:t*in+k])
		}
		A := blas32.General{Rows: m, Cols: k, Stride: k, Data: col}
		B := blas32.General{Rows: k, Cols: out, Stride: out, Data: w}
		C := blas32.General{Rows: m, Cols: out, Stride: out, Data: c}
		for b.Loop() {
			blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, A, B, 0, C)
		}
		gflops(b, m, k, out)
	})
	sinkF32 += c[0]
}

// BenchmarkAct measures the in-place activations over one LSTM step's worth
// of gate values (4×512), reported as ns per element.
func BenchmarkAct(b *testing.B) {
	const n = 2048
	r := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(r.NormFloat64() * 3)
	}
	x := make([]float32, n)
	for _, f := range []struct {
		name string
		fn   func([]float32)
	}{
		{"Exp", Exp}, {"Sigmoid", Sigmoid}, {"Tanh", Tanh},
		{"HardSigmoid", func(x []float32) { HardSigmoid(x, 0.2) }},
	} {
		// The vector path in force (named after it), and pure Go.
		for _, isa := range []string{ISA(), "generic"} {
			name := f.name + "/" + isa
			if isa == "generic" {
				name = f.name + "/purego"
			}
			b.Run(name, func(b *testing.B) {
				defer forceISA(b, isa)()
				for b.Loop() {
					copy(x, src)
					f.fn(x)
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/elem")
			})
		}
	}
	sinkF32 += x[0]
}

// BenchmarkLSTMGates measures the fused gate step for one row of u=512,
// on the path in force (named after it) and others.
func BenchmarkLSTMGates(b *testing.B) {
	const u = 512
	r := rand.New(rand.NewPCG(5, 6))
	z := make([]float32, 4*u)
	for i := range z {
		z[i] = float32(r.NormFloat64() * 2)
	}
	c := make([]float32, u)
	h := make([]float32, u)
	zs := make([]float32, 4*u)
	for _, v := range []struct {
		name string
		run  func()
	}{
		{"sigmoid/" + ISA(), func() { LSTMGates(z, c, h, u, Gate{Kind: GateSigmoid}) }},
		{"hard/" + ISA(), func() { LSTMGates(z, c, h, u, Gate{Kind: GateHardSigmoid, Slope: 0.2}) }},
		{"sigmoid/func", func() { copy(zs, z); LSTMGatesFunc(zs, c, h, u, Tanh, Sigmoid) }},
		{"sigmoid/purego", func() { r := forceISA(b, "generic"); LSTMGates(z, c, h, u, Gate{Kind: GateSigmoid}); r() }},
	} {
		b.Run("u=512/"+v.name, func(b *testing.B) {
			clear(c)
			for b.Loop() {
				v.run()
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/u, "ns/unit")
		})
	}
	sinkF32 += h[0]
}

// BenchmarkGatherRows measures an embedding lookup of W2's shape (6,400
// token ids into a 20,000 × 128 table, 10 MB) by GatherRows against a plain
// row-by-row copy, with the table in the caches ("warm") and evicted from
// them before every lookup ("cold", by writing 64 MB elsewhere, outside the
// timing): a served model's table is mostly cold, as the layers between
// two lookups evict it.
func BenchmarkGatherRows(b *testing.B) {
	const vocab, d, n = 20000, 128, 6400
	r := rand.New(rand.NewPCG(9, 10))
	table := randSlice(r, vocab*d)
	ids := make([]float32, n)
	for i := range ids {
		ids[i] = float32(r.IntN(vocab))
	}
	dst := make([]float32, n*d)
	evict := make([]float32, 16<<20)
	plain := func() {
		for i, v := range ids {
			id := int(v)
			copy(dst[i*d:(i+1)*d], table[id*d:(id+1)*d])
		}
	}
	for _, cold := range []bool{false, true} {
		for _, v := range []struct {
			name string
			run  func()
		}{
			{"copy", plain},
			{ISA(), func() { GatherRows(dst, table, ids, d) }},
		} {
			name := "warm/" + v.name
			if cold {
				name = "cold/" + v.name
			}
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if cold {
						b.StopTimer()
						for j := range evict {
							evict[j]++
						}
						b.StartTimer()
					}
					v.run()
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/row")
			})
		}
	}
	sinkF32 += dst[0] + evict[0]
}
