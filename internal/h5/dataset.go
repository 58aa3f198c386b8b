package h5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"unsafe"
)

// bigEndianHost is whether this machine stores numbers big-endian.
var bigEndianHost = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// Dataset is an HDF5 dataset.
type Dataset struct {
	object
	typ    Datatype
	space  dataspace
	layout layout
	filter []filter
	fill   []byte // the fill value of one element, when defined
}

// layout is a decoded data layout message.
type layout struct {
	class   int // 0 compact, 1 contiguous, 2 chunked
	compact []byte
	addr    uint64
	size    uint64
	chunk   []uint64 // chunk dims, one per dataset dim
	index   int      // chunk index type: 0 for the version 1 B-tree
	// A single filtered chunk's stored size and filter mask.
	singleSize uint64
	singleMask uint32
	filtered   bool
}

// filter is one filter of a pipeline.
type filter struct {
	id       int
	optional bool
	client   []uint32
}

const (
	filterDeflate    = 1
	filterShuffle    = 2
	filterFletcher32 = 3
	// maxExpansion bounds how many bytes one stored byte may become: zlib's
	// deflate expands at most 1032 times.
	maxExpansion = 1040
)

func newDataset(o *object) (*Dataset, error) {
	d := &Dataset{object: *o}
	var have int
	for _, m := range o.msgs {
		var err error
		switch m.typ {
		case msgDatatype, msgDataspace, msgLayout, msgFilters:
			if m.flags&0x02 != 0 {
				return nil, unsupportedf("dataset %q: a shared message (a committed datatype)", o.path)
			}
		}
		switch m.typ {
		case msgDatatype:
			// libhdf5 1.10 decodes a datatype without checking it against
			// the message's size: one longer than its message is read on
			// from the bytes after it, in the same block.
			d.typ, err = o.f.decodeDatatype(m.rest)
			have |= 1
		case msgDataspace:
			d.space, err = o.f.decodeDataspace(m.body, len(m.body))
			have |= 2
		case msgLayout:
			err = d.decodeLayout(m.body)
			have |= 4
		case msgFilters:
			d.filter, err = decodeFilters(m.body)
		case msgFill:
			d.fill, err = decodeFill(m.body)
		case msgExternal:
			err = unsupportedf("external storage")
		}
		if err != nil {
			return nil, fmt.Errorf("dataset %q: %w", o.path, err)
		}
	}
	if have != 7 {
		return nil, corruptf("dataset %q lacks a datatype, dataspace or layout message", o.path)
	}
	if d.fill != nil && len(d.fill) != d.typ.Size {
		d.fill = nil
		if d.typ.Class != ClassOther {
			return nil, corruptf("dataset %q: a fill value of the wrong size", o.path)
		}
	}
	if d.layout.class == 2 && (len(d.layout.chunk) == 0 || len(d.layout.chunk) != len(d.space.dims)) {
		return nil, corruptf("dataset %q: chunks of rank %d for data of rank %d", o.path, len(d.layout.chunk), len(d.space.dims))
	}
	return d, nil
}

// Type returns the dataset's element type.
func (d *Dataset) Type() Datatype { return d.typ }

// Dims returns the dataset's shape: none for a scalar.
func (d *Dataset) Dims() []uint64 { return append([]uint64(nil), d.space.dims...) }

// Space returns the kind of the dataset's dataspace.
func (d *Dataset) Space() SpaceKind { return d.space.kind }

// Len returns the number of elements (at most 2^62).
func (d *Dataset) Len() uint64 { return d.space.n }

// Chunks returns the chunk shape of a chunked dataset, or nil.
func (d *Dataset) Chunks() []uint64 { return append([]uint64(nil), d.layout.chunk...) }

// StoredSize returns the size of a dataset's data as its layout stores
// it, and whether it is stored compact (in its object header); ok is false
// unless it is compact or contiguous with its storage allocated.
func (d *Dataset) StoredSize() (size uint64, compact, ok bool) {
	switch {
	case d.layout.class == 0:
		return uint64(len(d.layout.compact)), true, true
	case d.layout.class == 1 && d.layout.addr != undef:
		return d.layout.size, false, true
	}
	return 0, false, false
}

