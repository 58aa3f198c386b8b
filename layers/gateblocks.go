package layers

import "github.com/kerasrun/kerasrun/internal/kernels"

// gateBlocks is the column layout of a gated recurrent cell's weights
// after load. Keras stores the gates one after another ([i | f | c | o] for
// an LSTM, each units wide); we regroup the columns in blocks of up to
// blockUnits units, each block holding all the gates of its units
// ([i f c o] of units j0..j0+w, each w wide). One block's slice of the
// recurrent product and its gate math then depend on no other block, so a
// step runs as one parallel loop over blocks, each doing its matrix
// product and then its gates while the pre-activations are still in cache.
// The regrouping moves whole columns: every value is computed exactly as
// in the gate-major layout.
type gateBlocks struct {
	units, gates int
}

// blockUnits is the block width in units: a block of an LSTM is
// 4·32 = 128 columns, 8 panels of the matrix kernels.
const blockUnits = 32

func (g gateBlocks) n() int { return (g.units + blockUnits - 1) / blockUnits }

// block returns the first unit, the first column and the width (units) of
// block b.
func (g gateBlocks) block(b int) (j0, col0, w int) {
	j0 = b * blockUnits
	return j0, j0 * g.gates, min(blockUnits, g.units-j0)
}

// panels returns the panel range of the packed weights that holds block b.
func (g gateBlocks) panels(b int) (p0, p1 int) {
	_, col0, w := g.block(b)
	pw := kernels.PanelWidth
	return col0 / pw, (col0 + g.gates*w + pw - 1) / pw
}

// col returns the column of gate gi of unit j.
func (g gateBlocks) col(gi, j int) int {
	b := j / blockUnits
	_, col0, w := g.block(b)
	return col0 + gi*w + j%blockUnits
}

// srcCols returns, for each column of the block order, the Keras-order
// column it comes from (kernels.PackBCols packs with it, without a
// regrouped copy).
func (g gateBlocks) srcCols() []int {
	n := g.gates * g.units
	cols := make([]int, n)
	for gi := 0; gi < g.gates; gi++ {
		for j := 0; j < g.units; j++ {
			cols[g.col(gi, j)] = gi*g.units + j
		}
	}
	return cols
}

// regroup returns a copy of m [rows, gates·units] (gate-major, as Keras
// stores it) with its columns in block order. A nil m gives nil.
func (g gateBlocks) regroup(m []float32, rows int) []float32 {
	if m == nil {
		return nil
	}
	n := g.gates * g.units
	out := make([]float32, rows*n)
	for gi := 0; gi < g.gates; gi++ {
		for j := 0; j < g.units; j++ {
			dst := g.col(gi, j)
			src := gi*g.units + j
			for r := 0; r < rows; r++ {
				out[r*n+dst] = m[r*n+src]
			}
		}
	}
	return out
}
