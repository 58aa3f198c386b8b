package kernels

import (
	"fmt"
	"runtime"

	"github.com/kerasrun/kerasrun/internal/freelist"
)

// Tile and block sizes. The micro-kernel computes an mr×nr tile of C; the
// driver walks k in blocks of at most kc so that one packed micro-panel of B
// (kc×nr floats, at most 32 KiB) stays in L1 or L2 while the row tiles of
// one block of A (at most mc rows × kc, 192 KiB) come from L2. kc = 512
// keeps the recurrent product of a 512-unit LSTM (k = 512) in one k block:
// 7-8% faster on its batch-32 step than two blocks of 256 (alternating
// runs in one process; other shapes unchanged).
//
// mr is the tile height of the AVX2 and pure-Go kernels; the AVX-512
// kernels hold twice as many accumulators (32 vector registers) and run
// tiles of mrZ rows (tileRows). nr, the panel width, is the same on every
// path, so a PackedB serves any of them.
const (
	mr    = 6
	mrZ   = 12
	mrMax = mrZ
	nr    = 16
)

var (
	kc = 512 // largest k block; a variable so benchmarks can tune it
	mc = 96  // row block (a multiple of mr and mrZ)
)

// PackedB is a weight matrix B [k×n] packed once into the layout of the
// micro-kernel: ceil(n/16) panels, each holding k rows of 16 consecutive
// floats (panel j, row p holds B[p, 16j:16j+16], zero-padded past n). The
// panels are contiguous, so a row vector times B streams the whole buffer
// once, front to back.
//
// A PackedB may also hold a second copy of its full panels for the
// batch-1 product (AddRows). It is immutable once packed (and AddRows has
// run, if it does) and safe for concurrent use.
type PackedB struct {
	k, n, panels int
	data         []float32 // panels*k*nr floats, 64-byte aligned
	// rows is the row-interleaved copy of the full panels (AddRows), in
	// groups of rowsPanels panels; nil without one.
	rows []float32
}

// K returns the number of rows of B (the inner dimension of the product).
func (p *PackedB) K() int { return p.k }

// N returns the number of columns of B.
func (p *PackedB) N() int { return p.n }

// PackB packs the row-major matrix B [k×n] with row stride ldb (elements).
// It panics if k or n is negative, ldb < n, or b is too short.
func PackB(k, n int, b []float32, ldb int) *PackedB {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("kernels: PackB: negative dimension k=%d n=%d", k, n))
	}
	if ldb < n {
		panic(fmt.Sprintf("kernels: PackB: ldb=%d < n=%d", ldb, n))
	}
	if k > 0 && n > 0 && len(b) < (k-1)*ldb+n {
		panic(fmt.Sprintf("kernels: PackB: len(b)=%d too short for k=%d n=%d ldb=%d", len(b), k, n, ldb))
	}
	panels := (n + nr - 1) / nr
	p := &PackedB{k: k, n: n, panels: panels}
	p.data = WeightFloats(p, panels*k*nr)
	for j := 0; j < panels; j++ {
		j0 := j * nr
		w := min(nr, n-j0)
		dst := p.data[j*k*nr:]
		for r := 0; r < k; r++ {
			copy(dst[r*nr:r*nr+w], b[r*ldb+j0:r*ldb+j0+w])
		}
	}
	return p
}

// PackBCols packs B [k×n] whose column j is column cols[j] of the
// row-major matrix src [k×ldb] (a permutation or selection of src's
// columns), without building B: the packed result is PackB's of that B.
// It panics if a column index is out of [0, ldb) or src is too short.
func PackBCols(k int, src []float32, ldb int, cols []int) *PackedB {
	n := len(cols)
	if k < 0 {
		panic(fmt.Sprintf("kernels: PackBCols: negative k=%d", k))
	}
	for _, c := range cols {
		if c < 0 || c >= ldb {
			panic(fmt.Sprintf("kernels: PackBCols: column %d out of [0, %d)", c, ldb))
		}
	}
	if k > 0 && n > 0 && len(src) < k*ldb {
		panic(fmt.Sprintf("kernels: PackBCols: len(src)=%d too short for k=%d ldb=%d", len(src), k, ldb))
	}
	panels := (n + nr - 1) / nr
	p := &PackedB{k: k, n: n, panels: panels}
	p.data = WeightFloats(p, panels*k*nr)
	for j := 0; j < panels; j++ {
		j0 := j * nr
		pc := cols[j0:min(j0+nr, n)]
		dst := p.data[j*k*nr:]
		for r := 0; r < k; r++ {
			row, d := src[r*ldb:(r+1)*ldb], dst[r*nr:r*nr+len(pc)]
			for q, c := range pc {
				d[q] = row[c]
			}
		}
	}
	return p
}

