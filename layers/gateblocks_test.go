package layers

import (
	"context"
	"math/rand"
	goruntime "runtime"
	"strconv"
	"testing"

	"github.com/kerasrun/kerasrun/internal/parallel"
	"github.com/kerasrun/kerasrun/runtime"
)

// TestGateBlocksLayout checks that regroup puts every column where col
// says, that the blocks tile the columns, and that each block's panels
// cover its columns.
func TestGateBlocksLayout(t *testing.T) {
	for _, u := range []int{1, 7, 32, 33, 50, 100, 128} {
		for _, gates := range []int{3, 4} {
			g := gateBlocks{units: u, gates: gates}
			n := gates * u
			m := make([]float32, 2*n)
			for i := range m {
				m[i] = float32(i)
			}
			r := g.regroup(m, 2)
			seen := make([]bool, n)
			for gi := 0; gi < gates; gi++ {
				for j := 0; j < u; j++ {
					c := g.col(gi, j)
					if seen[c] {
						t.Fatalf("u=%d gates=%d: column %d used twice", u, gates, c)
					}
					seen[c] = true
					for row := 0; row < 2; row++ {
						if r[row*n+c] != m[row*n+gi*u+j] {
							t.Fatalf("u=%d gates=%d: gate %d unit %d row %d not at column %d", u, gates, gi, j, row, c)
						}
					}
				}
			}
			next := 0
			for b := 0; b < g.n(); b++ {
				j0, col0, w := g.block(b)
				if col0 != next || j0 != b*blockUnits || w < 1 {
					t.Fatalf("u=%d gates=%d: block %d = (%d, %d, %d)", u, gates, b, j0, col0, w)
				}
				next = col0 + gates*w
				p0, p1 := g.panels(b)
				if p0*16 > col0 || p1*16 < next {
					t.Fatalf("u=%d gates=%d: block %d panels [%d, %d) miss columns [%d, %d)", u, gates, b, p0, p1, col0, next)
				}
			}
			if next != n {
				t.Fatalf("u=%d gates=%d: blocks cover %d columns, want %d", u, gates, next, n)
			}
		}
	}
}

// TestLSTMParallelStepBitIdentical runs LSTMs whose steps are split over
// goroutines by gate block and checks every output bit against the same
// layer run on one goroutine. Unit counts cover a partial last block and
// a partial last panel.
func TestLSTMParallelStepBitIdentical(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(0))
	defer func(v int) { stepParMinFlops = v }(stepParMinFlops)
	env := Env{KerasVersion: "2.3.1", Backend: "tensorflow"}
	rng := rand.New(rand.NewSource(3))
	for _, u := range []int{36, 70, 96} {
		for _, act := range []string{"sigmoid", "hard_sigmoid", "relu"} {
			const in = 9
			ws := []Weight{
				{Name: "lstm_1/kernel:0", Shape: []int{in, 4 * u}, Data: randTensor(rng, in, 4*u).Data},
				{Name: "lstm_1/recurrent_kernel:0", Shape: []int{u, 4 * u}, Data: randTensor(rng, u, 4*u).Data},
				{Name: "lstm_1/bias:0", Shape: []int{4 * u}, Data: randTensor(rng, 4*u).Data},
			}
			l, _ := buildLayer(t, "lstm_1", "LSTM",
				`{"name": "lstm_1", "units": `+strconv.Itoa(u)+`, "return_sequences": true, "return_state": true, "recurrent_activation": "`+act+`"}`,
				env, []int{-1, 5, in}, ws)
			for _, batch := range []int{1, 4} {
				x := randTensor(rng, batch, 5, in)
				goruntime.GOMAXPROCS(1)
				want, err := l.Forward([]*runtime.Tensor{x})
				if err != nil {
					t.Fatal(err)
				}
				goruntime.GOMAXPROCS(2)
				stepParMinFlops = 0
				got, err := l.Forward([]*runtime.Tensor{x})
				stepParMinFlops = 1 << 30
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					for j := range want[i].Data {
						if got[i].Data[j] != want[i].Data[j] {
							t.Fatalf("u=%d %s batch=%d: output %d element %d = %v split, %v serial", u, act, batch, i, j, got[i].Data[j], want[i].Data[j])
						}
					}
				}
			}
		}
	}
}

// randRecurrent builds a Keras 2.3 recurrent layer "r" of class LSTM, GRU
// (reset_after) or SimpleRNN with u units over inputs [-1, steps, in],
// random weights and the extra options opts.
func randRecurrent(t *testing.T, rng *rand.Rand, class string, in, u, steps int, opts string) runtime.Layer {
	t.Helper()
	gates, bias, extra := 1, []int{u}, ""
	switch class {
	case "LSTM":
		gates, bias = 4, []int{4 * u}
	case "GRU":
		gates, bias, extra = 3, []int{2, 3 * u}, `, "reset_after": true`
	}
	ws := []Weight{
		{Name: "r/kernel:0", Shape: []int{in, gates * u}, Data: randTensor(rng, in, gates*u).Data},
		{Name: "r/recurrent_kernel:0", Shape: []int{u, gates * u}, Data: randTensor(rng, u, gates*u).Data},
		{Name: "r/bias:0", Shape: bias, Data: randTensor(rng, bias...).Data},
	}
	env := Env{KerasVersion: "2.3.1", Backend: "tensorflow"}
	l, _ := buildLayer(t, "r", class, `{"name": "r", "units": `+strconv.Itoa(u)+`, `+opts+extra+`}`, env, []int{-1, steps, in}, ws)
	return l
}

