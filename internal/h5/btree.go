package h5

import (
	"math/bits"
)

const maxTreeDepth = 32

// walkBTree1 calls fn, in key order, for each child of the leaves of the
// version 1 B-tree of node type typ at addr, with the key that precedes
// the child (format spec, "Version 1 B-trees"). keySize is the size of one
// key.
func (f *File) walkBTree1(addr uint64, typ, keySize int, fn func(key []byte, child uint64) error) error {
	seen := map[uint64]bool{}
	var walk func(addr uint64, level int) error
	walk = func(addr uint64, level int) error {
		if seen[addr] {
			return corruptf("B-tree node at %d is reached twice", addr)
		}
		if len(seen) >= maxTreeNodes {
			return corruptf("B-tree of more than %d nodes", maxTreeNodes)
		}
		seen[addr] = true
		b, nodeLevel, n, err := f.btree1Node(addr, typ, keySize)
		if err != nil {
			return err
		}
		if level >= 0 && nodeLevel != level {
			return corruptf("B-tree node at %d has level %d, want %d", addr, nodeLevel, level)
		}
		if nodeLevel > maxTreeDepth {
			return corruptf("B-tree of depth %d", nodeLevel)
		}
		c := f.cursor(b, "B-tree node")
		c.p = 8 + 2*f.so
		for i := 0; i < n; i++ {
			key := c.bytes(keySize)
			child := c.addr()
			if c.err != nil {
				return c.err
			}
			if nodeLevel > 0 {
				err = walk(child, nodeLevel-1)
			} else {
				err = fn(key, child)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return walk(addr, -1)
}

// btree1Node reads the version 1 B-tree node at addr, of type typ (0
// group, 1 chunk) with keys of keySize bytes: its used part, and its level
// and number of children. libhdf5 loads a node whole, at its capacity of
// 2K children and 2K+1 keys (K from the superblock), so that capacity must
// lie in the file and bound the children (when K is known).
func (f *File) btree1Node(addr uint64, typ, keySize int) (b []byte, level, n int, err error) {
	head, err := f.read(addr, uint64(8+2*f.so), "B-tree node")
	if err != nil {
		return nil, 0, 0, err
	}
	if string(head[:4]) != "TREE" {
		return nil, 0, 0, corruptf("no B-tree node at %d", addr)
	}
	if int(head[4]) != typ {
		return nil, 0, 0, corruptf("B-tree node at %d has type %d, want %d", addr, head[4], typ)
	}
	level = int(head[5])
	n = int(head[6]) | int(head[7])<<8
	size := func(n int) uint64 { return uint64(8+2*f.so) + uint64(n)*uint64(keySize+f.so) + uint64(keySize) }
	if twoK := 2 * f.btreeK[typ]; twoK > 0 {
		if n > twoK {
			return nil, 0, 0, corruptf("B-tree node at %d has %d children, more than its %d", addr, n, twoK)
		}
		if err := f.check(addr, size(twoK), "B-tree node"); err != nil {
			return nil, 0, 0, err
		}
	}
	b, err = f.read(addr, size(n), "B-tree node")
	return b, level, n, err
}

// symbolNode reads the symbol table node at addr: its used part, and its
// number of entries. libhdf5 loads a node whole, at its capacity of 2K
// entries (K the superblock's leaf K), so that capacity must lie in the
// file and bound the entries (when K is known).
func (f *File) symbolNode(addr uint64) (b []byte, n int, err error) {
	head, err := f.read(addr, 8, "symbol table node")
	if err != nil {
		return nil, 0, err
	}
	if string(head[:4]) != "SNOD" || head[4] != 1 {
		return nil, 0, corruptf("no symbol table node at %d", addr)
	}
	n = int(head[6]) | int(head[7])<<8
	entry := uint64(2*f.so + 24)
	if twoK := 2 * f.leafK; twoK > 0 {
		if n > twoK {
			return nil, 0, corruptf("symbol table node at %d has %d entries, more than its %d", addr, n, twoK)
		}
		if err := f.check(addr, 8+uint64(twoK)*entry, "symbol table node"); err != nil {
			return nil, 0, err
		}
	}
	b, err = f.read(addr, 8+uint64(n)*entry, "symbol table node")
	return b, n, err
}

// btree2 is the header of a version 2 B-tree.
type btree2 struct {
	typ      int
	nodeSize uint64
	recSize  int
	depth    int
	root     uint64
	rootN    int
	// Per depth: the most records a node holds, and the bytes of the
	// record counts in a pointer to a node at that depth.
	maxRec     []uint64
	cumMax     []uint64
	cumMaxSize []int
	maxRecSize int
}

// encSize is the bytes needed to encode n (libhdf5's H5VM_limit_enc_size).
func encSize(n uint64) int { return (bits.Len64(n)-1)/8 + 1 }

// walkBTree2 calls fn for each record of the version 2 B-tree at addr,
// which must hold records of type typ (format spec, "Version 2 B-trees").
func (f *File) walkBTree2(addr uint64, typ int, fn func(rec []byte) error) error {
	if addr == undef {
		return nil
	}
	b, err := f.read(addr, uint64(16+f.so+2+f.sl+4), "B-tree header")
	if err != nil {
		return err
	}
	if string(b[:4]) != "BTHD" || b[4] != 0 {
		return corruptf("no version 2 B-tree header at %d", addr)
	}
	if err := checkSum(b, "B-tree header"); err != nil {
		return err
	}
	c := f.cursor(b[5:], "B-tree header")
	t := &btree2{typ: c.u8()}
	t.nodeSize = c.u32()
	t.recSize = c.u16()
	t.depth = c.u16()
	c.bytes(2) // split and merge percents
	t.root = c.addr()
	t.rootN = c.u16()
	if c.err != nil {
		return c.err
	}
	if t.typ != typ {
		return corruptf("B-tree at %d holds records of type %d, want %d", addr, t.typ, typ)
	}
	if t.depth > maxTreeDepth {
		return corruptf("B-tree at %d has depth %d", addr, t.depth)
	}
	if t.recSize == 0 || t.nodeSize < 10+uint64(t.recSize) || t.nodeSize > maxMeta {
		return corruptf("B-tree at %d: nodes of %d bytes for records of %d", addr, t.nodeSize, t.recSize)
	}
	// The record counts' sizes, as libhdf5 derives them (H5B2__hdr_init).
	t.maxRec = make([]uint64, t.depth+1)
	t.cumMax = make([]uint64, t.depth+1)
	t.cumMaxSize = make([]int, t.depth+1)
	t.maxRec[0] = (t.nodeSize - 10) / uint64(t.recSize)
	t.cumMax[0] = t.maxRec[0]
	t.maxRecSize = encSize(t.maxRec[0])
	for d := 1; d <= t.depth; d++ {
		ptr := uint64(f.so + t.maxRecSize)
		if d > 1 {
			ptr += uint64(t.cumMaxSize[d-1])
		}
		if t.nodeSize < 10+ptr {
			return corruptf("B-tree at %d: nodes too small", addr)
		}
		t.maxRec[d] = (t.nodeSize - (10 + ptr)) / (uint64(t.recSize) + ptr)
		hi, lo := bits.Mul64(t.maxRec[d]+1, t.cumMax[d-1])
		lo, carry := bits.Add64(lo, t.maxRec[d], 0)
		if hi != 0 || carry != 0 {
			return corruptf("B-tree at %d: too deep for its nodes", addr)
		}
		t.cumMax[d] = lo
		t.cumMaxSize[d] = encSize(t.cumMax[d])
	}
	if t.root == undef || t.rootN == 0 {
		return nil
	}
	seen := map[uint64]bool{}
	return f.btree2Node(t, t.root, t.rootN, t.depth, seen, fn)
}

func (f *File) btree2Node(t *btree2, addr uint64, n, depth int, seen map[uint64]bool, fn func([]byte) error) error {
	if seen[addr] {
		return corruptf("B-tree node at %d is reached twice", addr)
	}
	if len(seen) >= maxTreeNodes {
		return corruptf("B-tree of more than %d nodes", maxTreeNodes)
	}
	seen[addr] = true
	if uint64(n) > t.maxRec[depth] {
		return corruptf("B-tree node at %d holds %d records, at most %d fit", addr, n, t.maxRec[depth])
	}
	b, err := f.read(addr, t.nodeSize, "B-tree node")
	if err != nil {
		return err
	}
	sig := "BTLF"
	if depth > 0 {
		sig = "BTIN"
	}
	if string(b[:4]) != sig || b[4] != 0 || int(b[5]) != t.typ {
		return corruptf("no %s B-tree node at %d", sig, addr)
	}
	c := f.cursor(b, "B-tree node")
	c.p = 6
	recs := c.bytes(n * t.recSize)
	if depth == 0 {
		if c.err != nil {
			return c.err
		}
		if c.bytes(4); c.err != nil {
			return c.err
		}
		if err := checkSum(b[:c.p], "B-tree node"); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := fn(recs[i*t.recSize : (i+1)*t.recSize]); err != nil {
				return err
			}
		}
		return nil
	}
	type ptr struct {
		addr uint64
		n    int
	}
	kids := make([]ptr, n+1)
	for i := range kids {
		kids[i].addr = c.addr()
		cn := c.uint(t.maxRecSize)
		if depth > 1 {
			c.uint(t.cumMaxSize[depth-1])
		}
		if cn > t.maxRec[depth-1] {
			return corruptf("B-tree node at %d: a child of %d records", addr, cn)
		}
		kids[i].n = int(cn)
	}
	if c.err != nil {
		return c.err
	}
	if c.bytes(4); c.err != nil {
		return c.err
	}
	if err := checkSum(b[:c.p], "B-tree node"); err != nil {
		return err
	}
	for i, k := range kids {
		if err := f.btree2Node(t, k.addr, k.n, depth-1, seen, fn); err != nil {
			return err
		}
		if i < n {
			if err := fn(recs[i*t.recSize : (i+1)*t.recSize]); err != nil {
				return err
			}
		}
	}
	return nil
}