// AddRows adds to p a second copy of its full panels in the layout that
// the batch-1 product reads fastest, and returns p. The panels go in
// groups of rowsPanels, and within a group the rows are interleaved: row
// r of every panel of the group, then row r+1, so that the product of one
// row vector streams each group as one run of memory instead of several
// runs a panel apart. That pays while the matrix is read from L2, and
// from L3 when the steps alternate the direction of their walk
// (GemmPanelsDesc); a matrix that streams from memory reads no faster from
// the copy (BENCHMARKS.md has the figures), so only one of at most
// rowsMaxBytes gets it. It costs a second copy of the weights, so callers
// keep it for the matrices that a batch-1 product reads many times per
// call: the recurrent kernels.
//
// The copy holds the same values and the kernels run the same FMA chains,
// so the results are bit-identical with and without it. It is made when the
// path in force has its kernel (AVX2, AVX-512, NEON), and read by the paths
// that have it; the others read the panels. Call AddRows before p is
// shared: it is not safe for concurrent use.
func (p *PackedB) AddRows() *PackedB {
	const g = rowsPanels
	full := p.n / nr
	if !rowsKernel() || full == 0 || p.k == 0 || p.rows != nil || full*p.k*nr*4 > rowsMaxBytes {
		return p
	}
	k := p.k
	rows := WeightFloats(p, full*k*nr)
	for q0 := 0; q0 < full; q0 += g {
		gw := min(g, full-q0)
		base := q0 * k * nr
		for j := 0; j < gw; j++ {
			src := p.data[(q0+j)*k*nr : (q0+j+1)*k*nr]
			for r := 0; r < k; r++ {
				copy(rows[base+(r*gw+j)*nr:base+(r*gw+j+1)*nr], src[r*nr:(r+1)*nr])
			}
		}
	}
	p.rows = rows
	return p
}

// Gemm computes C = A·B, or C += A·B when accumulate is set, for A [m×k]
// row-major with row stride lda, B packed by PackB (k and n are its own) and
// C [m×n] row-major with row stride ldc. A and C must not overlap.
//
// A is only read, so its rows may overlap: lda may be less than k. A Conv1D
// with stride 1 is then one Gemm over its input in place: with the input
// x [T×in] row-major and the kernel reshaped to B [kw·in × out], the row t of
// A = x[t·in : t·in + kw·in] is the receptive field of output step t, so
// lda = in and k = kw·in (no im2col copy).
//
// It panics on a programmer error: negative m or lda, ldc < n, or a slice
// too short for its shape.
func Gemm(m int, a []float32, lda int, pb *PackedB, c []float32, ldc int, accumulate bool) {
	if !checkGemm(m, a, lda, pb, c, ldc, accumulate) {
		return
	}
	gemmPanels(m, a, lda, pb, 0, pb.panels, c, ldc, accumulate, nil, nil)
	runtime.KeepAlive(pb) // its buffer may be a mapping freed with it (WeightFloats)
}

// PanelWidth is the number of columns of B in one packed panel.
const PanelWidth = nr

// Panels returns the number of panels of B: ceil(n / PanelWidth).
func (p *PackedB) Panels() int { return p.panels }

// GemmPanels is Gemm restricted to the columns of B in panels [p0, p1),
// that is columns [p0·PanelWidth, min(p1·PanelWidth, n)) of C; c is the
// whole C, as for Gemm. Each element comes out bit-identical to Gemm's.
// Callers split one product over goroutines by panel ranges with it.
func GemmPanels(m int, a []float32, lda int, pb *PackedB, p0, p1 int, c []float32, ldc int, accumulate bool) {
	gemmPanelRange("GemmPanels", m, a, lda, pb, p0, p1, c, ldc, accumulate, false)
}

// gemmPanelRange is GemmPanels (GemmPanelsDesc when desc is set), name
// the function its panics name.
func gemmPanelRange(name string, m int, a []float32, lda int, pb *PackedB, p0, p1 int, c []float32, ldc int, accumulate, desc bool) {
	if p0 < 0 || p1 > pb.panels || p0 > p1 {
		panic(fmt.Sprintf("kernels: %s: panels [%d, %d) out of [0, %d)", name, p0, p1, pb.panels))
	}
	if p0 == p1 {
		return
	}
	if pb.k == 0 {
		// checkGemm would clear every column.
		if !accumulate {
			c0, c1 := p0*nr, min(p1*nr, pb.n)
			for i := 0; i < m; i++ {
				clear(c[i*ldc+c0 : i*ldc+c1])
			}
		}
		return
	}
	if !checkGemm(m, a, lda, pb, c, ldc, accumulate) {
		return
	}
	walkPanels(m, a, lda, pb, p0, p1, c, ldc, accumulate, nil, nil, desc)
	runtime.KeepAlive(pb)
}

