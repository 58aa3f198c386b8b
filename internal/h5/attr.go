package h5

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Class is the class of a datatype.
type Class int

// The datatype classes this package reads; others are ClassOther.
const (
	ClassOther   Class = iota
	ClassInteger       // fixed-point
	ClassFloat
	ClassString // fixed- or variable-length
)

// Padding of a fixed-length string.
const (
	PadNullTerm  = 0
	PadNullPad   = 1
	PadSpacePad  = 2
	CharSetASCII = 0
	CharSetUTF8  = 1
)

// Datatype describes the elements of an attribute or dataset.
type Datatype struct {
	Class Class
	// RawClass is the class number in the file (format spec, "Datatype
	// Message").
	RawClass int
	// Size is the bytes of one element in the file; for a variable-length
	// string, of its reference to the global heap.
	Size      int
	BigEndian bool
	Signed    bool // integers
	VarLen    bool // strings: a variable-length string
	Pad       int  // strings: PadNullTerm, PadNullPad or PadSpacePad
	CharSet   int  // strings: CharSetASCII or CharSetUTF8
	// ieee is set for a float laid out as IEEE 754 binary16, 32 or 64.
	ieee bool
}

// String names the type as numpy would (float32, int8, ...).
func (t Datatype) String() string {
	end := "<"
	if t.BigEndian {
		end = ">"
	}
	switch t.Class {
	case ClassInteger:
		if t.Signed {
			return fmt.Sprintf("%sint%d", end, 8*t.Size)
		}
		return fmt.Sprintf("%suint%d", end, 8*t.Size)
	case ClassFloat:
		return fmt.Sprintf("%sfloat%d", end, 8*t.Size)
	case ClassString:
		if t.VarLen {
			return "vlen string"
		}
		return fmt.Sprintf("string%d", t.Size)
	}
	return fmt.Sprintf("class %d", t.RawClass)
}

// decodeDatatype decodes a datatype message.
func (f *File) decodeDatatype(b []byte) (Datatype, error) {
	c := f.cursor(b, "datatype")
	cv := c.u8()
	bf := c.bytes(3)
	size := c.u32()
	if c.err != nil {
		return Datatype{}, c.err
	}
	t := Datatype{RawClass: cv & 0x0f, Size: int(size)}
	if size == 0 || size > 1<<20 {
		return Datatype{}, corruptf("datatype of %d bytes", size)
	}
	switch t.RawClass {
	case 0: // fixed-point
		t.Class = ClassInteger
		t.BigEndian = bf[0]&1 != 0
		t.Signed = bf[0]&0x08 != 0
		off, prec := c.u16(), c.u16()
		if c.err != nil {
			return Datatype{}, c.err
		}
		if size != 1 && size != 2 && size != 4 && size != 8 || off != 0 || prec != 8*int(size) {
			t.Class = ClassOther
		}
	case 1: // floating-point
		t.Class = ClassFloat
		t.BigEndian = bf[0]&1 != 0
		// Bit 6 is the high bit of the byte order from datatype version
		// 3 on: with bit 0, VAX order; alone, an order libhdf5 refuses.
		// Before version 3 libhdf5 ignores it.
		vax := cv>>4 >= 3 && bf[0]&0x40 != 0
		if vax && !t.BigEndian {
			return Datatype{}, corruptf("float datatype of an unknown byte order")
		}
		signLoc := int(bf[1])
		off, prec := c.u16(), c.u16()
		eLoc, eSize, mLoc, mSize := c.u8(), c.u8(), c.u8(), c.u8()
		bias := c.u32()
		if c.err != nil {
			return Datatype{}, c.err
		}
		type layout struct {
			size, sign, eLoc, eSize, mSize int
			bias                           uint64
		}
		got := layout{int(size), signLoc, eLoc, eSize, mSize, bias}
		t.ieee = !vax && off == 0 && prec == 8*int(size) && mLoc == 0 && bf[0]&0x30 == 0x20 &&
			(got == layout{2, 15, 10, 5, 10, 15} || got == layout{4, 31, 23, 8, 23, 127} || got == layout{8, 63, 52, 11, 52, 1023})
		if !t.ieee {
			t.Class = ClassOther
		}
	case 3: // string
		t.Class = ClassString
		t.Pad = int(bf[0] & 0x0f)
		t.CharSet = int(bf[0] >> 4)
	case 9: // variable-length
		if bf[0]&0x0f != 1 {
			break // a sequence: ClassOther
		}
		t.Class = ClassString
		t.VarLen = true
		t.Pad = int(bf[0] >> 4)
		t.CharSet = int(bf[1] & 0x0f)
		if want := 4 + f.so + 4; int(size) != want {
			return Datatype{}, corruptf("variable-length string datatype of size %d, want %d", size, want)
		}
	}
	return t, nil
}

