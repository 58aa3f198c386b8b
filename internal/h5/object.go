package h5

import (
	"fmt"
)

// Object header message types (format spec, "Header Message Types").
const (
	msgNil          = 0x00
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgFillOld      = 0x04
	msgFill         = 0x05
	msgLink         = 0x06
	msgExternal     = 0x07
	msgLayout       = 0x08
	msgGroupInfo    = 0x0a
	msgFilters      = 0x0b
	msgAttribute    = 0x0c
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

const (
	maxHeaderBlocks = 256     // continuation blocks of one object header
	maxMessages     = 1 << 16 // messages of one object header
)

// message is one object header message.
type message struct {
	typ   int
	flags int
	body  []byte
	// rest is the block from the start of body to the block's end: what
	// libhdf5 1.10 reads a datatype from, whatever the message's size.
	rest []byte
}

// object is a parsed object header.
type object struct {
	f    *File
	addr uint64
	path string
	msgs []message
}

// object reads the object header at addr.
func (f *File) object(addr uint64, path string) (*object, error) {
	msgs, err := f.objectHeader(addr)
	if err != nil {
		return nil, fmt.Errorf("object %q: %w", path, err)
	}
	return &object{f: f, addr: addr, path: path, msgs: msgs}, nil
}

// objectHeader reads every message of the object header at addr,
// following continuation blocks (format spec, "Data Object Headers").
func (f *File) objectHeader(addr uint64) ([]message, error) {
	head, err := f.read(addr, 16, "object header")
	if err != nil {
		return nil, err
	}
	type block struct {
		addr, size uint64
		start      int // where messages begin; 0 for a version 2 continuation block
	}
	var blocks []block
	v2 := string(head[:4]) == "OHDR"
	flags := 0
	switch {
	case v2:
		if head[4] != 2 {
			return nil, corruptf("object header at %d: version %d", addr, head[4])
		}
		flags = int(head[5])
		prefix := 6
		if flags&0x20 != 0 {
			prefix += 16
		}
		if flags&0x10 != 0 {
			prefix += 4
		}
		sizeBytes := 1 << (flags & 3)
		b, err := f.read(addr, uint64(prefix+sizeBytes), "object header")
		if err != nil {
			return nil, err
		}
		c := f.cursor(b[prefix:], "object header")
		n := c.uint(sizeBytes)
		if c.err != nil {
			return nil, c.err
		}
		if n > uint64(f.size) {
			return nil, corruptf("object header at %d: a block of %d bytes is larger than the file", addr, n)
		}
		// libhdf5 refuses a first block too small for one message header.
		if hdr := uint64(4 + 2*(flags>>2&1)); n > 0 && n < hdr {
			return nil, corruptf("object header at %d: a first block of %d bytes", addr, n)
		}
		blocks = append(blocks, block{addr: addr, size: uint64(prefix+sizeBytes) + n + 4, start: prefix + sizeBytes})
	case head[0] == 1:
		c := f.cursor(head, "object header")
		c.bytes(2) // version, reserved
		nmsgs := c.u16()
		c.u32() // reference count
		n := c.u32()
		// libhdf5's check of the prefix: messages need a block that holds
		// at least one message header, and no messages no block.
		if (nmsgs > 0 && n < 8) || (nmsgs == 0 && n > 0) {
			return nil, corruptf("object header at %d: a first block of %d bytes for %d messages", addr, n, nmsgs)
		}
		blocks = append(blocks, block{addr: addr + 16, size: n, start: 0})
	default:
		return nil, corruptf("object header at %d: unknown version %d", addr, head[0])
	}
	var msgs []message
	seen := map[uint64]bool{}
	for i := 0; i < len(blocks); i++ {
		if i >= maxHeaderBlocks {
			return nil, corruptf("object header at %d: more than %d continuation blocks", addr, maxHeaderBlocks)
		}
		bl := blocks[i]
		if seen[bl.addr] {
			return nil, corruptf("object header at %d: continuation block at %d is reached twice", addr, bl.addr)
		}
		seen[bl.addr] = true
		b, err := f.read(bl.addr, bl.size, "object header block")
		if err != nil {
			return nil, err
		}
		end := len(b)
		start := bl.start
		if v2 {
			if err := checkSum(b, fmt.Sprintf("object header at %d", addr)); err != nil {
				return nil, err
			}
			end -= 4
			if i > 0 {
				if len(b) < 8 || string(b[:4]) != "OCHK" {
					return nil, corruptf("object header at %d: continuation block at %d has no OCHK signature", addr, bl.addr)
				}
				start = 4
			}
		}
		c := f.cursor(b[:end], fmt.Sprintf("object header at %d", addr))
		c.p = start
		for c.err == nil {
			hdr := 8
			if v2 {
				hdr = 4
				if flags&0x04 != 0 {
					hdr = 6
				}
			}
			if c.left() < hdr {
				break // a gap at the end of the block
			}
			var m message
			var size int
			if v2 {
				m.typ = c.u8()
				size = c.u16()
				m.flags = c.u8()
				if flags&0x04 != 0 {
					c.u16() // creation order
				}
			} else {
				m.typ = c.u16()
				size = c.u16()
				m.flags = c.u8()
				c.bytes(3)
			}
			// libhdf5 refuses a version 1 message whose size is not a
			// multiple of 8, the alignment of that format.
			if !v2 && size%8 != 0 {
				return nil, corruptf("object header at %d: a message of %d bytes is not aligned to 8", addr, size)
			}
			m.rest = c.b[c.p:]
			m.body = c.bytes(size)
			if c.err != nil {
				return nil, c.err
			}
			if bad := badMsgFlags(m.typ, m.flags); bad != "" {
				return nil, corruptf("object header at %d: a message of type %d %s", addr, m.typ, bad)
			}
			if len(msgs) >= maxMessages {
				return nil, corruptf("object header at %d: more than %d messages", addr, maxMessages)
			}
			if m.typ == msgNil {
				continue
			}
			msgs = append(msgs, m)
			if m.typ == msgContinuation {
				mc := f.cursor(m.body, "continuation message")
				caddr := mc.addr()
				clen := mc.length()
				if mc.err != nil {
					return nil, mc.err
				}
				blocks = append(blocks, block{addr: caddr, size: clen})
			}
		}
	}
	return msgs, nil
}

// Message flags (format spec, "Header Message Flags").
const (
	msgFlagShared        = 0x02
	msgFlagDontShare     = 0x04
	msgFlagFailIfWrite   = 0x08 // fail if unknown and the file is open for writing
	msgFlagMarkIfUnknown = 0x10
	msgFlagWasUnknown    = 0x20
	msgFlagShareable     = 0x40
	msgFlagFailIfUnknown = 0x80 // fail if unknown, always
	msgLastKnown         = 0x18 // the last message type libhdf5 1.10 knows
	msgBogus             = 0x09 // a type libhdf5 knows only in test builds
)

// badMsgFlags says what is wrong with the flags of a message of type typ,
// or "" when nothing is; it refuses what libhdf5 refuses as it decodes a
// message: shared and not to be shared at once; "was unknown" with
// "fail if unknown and open for writing", or without "mark if unknown";
// "shareable" on a type that cannot be shared (libhdf5 shares dataspaces,
// datatypes, fill values, filter pipelines and attributes); and "fail if
// unknown" on a type libhdf5 does not know.
func badMsgFlags(typ, flags int) string {
	switch {
	case flags&msgFlagShared != 0 && flags&msgFlagDontShare != 0,
		flags&msgFlagWasUnknown != 0 && flags&msgFlagFailIfWrite != 0,
		flags&msgFlagWasUnknown != 0 && flags&msgFlagMarkIfUnknown == 0:
		return fmt.Sprintf("has flags %#x that do not go together", flags)
	}
	if typ > msgLastKnown || typ == msgBogus {
		if flags&msgFlagFailIfUnknown != 0 {
			return "is of a type libhdf5 does not know, flagged to fail then"
		}
		return ""
	}
	if flags&msgFlagShareable != 0 {
		switch typ {
		case 0x01, 0x03, 0x04, 0x05, 0x0b, 0x0c: // dataspace, datatype, fill values, filter pipeline, attribute
		default:
			return "cannot be shared but is flagged as shareable"
		}
	}
	return ""
}

// find returns the first message of type typ, or nil.
func (o *object) find(typ int) *message {
	for i := range o.msgs {
		if o.msgs[i].typ == typ {
			return &o.msgs[i]
		}
	}
	return nil
}

func (o *object) isGroup() bool {
	return o.find(msgSymbolTable) != nil || o.find(msgLinkInfo) != nil || o.find(msgLink) != nil || o.find(msgGroupInfo) != nil
}

func (o *object) isDataset() bool { return o.find(msgLayout) != nil }

// Path returns the path by which the object was opened.
func (o *object) Path() string { return o.path }

// Attributes returns the object's attributes, in name order.
func (o *object) Attributes() ([]*Attribute, error) {
	var out []*Attribute
	for _, m := range o.msgs {
		switch m.typ {
		case msgAttribute:
			a, err := o.attributeMsg(m)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		case msgAttrInfo:
			dense, err := o.f.denseAttributes(m.body)
			if err != nil {
				return nil, fmt.Errorf("object %q: dense attributes: %w", o.path, err)
			}
			out = append(out, dense...)
		}
	}
	sortByName(out, func(a *Attribute) string { return a.Name })
	return out, nil
}

// Attribute returns the attribute name; the error matches ErrNotFound when
// the object has none of that name. It looks as libhdf5 does: through the
// attribute messages in header order, decoding each in turn up to the
// first of that name, so that a damaged message before it is an error and
// one after it is not read. Attributes in dense storage are all read.
func (o *object) Attribute(name string) (*Attribute, error) {
	for _, m := range o.msgs {
		var found []*Attribute
		switch m.typ {
		case msgAttribute:
			a, err := o.attributeMsg(m)
			if err != nil {
				return nil, err
			}
			found = []*Attribute{a}
		case msgAttrInfo:
			dense, err := o.f.denseAttributes(m.body)
			if err != nil {
				return nil, fmt.Errorf("object %q: dense attributes: %w", o.path, err)
			}
			found = dense
		}
		for _, a := range found {
			if a.Name == name {
				return a, nil
			}
		}
	}
	return nil, notFoundf("object %q has no attribute %q", o.path, name)
}

// attributeMsg decodes the attribute message m.
func (o *object) attributeMsg(m message) (*Attribute, error) {
	if m.flags&msgFlagShared != 0 {
		return nil, unsupportedf("object %q: a shared attribute message", o.path)
	}
	a, err := o.f.attribute(m.body)
	if err != nil {
		return nil, fmt.Errorf("object %q: %w", o.path, err)
	}
	return a, nil
}

// Addr returns the address of the object's header, which identifies the
// object within its file.
func (o *object) Addr() uint64 { return o.addr }