// GemmPanelsDesc is GemmPanels walking the panels from p1 down to p0, in
// runs of a few panels each read forwards: the same results, bit for bit,
// from a different order of reading B. A recurrent step reads the same
// matrix at every time step, in cache (L2, or L3 when it is larger than
// L2); alternating GemmPanels and GemmPanelsDesc from one step to the next
// starts each step on the panels that the step before read last, which are
// still in the nearer cache, instead of on those the walk evicted first.
func GemmPanelsDesc(m int, a []float32, lda int, pb *PackedB, p0, p1 int, c []float32, ldc int, accumulate bool) {
	gemmPanelRange("GemmPanelsDesc", m, a, lda, pb, p0, p1, c, ldc, accumulate, true)
}

// GemmParallel is Gemm spread over up to threads goroutines, the caller's
// included. It cuts the rows of A (whole tiles; when m ≥ n, so that each
// chunk re-reads the smaller operand) or the columns of B (whole panels)
// into chunks, which the goroutines claim one at a time (see ParallelFor):
// a helper that starts late, on a busy machine, takes fewer chunks, and one
// that has not started by the end is not waited for. Products under
// parMinFlops run on the caller alone.
func GemmParallel(m int, a []float32, lda int, pb *PackedB, c []float32, ldc int, accumulate bool, threads int) {
	if !checkGemm(m, a, lda, pb, c, ldc, accumulate) {
		return
	}
	gemmParallel(m, a, lda, pb, c, ldc, accumulate, nil, nil, false, threads)
}

// GemmStepParallel is the product of a recurrent time step: GemmParallel
// when bias is nil, GemmBiasParallel otherwise (accumulate must then be
// false), walking the panels of each goroutine's share of B in descending
// order when desc is set (see GemmPanelsDesc). The results are those of
// GemmParallel and GemmBiasParallel, bit for bit.
func GemmStepParallel(m int, a []float32, lda int, pb *PackedB, bias, c []float32, ldc int, accumulate, desc bool, threads int) {
	if bias != nil {
		if accumulate {
			panic("kernels: GemmStepParallel: a bias with accumulate")
		}
		biasActParallel("GemmStepParallel", m, a, lda, pb, bias, c, ldc, nil, desc, threads)
		return
	}
	if checkGemm(m, a, lda, pb, c, ldc, accumulate) {
		gemmParallel(m, a, lda, pb, c, ldc, accumulate, nil, nil, desc, threads)
	}
}

// GemmBiasParallel is GemmParallel for C = A·B + bias, bias [n] added to
// every row. The kernels add it to their sums as they store them, which
// gives the same numbers, bit for bit, as copying bias into every row of C
// and accumulating, without that extra pass over C.
func GemmBiasParallel(m int, a []float32, lda int, pb *PackedB, bias, c []float32, ldc int, threads int) {
	GemmBiasActParallel(m, a, lda, pb, bias, c, ldc, nil, threads)
}

// RowsFunc is an activation that GemmBiasActParallel applies to finished
// rows of C: x holds whole rows of last values each (last is n), and the
// function must give each row the result it gives when called on that row
// alone (an element-wise activation, or one that normalises over a row).
type RowsFunc func(x []float32, last int)

// GemmBiasActParallel is GemmBiasParallel (GemmParallel when bias is nil)
// followed by act on the rows of C (nil for none). A goroutine that has
// finished a block of rows applies act to them while they are still in
// its cache, instead of a separate pass over C; a product split by
// columns applies it after the product, on the caller. act sees whole
// rows, so the result is bit for bit that of the product, then act.
func GemmBiasActParallel(m int, a []float32, lda int, pb *PackedB, bias, c []float32, ldc int, act RowsFunc, threads int) {
	biasActParallel("GemmBiasParallel", m, a, lda, pb, bias, c, ldc, act, false, threads)
}