// SpaceKind is the kind of a dataspace.
type SpaceKind int

// The dataspace kinds.
const (
	SpaceScalar SpaceKind = iota
	SpaceSimple
	SpaceNull
)

const maxRank = 32

// dataspace is a decoded dataspace message.
type dataspace struct {
	kind SpaceKind
	dims []uint64
	max  []uint64 // maximum dims, when stored; undef for unlimited
	n    uint64   // elements; at most 1<<62
}

// decodeDataspace decodes the dataspace encoded at the start of b, whose
// declared size (its message's, or the attribute message's dataspace
// size) is size. As in libhdf5 1.10, the dimensions and the maximum
// dimensions must lie within that size; the fixed fields before them are
// read from b, past it if need be.
func (f *File) decodeDataspace(b []byte, size int) (dataspace, error) {
	c := f.cursor(b, "dataspace")
	version := c.u8()
	rank := c.u8()
	flags := c.u8()
	ds := dataspace{kind: SpaceSimple}
	switch version {
	case 1:
		c.bytes(5)
		if rank == 0 {
			ds.kind = SpaceScalar
		}
	case 2:
		ds.kind = SpaceKind(c.u8())
		if ds.kind > SpaceNull {
			return ds, corruptf("dataspace type %d", ds.kind)
		}
	default:
		if c.err == nil {
			return ds, corruptf("dataspace message version %d", version)
		}
	}
	if rank > maxRank {
		return ds, corruptf("dataspace of rank %d", rank)
	}
	fits := func() error {
		if c.err == nil && rank > 0 && c.p+rank*f.sl > size {
			return corruptf("dataspace of rank %d in %d bytes", rank, size)
		}
		return nil
	}
	if err := fits(); err != nil {
		return ds, err
	}
	ds.n = 1
	if ds.kind == SpaceSimple {
		ds.dims = make([]uint64, rank)
	}
	for i := 0; i < rank; i++ {
		d := c.length()
		if ds.kind == SpaceSimple {
			ds.dims[i] = d
		}
		if d != 0 && ds.n > (1<<62)/d {
			return ds, unsupportedf("dataspace of more than 2^62 elements")
		}
		ds.n *= d
	}
	if flags&1 != 0 {
		if err := fits(); err != nil {
			return ds, err
		}
	}
	if flags&1 != 0 && ds.kind == SpaceSimple {
		ds.max = make([]uint64, rank)
		for i := range ds.max {
			ds.max[i] = c.length()
		}
	}
	if c.err != nil {
		return ds, c.err
	}
	if ds.kind == SpaceNull {
		ds.n = 0
	}
	if ds.kind == SpaceScalar {
		ds.n = 1
	}
	return ds, nil
}

// Attribute is an attribute of a group or dataset, with its value.
type Attribute struct {
	Name string
	Type Datatype
	// Space is the attribute's dataspace kind; Dims its shape when simple.
	Space SpaceKind
	Dims  []uint64
	data  []byte // the elements as stored: n*Type.Size bytes
	n     int
	f     *File
}

// Len returns the number of elements: 1 for a scalar, 0 for a null
// dataspace.
func (a *Attribute) Len() int { return a.n }

// Raw returns the elements' bytes as the file stores them (for a
// variable-length string, its global heap references).
func (a *Attribute) Raw() []byte { return append([]byte(nil), a.data...) }