func (d *Dataset) decodeLayout(b []byte) error {
	f := d.f
	c := f.cursor(b, "layout message")
	version := c.u8()
	if version != 3 && version != 4 {
		if c.err != nil {
			return c.err
		}
		return unsupportedf("layout message version %d", version)
	}
	l := &d.layout
	l.class = c.u8()
	switch l.class {
	case 0:
		n := c.u16()
		l.compact = c.bytes(n)
	case 1:
		l.addr = c.addr()
		l.size = c.length()
	case 2:
		flags := 0
		if version == 4 {
			flags = c.u8()
		}
		nd := c.u8()
		if nd < 1 || nd > maxRank+1 {
			if c.err != nil {
				return c.err
			}
			return corruptf("chunks of %d dimensions", nd)
		}
		enc := 4
		if version == 3 {
			l.addr = c.addr()
		} else {
			enc = c.u8()
			if enc < 1 || enc > 8 {
				if c.err != nil {
					return c.err
				}
				return corruptf("chunk dimensions of %d bytes", enc)
			}
		}
		dims := make([]uint64, nd)
		for i := range dims {
			dims[i] = c.uint(enc)
			if dims[i] == 0 && c.err == nil {
				return corruptf("a chunk dimension of 0")
			}
		}
		l.chunk = dims[:nd-1]
		if c.err == nil && dims[nd-1] != uint64(d.typ.Size) && d.typ.Size != 0 {
			return corruptf("chunks of %d-byte elements for a %d-byte type", dims[nd-1], d.typ.Size)
		}
		if version == 4 {
			l.index = c.u8()
			switch l.index {
			case 1: // single chunk
				if flags&0x02 != 0 {
					l.filtered = true
					l.singleSize = c.length()
					l.singleMask = uint32(c.u32())
				}
			case 2: // implicit
			case 3: // fixed array
				c.u8() // page bits
			case 4: // extensible array
				c.bytes(5)
			case 5: // version 2 B-tree
				c.bytes(6)
			default:
				if c.err == nil {
					return corruptf("chunk index type %d", l.index)
				}
			}
			l.addr = c.addr()
		}
	case 3:
		return unsupportedf("virtual datasets")
	default:
		if c.err == nil {
			return corruptf("layout class %d", l.class)
		}
	}
	if c.err != nil {
		return c.err
	}
	if l.class == 0 {
		l.compact = append([]byte(nil), l.compact...)
	}
	return nil
}

func decodeFilters(b []byte) ([]filter, error) {
	c := &cursor{b: b, what: "filter pipeline"}
	version := c.u8()
	n := c.u8()
	if version == 1 {
		c.bytes(6)
	} else if version != 2 && c.err == nil {
		return nil, corruptf("filter pipeline version %d", version)
	}
	if n > 32 {
		return nil, corruptf("a pipeline of %d filters", n)
	}
	var out []filter
	for i := 0; i < n && c.err == nil; i++ {
		var fl filter
		fl.id = c.u16()
		nameLen := 0
		if version == 1 || fl.id >= 256 {
			nameLen = c.u16()
		}
		flags := c.u16()
		fl.optional = flags&1 != 0
		nv := c.u16()
		if version == 1 {
			nameLen = (nameLen + 7) &^ 7
		}
		c.bytes(nameLen)
		if nv > 256 {
			return nil, corruptf("a filter with %d parameters", nv)
		}
		for j := 0; j < nv; j++ {
			fl.client = append(fl.client, uint32(c.u32()))
		}
		if version == 1 && nv%2 == 1 {
			c.bytes(4)
		}
		out = append(out, fl)
	}
	if c.err != nil {
		return nil, c.err
	}
	return out, nil
}

func decodeFill(b []byte) ([]byte, error) {
	c := &cursor{b: b, what: "fill value message"}
	version := c.u8()
	defined := false
	switch version {
	case 1, 2:
		c.bytes(2)
		defined = c.u8() != 0
		if version == 1 {
			defined = true
		}
	case 3:
		flags := c.u8()
		defined = flags&0x20 != 0
	default:
		if c.err == nil {
			return nil, corruptf("fill value message version %d", version)
		}
	}
	if !defined || c.err != nil {
		return nil, c.err
	}
	if c.left() == 0 && version != 3 {
		return nil, nil
	}
	n := c.u32()
	v := c.bytes(int(min(n, 1<<20)))
	if c.err != nil {
		return nil, c.err
	}
	if n == 0 {
		return nil, nil
	}
	return append([]byte(nil), v...), nil
}