// biasActParallel is GemmBiasActParallel, walking the panels in descending
// order when desc is set (GemmStepParallel), name the function its panics
// name.
func biasActParallel(name string, m int, a []float32, lda int, pb *PackedB, bias, c []float32, ldc int, act RowsFunc, desc bool, threads int) {
	if bias == nil {
		if checkGemm(m, a, lda, pb, c, ldc, false) {
			gemmParallel(m, a, lda, pb, c, ldc, false, nil, act, desc, threads)
		} else if act != nil && m > 0 && pb.n > 0 {
			actRows(act, c, 0, m, ldc, pb.n) // k = 0: C is zeros
		}
		return
	}
	if len(bias) < pb.N() {
		panic(fmt.Sprintf("kernels: %s: len(bias)=%d < n=%d", name, len(bias), pb.N()))
	}
	if pb.k == 0 && m > 0 && pb.n > 0 {
		checkGemm(m, a, lda, pb, c, ldc, true) // bounds
		for i := 0; i < m; i++ {
			copy(c[i*ldc:i*ldc+pb.n], bias)
		}
		if act != nil {
			actRows(act, c, 0, m, ldc, pb.n)
		}
		return
	}
	if !checkGemm(m, a, lda, pb, c, ldc, false) {
		return
	}
	gemmParallel(m, a, lda, pb, c, ldc, false, bias, act, desc, threads)
}

// actRows applies act to rows [r0, r1) of C (n values each, row stride
// ldc): in one call when the rows are contiguous, otherwise row by row.
func actRows(act RowsFunc, c []float32, r0, r1, ldc, n int) {
	if r1 <= r0 {
		return
	}
	if ldc == n {
		act(c[r0*n:r1*n], n)
		return
	}
	for r := r0; r < r1; r++ {
		act(c[r*ldc:r*ldc+n], n)
	}
}

func gemmParallel(m int, a []float32, lda int, pb *PackedB, c []float32, ldc int, accumulate bool, bias []float32, act RowsFunc, desc bool, threads int) {
	defer runtime.KeepAlive(pb) // its buffer may be a mapping freed with it (WeightFloats)
	minFlops := parMinFlops
	if m == 1 {
		minFlops = parMinFlopsGEMV
	}
	flops := 2 * m * pb.k * pb.n
	if threads <= 1 || flops < minFlops || !SplitWorth(4*threads, flops/(4*threads)) {
		walkPanels(m, a, lda, pb, 0, pb.panels, c, ldc, accumulate, bias, act, desc)
		return
	}
	if pool.busy(threads - 1) {
		// Inside another parallel loop: nobody to share with.
		walkPanels(m, a, lda, pb, 0, pb.panels, c, ldc, accumulate, bias, act, desc)
		return
	}
	const perThread = 4 // chunks per thread: balance against late starts
	// Each chunk reads all of A (column chunks) or all of B (row chunks):
	// cut the dimension whose other operand is the smaller to re-read.
	rowsOK := m >= 2*mr*threads
	g := gemmJobs.Get()
	*g = gemmJob{m: m, a: a, lda: lda, pb: pb, c: c, ldc: ldc, acc: accumulate, desc: desc, bias: bias, act: act, fn: g.fn}
	switch {
	case rowsOK && m >= pb.n, rowsOK && pb.panels < 2*threads:
		g.th = tileRows()
		g.tiles = (m + g.th - 1) / g.th
		g.chunks = min(g.tiles, perThread*threads)
		g.byRows = true
	case pb.panels >= 2*threads:
		g.chunks = min(pb.panels, perThread*threads)
	default:
		g.chunks = 1
	}
	ParallelFor(g.chunks, threads, g.fn)
	if act != nil && !g.byRows {
		// Column chunks: no chunk holds whole rows.
		actRows(act, c, 0, m, ldc, pb.n)
	}
	*g = gemmJob{fn: g.fn}
	gemmJobs.Put(g)
}

// gemmJob is one split product: GemmParallel's arguments and its chunks,
// with fn bound to run once per object, so that a product hands
// ParallelFor a function without allocating one. The objects are pooled.
type gemmJob struct {
	m, lda, ldc   int
	a, c, bias    []float32
	act           RowsFunc // applied by row chunks only
	pb            *PackedB
	acc, byRows   bool
	desc          bool // walk the panels in descending order
	th            int  // tile height of row chunks
	tiles, chunks int
	fn            func(i int)
}

var gemmJobs = freelist.List[gemmJob]{New: func() *gemmJob {
	g := &gemmJob{}
	g.fn = g.run
	return g
}}

// run computes chunk i: whole row tiles, or whole panels.
func (g *gemmJob) run(i int) {
	if g.byRows {
		t0, t1 := split(g.tiles, g.chunks, i)
		r0, r1 := t0*g.th, min(t1*g.th, g.m)
		walkPanels(r1-r0, g.a[r0*g.lda:], g.lda, g.pb, 0, g.pb.panels, g.c[r0*g.ldc:], g.ldc, g.acc, g.bias, g.act, g.desc)
		return
	}
	p0, p1 := split(g.pb.panels, g.chunks, i)
	walkPanels(g.m, g.a, g.lda, g.pb, p0, p1, g.c, g.ldc, g.acc, g.bias, nil, g.desc)
}