// attribute decodes an attribute message (format spec, "Attribute
// Message").
func (f *File) attribute(body []byte) (*Attribute, error) {
	c := f.cursor(body, "attribute message")
	version := c.u8()
	flags := c.u8()
	nameSize, dtSize, dsSize := c.u16(), c.u16(), c.u16()
	if c.err != nil {
		return nil, c.err
	}
	pad := func(n int) int { return n }
	switch version {
	case 1:
		pad = func(n int) int { return (n + 7) &^ 7 }
	case 2:
	case 3:
		c.u8() // character set of the name
	default:
		return nil, corruptf("attribute message version %d", version)
	}
	if flags&0x03 != 0 {
		return nil, unsupportedf("an attribute with a shared datatype or dataspace")
	}
	name := c.bytes(pad(nameSize))
	dt := c.bytes(pad(dtSize))
	dsb := c.b[min(c.p, len(c.b)):]
	c.bytes(pad(dsSize))
	if c.err != nil {
		return nil, c.err
	}
	if nameSize == 0 || name[nameSize-1] != 0 {
		return nil, corruptf("attribute name is not NUL-terminated")
	}
	// libhdf5 refuses a name whose stored length is not its string length
	// plus the NUL (a NUL inside it): so does this reader.
	if i := bytes.IndexByte(name[:nameSize-1], 0); i >= 0 {
		return nil, corruptf("attribute name of %d bytes ends at byte %d", nameSize, i)
	}
	a := &Attribute{Name: string(name[:nameSize-1]), f: f}
	t, err := f.decodeDatatype(dt)
	if err != nil {
		return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
	}
	ds, err := f.decodeDataspace(dsb, dsSize)
	if err != nil {
		return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
	}
	a.Type, a.Space, a.Dims = t, ds.kind, ds.dims
	data := body[c.p:]
	if ds.n > uint64(len(data))/uint64(t.Size) {
		return nil, corruptf("attribute %q declares %d values of %d bytes, but its message holds %d bytes of data", a.Name, ds.n, t.Size, len(data))
	}
	a.n = int(ds.n)
	a.data = append([]byte(nil), data[:a.n*t.Size]...)
	return a, nil
}

