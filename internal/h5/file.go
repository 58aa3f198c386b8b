package h5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrCorrupt is matched by the errors about bytes that do not form valid
// HDF5: truncated, inconsistent or out-of-range structures.
var ErrCorrupt = errors.New("h5: corrupt HDF5 file")

// ErrUnsupported is matched by the errors about valid HDF5 that this
// package does not read.
var ErrUnsupported = errors.New("h5: unsupported HDF5 feature")

// ErrNotFound is matched by the errors about a link or an attribute that
// does not exist.
var ErrNotFound = errors.New("h5: not found")

// ErrLoop marks, besides ErrCorrupt, a structure on which libhdf5 would
// loop forever instead of failing: a local heap whose free list comes back
// on itself. A program that hands the same file to libhdf5 must refuse it
// first.
var ErrLoop = errors.New("h5: a structure libhdf5 loops on")

// ErrCrash marks, besides ErrCorrupt, a structure on which libhdf5 1.10
// crashes the process instead of failing: an external link with no
// target. A program that hands the same file to libhdf5 must refuse it
// first.
var ErrCrash = errors.New("h5: a structure libhdf5 crashes on")

// formatError is an error with a message of its own that matches a
// sentinel (and ErrLoop when loop is set, ErrCrash when crash is).
type formatError struct {
	kind  error
	msg   string
	loop  bool
	crash bool
}

func (e *formatError) Error() string { return "h5: " + e.msg }
func (e *formatError) Is(target error) bool {
	return target == e.kind || e.loop && target == ErrLoop || e.crash && target == ErrCrash
}

func corruptf(format string, args ...any) error {
	return &formatError{kind: ErrCorrupt, msg: fmt.Sprintf(format, args...)}
}

func unsupportedf(format string, args ...any) error {
	return &formatError{kind: ErrUnsupported, msg: fmt.Sprintf(format, args...)}
}

func notFoundf(format string, args ...any) error {
	return &formatError{kind: ErrNotFound, msg: fmt.Sprintf(format, args...)}
}

// signature starts every HDF5 superblock.
var signature = []byte("\x89HDF\r\n\x1a\n")

const (
	// maxSignatureOffset is the last offset at which the signature is
	// looked for (libhdf5 looks at 0, 512, 1024, 2048, ...).
	maxSignatureOffset = 1 << 30
	// maxMeta bounds one metadata structure read at once: an object header
	// block, a heap, a B-tree node.
	maxMeta = 64 << 20
	// undef is HDF5's undefined address.
	undef = ^uint64(0)
)

// File is an open HDF5 file.
type File struct {
	r    io.ReaderAt
	size int64
	base int64 // absolute offset of address 0: where the superblock is

	version  int // superblock version
	so, sl   int // bytes of an offset (address) and of a length
	rootAddr uint64
	// leafK is half the capacity of a symbol table node; btreeK is half
	// the capacity of a version 1 B-tree node, by node type (0 group, 1
	// chunk). libhdf5 loads such nodes whole, at their capacity. 0 when
	// unknown: a superblock extension may set them, and it is not read.
	leafK  int
	btreeK [2]int

	mu    sync.Mutex
	gheap map[uint64][]byte // global heap collections by address
}

// Open reads the superblock of the HDF5 file of size bytes that r holds.
func Open(r io.ReaderAt, size int64) (*File, error) {
	if size <= 0 {
		return nil, corruptf("not an HDF5 file: it is empty")
	}
	sig := make([]byte, len(signature))
	for off := int64(0); off+int64(len(sig)) <= size && off <= maxSignatureOffset; off = max(512, off*2) {
		if _, err := r.ReadAt(sig, off); err != nil && err != io.EOF {
			return nil, err
		}
		if bytes.Equal(sig, signature) {
			f := &File{r: r, size: size, base: off, gheap: map[uint64][]byte{}}
			if err := f.readSuperblock(); err != nil {
				return nil, err
			}
			return f, nil
		}
	}
	return nil, corruptf("not an HDF5 file: no HDF5 signature")
}