// descPanels is the run of panels that a descending walk reads forwards:
// two groups of the batch-1 copy, so that its kernel streams a few hundred
// KiB per call and the cost of a call stays negligible. Runs are aligned
// to multiples of descPanels, so every group is read whole.
const descPanels = 2 * rowsPanels

// walkPanels is gemmPanels over panels [p0, p1), in one call, or, when
// desc is set, in runs of descPanels from the last run to the first (act,
// which needs whole rows, then applied once at the end). Every element is
// computed by the same kernel and FMA chain either way.
func walkPanels(m int, a []float32, lda int, pb *PackedB, p0, p1 int, c []float32, ldc int, accumulate bool, bias []float32, act RowsFunc, desc bool) {
	if !desc || p1-p0 <= descPanels {
		gemmPanels(m, a, lda, pb, p0, p1, c, ldc, accumulate, bias, act)
		return
	}
	if act != nil && (p0 != 0 || p1 != pb.panels) {
		panic("kernels: walkPanels: an activation needs all the panels")
	}
	for q1 := p1; q1 > p0; {
		q0 := max(p0, (q1-1)/descPanels*descPanels)
		gemmPanels(m, a, lda, pb, q0, q1, c, ldc, accumulate, bias, nil)
		q1 = q0
	}
	if act != nil {
		actRows(act, c, 0, m, ldc, pb.n)
	}
}

// parMinFlops and parMinFlopsGEMV are the smallest products GemmParallel
// splits: about 25 µs of work at 80 GFLOP/s (GEMM) and 40 GFLOP/s (m = 1,
// bound by memory bandwidth). An awake helper joins within a few µs; a
// parked one costs the caller only the wake-up call.
var (
	parMinFlops     = 2 << 20
	parMinFlopsGEMV = 1 << 20
)

// split returns the w-th of t near-equal parts of [0, n).
func split(n, t, w int) (int, int) {
	return n * w / t, n * (w + 1) / t
}

// checkGemm validates the arguments and handles the empty cases; it
// reports whether there is a product to compute.
func checkGemm(m int, a []float32, lda int, pb *PackedB, c []float32, ldc int, accumulate bool) bool {
	if pb == nil {
		panic("kernels: Gemm: nil PackedB")
	}
	k, n := pb.k, pb.n
	if m < 0 {
		panic(fmt.Sprintf("kernels: Gemm: negative m=%d", m))
	}
	if lda < 0 || ldc < n {
		panic(fmt.Sprintf("kernels: Gemm: negative lda=%d or ldc=%d < n=%d", lda, ldc, n))
	}
	if m == 0 || n == 0 {
		return false
	}
	if len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("kernels: Gemm: len(c)=%d too short for m=%d n=%d ldc=%d", len(c), m, n, ldc))
	}
	if k == 0 {
		if !accumulate {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return false
	}
	if len(a) < (m-1)*lda+k {
		panic(fmt.Sprintf("kernels: Gemm: len(a)=%d too short for m=%d k=%d lda=%d", len(a), m, k, lda))
	}
	return true
}

// tileRows is the tile height of the kernels in force.
func tileRows() int {
	if useAVX512 {
		return mrZ
	}
	return mr
}

// rowSplit returns how the m rows are cut into row tiles of at most h
// rows: full tiles of h rows, then at most two shorter tail tiles. A short
// remainder (under 2h/3 rows, whose kernels run at part speed: 1..3 rows
// for h = 6) is merged with the last full tile and split in two near-equal
// tiles (3..5 rows for h = 6). The cut changes no bits: every tile height
// sums each element in the same order.
func rowSplit(m, h int) (full int, tail [2]int, ntail int) {
	full, rem := m/h, m%h
	switch {
	case rem == 0:
	case 3*rem < 2*h && full > 0:
		full--
		t := h + rem
		tail, ntail = [2]int{(t + 1) / 2, t / 2}, 2
	default:
		tail, ntail = [2]int{rem}, 1
	}
	return full, tail, ntail
}

// rowTiles appends the tile heights of rowSplit(m, h) to dst (tests).
func rowTiles(m, h int, dst []int) []int {
	full, tail, ntail := rowSplit(m, h)
	for i := 0; i < full; i++ {
		dst = append(dst, h)
	}
	return append(dst, tail[:ntail]...)
}

