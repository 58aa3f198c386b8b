package kernels

import "fmt"

// GatherRows copies row int(ids[i]) of table, d floats wide, to
// dst[i*d : (i+1)*d] for every i: an embedding's lookup. Every id must be
// an integer in [0, len(table)/d); the caller checks them (Embedding does,
// and reports a bad one against the model's input). GatherRows panics, before
// it copies anything, on one that is not and on a dst too short.
//
// With AVX2 and rows of at least 8 floats the copy prefetches the rows a
// few ids ahead (gatherRowsAVX2); the bytes copied are the same on every path.
func GatherRows(dst, table, ids []float32, d int) {
	if d <= 0 || len(dst) < len(ids)*d {
		panic(fmt.Sprintf("kernels: GatherRows: d=%d, len(dst)=%d for %d ids", d, len(dst), len(ids)))
	}
	rows := len(table) / d
	for i, v := range ids {
		if id := int(v); float32(id) != v || id < 0 || id >= rows {
			panic(fmt.Sprintf("kernels: GatherRows: ids[%d] = %v is not a row of a table of %d", i, v, rows))
		}
	}
	if len(ids) == 0 {
		return
	}
	if useAVX2 && d >= 8 {
		gatherRowsAVX2(&dst[0], &table[0], &ids[0], len(ids), d)
		return
	}
	for i, v := range ids {
		id := int(v)
		copy(dst[i*d:(i+1)*d], table[id*d:(id+1)*d])
	}
}