// readSuperblock decodes the superblock at f.base (format spec,
// "Superblock").
func (f *File) readSuperblock() error {
	buf := make([]byte, 256)
	n, err := f.r.ReadAt(buf, f.base)
	if err != nil && err != io.EOF {
		return err
	}
	buf = buf[:n]
	if len(buf) < 16 {
		return corruptf("truncated superblock")
	}
	f.version = int(buf[8])
	// The defaults of libhdf5, which versions 2 and 3 do not store.
	f.leafK, f.btreeK = 4, [2]int{16, 32}
	var p int
	switch f.version {
	case 0, 1:
		p = 24
		if f.version == 1 {
			p = 28
		}
		if len(buf) < p {
			return corruptf("truncated superblock")
		}
		f.so, f.sl = int(buf[13]), int(buf[14])
		f.leafK = int(binary.LittleEndian.Uint16(buf[16:]))
		f.btreeK[0] = int(binary.LittleEndian.Uint16(buf[18:]))
		if f.version == 1 {
			f.btreeK[1] = int(binary.LittleEndian.Uint16(buf[24:]))
		}
		if f.leafK == 0 || f.btreeK[0] == 0 || f.btreeK[1] == 0 {
			return corruptf("superblock: a B-tree or symbol table node K of 0")
		}
	case 2, 3:
		f.so, f.sl = int(buf[9]), int(buf[10])
		p = 12
	default:
		return unsupportedf("superblock version %d", f.version)
	}
	if f.so != 2 && f.so != 4 && f.so != 8 {
		return unsupportedf("superblock size of offsets %d (2, 4 or 8 are read)", f.so)
	}
	if f.sl != 2 && f.sl != 4 && f.sl != 8 {
		return unsupportedf("superblock size of lengths %d (2, 4 or 8 are read)", f.sl)
	}
	o := f.so
	need := p + 4*o + 4
	if f.version < 2 {
		need = p + 6*o + 24
	}
	if len(buf) < need {
		return corruptf("truncated superblock")
	}
	c := &cursor{b: buf, p: p, what: "superblock", so: f.so, sl: f.sl}
	baseAddr := c.addr()
	ext := c.addr()
	if f.version >= 2 && ext != undef {
		// A superblock extension may hold other K values.
		f.leafK, f.btreeK = 0, [2]int{}
	}
	eof := c.addr()
	if f.version < 2 {
		c.addr() // driver information block: Keras files have none, and the importer refuses one first
		c.addr() // root entry: link name offset
	}
	f.rootAddr = c.addr()
	if f.version < 2 {
		// The rest of the root's symbol table entry: libhdf5 refuses a
		// cache type it does not know (checkCacheType).
		if err := checkCacheType(c.u32()); err != nil {
			return fmt.Errorf("root group symbol table entry: %w", err)
		}
	}
	if f.version >= 2 {
		end := c.p
		if sum, want := binary.LittleEndian.Uint32(buf[end:]), Lookup3(buf[:end], 0); sum != want {
			return corruptf("superblock checksum is %#08x, the bytes give %#08x", sum, want)
		}
	}
	if c.err != nil {
		return c.err
	}
	if baseAddr != uint64(f.base) {
		return unsupportedf("superblock base address %d is not where the superblock is (%d)", baseAddr, f.base)
	}
	if eof == undef || eof > uint64(f.size) {
		return corruptf("truncated file: the superblock says it ends at byte %d, but it has %d", eof, f.size)
	}
	if f.rootAddr == undef || f.rootAddr >= uint64(f.size) {
		return corruptf("root group address %d is outside the file", f.rootAddr)
	}
	if ext != undef {
		// libhdf5 opens the extension's object header as it opens the
		// file (its messages are not read here). Versions 0 and 1 keep its
		// address where the format once put the free-space info's.
		if _, err := f.objectHeader(ext); err != nil {
			return fmt.Errorf("superblock extension: %w", err)
		}
	}
	return nil
}

// Root returns the root group.
func (f *File) Root() (*Group, error) {
	o, err := f.object(f.rootAddr, "/")
	if err != nil {
		return nil, err
	}
	if !o.isGroup() {
		return nil, corruptf("the root object is not a group")
	}
	return &Group{object: *o}, nil
}

// check reports whether n bytes at the address addr lie inside the file.
func (f *File) check(addr, n uint64, what string) error {
	abs := uint64(f.base) + addr
	if addr == undef || abs < addr || abs > uint64(f.size) || n > uint64(f.size)-abs {
		return corruptf("%s at address %d (%d bytes) lies outside the file (%d bytes)", what, addr, n, f.size)
	}
	return nil
}

// read reads n bytes of metadata at the address addr.
func (f *File) read(addr, n uint64, what string) ([]byte, error) {
	if err := f.check(addr, n, what); err != nil {
		return nil, err
	}
	if n > maxMeta {
		return nil, unsupportedf("%s of %d bytes is larger than %d", what, n, maxMeta)
	}
	b := make([]byte, n)
	if err := f.readInto(b, addr); err != nil {
		return nil, err
	}
	return b, nil
}