// kBlock returns the k block length: k itself when it fits kc, otherwise
// k split into near-equal blocks of at most kc (a multiple of 4, so that
// the kernel's unrolled loop runs whole), e.g. 640 -> 320+320 rather than
// 256+256+128.
func kBlock(k int) int {
	if k <= kc {
		return k
	}
	nb := (k + kc - 1) / kc
	return min((k/nb+3)&^3, kc)
}

// What a kernel does with the sums of a k block (its acc argument).
const (
	modeStore = 0 // C = sum
	modeAdd   = 1 // C += sum
	modeBias  = 2 // C = sum + bias, bias one value per column
)

// gemmPanels computes the columns of C covered by panels [p0, p1) of B:
// C (=|+=) A·B, or C = A·B + bias when bias is not nil (and accumulate is
// not set). act, when not nil, is applied to each row block once it is
// finished; it needs every panel ([p0, p1) all of B's).
func gemmPanels(m int, a []float32, lda int, pb *PackedB, p0, p1 int, c []float32, ldc int, accumulate bool, bias []float32, act RowsFunc) {
	if act != nil && (p0 != 0 || p1 != pb.panels) {
		panic("kernels: gemmPanels: an activation needs all the panels")
	}
	k := pb.k
	// Every m walks k in the same blocks (and the kernels run one FMA
	// chain per output element within a block), so that a row of C comes
	// out bit-identical whatever the number of rows of the product: a
	// request batched with others gets the numbers of a batch-1 run.
	kb := kBlock(k)
	if m == 1 && (useAVX2 || curISA == isaNEON) {
		// Batch 1: one pass over the full panels in one call, then the
		// partial one (if any) through the general path.
		pf := min(p1, pb.n/nr)
		if pf > p0 {
			_ = a[k-1]
			_ = c[pf*nr-1]
			mode := firstMode(accumulate, bias)
			if pb.rows != nil && rowsKernel() {
				gemvGroups(pb, k, kb, a, c, mode, p0, pf, bias)
			} else {
				var bp *float32
				if bias != nil {
					bp = &bias[p0*nr]
				}
				gemv(k, kb, &a[0], &pb.data[p0*k*nr], &c[p0*nr], mode, pf-p0, bp)
			}
		}
		if pf >= p1 {
			if act != nil {
				act(c[:pb.n], pb.n)
			}
			return
		}
		p0 = pf
	}
	th := tileRows()
	full, tail, ntail := rowSplit(m, th)
	per := max(mc/th, 1) // full tiles per row block
	for pc := 0; pc < k; pc += kb {
		kcur := min(kb, k-pc)
		mode := firstMode(accumulate, bias)
		if pc > 0 {
			mode = modeAdd
		}
		// Row blocks of `per` full tiles; the tail tiles join the last.
		for f0 := 0; f0 < full || f0 == 0; f0 += per {
			nf := min(per, full-f0)
			var nt int
			if f0+per >= full {
				nt = ntail
			}
			blockPanels(a, lda, pb, p0, p1, c, ldc, th, f0*th, nf, tail[:nt], pc, kcur, mode, bias)
			if act != nil && pc+kcur == k {
				r1 := (f0 + nf) * th
				for _, t := range tail[:nt] {
					r1 += t
				}
				actRows(act, c, f0*th, r1, ldc, pb.n)
			}
		}
	}
}

// The batch-1 copy (AddRows): rowsPanels panels a group, 4 accumulator
// registers of 16 lanes on AVX-512, 8 of 8 on AVX2 and 16 of 4 on NEON, and
// only for a matrix of at most rowsMaxBytes (a few times L2, within L3),
// beyond which it is no faster than the panels.
const (
	rowsPanels   = 4
	rowsMaxBytes = 8 << 20
)

// gemvGroups runs the batch-1 product over the full panels [p0, pf) from
// the row-interleaved copy (AddRows), one kernel call per group of
// rowsPanels panels (or the part of it in the range).
func gemvGroups(pb *PackedB, k, kb int, a, c []float32, mode, p0, pf int, bias []float32) {
	const g = rowsPanels
	full := pb.n / nr
	for q0 := p0 - p0%g; q0 < pf; q0 += g {
		gw := min(g, full-q0)
		j0, j1 := max(p0, q0), min(pf, q0+gw)
		off := q0*k*nr + (j0-q0)*nr
		_ = pb.rows[q0*k*nr+k*gw*nr-1]
		var bp *float32
		if bias != nil {
			bp = &bias[j0*nr]
		}
		gemvRows(k, kb, &a[0], &pb.rows[off], &c[j0*nr], mode, j1-j0, gw*nr*4, bp)
	}
}

