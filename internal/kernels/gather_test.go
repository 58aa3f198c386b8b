package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestGatherRows checks GatherRows against a row-by-row copy on every path
// this machine runs: row widths below, at and around the vector width and
// the cache line (among them widths whose rows start mid-line), id lists
// shorter and longer than the prefetch distance, repeated ids, and a dst
// longer than needed, whose tail must stay as it was.
func TestGatherRows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, d := range []int{1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 50, 100, 128, 300} {
			const rows = 37
			table := make([]float32, rows*d)
			for i := range table {
				table[i] = float32(r.NormFloat64())
			}
			for _, n := range []int{0, 1, 2, 7, 8, 9, 20, 100} {
				ids := make([]float32, n)
				for i := range ids {
					ids[i] = float32(r.IntN(rows))
				}
				if n > 2 {
					ids[n-1], ids[0] = rows-1, 0 // the table's first and last rows
				}
				dst := make([]float32, n*d+5)
				for i := range dst {
					dst[i] = -7
				}
				GatherRows(dst, table, ids, d)
				for i, v := range ids {
					want, got := table[int(v)*d:int(v+1)*d], dst[i*d:(i+1)*d]
					for j := range want {
						if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
							t.Fatalf("isa=%s d=%d n=%d: row %d (id %v) element %d = %v, want %v", isa, d, n, i, v, j, got[j], want[j])
						}
					}
				}
				for i, v := range dst[n*d:] {
					if v != -7 {
						t.Fatalf("isa=%s d=%d n=%d: dst[%d] past the rows changed to %v", isa, d, n, n*d+i, v)
					}
				}
			}
		}
		restore()
	}
}

// TestGatherRowsRefuses: an id that is not a row, or a dst too short,
// panics before anything is copied.
func TestGatherRowsRefuses(t *testing.T) {
	table := make([]float32, 4*8)
	for _, tc := range []struct {
		name string
		ids  []float32
		dst  int
		want string
	}{
		{"id past the table", []float32{0, 4}, 16, "ids[1] = 4"},
		{"negative id", []float32{-1}, 8, "ids[0] = -1"},
		{"fractional id", []float32{1.5}, 8, "ids[0] = 1.5"},
		{"NaN id", []float32{float32(math.NaN())}, 8, "ids[0] = NaN"},
		{"huge id", []float32{1e30}, 8, "ids[0] = 1e+30"},
		{"short dst", []float32{0, 1}, 15, "len(dst)=15"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]float32, tc.dst)
			for i := range dst {
				dst[i] = -7
			}
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.Contains(msg, tc.want) {
					t.Fatalf("panic %q, want one naming %q", msg, tc.want)
				}
				for i, v := range dst {
					if v != -7 {
						t.Fatalf("dst[%d] changed to %v before the panic", i, v)
					}
				}
			}()
			GatherRows(dst, table, tc.ids, 8)
		})
	}
}
