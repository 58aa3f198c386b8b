package importer

// This file validates, in pure Go, the HDF5 structures that libhdf5 decodes
// without enough checks of its own: the attribute messages of an object
// header (libhdf5 copies an attribute's data with the size its dataspace and
// datatype declare, whatever the message holds) and the global heap
// objects that variable-length strings point to (libhdf5 trusts a heap
// object's recorded size, and loops forever on a free-space object of size
// zero). Fuzzing found both crashing and hanging libhdf5 1.10 on mutated
// Keras files. Every object whose attributes kerasrun reads is checked here
// first, from the bytes of the file, by the format specification ("HDF5
// File Format Specification Version 3.0": object headers, the attribute,
// datatype and dataspace messages, global heap collections).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/kerasrun/kerasrun/internal/h5"
)

// h5scan reads the metadata of one file for validation.
type h5scan struct {
	file io.Closer // closed with the session, when set
	r    io.ReaderAt
	size int64
	sb   *superblock
	// checked holds the object headers whose attributes passed, and heaps
	// the global heap collections already parsed, by address.
	checked map[uint64]bool
	heaps   map[uint64]*globalHeap
	budget  int // metadata bytes left to read: bounds the work per file
	// gof is the pure-Go reader's view of the file, for guardLoop (the
	// libhdf5 build); nil when it cannot open it.
	gof *h5.File
}

func newScan(r io.ReaderAt, size int64, sb *superblock) *h5scan {
	return &h5scan{r: r, size: size, sb: sb, checked: map[uint64]bool{}, heaps: map[uint64]*globalHeap{},
		budget: 64 << 20}
}

// errCorrupt starts every error of the checks.
var errCorrupt = errors.New("corrupt HDF5 file")