// firstMode is the kernel mode of the first k block.
func firstMode(accumulate bool, bias []float32) int {
	switch {
	case accumulate:
		return modeAdd
	case bias != nil:
		return modeBias
	}
	return modeStore
}

// blockPanels runs one row block (nf full tiles of th rows from row i0,
// then the tail tiles) against panels [p0, p1) for the k block
// [pc, pc+kcur), with the kernel mode given (bias is read only in
// modeBias).
func blockPanels(a []float32, lda int, pb *PackedB, p0, p1 int, c []float32, ldc int, th, i0, nf int, tail []int, pc, kcur int, mode int, bias []float32) {
	k, n := pb.k, pb.n
	isa := curISA
	var tmp [mrMax * nr]float32
	for j := p0; j < p1; j++ {
		bp := pb.data[j*k*nr+pc*nr:]
		j0 := j * nr
		w := min(nr, n-j0)
		var bj []float32 // the panel's bias
		if mode == modeBias {
			bj = bias[j0 : j0+w]
		}
		// One call per panel prefetches the next panel, so that the
		// first tile there finds it in cache.
		next := bp
		if j+1 < p1 {
			next = pb.data[(j+1)*k*nr+pc*nr:]
		}
		if w == nr && isa == isaAVX512 && j+1 < p1 && (j+2)*nr <= n {
			// Two full panels: the AVX-512 kernels run them as one tile
			// 32 columns wide, the full tiles in one call, then the tail
			// tiles, prefetching the next pair as below.
			b2 := pb.data[(j+1)*k*nr+pc*nr:]
			if mode == modeBias {
				bj = bias[j0 : j0+2*nr]
			}
			next = bp
			if j+2 < p1 {
				next = pb.data[(j+2)*k*nr+pc*nr:]
			}
			if nf > 0 {
				micro512x2(th, nf, kcur, a[i0*lda+pc:], lda, bp, b2, c[i0*ldc+j0:], ldc, mode, next, bj, k*nr*4)
			}
			i := i0 + nf*th
			for t, rows := range tail {
				pf := bp
				if nf == 0 && t == len(tail)-1 {
					pf = next
				}
				micro512x2(rows, 1, kcur, a[i*lda+pc:], lda, bp, b2, c[i*ldc+j0:], ldc, mode, pf, bj, k*nr*4)
				i += rows
			}
			j++
			continue
		}
		if w == nr {
			// Full panel: the full tiles in one call, then the tail tiles.
			if nf > 0 {
				// The next panel is fetched during the full tiles, which
				// leaves the tail tiles time for it to arrive (3-6% faster
				// on the W3 batch-32 step, whose weights stream from L3,
				// than fetching it during the last tail tile).
				micro(isa, th, nf, kcur, a[i0*lda+pc:], lda, bp, c[i0*ldc+j0:], ldc, mode, next, bj)
			}
			i := i0 + nf*th
			for t, rows := range tail {
				pf := bp
				if nf == 0 && t == len(tail)-1 {
					pf = next
				}
				micro(isa, rows, 1, kcur, a[i*lda+pc:], lda, bp, c[i*ldc+j0:], ldc, mode, pf, bj)
				i += rows
			}
			continue
		}
		// Partial panel (the last one, w < 16): each tile into tmp, then
		// the valid columns into C.
		i := i0
		for t := 0; t < nf+len(tail); t++ {
			rows := th
			if t >= nf {
				rows = tail[t-nf]
			}
			micro(isa, rows, 1, kcur, a[i*lda+pc:], lda, bp, tmp[:], nr, modeStore, bp, nil)
			for r := 0; r < rows; r++ {
				cr := c[(i+r)*ldc+j0 : (i+r)*ldc+j0+w]
				tr := tmp[r*nr : r*nr+w]
				switch mode {
				case modeAdd:
					for q := range cr {
						cr[q] += tr[q]
					}
				case modeBias:
					for q := range cr {
						cr[q] = tr[q] + bj[q]
					}
				default:
					copy(cr, tr)
				}
			}
			i += rows
		}
	}
}