// ReadRaw reads the dataset's elements as the file stores them, filters
// undone, in row-major order: Len()*Type().Size bytes in the file's byte
// order. Chunks the file does not store read as the fill value.
func (d *Dataset) ReadRaw() ([]byte, error) {
	out, err := d.readRaw(func(n uint64) []byte { return make([]byte, n) })
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", d.path, err)
	}
	return out, nil
}

// readRaw reads the data into alloc(total), which it calls once the
// declared size has passed the checks.
func (d *Dataset) readRaw(alloc func(uint64) []byte) ([]byte, error) {
	f := d.f
	es := uint64(d.typ.Size)
	if d.space.n > (1<<62)/es {
		return nil, unsupportedf("%d elements of %d bytes", d.space.n, es)
	}
	total := d.space.n * es
	if total > math.MaxInt {
		return nil, unsupportedf("%d bytes of data on a %d-bit machine", total, strconv.IntSize)
	}
	switch d.layout.class {
	case 0:
		// libhdf5 reads exactly total bytes from the header's data, whose
		// size must match (newer releases refuse any other; 1.10 reads past
		// a shorter buffer).
		if uint64(len(d.layout.compact)) != total {
			return nil, corruptf("compact data of %d bytes for %d", len(d.layout.compact), total)
		}
		out := alloc(total)
		copy(out, d.layout.compact)
		return out, nil
	case 1:
		if len(d.filter) > 0 {
			return nil, corruptf("a filtered contiguous dataset")
		}
		if d.layout.addr == undef {
			return d.filled(total, alloc)
		}
		if d.layout.size < total {
			return nil, corruptf("contiguous storage of %d bytes for %d", d.layout.size, total)
		}
		if err := f.check(d.layout.addr, total, "dataset data"); err != nil {
			return nil, err
		}
		out := alloc(total)
		return out, f.readInto(out, d.layout.addr)
	}
	return d.readChunked(total, alloc)
}