// denseAttributes reads the attributes of an attribute info message's
// fractal heap.
func (f *File) denseAttributes(b []byte) ([]*Attribute, error) {
	c := f.cursor(b, "attribute info message")
	if v := c.u8(); v != 0 && c.err == nil {
		return nil, corruptf("attribute info message version %d", v)
	}
	flags := c.u8()
	if flags&1 != 0 {
		c.u16()
	}
	heapAddr := c.addr()
	nameIndex := c.addr()
	if c.err != nil {
		return nil, c.err
	}
	if heapAddr == undef {
		return nil, nil
	}
	heap, err := f.fractalHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	var out []*Attribute
	err = f.walkBTree2(nameIndex, 8, func(rec []byte) error {
		if len(rec) < 9 {
			return corruptf("attribute name record of %d bytes", len(rec))
		}
		if rec[8]&0x02 != 0 {
			return unsupportedf("a shared attribute message")
		}
		obj, err := heap.get(rec[:min(8, heap.idLen)])
		if err != nil {
			return err
		}
		a, err := f.attribute(obj)
		if err != nil {
			return err
		}
		if len(out) >= maxLinks {
			return corruptf("more than %d attributes", maxLinks)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// Strings returns the values of a string attribute. A fixed-length string
// ends at its first NUL; a space-padded one also loses its trailing
// spaces. A variable-length string is returned whole. An attribute with no
// elements gives none, whatever its type.
func (a *Attribute) Strings() ([]string, error) {
	if a.n == 0 {
		return nil, nil
	}
	if a.Type.Class != ClassString {
		return nil, fmt.Errorf("h5: attribute %q holds %s, not strings", a.Name, a.Type)
	}
	out := make([]string, a.n)
	sz := a.Type.Size
	for i := range out {
		e := a.data[i*sz : (i+1)*sz]
		if a.Type.VarLen {
			s, err := a.f.vlen(e)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: value %d: %w", a.Name, i, err)
			}
			out[i] = string(s)
			continue
		}
		if j := bytes.IndexByte(e, 0); j >= 0 {
			e = e[:j]
		}
		s := string(e)
		if a.Type.Pad == PadSpacePad {
			s = strings.TrimRight(s, " ")
		}
		out[i] = s
	}
	return out, nil
}

// Float64s returns the values of a numeric attribute converted to
// float64 (64-bit integers beyond 2^53 round).
func (a *Attribute) Float64s() ([]float64, error) {
	switch a.Type.Class {
	case ClassInteger, ClassFloat:
	default:
		if a.n == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("h5: attribute %q holds %s, not numbers", a.Name, a.Type)
	}
	out := make([]float64, a.n)
	for i := range out {
		out[i] = toFloat64(a.Type, a.data[i*a.Type.Size:])
	}
	return out, nil
}

// toFloat64 converts one element of a numeric type.
func toFloat64(t Datatype, b []byte) float64 {
	var order binary.ByteOrder = binary.LittleEndian
	if t.BigEndian {
		order = binary.BigEndian
	}
	var u uint64
	switch t.Size {
	case 1:
		u = uint64(b[0])
	case 2:
		u = uint64(order.Uint16(b))
	case 4:
		u = uint64(order.Uint32(b))
	case 8:
		u = order.Uint64(b)
	}
	if t.Class == ClassFloat {
		switch t.Size {
		case 2:
			return float64(half(uint16(u)))
		case 4:
			return float64(math.Float32frombits(uint32(u)))
		}
		return math.Float64frombits(u)
	}
	if t.Signed {
		sh := 64 - 8*uint(t.Size)
		return float64(int64(u<<sh) >> sh)
	}
	return float64(u)
}

// half converts an IEEE 754 binary16 to float32 as libhdf5 does: exactly,
// except that every NaN becomes the NaN with all bits of exponent and
// mantissa set, its sign kept.
func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f && man != 0:
		return math.Float32frombits(sign | 0x7fffffff)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: normalise.
	e := uint32(113)
	for man&0x400 == 0 {
		man <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
}

// vlen returns the bytes of the variable-length value whose reference to
// the global heap is b.
func (f *File) vlen(b []byte) ([]byte, error) {
	c := f.cursor(b, "variable-length value")
	n := c.u32()
	addr := c.addr()
	idx := c.u32()
	if c.err != nil {
		return nil, c.err
	}
	if n == 0 {
		return nil, nil
	}
	if addr == undef || addr == 0 {
		return nil, corruptf("variable-length value of %d bytes without data", n)
	}
	heap, err := f.globalHeap(addr)
	if err != nil {
		return nil, err
	}
	obj, err := f.heapObject(heap, addr, idx)
	if err != nil {
		return nil, err
	}
	if uint64(len(obj)) < n {
		return nil, corruptf("variable-length value of %d bytes points to a global heap object of %d", n, len(obj))
	}
	return append([]byte(nil), obj[:n]...), nil
}

// globalHeap returns the global heap collection at addr.
func (f *File) globalHeap(addr uint64) ([]byte, error) {
	f.mu.Lock()
	h, ok := f.gheap[addr]
	f.mu.Unlock()
	if ok {
		return h, nil
	}
	head, err := f.read(addr, uint64(8+f.sl), "global heap collection")
	if err != nil {
		return nil, err
	}
	if string(head[:4]) != "GCOL" || head[4] != 1 {
		return nil, corruptf("no global heap collection at %d", addr)
	}
	c := f.cursor(head[8:], "global heap collection")
	size := c.length()
	if c.err != nil {
		return nil, c.err
	}
	if size < uint64(8+f.sl) {
		return nil, corruptf("global heap collection at %d: size %d", addr, size)
	}
	h, err = f.read(addr, size, "global heap collection")
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if len(f.gheap) < 4096 {
		f.gheap[addr] = h
	}
	f.mu.Unlock()
	return h, nil
}

// heapObject finds object idx in the global heap collection h.
func (f *File) heapObject(h []byte, addr, idx uint64) ([]byte, error) {
	hdr := 8 + f.sl
	for p := hdr; p+hdr <= len(h); {
		c := f.cursor(h[p:], "global heap object")
		id := c.u16()
		c.bytes(6) // reference count, reserved
		size := c.length()
		if c.err != nil {
			return nil, c.err
		}
		if id == 0 {
			break // free space runs to the end
		}
		if size > uint64(len(h)-p-hdr) {
			return nil, corruptf("global heap collection at %d: object %d of %d bytes does not fit", addr, id, size)
		}
		if uint64(id) == idx {
			return h[p+hdr : p+hdr+int(size)], nil
		}
		p += hdr + int((size+7)&^7)
	}
	return nil, corruptf("global heap collection at %d has no object %d", addr, idx)
}