// micro computes `tiles` consecutive tiles of rows×16, the tile t being
// C[t*rows:, :16] (=|+=) A[t*rows:, :k]·Bpanel[k×16], with the kernels of
// the path isa (rows at most its tile height). c must hold tiles*rows rows
// of 16 floats at stride ldc.
//
// pf is a hint: the assembly kernel prefetches k cache lines from it.
// In modeBias, bias holds the panel's 16 column biases.
func micro(isa isaLevel, rows, tiles, k int, a []float32, lda int, b []float32, c []float32, ldc int, mode int, pf []float32, bias []float32) {
	h := rows * tiles
	// Bounds: the last element each pointer reaches.
	_ = a[(h-1)*lda+k-1]
	_ = b[k*nr-1]
	_ = c[(h-1)*ldc+nr-1]
	var bp *float32
	if mode == modeBias {
		bias = bias[:nr]
		bp = &bias[0]
	}
	switch isa {
	case isaAVX512:
		kernel512(rows, tiles, k, &a[0], lda, &b[0], &c[0], ldc, mode, &pf[0], bp)
		return
	case isaAVX2:
		kernelAVX2(rows, tiles, k, &a[0], lda, &b[0], &c[0], ldc, mode, &pf[0], bp)
		return
	case isaNEON:
		kernelNEON(rows, tiles, k, &a[0], lda, &b[0], &c[0], ldc, mode, &pf[0], bp)
		return
	}
	for t := 0; t < tiles; t++ {
		kernelGo(rows, k, a[t*rows*lda:], lda, b, c[t*rows*ldc:], ldc, mode, bias)
	}
}

// micro512x2 runs the AVX-512 kernel of a tile height over two full
// panels at once: b and b2, pstride bytes apart in the packed buffer,
// into 32 columns of C (bias, in modeBias, holds their 32 values).
func micro512x2(rows, tiles, k int, a []float32, lda int, b, b2 []float32, c []float32, ldc int, mode int, pf []float32, bias []float32, pstride int) {
	h := rows * tiles
	// Bounds: the last element each pointer reaches.
	_ = a[(h-1)*lda+k-1]
	_ = b[k*nr-1]
	_ = b2[k*nr-1]
	_ = c[(h-1)*ldc+2*nr-1]
	var bp *float32
	if mode == modeBias {
		bias = bias[:2*nr]
		bp = &bias[0]
	}
	kernel512x2(rows, tiles, k, &a[0], lda, &b[0], &c[0], ldc, mode, &pf[0], bp, pstride)
}

// kernelGo is the portable micro-kernel: 2 rows × 4 columns of scalar
// accumulators at a time (14 live values, which fit the 16 registers of
// amd64 and the 32 of arm64).
func kernelGo(rows, k int, a []float32, lda int, b []float32, c []float32, ldc int, mode int, bias []float32) {
	b = b[:k*nr]
	r := 0
	for ; r+2 <= rows; r += 2 {
		a0 := a[r*lda : r*lda+k]
		a1 := a[(r+1)*lda : (r+1)*lda+k]
		c0 := c[r*ldc : r*ldc+nr]
		c1 := c[(r+1)*ldc : (r+1)*ldc+nr]
		for q := 0; q < nr; q += 4 {
			var s00, s01, s02, s03, s10, s11, s12, s13 float32
			for p, x0 := range a0 {
				x1 := a1[p]
				bq := b[p*nr+q : p*nr+q+4 : p*nr+q+4]
				b0, b1, b2, b3 := bq[0], bq[1], bq[2], bq[3]
				s00 += x0 * b0
				s01 += x0 * b1
				s02 += x0 * b2
				s03 += x0 * b3
				s10 += x1 * b0
				s11 += x1 * b1
				s12 += x1 * b2
				s13 += x1 * b3
			}
			store4(c0[q:q+4], mode, bias, q, s00, s01, s02, s03)
			store4(c1[q:q+4], mode, bias, q, s10, s11, s12, s13)
		}
	}
	if r < rows {
		a0 := a[r*lda : r*lda+k]
		c0 := c[r*ldc : r*ldc+nr]
		for q := 0; q < nr; q += 4 {
			var s0, s1, s2, s3 float32
			for p, x0 := range a0 {
				bq := b[p*nr+q : p*nr+q+4 : p*nr+q+4]
				s0 += x0 * bq[0]
				s1 += x0 * bq[1]
				s2 += x0 * bq[2]
				s3 += x0 * bq[3]
			}
			store4(c0[q:q+4], mode, bias, q, s0, s1, s2, s3)
		}
	}
}

// store4 stores four sums of columns q..q+3 by the kernel mode.
func store4(c []float32, mode int, bias []float32, q int, s0, s1, s2, s3 float32) {
	c = c[:4]
	switch mode {
	case modeAdd:
		c[0] += s0
		c[1] += s1
		c[2] += s2
		c[3] += s3
	case modeBias:
		b := bias[q : q+4]
		c[0], c[1], c[2], c[3] = s0+b[0], s1+b[1], s2+b[2], s3+b[3]
	default:
		c[0], c[1], c[2], c[3] = s0, s1, s2, s3
	}
}
