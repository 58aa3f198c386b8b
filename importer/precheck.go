package importer

// This file holds the checks that run in pure Go before libhdf5 or the JSON
// parser sees untrusted bytes. See the trust model in doc.go.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/tidwall/gjson"

	"github.com/kerasrun/kerasrun/internal/h5"
	"github.com/kerasrun/kerasrun/layers"
)

// hdf5Signature starts every HDF5 superblock.
var hdf5Signature = []byte("\x89HDF\r\n\x1a\n")

// maxSignatureOffset is the last offset at which the signature is looked
// for. libhdf5 looks at 0, 512, 1024, 2048, ... up to the end of the file;
// user blocks larger than this are not supported.
const maxSignatureOffset = 1 << 30

// superblock is what precheck reads of an HDF5 superblock.
type superblock struct {
	offset      int64 // where the signature is
	version     int
	sizeOffsets int // bytes of an address
	sizeLengths int // bytes of a length
	base        uint64
	eof         uint64 // the end-of-file address the superblock records
	root        uint64 // the root group's object header address
}

// precheckFile validates path before libhdf5 opens it: it must be a
// regular file (never a FIFO or a device, which could block or never
// end), carry the HDF5 signature at offset 0 or at a power of two from 512,
// and have a superblock of a known version whose sizes are valid, whose
// end-of-file address does not lie beyond the real end of the file and
// whose root group lies inside the file.
func precheckFile(path string) (*superblock, error) {
	f, sb, _, err := openChecked(path)
	if err != nil {
		return nil, err
	}
	f.Close()
	return sb, nil
}

// openChecked runs precheckFile's checks and returns the file, open, with
// its superblock and size.
func openChecked(path string) (*os.File, *superblock, int64, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer. It changes nothing for a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, 0, err
	}
	sb, size, err := checkOpened(f)
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	return f, sb, size, nil
}

func checkOpened(f *os.File) (*superblock, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	size := st.Size()
	sb, err := checkAt(f, size)
	return sb, size, err
}

// checkAt runs precheckFile's checks on the size bytes of r.
func checkAt(r io.ReaderAt, size int64) (*superblock, error) {
	if size == 0 {
		return nil, corrupt(errors.New("not an HDF5 file: the file is empty"))
	}
	sig := make([]byte, len(hdf5Signature))
	for off := int64(0); off+int64(len(sig)) <= size && off <= maxSignatureOffset; off = max(512, off*2) {
		if _, err := r.ReadAt(sig, off); err != nil && err != io.EOF {
			return nil, err
		}
		if bytes.Equal(sig, hdf5Signature) {
			sb, err := readSuperblock(r, off, size)
			switch {
			case errors.Is(err, layers.ErrUnsupported):
				return nil, err
			case err != nil:
				return nil, corrupt(fmt.Errorf("corrupt HDF5 file: %w", err))
			}
			return sb, nil
		}
	}
	return nil, corrupt(errors.New("not an HDF5 file: no HDF5 signature"))
}

// undefinedAddress is HDF5's "no address" (all bits set).
const undefinedAddress = ^uint64(0)