// readInto fills b from the address addr, which check accepted.
func (f *File) readInto(b []byte, addr uint64) error {
	if err := f.check(addr, uint64(len(b)), "data"); err != nil {
		return err
	}
	n, err := f.r.ReadAt(b, f.base+int64(addr))
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// cursor decodes little-endian fields of a structure and records the first
// field that runs past its end.
type cursor struct {
	b      []byte
	p      int
	what   string
	so, sl int
	err    error
}

func (f *File) cursor(b []byte, what string) *cursor {
	return &cursor{b: b, what: what, so: f.so, sl: f.sl}
}

func (c *cursor) need(n int) bool {
	if c.err != nil {
		return false
	}
	if n < 0 || n > len(c.b)-c.p {
		c.err = corruptf("%s: truncated (%d bytes needed at offset %d of %d)", c.what, n, c.p, len(c.b))
		return false
	}
	return true
}

func (c *cursor) left() int { return len(c.b) - c.p }

func (c *cursor) bytes(n int) []byte {
	if !c.need(n) {
		return nil
	}
	c.p += n
	return c.b[c.p-n : c.p]
}

// uint decodes an n-byte unsigned value; bytes past the eighth must be 0.
func (c *cursor) uint(n int) uint64 {
	b := c.bytes(n)
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		if i >= 8 {
			if b[i] != 0 {
				c.err = corruptf("%s: a %d-byte value does not fit in 64 bits", c.what, n)
			}
			continue
		}
		v = v<<8 | uint64(b[i])
	}
	return v
}

func (c *cursor) u8() int     { return int(c.uint(1)) }
func (c *cursor) u16() int    { return int(c.uint(2)) }
func (c *cursor) u32() uint64 { return c.uint(4) }
func (c *cursor) u64() uint64 { return c.uint(8) }

// addr decodes an address; all bits set is the undefined address.
func (c *cursor) addr() uint64 {
	b := c.bytes(c.so)
	if b == nil {
		return undef
	}
	ones := true
	for _, x := range b {
		ones = ones && x == 0xff
	}
	if ones {
		return undef
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func (c *cursor) length() uint64 { return c.uint(c.sl) }

// Lookup3 is Bob Jenkins's lookup3 hashlittle; with an initial value of 0
// it is the checksum of HDF5's version 2 metadata (H5_checksum_lookup3).
func Lookup3(k []byte, initval uint32) uint32 {
	rot := func(x uint32, r uint) uint32 { return x<<r | x>>(32-r) }
	a := 0xdeadbeef + uint32(len(k)) + initval
	b, c := a, a
	for len(k) > 12 {
		a += binary.LittleEndian.Uint32(k[0:])
		b += binary.LittleEndian.Uint32(k[4:])
		c += binary.LittleEndian.Uint32(k[8:])
		a -= c
		a ^= rot(c, 4)
		c += b
		b -= a
		b ^= rot(a, 6)
		a += c
		c -= b
		c ^= rot(b, 8)
		b += a
		a -= c
		a ^= rot(c, 16)
		c += b
		b -= a
		b ^= rot(a, 19)
		a += c
		c -= b
		c ^= rot(b, 4)
		b += a
		k = k[12:]
	}
	if len(k) == 0 {
		return c
	}
	var tail [12]byte
	copy(tail[:], k)
	a += binary.LittleEndian.Uint32(tail[0:])
	b += binary.LittleEndian.Uint32(tail[4:])
	c += binary.LittleEndian.Uint32(tail[8:])
	c ^= b
	c -= rot(b, 14)
	a ^= c
	a -= rot(c, 11)
	b ^= a
	b -= rot(a, 25)
	c ^= b
	c -= rot(b, 16)
	a ^= c
	a -= rot(c, 4)
	b ^= a
	b -= rot(a, 14)
	c ^= b
	c -= rot(b, 24)
	return c
}

// checkSum verifies the lookup3 checksum in the last 4 bytes of b.
func checkSum(b []byte, what string) error {
	if len(b) < 4 {
		return corruptf("%s: truncated", what)
	}
	end := len(b) - 4
	if sum, want := binary.LittleEndian.Uint32(b[end:]), Lookup3(b[:end], 0); sum != want {
		return corruptf("%s: checksum is %#08x, the bytes give %#08x", what, sum, want)
	}
	return nil
}
