package h5

// fheap is a fractal heap (format spec, "Fractal Heap"): what reading its
// managed and tiny objects needs.
type fheap struct {
	f           *File
	addr        uint64
	idLen       int
	flags       int
	width       uint64 // table width
	start       uint64 // starting block size
	maxDirect   uint64 // maximum direct block size
	maxHeapBits int
	rootAddr    uint64
	rootRows    int
	hugeBTree   uint64 // the version 2 B-tree of huge objects
	offBytes    int    // bytes of a heap offset
	lenBytes    int    // bytes of an object length in a managed ID
	blocks      []dblock
}

// dblock is one direct block: its heap offset range and file address.
type dblock struct {
	off, size, addr uint64
}

const maxHeapBlocks = 1 << 16

// fractalHeap reads the header of the fractal heap at addr and the
// addresses of all its direct blocks.
func (f *File) fractalHeap(addr uint64) (*fheap, error) {
	size := uint64(4+1+2+2+1+4) + uint64(12*f.sl+3*f.so) + 2 + 2 + 2 + 2 + 4
	b, err := f.read(addr, size, "fractal heap header")
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "FRHP" || b[4] != 0 {
		return nil, corruptf("no fractal heap at %d", addr)
	}
	c := f.cursor(b, "fractal heap header")
	c.p = 5
	h := &fheap{f: f, addr: addr}
	h.idLen = c.u16()
	filterLen := c.u16()
	h.flags = c.u8()
	maxMan := c.u32()
	c.length() // next huge object ID
	h.hugeBTree = c.addr()
	c.length() // free space
	c.addr()   // free-space manager
	c.length() // managed space
	c.length() // allocated managed space
	c.length() // direct block allocation iterator
	c.length() // managed objects
	c.length() // huge object size
	c.length() // huge objects
	c.length() // tiny object size
	c.length() // tiny objects
	h.width = uint64(c.u16())
	h.start = c.length()
	h.maxDirect = c.length()
	h.maxHeapBits = c.u16()
	c.u16() // starting rows of the root indirect block
	h.rootAddr = c.addr()
	h.rootRows = c.u16()
	if c.err != nil {
		return nil, c.err
	}
	if filterLen != 0 {
		return nil, unsupportedf("fractal heap at %d has I/O filters", addr)
	}
	if c.bytes(4); c.err != nil {
		return nil, c.err
	}
	if err := checkSum(b[:c.p], "fractal heap header"); err != nil {
		return nil, err
	}
	pow2 := func(x uint64) bool { return x != 0 && x&(x-1) == 0 }
	if h.width == 0 || h.width > 1<<16 || !pow2(h.width) || !pow2(h.start) || !pow2(h.maxDirect) ||
		h.start > h.maxDirect || h.maxDirect > maxMeta || h.maxHeapBits == 0 || h.maxHeapBits > 64 {
		return nil, corruptf("fractal heap at %d: table width %d, block sizes %d to %d, %d bits", addr, h.width, h.start, h.maxDirect, h.maxHeapBits)
	}
	h.offBytes = (h.maxHeapBits + 7) / 8
	lb := (log2(h.maxDirect) + 7) / 8
	h.lenBytes = min(lb, encSize(maxMan))
	if h.idLen < 1+h.offBytes+h.lenBytes {
		return nil, corruptf("fractal heap at %d: IDs of %d bytes", addr, h.idLen)
	}
	if h.rootAddr == undef {
		return h, nil
	}
	if h.rootRows == 0 {
		h.blocks = append(h.blocks, dblock{off: 0, size: h.start, addr: h.rootAddr})
		return h, nil
	}
	seen := map[uint64]bool{}
	if err := h.indirect(h.rootAddr, 0, h.rootRows, seen, 0); err != nil {
		return nil, err
	}
	return h, nil
}

func log2(x uint64) int {
	n := 0
	for x > 1 {
		x >>= 1
		n++
	}
	return n
}

// rowSize is the size of the blocks in row r of the doubling table.
func (h *fheap) rowSize(r int) uint64 {
	if r == 0 {
		return h.start
	}
	if r-1 >= 63 {
		return 0
	}
	return h.start << (r - 1)
}