// filled returns total bytes of the fill value.
func (d *Dataset) filled(total uint64, alloc func(uint64) []byte) ([]byte, error) {
	if total > uint64(d.f.size)*maxExpansion+1<<16 {
		return nil, corruptf("%d bytes of data declared for a file of %d bytes", total, d.f.size)
	}
	out := alloc(total)
	if d.fill != nil && !allZero(d.fill) {
		for i := uint64(0); i < total; i += uint64(len(d.fill)) {
			copy(out[i:], d.fill)
		}
	} else {
		clear(out)
	}
	return out, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// chunkRec is one stored chunk: its element offsets in the dataset, its
// address, stored size and filter mask.
type chunkRec struct {
	off  []uint64
	addr uint64
	size uint64
	mask uint32
}

func (d *Dataset) readChunked(total uint64, alloc func(uint64) []byte) ([]byte, error) {
	l := &d.layout
	rank := len(l.chunk)
	es := uint64(d.typ.Size)
	chunkBytes := es
	for _, c := range l.chunk {
		if chunkBytes > maxMeta*16/c {
			return nil, unsupportedf("chunks of more than %d bytes", maxMeta*16)
		}
		chunkBytes *= c
	}
	// The grid of chunks, and the one the index is laid out on (from the
	// maximum dims, for the fixed array and implicit indexes).
	grid := make([]uint64, rank)
	maxGrid := make([]uint64, rank)
	nChunks := uint64(1)
	for i, c := range l.chunk {
		grid[i] = (d.space.dims[i] + c - 1) / c
		m := d.space.dims[i]
		if d.space.max != nil && d.space.max[i] != undef {
			m = max(m, d.space.max[i])
		}
		maxGrid[i] = (m + c - 1) / c
		if maxGrid[i] != 0 && nChunks > (1<<40)/maxGrid[i] {
			return nil, unsupportedf("more than 2^40 chunks")
		}
		nChunks *= maxGrid[i]
	}
	recs, err := d.chunkIndex(chunkBytes, maxGrid, nChunks)
	if err != nil {
		return nil, err
	}
	// Every stored byte becomes at most maxExpansion bytes: a dataset that
	// declares more than its chunks can hold is refused before allocation.
	var stored uint64
	for _, r := range recs {
		stored += min(r.size, uint64(d.f.size))
	}
	if total > stored*maxExpansion+1<<16 && total > uint64(d.f.size)*maxExpansion+1<<16 {
		return nil, corruptf("%d bytes of data declared in chunks that store %d", total, stored)
	}
	out, err := d.filled(total, alloc)
	if err != nil {
		return nil, err
	}
	if total == 0 {
		return out, nil
	}
	// Strides of the dataset and of a chunk, in elements.
	dstStride := make([]uint64, rank)
	srcStride := make([]uint64, rank)
	ds, cs := uint64(1), uint64(1)
	for i := rank - 1; i >= 0; i-- {
		dstStride[i], srcStride[i] = ds, cs
		ds *= d.space.dims[i]
		cs *= l.chunk[i]
	}
	ext := make([]uint64, rank)
	idx := make([]uint64, rank)
	var raw []byte
	for _, r := range recs {
		skip := false
		for i, o := range r.off {
			if o%l.chunk[i] != 0 {
				return nil, corruptf("a chunk at offset %v, not on the chunk grid", r.off)
			}
			if o >= d.space.dims[i] {
				skip = true // beyond the current extent
			}
		}
		if skip {
			continue
		}
		if r.size > uint64(d.f.size) || r.size > math.MaxInt {
			return nil, corruptf("a chunk of %d bytes", r.size)
		}
		if cap(raw) < int(r.size) {
			raw = make([]byte, r.size)
		}
		raw = raw[:r.size]
		if err := d.f.readInto(raw, r.addr); err != nil {
			return nil, err
		}
		data, err := d.unfilter(raw, r.mask, chunkBytes)
		if err != nil {
			return nil, fmt.Errorf("chunk at offset %v: %w", r.off, err)
		}
		if uint64(len(data)) != chunkBytes {
			return nil, corruptf("chunk at offset %v holds %d bytes, want %d", r.off, len(data), chunkBytes)
		}
		// Copy the chunk's rows that lie inside the dataset.
		for i := range ext {
			ext[i] = min(l.chunk[i], d.space.dims[i]-r.off[i])
			idx[i] = 0
		}
		row := ext[rank-1] * es
		for {
			var src, dst uint64
			for i := 0; i < rank; i++ {
				src += idx[i] * srcStride[i]
				dst += (r.off[i] + idx[i]) * dstStride[i]
			}
			copy(out[dst*es:dst*es+row], data[src*es:])
			i := rank - 2
			for ; i >= 0; i-- {
				idx[i]++
				if idx[i] < ext[i] {
					break
				}
				idx[i] = 0
			}
			if i < 0 {
				break
			}
		}
	}
	return out, nil
}

// unfilter undoes the filter pipeline on one stored chunk, skipping the
// filters whose bit is set in mask.
func (d *Dataset) unfilter(b []byte, mask uint32, want uint64) ([]byte, error) {
	for i := len(d.filter) - 1; i >= 0; i-- {
		fl := d.filter[i]
		if i < 32 && mask&(1<<i) != 0 {
			continue
		}
		switch fl.id {
		case filterDeflate:
			if want > uint64(len(b))*maxExpansion+1<<16 {
				return nil, corruptf("deflate: %d stored bytes cannot hold %d", len(b), want)
			}
			zr, err := zlib.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, corruptf("deflate: %v", err)
			}
			out := make([]byte, want)
			n, err := io.ReadFull(zr, out)
			if err != nil && err != io.ErrUnexpectedEOF {
				return nil, corruptf("deflate: %v", err)
			}
			b = out[:n]
		case filterShuffle:
			es := d.typ.Size
			if len(fl.client) > 0 {
				es = int(fl.client[0])
			}
			b = unshuffle(b, es)
		case filterFletcher32:
			if len(b) < 4 {
				return nil, corruptf("fletcher32: a chunk of %d bytes", len(b))
			}
			n := len(b) - 4
			stored := binary.LittleEndian.Uint32(b[n:])
			sum := fletcher32(b[:n])
			// libhdf5 before 1.6.3 stored the checksum with its bytes
			// swapped in each half; libhdf5 accepts both.
			swapped := (sum&0x00ff00ff)<<8 | (sum&0xff00ff00)>>8
			if stored != sum && stored != swapped {
				return nil, corruptf("fletcher32 checksum is %#08x, the bytes give %#08x", stored, sum)
			}
			b = b[:n]
		default:
			return nil, unsupportedf("filter %d", fl.id)
		}
	}
	return b, nil
}