// readSuperblock decodes the superblock at off of a file of size bytes
// (format spec, "Superblock": versions 0 and 1 hold the root group's symbol
// table entry, versions 2 and 3 its object header address and a checksum).
func readSuperblock(f io.ReaderAt, off, size int64) (*superblock, error) {
	// The largest superblock: version 1 with 32-byte addresses.
	buf := make([]byte, 32+4*32+40+4*32)
	n, err := f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return nil, err
	}
	buf = buf[:n]
	truncated := func(need int) error {
		return fmt.Errorf("truncated superblock: it needs %d bytes from offset %d, the file has %d", need, off, size-off)
	}
	if len(buf) < 16 {
		return nil, truncated(16)
	}
	sb := &superblock{offset: off, version: int(buf[8])}
	var p int // where the addresses start
	switch sb.version {
	case 0, 1:
		// signature, version, free-space version, root group symbol table
		// version, reserved, shared header version, size of offsets, size
		// of lengths, reserved, group leaf node K (2), group internal node
		// K (2), file consistency flags (4), [v1: indexed storage internal
		// node K (2), reserved (2)].
		sb.sizeOffsets, sb.sizeLengths = int(buf[13]), int(buf[14])
		p = 24
		if sb.version == 1 {
			p = 28
		}
	case 2, 3:
		// signature, version, size of offsets, size of lengths, file
		// consistency flags.
		sb.sizeOffsets, sb.sizeLengths = int(buf[9]), int(buf[10])
		p = 12
	default:
		return nil, fmt.Errorf("superblock version %d is not one of 0, 1, 2 and 3", sb.version)
	}
	for _, s := range []struct {
		what string
		n    int
	}{{"size of offsets", sb.sizeOffsets}, {"size of lengths", sb.sizeLengths}} {
		switch s.n {
		case 2, 4, 8, 16, 32:
		default:
			return nil, fmt.Errorf("superblock %s is %d, not 2, 4, 8, 16 or 32", s.what, s.n)
		}
	}
	o := sb.sizeOffsets
	// Versions 0 and 1: base, free-space info, end of file and driver
	// information block addresses, then the root group symbol table entry
	// (link name offset, object header address, ...). Versions 2 and 3:
	// base, superblock extension, end of file and root group object header
	// addresses, then a checksum.
	need := p + 4*o + 4
	if sb.version < 2 {
		need = p + 4*o + 2*o + 24
	}
	if len(buf) < need {
		return nil, truncated(need)
	}
	if err := checkSuperblockFields(buf, sb.version); err != nil {
		return nil, err
	}
	addr := func(i int) (uint64, error) {
		b := buf[p+i*o : p+(i+1)*o]
		v, err := decodeAddress(b)
		if err != nil {
			return 0, fmt.Errorf("superblock address %d: %w", i, err)
		}
		return v, nil
	}
	if sb.base, err = addr(0); err != nil {
		return nil, err
	}
	if sb.eof, err = addr(2); err != nil {
		return nil, err
	}
	rootIndex := 3
	if sb.version < 2 {
		rootIndex = 5 // past the link name offset of the root entry
	}
	if sb.root, err = addr(rootIndex); err != nil {
		return nil, err
	}
	if sb.version >= 2 {
		sum := binary.LittleEndian.Uint32(buf[p+4*o:])
		if want := h5.Lookup3(buf[:p+4*o], 0); sum != want {
			return nil, fmt.Errorf("superblock checksum is %#08x, the bytes give %#08x", sum, want)
		}
	}
	// Keras files never have a base address other than the superblock's
	// own offset (libhdf5 writes no other).
	if sb.base != uint64(off) {
		return nil, fmt.Errorf("superblock base address %d is not where the superblock is (%d)", sb.base, off)
	}
	// libhdf5 writes the end-of-file address as the size of the whole file,
	// user block included, and itself refuses a file shorter than that.
	if sb.eof == undefinedAddress || sb.eof > uint64(size) {
		return nil, fmt.Errorf("truncated HDF5 file: the superblock says the file ends at byte %d, but it has only %d bytes", int64(sb.eof), size)
	}
	if sb.root == undefinedAddress || sb.base+sb.root >= sb.eof {
		return nil, fmt.Errorf("superblock root group address %d is outside the file (end of file at %d)", int64(sb.root), sb.eof)
	}
	if sb.version < 2 {
		drv, err := addr(3)
		if err != nil {
			return nil, err
		}
		if drv != undefinedAddress {
			return nil, driverBlockError(f, off, drv, size)
		}
	}
	return sb, nil
}

// superblockFlags are the file consistency flags libhdf5 knows: open for
// writing, file OK, open for SWMR writing.
const superblockFlags = 0x07

// checkSuperblockFields refuses, in the first 24 bytes of a superblock of
// the given version, the values that libhdf5 refuses as it opens the file:
// versions 0 and 1 carry the versions of three structures, which must be
// 0, and the low byte of their file consistency flags (libhdf5 reads no
// other) must hold known flags only; versions 2 and 3 have one byte of
// flags, which must too, and version 3 must not be marked open for
// writing (libhdf5 refuses to open such a file, which its writer has open
// or did not close).
func checkSuperblockFields(buf []byte, version int) error {
	var flags byte
	if version < 2 {
		for _, f := range []struct {
			what string
			at   int
		}{{"free-space", 9}, {"root group symbol table entry", 10}, {"shared header message", 12}} {
			if buf[f.at] != 0 {
				return fmt.Errorf("superblock %s format version %d (libhdf5 reads 0)", f.what, buf[f.at])
			}
		}
		flags = buf[20]
	} else {
		flags = buf[11]
	}
	if flags&^superblockFlags != 0 {
		return fmt.Errorf("superblock file consistency flags %#x hold unknown flags", flags)
	}
	if version == 3 && flags&0x05 != 0 {
		return errors.New("the file is marked as open for writing: the program that wrote it still has it open, or did not close it (h5clear -s clears the mark)")
	}
	return nil
}