// TestChunkedProjectionBitIdentical runs recurrent layers of every cell
// (forwards and go_backwards, with and without return_sequences) with the
// input projection computed all at once, a few steps at a time from
// gathered inputs, and a step at a time from the inputs in place, and
// checks every output bit.
func TestChunkedProjectionBitIdentical(t *testing.T) {
	defer func(a, b, c int) { projChunk, projMinSteps, projInPlace = a, b, c }(projChunk, projMinSteps, projInPlace)
	rng := rand.New(rand.NewSource(5))
	const in, u, steps, batch = 6, 5, 37, 3
	for _, class := range []string{"LSTM", "GRU", "SimpleRNN"} {
		for _, opts := range []string{`"go_backwards": false, "return_sequences": true`, `"go_backwards": true, "return_sequences": false`} {
			l := randRecurrent(t, rng, class, in, u, steps, opts)
			x := randTensor(rng, batch, steps, in)
			projChunk, projMinSteps, projInPlace = 1<<30, 1, 0
			want, err := l.Forward([]*runtime.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			_, _, gates, _ := l.(*rnnLayer).cell.sizes()
			projChunk = 4 * batch * gates // 4 steps a chunk: 37 = 9*4 + 1
			for _, inPlace := range []int{0, 1 << 30} {
				projInPlace = inPlace // gathered, then read in place
				got, err := l.Forward([]*runtime.Tensor{x})
				if err != nil {
					t.Fatal(err)
				}
				for i := range want[0].Data {
					if got[0].Data[i] != want[0].Data[i] {
						t.Fatalf("%s %s in place %v: element %d = %v chunked, %v whole", class, opts, inPlace > 0, i, got[0].Data[i], want[0].Data[i])
					}
				}
			}
			projInPlace = 0
		}
	}
}

// TestRowSplitBitIdentical runs recurrent layers of every cell with the
// batch split into pieces of rows (each its own time loop, on up to three
// cores) and whole, with a mask, go_backwards, return_sequences and
// return_state, and checks every output bit: a row's arithmetic must not
// depend on the rows it runs with.
func TestRowSplitBitIdentical(t *testing.T) {
	// Pieces of rows are a quiet machine's way (recurPieces).
	parallel.OverrideContention(parallel.ContentionQuiet)
	defer parallel.OverrideContention(parallel.ContentionMachine)
	defer func(a, b int) { rowSplitMin, rowSplitSmall = a, b }(rowSplitMin, rowSplitSmall)
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(3))
	rng := rand.New(rand.NewSource(9))
	const in, u, steps = 7, 40, 23
	for _, class := range []string{"LSTM", "GRU", "SimpleRNN"} {
		for _, opts := range []string{`"go_backwards": false, "return_sequences": true, "return_state": true`, `"go_backwards": true, "return_sequences": false, "return_state": true`} {
			l := randRecurrent(t, rng, class, in, u, steps, opts)
			for _, sz := range []struct{ batch, rows int }{{13, 4}, {13, 6}, {2, 1}} { // 3, 2 and 2 pieces
				batch := sz.batch
				x := randTensor(rng, batch, steps, in)
				for _, masked := range []bool{false, true} {
					x.Mask = nil
					if masked {
						x.Mask = make([]bool, batch*steps)
						for i := range x.Mask {
							x.Mask[i] = rng.Intn(4) > 0
						}
					}
					rowSplitMin, rowSplitSmall = 1<<30, 0
					want, err := l.Forward([]*runtime.Tensor{x})
					if err != nil {
						t.Fatal(err)
					}
					rows := sz.rows
					rowSplitMin = rows
					if p := recurPieces(context.Background(), l.(*rnnLayer).cell, batch, steps); p != batch/rows {
						t.Fatalf("rowSplitMin %d: %d pieces, want %d", rows, p, batch/rows)
					}
					got, err := l.Forward([]*runtime.Tensor{x})
					if err != nil {
						t.Fatal(err)
					}
					if len(got) != len(want) {
						t.Fatalf("%d outputs split, %d whole", len(got), len(want))
					}
					for k := range want {
						for i := range want[k].Data {
							if got[k].Data[i] != want[k].Data[i] {
								t.Fatalf("%s %s mask %v, batch %d in pieces of %d rows: output %d element %d = %v split, %v whole", class, opts, masked, batch, rows, k, i, got[k].Data[i], want[k].Data[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestCoresOf checks the core budget that Bidirectional hands each
// direction: half of what it has, at least one, never above GOMAXPROCS.
func TestCoresOf(t *testing.T) {
	// directionCtx is the context Bidirectional gives a direction.
	directionCtx := func(ctx context.Context) context.Context {
		return withCores(ctx, directionCores(ctx))
	}
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(4))
	bg := context.Background()
	for _, c := range []struct {
		ctx  context.Context
		want int
	}{
		{bg, 4},
		{directionCtx(bg), 2},
		{directionCtx(directionCtx(bg)), 1},
		{directionCtx(directionCtx(directionCtx(bg))), 1},
		{withCores(bg, 8), 4},
		{withCores(bg, 0), 1},
	} {
		if got := coresOf(c.ctx); got != c.want {
			t.Errorf("coresOf = %d, want %d", got, c.want)
		}
	}
}