// unshuffle undoes the shuffle filter: byte j of element i was stored at
// j*n+i, and bytes past the last whole element are left in place.
func unshuffle(b []byte, es int) []byte {
	if es <= 1 || len(b) < es {
		return b
	}
	n := len(b) / es
	out := make([]byte, len(b))
	for j := 0; j < es; j++ {
		src := b[j*n : (j+1)*n]
		for i, x := range src {
			out[i*es+j] = x
		}
	}
	copy(out[n*es:], b[n*es:])
	return out
}

// fletcher32 is HDF5's Fletcher-32 checksum (H5_checksum_fletcher32): the
// data as big-endian 16-bit words, an odd last byte as the high byte of
// one.
func fletcher32(b []byte) uint32 {
	var s1, s2 uint32
	words := len(b) / 2
	p := 0
	for words > 0 {
		t := min(words, 360)
		words -= t
		for ; t > 0; t-- {
			s1 += uint32(b[p])<<8 | uint32(b[p+1])
			p += 2
			s2 += s1
		}
		s1 = (s1 & 0xffff) + (s1 >> 16)
		s2 = (s2 & 0xffff) + (s2 >> 16)
	}
	if len(b)%2 == 1 {
		s1 += uint32(b[p]) << 8
		s2 += s1
		s1 = (s1 & 0xffff) + (s1 >> 16)
		s2 = (s2 & 0xffff) + (s2 >> 16)
	}
	s1 = (s1 & 0xffff) + (s1 >> 16)
	s2 = (s2 & 0xffff) + (s2 >> 16)
	return s2<<16 | s1
}

// ReadFloat32 reads the dataset's elements converted to float32: floats
// of 16, 32 and 64 bits and integers of 8 to 64 bits, either byte order.
// The values are those libhdf5's conversion gives: float64 and wide
// integers round to nearest even, float64 values beyond float32's range
// become infinities, and float16 NaNs become the NaN of all ones (half).
func (d *Dataset) ReadFloat32() ([]float32, error) {
	switch d.typ.Class {
	case ClassInteger, ClassFloat:
	default:
		return nil, unsupportedf("dataset %q holds %s, not numbers", d.path, d.typ)
	}
	var out []float32
	if d.typ.Class == ClassFloat && d.typ.Size == 4 && d.typ.BigEndian == bigEndianHost {
		// The file's bytes are the values: read them in place.
		_, err := d.readRaw(func(n uint64) []byte {
			out = make([]float32, n/4)
			if n == 0 {
				return nil
			}
			return unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), n)
		})
		if err != nil {
			return nil, fmt.Errorf("dataset %q: %w", d.path, err)
		}
		return out, nil
	}
	raw, err := d.ReadRaw()
	if err != nil {
		return nil, err
	}
	out = make([]float32, d.space.n)
	convert(out, raw, d.typ)
	return out, nil
}

// convert converts the elements of raw, of type t, into dst.
func convert(dst []float32, raw []byte, t Datatype) {
	switch {
	case t.Class == ClassFloat && t.Size == 4 && !t.BigEndian:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case t.Class == ClassFloat && t.Size == 4:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.BigEndian.Uint32(raw[4*i:]))
		}
	case t.Class == ClassFloat && t.Size == 8:
		var order binary.ByteOrder = binary.LittleEndian
		if t.BigEndian {
			order = binary.BigEndian
		}
		for i := range dst {
			dst[i] = narrow(math.Float64frombits(order.Uint64(raw[8*i:])))
		}
	case t.Class == ClassFloat && t.Size == 2:
		var order binary.ByteOrder = binary.LittleEndian
		if t.BigEndian {
			order = binary.BigEndian
		}
		for i := range dst {
			dst[i] = half(order.Uint16(raw[2*i:]))
		}
	case t.Class == ClassInteger && t.Size == 8 && !t.Signed:
		var order binary.ByteOrder = binary.LittleEndian
		if t.BigEndian {
			order = binary.BigEndian
		}
		for i := range dst {
			dst[i] = float32(order.Uint64(raw[8*i:]))
		}
	case t.Class == ClassInteger && t.Size == 8:
		var order binary.ByteOrder = binary.LittleEndian
		if t.BigEndian {
			order = binary.BigEndian
		}
		for i := range dst {
			dst[i] = float32(int64(order.Uint64(raw[8*i:])))
		}
	default:
		for i := range dst {
			dst[i] = float32(toFloat64(t, raw[i*t.Size:]))
		}
	}
}