func scanErrorf(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// read reads n bytes at the relative address addr.
func (s *h5scan) read(addr uint64, n int, what string) ([]byte, error) {
	abs := uint64(s.sb.offset) + addr
	if n < 0 || addr > uint64(s.size) || abs > uint64(s.size) || uint64(n) > uint64(s.size)-abs {
		return nil, scanErrorf("%s at address %d (%d bytes) lies outside the file (%d bytes)", what, int64(addr), n, s.size)
	}
	if s.budget -= n; s.budget < 0 {
		return nil, scanErrorf("more than 64 MiB of metadata to check")
	}
	b := make([]byte, n)
	if _, err := s.r.ReadAt(b, int64(abs)); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// cursor decodes little-endian fields of a message and reports a field that
// runs past its end.
type cursor struct {
	b    []byte
	p    int
	what string
	err  error
}

func (c *cursor) need(n int) bool {
	if c.err != nil {
		return false
	}
	if n < 0 || c.p+n > len(c.b) || c.p+n < c.p {
		c.err = scanErrorf("%s: truncated (%d bytes needed at offset %d of %d)", c.what, n, c.p, len(c.b))
		return false
	}
	return true
}

func (c *cursor) bytes(n int) []byte {
	if !c.need(n) {
		return nil
	}
	c.p += n
	return c.b[c.p-n : c.p]
}

func (c *cursor) uint(n int) uint64 {
	b := c.bytes(n)
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		if i >= 8 {
			if b[i] != 0 {
				c.err = scanErrorf("%s: a %d-byte value does not fit in 64 bits", c.what, n)
			}
			continue
		}
		v = v<<8 | uint64(b[i])
	}
	return v
}

func (c *cursor) u8() int  { return int(c.uint(1)) }
func (c *cursor) u16() int { return int(c.uint(2)) }
func (c *cursor) u32() uint64 {
	return c.uint(4)
}

// h5msg is one object header message.
type h5msg struct {
	typ   int
	flags int
	body  []byte
}

const (
	msgContinuation = 0x10
	msgAttribute    = 0x0c
	maxHeaderChunks = 256
)

// objectHeader reads every message of the object header at addr, following
// continuation blocks.
func (s *h5scan) objectHeader(addr uint64) ([]h5msg, error) {
	o, l := s.sb.sizeOffsets, s.sb.sizeLengths
	head, err := s.read(addr, 16, "object header")
	if err != nil {
		return nil, err
	}
	// A block of messages: start is where its messages begin.
	type chunk struct {
		addr, size uint64
		start      int
	}
	var msgs []h5msg
	var chunks []chunk
	v2 := string(head[:4]) == "OHDR"
	flags := 0
	switch {
	case v2:
		c := &cursor{b: head, what: "object header"}
		c.bytes(4)
		if v := c.u8(); v != 2 {
			return nil, scanErrorf("object header at %d: version %d", addr, v)
		}
		flags = c.u8()
		prefix := 6
		if flags&0x20 != 0 {
			prefix += 16 // times
		}
		if flags&0x10 != 0 {
			prefix += 4 // attribute phase change values
		}
		sizeBytes := 1 << (flags & 3)
		b, err := s.read(addr, prefix+sizeBytes, "object header")
		if err != nil {
			return nil, err
		}
		c = &cursor{b: b, p: prefix, what: "object header"}
		n := c.uint(sizeBytes)
		if c.err != nil {
			return nil, c.err
		}
		// The chunk runs from the signature to its checksum.
		if n > uint64(s.size) {
			return nil, scanErrorf("object header at %d: a block of %d bytes is larger than the file", addr, n)
		}
		chunks = append(chunks, chunk{addr: addr, size: uint64(prefix+sizeBytes) + n + 4, start: prefix + sizeBytes})
	case head[0] == 1:
		c := &cursor{b: head, what: "object header"}
		c.u8()
		c.u8()
		c.u16() // message count
		c.u32() // reference count
		n := c.u32()
		chunks = append(chunks, chunk{addr: addr + 16, size: n})
	default:
		return nil, scanErrorf("object header at %d: unknown version %d", addr, head[0])
	}
	for i := 0; i < len(chunks); i++ {
		if i >= maxHeaderChunks {
			return nil, scanErrorf("object header at %d: more than %d continuation blocks", addr, maxHeaderChunks)
		}
		ch := chunks[i]
		if ch.size > uint64(s.size) {
			return nil, scanErrorf("object header at %d: a block of %d bytes is larger than the file", addr, ch.size)
		}
		b, err := s.read(ch.addr, int(ch.size), "object header block")
		if err != nil {
			return nil, err
		}
		c := &cursor{what: fmt.Sprintf("object header at %d", addr)}
		end := len(b)
		if v2 {
			if len(b) < 8 {
				return nil, scanErrorf("object header at %d: block of %d bytes", addr, len(b))
			}
			end -= 4
			if sum, want := binary.LittleEndian.Uint32(b[end:]), h5.Lookup3(b[:end], 0); sum != want {
				return nil, scanErrorf("object header at %d: checksum is %#08x, the bytes give %#08x", addr, sum, want)
			}
			if ch.start == 0 {
				if string(b[:4]) != "OCHK" {
					return nil, scanErrorf("object header at %d: continuation block at %d has no OCHK signature", addr, ch.addr)
				}
				ch.start = 4
			}
		}
		c.p = ch.start
		c.b = b[:end]
		for c.err == nil {
			hdr := 8
			if v2 {
				hdr = 4
				if flags&0x04 != 0 {
					hdr = 6
				}
			}
			if len(c.b)-c.p < hdr {
				break // gap at the end of the block
			}
			var m h5msg
			var size int
			if v2 {
				m.typ = c.u8()
				size = c.u16()
				m.flags = c.u8()
				if flags&0x04 != 0 {
					c.u16()
				}
			} else {
				m.typ = c.u16()
				size = c.u16()
				m.flags = c.u8()
				c.bytes(3)
			}
			m.body = c.bytes(size)
			if c.err != nil {
				break
			}
			if len(msgs) >= 1<<16 {
				return nil, scanErrorf("object header at %d: more than 65536 messages", addr)
			}
			msgs = append(msgs, m)
			if m.typ == msgContinuation {
				mc := &cursor{b: m.body, what: "continuation message"}
				caddr := mc.uint(o)
				clen := mc.uint(l)
				if mc.err != nil {
					return nil, mc.err
				}
				chunks = append(chunks, chunk{addr: caddr, size: clen})
			}
		}
		if c.err != nil {
			return nil, c.err
		}
	}
	return msgs, nil
}

// checkAttributes validates every attribute message of the object header
// at addr before libhdf5 decodes any of them (H5Aexists and H5Aopen decode
// every attribute message of the object).
func (s *h5scan) checkAttributes(addr uint64) error {
	if s.checked[addr] {
		return nil
	}
	if err := s.checkAttributesOf(addr); err != nil {
		return corrupt(fmt.Errorf("%w: %w", errCorrupt, err))
	}
	s.checked[addr] = true
	return nil
}

func (s *h5scan) checkAttributesOf(addr uint64) error {
	msgs, err := s.objectHeader(addr)
	if err != nil {
		return err
	}
	for i, m := range msgs {
		if m.typ != msgAttribute {
			continue
		}
		if m.flags&0x02 != 0 {
			return scanErrorf("object header at %d: attribute message %d is shared, which kerasrun does not read", addr, i)
		}
		if err := s.checkAttribute(m.body); err != nil {
			return fmt.Errorf("object header at %d: attribute message %d: %w", addr, i, err)
		}
	}
	return nil
}

// checkAttribute validates one attribute message: its name, datatype and
// dataspace fit in it, its data has exactly the size they declare, and each
// variable-length string points to a global heap object of its length.
func (s *h5scan) checkAttribute(body []byte) error {
	c := &cursor{b: body, what: "attribute message"}
	version := c.u8()
	flags := c.u8()
	nameSize, dtSize, dsSize := c.u16(), c.u16(), c.u16()
	if c.err != nil {
		return c.err
	}
	pad := func(n int) int { return n }
	switch version {
	case 1:
		pad = func(n int) int { return (n + 7) &^ 7 }
	case 2:
	case 3:
		c.u8() // character set of the name
	default:
		return scanErrorf("attribute message version %d", version)
	}
	if flags&0x03 != 0 {
		return scanErrorf("attribute with a shared datatype or dataspace, which kerasrun does not read")
	}
	c.bytes(pad(nameSize))
	dt := c.bytes(pad(dtSize))
	ds := c.bytes(pad(dsSize))
	if c.err != nil {
		return c.err
	}
	t, err := s.parseDatatype(dt, 0)
	if err != nil {
		return err
	}
	points, err := s.parseDataspace(ds)
	if err != nil {
		return err
	}
	data := body[c.p:]
	if t.size == 0 && points > 0 {
		return scanErrorf("attribute datatype of size 0")
	}
	if points > uint64(len(data)) || (t.size > 0 && points > uint64(len(data))/t.size) || points*t.size > uint64(len(data)) {
		return scanErrorf("attribute declares %d values of %d bytes, but its message holds %d bytes of data", points, t.size, len(data))
	}
	if t.vlen {
		for i := uint64(0); i < points; i++ {
			if err := s.checkVlen(data[i*t.size:(i+1)*t.size], t.base); err != nil {
				return fmt.Errorf("value %d: %w", i, err)
			}
		}
	}
	return nil
}

// dtype is what validation needs of a datatype.
type dtype struct {
	size uint64 // bytes of one element in the file
	vlen bool   // a variable-length sequence or string
	base uint64 // for vlen: bytes of one element of the sequence
}

// parseDatatype decodes a datatype message far enough to know the size of
// an element and whether it holds variable-length data. Variable-length
// data nested in compound, enum or array types is refused: kerasrun never
// reads such attributes and cannot check them.
func (s *h5scan) parseDatatype(b []byte, depth int) (dtype, error) {
	if depth > 8 {
		return dtype{}, scanErrorf("datatype nests more than 8 deep")
	}
	c := &cursor{b: b, what: "datatype"}
	cv := c.u8()
	c.bytes(3) // class bit fields
	size := c.u32()
	if c.err != nil {
		return dtype{}, c.err
	}
	class := cv & 0x0f
	t := dtype{size: size}
	switch class {
	case 0, 1, 2, 3, 4, 5, 7: // fixed-point, float, time, string, bitfield, opaque, reference
	case 6, 8, 10: // compound, enum, array
		if containsVlen(b) {
			return dtype{}, scanErrorf("a compound, enum or array datatype with variable-length members, which kerasrun does not read")
		}
	case 9:
		base, err := s.parseDatatype(b[c.p:], depth+1)
		if err != nil {
			return dtype{}, err
		}
		if base.vlen {
			return dtype{}, scanErrorf("variable-length data of variable-length data, which kerasrun does not read")
		}
		// In the file: a 4-byte length, a global heap address and a
		// 4-byte object index.
		want := uint64(4 + s.sb.sizeOffsets + 4)
		if size != want {
			return dtype{}, scanErrorf("variable-length datatype of size %d, want %d", size, want)
		}
		t.vlen, t.base = true, base.size
	default:
		return dtype{}, scanErrorf("datatype class %d", class)
	}
	return t, nil
}

// containsVlen reports whether a datatype message holds the byte of a
// variable-length class anywhere in a datatype header position. It is a
// conservative scan: any byte whose low nibble is 9 and high nibble a valid
// datatype version (1 to 4) counts.
func containsVlen(b []byte) bool {
	for _, x := range b {
		if x&0x0f == 9 && x>>4 >= 1 && x>>4 <= 4 {
			return true
		}
	}
	return false
}

// parseDataspace returns the number of elements a dataspace message
// declares.
func (s *h5scan) parseDataspace(b []byte) (uint64, error) {
	c := &cursor{b: b, what: "dataspace"}
	version := c.u8()
	rank := c.u8()
	flags := c.u8()
	kind := 1 // simple
	switch version {
	case 1:
		c.bytes(5)
		if rank == 0 {
			kind = 0 // scalar
		}
	case 2:
		kind = c.u8()
	default:
		return 0, scanErrorf("dataspace message version %d", version)
	}
	if rank > 32 {
		return 0, scanErrorf("dataspace of rank %d", rank)
	}
	n := uint64(1)
	for i := 0; i < rank; i++ {
		d := c.uint(s.sb.sizeLengths)
		if d != 0 && n > (1<<62)/d {
			n = 1 << 62
		} else {
			n *= d
		}
	}
	if flags&1 != 0 {
		c.bytes(rank * s.sb.sizeLengths)
	}
	if c.err != nil {
		return 0, c.err
	}
	switch kind {
	case 0:
		return 1, nil
	case 1:
		return n, nil
	case 2:
		return 0, nil
	}
	return 0, scanErrorf("dataspace type %d", kind)
}

// checkVlen validates one variable-length value in the file: its length,
// then the global heap object that holds it.
func (s *h5scan) checkVlen(b []byte, base uint64) error {
	c := &cursor{b: b, what: "variable-length value"}
	n := c.u32()
	addr := c.uint(s.sb.sizeOffsets)
	idx := c.u32()
	if c.err != nil {
		return c.err
	}
	if addr == 0 {
		if n != 0 {
			return scanErrorf("variable-length value of length %d without data", n)
		}
		return nil
	}
	if base == 0 || n > uint64(s.size)/base {
		return scanErrorf("variable-length value of %d elements of %d bytes in a file of %d bytes", n, base, s.size)
	}
	h, err := s.globalHeap(addr)
	if err != nil {
		return err
	}
	if idx == 0 || idx >= uint64(len(h.objects)) || !h.objects[idx].present {
		return scanErrorf("variable-length value points to object %d of the global heap at %d, which has no such object", idx, addr)
	}
	if size := h.objects[idx].size; size != n*base {
		return scanErrorf("variable-length value of %d bytes points to a global heap object of %d bytes", n*base, size)
	}
	return nil
}

type heapObject struct {
	present bool
	size    uint64
}

type globalHeap struct {
	objects []heapObject
}

// globalHeap parses the global heap collection at addr as libhdf5 would,
// refusing what would make libhdf5 read outside it or loop forever.
func (s *h5scan) globalHeap(addr uint64) (*globalHeap, error) {
	if h := s.heaps[addr]; h != nil {
		return h, nil
	}
	if len(s.heaps) >= 1024 {
		return nil, scanErrorf("more than 1024 global heap collections")
	}
	l := s.sb.sizeLengths
	hdrSize := 8 + l
	head, err := s.read(addr, hdrSize, "global heap collection")
	if err != nil {
		return nil, err
	}
	c := &cursor{b: head, what: "global heap collection"}
	if string(c.bytes(4)) != "GCOL" {
		return nil, scanErrorf("no global heap collection at %d", addr)
	}
	if v := c.u8(); v != 1 {
		return nil, scanErrorf("global heap collection at %d: version %d", addr, v)
	}
	c.bytes(3)
	size := c.uint(l)
	if c.err != nil {
		return nil, c.err
	}
	// libhdf5 reads at least 4096 bytes of a collection.
	if size < 4096 || size > uint64(s.size) {
		return nil, scanErrorf("global heap collection at %d: size %d", addr, size)
	}
	b, err := s.read(addr, int(size), "global heap collection")
	if err != nil {
		return nil, err
	}
	h := &globalHeap{}
	objHdr := 8 + l
	for p := hdrSize; p < len(b); {
		if p+objHdr > len(b) {
			break // free space too small for an object header
		}
		oc := &cursor{b: b, p: p, what: "global heap object"}
		idx := oc.u16()
		oc.u16() // reference count
		oc.bytes(4)
		osize := oc.uint(l)
		if oc.err != nil {
			return nil, oc.err
		}
		need := osize // the free-space object's size covers its header
		if idx > 0 {
			need = uint64(objHdr) + (osize+7)&^7
			if osize > uint64(len(b)) {
				need = uint64(len(b)) + 1
			}
		}
		if need < uint64(objHdr) || need > uint64(len(b)-p) {
			return nil, scanErrorf("global heap collection at %d: object %d at offset %d has size %d, which does not fit", addr, idx, p, osize)
		}
		if idx > 0 {
			for len(h.objects) <= idx {
				h.objects = append(h.objects, heapObject{})
			}
			h.objects[idx] = heapObject{present: true, size: osize}
		}
		p += int(need)
	}
	s.heaps[addr] = h
	return h, nil
}