// driverBlockError describes the driver information block at the address
// addr of the file whose superblock is at off: kerasrun refuses every
// such block. Only HDF5's multi-file drivers (family, multi and split)
// write one, and libhdf5's default driver cannot open their files.
// libhdf5 also refuses a block in several other ways, and it reads the
// block's data, of whatever size the block declares, as the file opens:
// up to 4 GiB for a damaged or hostile file.
func driverBlockError(f io.ReaderAt, off int64, addr uint64, size int64) error {
	name := ""
	if abs := uint64(off) + addr; abs >= uint64(off) && abs <= uint64(size) && uint64(size)-abs >= 16 {
		b := make([]byte, 16) // version, reserved, data size, driver name
		if _, err := f.ReadAt(b, int64(abs)); err != nil {
			return err
		}
		name = string(b[8:])
	}
	switch name {
	case "NCSAfami":
		return unsupported(errors.New("the file is one member of a family of files (HDF5's family driver), which kerasrun does not read: save the model as one file"))
	case "NCSAmult":
		return unsupported(errors.New("the file is one part of a multi-file set (HDF5's multi or split driver), which kerasrun does not read: save the model as one file"))
	}
	return fmt.Errorf("the superblock names a driver information block (at address %d), which files of HDF5's default driver do not have", addr)
}

// decodeAddress decodes a little-endian address of 2 to 32 bytes. Addresses
// wider than 8 bytes must fit in 64 bits (or be the undefined address).
func decodeAddress(b []byte) (uint64, error) {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		if i >= 8 {
			if b[i] != 0 && b[i] != 0xff {
				return 0, errors.New("address does not fit in 64 bits")
			}
			continue
		}
		v = v<<8 | uint64(b[i])
	}
	allOnes := true
	for _, c := range b {
		allOnes = allOnes && c == 0xff
	}
	if allOnes {
		return undefinedAddress, nil
	}
	if len(b) > 8 {
		for _, c := range b[8:] {
			if c != 0 {
				return 0, errors.New("address does not fit in 64 bits")
			}
		}
	}
	return v, nil
}

// maxJSONDepth bounds how deeply a model_config may nest. Real Keras
// configs nest about a dozen levels; models nested maxNesting deep stay
// well under this. It bounds every recursion over the config: the JSON
// validator's, nested models' and wrapped layers' (Bidirectional,
// TimeDistributed).
const maxJSONDepth = 512

// checkJSONDepth rejects a JSON document that nests arrays and objects more
// than maxJSONDepth deep, without recursion, before a recursive parser sees
// it. (gjson.Valid recurses once per level; a document nested a few
// million levels deep overflows the goroutine stack, which no recover can
// catch.)
func checkJSONDepth(what, js string) error {
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(js); i++ {
		c := js[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > maxJSONDepth {
				return limitError("", maxJSONDepth, fmt.Errorf("%s: JSON nests more than %d levels deep (at byte %d)", what, maxJSONDepth, i))
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}

// countLayers counts the layers of a model_config, nested models' layers
// included, without decoding them, so that Options.MaxLayers is checked
// before the config is decoded. It stops counting past limit. The config
// must be valid JSON no deeper than maxJSONDepth.
func countLayers(js string, limit int) int {
	root := gjson.Parse(js)
	n := 0
	var walk func(cfg gjson.Result, depth int)
	walk = func(cfg gjson.Result, depth int) {
		if depth > maxNesting {
			return
		}
		list := cfg
		if cfg.IsObject() {
			list = cfg.Get("layers")
		}
		if !list.IsArray() {
			return
		}
		list.ForEach(func(_, l gjson.Result) bool {
			// As flatten counts them: a nested model's layers but not the
			// model itself nor its inputs.
			switch class := l.Get("class_name").String(); {
			case modelClasses[class]:
				walk(l.Get("config"), depth+1)
			case class != "InputLayer" || depth == 0:
				n++
			}
			return n <= limit
		})
	}
	walk(root.Get("config"), 0)
	return n
}