// chunkIndex lists the stored chunks.
func (d *Dataset) chunkIndex(chunkBytes uint64, grid []uint64, n uint64) ([]chunkRec, error) {
	f := d.f
	l := &d.layout
	rank := len(l.chunk)
	if l.addr == undef {
		return nil, nil
	}
	// offsets returns the element offsets of chunk number i of the grid.
	offsets := func(i uint64) []uint64 {
		off := make([]uint64, rank)
		for k := rank - 1; k >= 0; k-- {
			off[k] = (i % grid[k]) * l.chunk[k]
			i /= grid[k]
		}
		return off
	}
	var recs []chunkRec
	switch {
	case l.index == 0:
		keySize := 8 + 8*(rank+1)
		err := f.walkBTree1(l.addr, 1, keySize, func(key []byte, child uint64) error {
			c := f.cursor(key, "chunk key")
			r := chunkRec{addr: child, size: c.u32(), mask: uint32(c.u32())}
			r.off = make([]uint64, rank)
			for i := range r.off {
				r.off[i] = c.u64()
			}
			if uint64(len(recs)) >= n {
				return corruptf("more chunks than the grid holds")
			}
			recs = append(recs, r)
			return c.err
		})
		return recs, err
	case l.index == 1:
		size := chunkBytes
		if l.filtered {
			size = l.singleSize
		}
		return []chunkRec{{off: make([]uint64, rank), addr: l.addr, size: size, mask: l.singleMask}}, nil
	case l.index == 2:
		if len(d.filter) > 0 {
			return nil, corruptf("an implicit chunk index with filters")
		}
		if n > uint64(f.size)/chunkBytes+1 {
			return nil, corruptf("%d implicit chunks of %d bytes in a file of %d", n, chunkBytes, f.size)
		}
		for i := uint64(0); i < n; i++ {
			recs = append(recs, chunkRec{off: offsets(i), addr: l.addr + i*chunkBytes, size: chunkBytes})
		}
		return recs, nil
	case l.index == 3:
		return d.fixedArray(chunkBytes, n, offsets)
	case l.index == 4:
		return d.extensibleArray(chunkBytes, n, offsets)
	case l.index == 5:
		filtered := len(d.filter) > 0
		typ := 10
		if filtered {
			typ = 11
		}
		err := f.walkBTree2(l.addr, typ, func(rec []byte) error {
			c := f.cursor(rec, "chunk record")
			r := chunkRec{addr: c.addr(), size: chunkBytes}
			if filtered {
				sl := len(rec) - f.so - 4 - 8*rank
				if sl < 1 || sl > 8 {
					return corruptf("chunk record of %d bytes", len(rec))
				}
				r.size = c.uint(sl)
				r.mask = uint32(c.u32())
			}
			r.off = make([]uint64, rank)
			for i := range r.off {
				r.off[i] = c.u64() * l.chunk[i]
			}
			if uint64(len(recs)) >= n {
				return corruptf("more chunks than the grid holds")
			}
			recs = append(recs, r)
			return c.err
		})
		return recs, err
	}
	return nil, unsupportedf("chunk index type %d", l.index)
}