// indirect records the direct blocks under the indirect block at addr,
// which covers heap offsets from off and has rows rows.
func (h *fheap) indirect(addr, off uint64, rows int, seen map[uint64]bool, depth int) error {
	f := h.f
	if seen[addr] {
		return corruptf("fractal heap block at %d is reached twice", addr)
	}
	seen[addr] = true
	if depth > 8 || rows > 64 {
		return corruptf("fractal heap at %d: indirect blocks too deep", h.addr)
	}
	maxDirectRows := log2(h.maxDirect) - log2(h.start) + 2
	entries := uint64(rows) * h.width
	if entries > maxHeapBlocks {
		return corruptf("fractal heap at %d: an indirect block of %d entries", h.addr, entries)
	}
	size := uint64(5+f.so+h.offBytes) + entries*uint64(f.so) + 4
	b, err := f.read(addr, size, "fractal heap indirect block")
	if err != nil {
		return err
	}
	if string(b[:4]) != "FHIB" || b[4] != 0 {
		return corruptf("no fractal heap indirect block at %d", addr)
	}
	if err := checkSum(b, "fractal heap indirect block"); err != nil {
		return err
	}
	c := f.cursor(b, "fractal heap indirect block")
	c.p = 5 + f.so + h.offBytes
	rowOff := off
	for r := 0; r < rows; r++ {
		bs := h.rowSize(r)
		if bs == 0 {
			return corruptf("fractal heap at %d: too many rows", h.addr)
		}
		for col := uint64(0); col < h.width; col++ {
			child := c.addr()
			if c.err != nil {
				return c.err
			}
			boff := rowOff + col*bs
			if child == undef {
				continue
			}
			if r < maxDirectRows {
				if len(h.blocks) >= maxHeapBlocks {
					return corruptf("fractal heap at %d: more than %d blocks", h.addr, maxHeapBlocks)
				}
				h.blocks = append(h.blocks, dblock{off: boff, size: bs, addr: child})
				continue
			}
			// A child indirect block of blocks of bs bytes.
			childRows := log2(bs) - log2(h.start*h.width) + 1
			if err := h.indirect(child, boff, childRows, seen, depth+1); err != nil {
				return err
			}
		}
		rowOff += h.width * bs
	}
	return nil
}

// get returns the object that the heap ID id names.
func (h *fheap) get(id []byte) ([]byte, error) {
	if len(id) < 1 {
		return nil, corruptf("empty fractal heap ID")
	}
	switch (id[0] >> 4) & 3 {
	case 0: // managed
	case 2: // tiny: the object is in the ID
		n := int(id[0]&0x0f) + 1
		if h.idLen > 18 {
			return nil, unsupportedf("extended tiny fractal heap objects")
		}
		if 1+n > len(id) {
			return nil, corruptf("tiny fractal heap object of %d bytes in an ID of %d", n, len(id))
		}
		return append([]byte(nil), id[1:1+n]...), nil
	case 1:
		return h.huge(id)
	default:
		return nil, unsupportedf("fractal heap ID type %d", (id[0]>>4)&3)
	}
	c := h.f.cursor(id[1:], "fractal heap ID")
	off := c.uint(h.offBytes)
	n := c.uint(h.lenBytes)
	if c.err != nil {
		return nil, c.err
	}
	for _, bl := range h.blocks {
		if off >= bl.off && off-bl.off < bl.size {
			in := off - bl.off
			if n > bl.size-in {
				return nil, corruptf("fractal heap object of %d bytes at offset %d crosses its block", n, off)
			}
			return h.f.read(bl.addr+in, n, "fractal heap object")
		}
	}
	return nil, corruptf("fractal heap object at offset %d is in no block", off)
}

// huge returns a huge object: one stored outside the heap's blocks, at an
// address that its ID holds or that the heap's B-tree of huge objects maps
// its ID to (records of type 1: address, length, ID).
func (h *fheap) huge(id []byte) ([]byte, error) {
	f := h.f
	if h.idLen-1 >= f.so+f.sl {
		c := f.cursor(id[1:], "huge object ID")
		addr, n := c.addr(), c.length()
		if c.err != nil {
			return nil, c.err
		}
		return f.read(addr, n, "huge fractal heap object")
	}
	c := f.cursor(id[1:], "huge object ID")
	key := c.uint(min(h.idLen-1, 8))
	if c.err != nil {
		return nil, c.err
	}
	var addr, n uint64
	found := false
	err := f.walkBTree2(h.hugeBTree, 1, func(rec []byte) error {
		rc := f.cursor(rec, "huge object record")
		a, l, k := rc.addr(), rc.length(), rc.length()
		if rc.err != nil {
			return rc.err
		}
		if k == key && !found {
			addr, n, found = a, l, true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, corruptf("fractal heap has no huge object %d", key)
	}
	return f.read(addr, n, "huge fractal heap object")
}
