package h5

// extensibleArray lists the chunks of an extensible array index (format
// spec, "Extensible Array Index"): the index block holds the first
// elements and the addresses of the first data blocks and of the super
// blocks, which hold the addresses of the rest. Chunk i of the index is
// chunk i of the grid in row-major order, which holds while the unlimited
// dimension is the first; others are refused.
func (d *Dataset) extensibleArray(chunkBytes, n uint64, offsets func(uint64) []uint64) ([]chunkRec, error) {
	f := d.f
	if d.space.max == nil || d.space.max[0] != undef {
		return nil, unsupportedf("an extensible array index whose unlimited dimension is not the first")
	}
	for _, m := range d.space.max[1:] {
		if m == undef {
			return nil, unsupportedf("an extensible array index with two unlimited dimensions")
		}
	}
	hb, err := f.read(d.layout.addr, uint64(12+6*f.sl+f.so+4), "extensible array header")
	if err != nil {
		return nil, err
	}
	if string(hb[:4]) != "EAHD" || hb[4] != 0 {
		return nil, corruptf("no extensible array header at %d", d.layout.addr)
	}
	if err := checkSum(hb, "extensible array header"); err != nil {
		return nil, err
	}
	c := f.cursor(hb, "extensible array header")
	c.p = 5
	client := c.u8()
	elemSize := c.u8()
	maxBits := c.u8()
	idxElems := uint64(c.u8())
	dblkMin := uint64(c.u8())
	sblkMinPtrs := uint64(c.u8())
	pageBits := c.u8()
	c.bytes(4 * f.sl) // secondary and data block counts and sizes
	maxIndex := c.length()
	c.length() // elements realised
	iblock := c.addr()
	if c.err != nil {
		return nil, c.err
	}
	filtered := client == 1
	if filtered != (len(d.filter) > 0) || client > 1 {
		return nil, corruptf("extensible array of client %d for a dataset with %d filters", client, len(d.filter))
	}
	if (!filtered && elemSize != f.so) || (filtered && (elemSize < f.so+5 || elemSize > f.so+12)) {
		return nil, corruptf("extensible array elements of %d bytes", elemSize)
	}
	pow2 := func(x uint64) bool { return x != 0 && x&(x-1) == 0 }
	if maxBits == 0 || maxBits > 64 || !pow2(dblkMin) || !pow2(sblkMinPtrs) || log2(dblkMin) > maxBits || pageBits > 32 {
		return nil, corruptf("extensible array parameters %d bits, data blocks of %d, %d pointers", maxBits, dblkMin, sblkMinPtrs)
	}
	if maxIndex > n || maxIndex > uint64(f.size) {
		return nil, corruptf("extensible array of %d elements for %d chunks", maxIndex, n)
	}
	if iblock == undef {
		return nil, nil
	}
	// Super block s holds 2^(s/2) data blocks of 2^((s+1)/2)*dblkMin
	// elements (libhdf5's H5EA__hdr_init).
	nsblks := 1 + maxBits - log2(dblkMin)
	type sblk struct{ ndblks, dblkElems, start uint64 }
	sb := make([]sblk, nsblks)
	start := uint64(0)
	for s := range sb {
		sb[s] = sblk{ndblks: 1 << (s / 2), dblkElems: (1 << ((s + 1) / 2)) * dblkMin, start: start}
		start += sb[s].ndblks * sb[s].dblkElems
		if start > 1<<62 {
			sb = sb[:s+1]
			break
		}
	}
	ibSblks := 2 * log2(sblkMinPtrs) // the super blocks whose data blocks the index block holds
	ndblkAddrs := 2 * (sblkMinPtrs - 1)
	nsblkAddrs := uint64(len(sb) - min(ibSblks, len(sb)))
	offBytes := (maxBits + 7) / 8
	es := uint64(elemSize)
	ib, err := f.read(iblock, uint64(6+f.so)+idxElems*es+(ndblkAddrs+nsblkAddrs)*uint64(f.so)+4, "extensible array index block")
	if err != nil {
		return nil, err
	}
	if string(ib[:4]) != "EAIB" {
		return nil, corruptf("no extensible array index block at %d", iblock)
	}
	if err := checkSum(ib, "extensible array index block"); err != nil {
		return nil, err
	}
	ic := f.cursor(ib, "extensible array index block")
	ic.p = 6 + f.so
	var recs []chunkRec
	var idx uint64
	add := func(b []byte) error {
		ec := f.cursor(b, "extensible array element")
		r := chunkRec{addr: ec.addr(), size: chunkBytes}
		if filtered {
			r.size = ec.uint(elemSize - f.so - 4)
			r.mask = uint32(ec.u32())
		}
		if ec.err != nil {
			return ec.err
		}
		if r.addr != undef && idx < maxIndex {
			r.off = offsets(idx)
			recs = append(recs, r)
		}
		idx++
		return nil
	}
	elems := ic.bytes(int(idxElems * es))
	for i := uint64(0); i < idxElems && ic.err == nil; i++ {
		if err := add(elems[i*es : (i+1)*es]); err != nil {
			return nil, err
		}
	}
	dataBlock := func(addr, nElems uint64) error {
		if idx >= maxIndex {
			return nil
		}
		if addr == undef {
			idx += nElems
			return nil
		}
		if pageBits > 0 && nElems > 1<<pageBits {
			return unsupportedf("paged extensible array data blocks")
		}
		b, err := f.read(addr, uint64(6+f.so+offBytes)+nElems*es+4, "extensible array data block")
		if err != nil {
			return err
		}
		if string(b[:4]) != "EADB" {
			return corruptf("no extensible array data block at %d", addr)
		}
		if err := checkSum(b, "extensible array data block"); err != nil {
			return err
		}
		p := uint64(6 + f.so + offBytes)
		for i := uint64(0); i < nElems; i++ {
			if err := add(b[p+i*es : p+(i+1)*es]); err != nil {
				return err
			}
		}
		return nil
	}
	// The index block's data blocks belong to the first super blocks.
	s, k := 0, uint64(0)
	for i := uint64(0); i < ndblkAddrs; i++ {
		addr := ic.addr()
		if ic.err != nil {
			return nil, ic.err
		}
		for s < len(sb) && k >= sb[s].ndblks {
			s, k = s+1, 0
		}
		if s >= len(sb) {
			break
		}
		if err := dataBlock(addr, sb[s].dblkElems); err != nil {
			return nil, err
		}
		k++
	}
	for i := uint64(0); i < nsblkAddrs; i++ {
		addr := ic.addr()
		if ic.err != nil {
			return nil, ic.err
		}
		s := ibSblks + int(i)
		if s >= len(sb) || idx >= maxIndex {
			break
		}
		if addr == undef {
			idx += sb[s].ndblks * sb[s].dblkElems
			continue
		}
		if pageBits > 0 && sb[s].dblkElems > 1<<pageBits {
			return nil, unsupportedf("paged extensible array data blocks")
		}
		b, err := f.read(addr, uint64(6+f.so+offBytes)+sb[s].ndblks*uint64(f.so)+4, "extensible array super block")
		if err != nil {
			return nil, err
		}
		if string(b[:4]) != "EASB" {
			return nil, corruptf("no extensible array super block at %d", addr)
		}
		if err := checkSum(b, "extensible array super block"); err != nil {
			return nil, err
		}
		sc := f.cursor(b, "extensible array super block")
		sc.p = 6 + f.so + offBytes
		for j := uint64(0); j < sb[s].ndblks; j++ {
			da := sc.addr()
			if sc.err != nil {
				return nil, sc.err
			}
			if err := dataBlock(da, sb[s].dblkElems); err != nil {
				return nil, err
			}
		}
	}
	return recs, nil
}