// fixedArray lists the chunks of a fixed array index (format spec, "Fixed
// Array Index").
func (d *Dataset) fixedArray(chunkBytes, n uint64, offsets func(uint64) []uint64) ([]chunkRec, error) {
	f := d.f
	hb, err := f.read(d.layout.addr, uint64(8+f.sl+f.so+4), "fixed array header")
	if err != nil {
		return nil, err
	}
	if string(hb[:4]) != "FAHD" || hb[4] != 0 {
		return nil, corruptf("no fixed array header at %d", d.layout.addr)
	}
	if err := checkSum(hb, "fixed array header"); err != nil {
		return nil, err
	}
	c := f.cursor(hb, "fixed array header")
	c.p = 5
	client := c.u8()
	entry := c.u8()
	pageBits := c.u8()
	count := c.length()
	dblk := c.addr()
	if c.err != nil {
		return nil, c.err
	}
	filtered := client == 1
	if filtered != (len(d.filter) > 0) || client > 1 {
		return nil, corruptf("fixed array of client %d for a dataset with %d filters", client, len(d.filter))
	}
	if count != n {
		return nil, corruptf("fixed array of %d entries for %d chunks", count, n)
	}
	minEntry := f.so
	if filtered {
		minEntry = f.so + 1 + 4
	}
	if entry < minEntry || (filtered && entry > f.so+8+4) || (!filtered && entry != f.so) {
		return nil, corruptf("fixed array entries of %d bytes", entry)
	}
	if count > uint64(f.size)/uint64(entry) || pageBits > 32 || pageBits == 0 {
		return nil, corruptf("fixed array of %d entries of %d bytes, %d page bits", count, entry, pageBits)
	}
	if dblk == undef {
		return nil, nil
	}
	prefix := uint64(6 + f.so)
	perPage := uint64(1) << pageBits
	var elems []byte
	if count <= perPage {
		b, err := f.read(dblk, prefix+count*uint64(entry)+4, "fixed array data block")
		if err != nil {
			return nil, err
		}
		if string(b[:4]) != "FADB" {
			return nil, corruptf("no fixed array data block at %d", dblk)
		}
		if err := checkSum(b, "fixed array data block"); err != nil {
			return nil, err
		}
		elems = b[prefix : len(b)-4]
	} else {
		pages := (count + perPage - 1) / perPage
		bitmap := (pages + 7) / 8
		b, err := f.read(dblk, prefix+bitmap+4, "fixed array data block")
		if err != nil {
			return nil, err
		}
		if string(b[:4]) != "FADB" {
			return nil, corruptf("no fixed array data block at %d", dblk)
		}
		if err := checkSum(b, "fixed array data block"); err != nil {
			return nil, err
		}
		bm := b[prefix : prefix+bitmap]
		addr := dblk + uint64(len(b))
		for p := uint64(0); p < pages; p++ {
			k := min(perPage, count-p*perPage)
			size := k*uint64(entry) + 4
			if bm[p/8]&(0x80>>(p%8)) == 0 {
				elems = append(elems, make([]byte, k*uint64(entry))...)
				for i := uint64(0); i < k; i++ {
					// An uninitialised page: no chunks.
					for j := 0; j < f.so; j++ {
						elems[uint64(len(elems))-(k-i)*uint64(entry)+uint64(j)] = 0xff
					}
				}
			} else {
				pb, err := f.read(addr, size, "fixed array page")
				if err != nil {
					return nil, err
				}
				if err := checkSum(pb, "fixed array page"); err != nil {
					return nil, err
				}
				elems = append(elems, pb[:len(pb)-4]...)
			}
			addr += size
		}
	}
	var recs []chunkRec
	ec := f.cursor(elems, "fixed array elements")
	for i := uint64(0); i < count; i++ {
		r := chunkRec{addr: ec.addr(), size: chunkBytes}
		if filtered {
			r.size = ec.uint(entry - f.so - 4)
			r.mask = uint32(ec.u32())
		}
		if ec.err != nil {
			return nil, ec.err
		}
		if r.addr == undef {
			continue
		}
		r.off = offsets(i)
		recs = append(recs, r)
	}
	return recs, nil
}

// narrow converts a float64 to float32 as libhdf5 does: a value beyond
// ±math.MaxFloat32 becomes an infinity, even one that rounds to
// ±math.MaxFloat32; others round to nearest even.
func narrow(v float64) float32 {
	switch {
	case v > math.MaxFloat32:
		return float32(math.Inf(1))
	case v < -math.MaxFloat32:
		return float32(math.Inf(-1))
	}
	return float32(v)
}
