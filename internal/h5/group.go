package h5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Group is an HDF5 group.
type Group struct {
	object
}

// LinkType is the type of a link.
type LinkType int

// The link types (format spec, "Link Message").
const (
	LinkHard     LinkType = 0
	LinkSoft     LinkType = 1
	LinkExternal LinkType = 64
)

// Link is one member of a group.
type Link struct {
	Name string
	Type LinkType
	// Addr is the object header address of a hard link's target.
	Addr uint64
	// Value is a soft link's path or an external link's encoded target.
	Value string
}

// Kind is the kind of object a hard link leads to.
type Kind int

// The kinds of object.
const (
	KindOther Kind = iota // a committed datatype or an unknown object
	KindGroup
	KindDataset
)

const (
	maxLinks     = 1 << 20 // members of one group
	maxPathParts = 64      // components of one path
	maxTreeNodes = 1 << 20 // nodes of one B-tree or fractal heap walk
)

// Members returns the group's links in name order (byte order of the
// names), the order in which libhdf5 lists them by default.
func (g *Group) Members() ([]Link, error) {
	links, err := g.links()
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", g.path, err)
	}
	sortByName(links, func(l Link) string { return l.Name })
	for i := 1; i < len(links); i++ {
		if links[i].Name == links[i-1].Name {
			return nil, corruptf("group %q: two links named %q", g.path, links[i].Name)
		}
	}
	return links, nil
}

func sortByName[T any](s []T, name func(T) string) {
	sort.SliceStable(s, func(i, j int) bool { return name(s[i]) < name(s[j]) })
}

func (g *Group) links() ([]Link, error) {
	var out []Link
	for _, m := range g.msgs {
		switch m.typ {
		case msgSymbolTable:
			c := g.f.cursor(m.body, "symbol table message")
			btree, heap := c.addr(), c.addr()
			if c.err != nil {
				return nil, c.err
			}
			return g.f.symbolTable(btree, heap)
		case msgLink:
			l, err := g.f.decodeLink(m.body)
			if err != nil {
				return nil, err
			}
			if len(out) >= maxLinks {
				return nil, corruptf("more than %d links", maxLinks)
			}
			out = append(out, l)
		case msgLinkInfo:
			dense, err := g.f.denseLinks(m.body)
			if err != nil {
				return nil, err
			}
			out = append(out, dense...)
		}
	}
	return out, nil
}

// decodeLink decodes a link message.
func (f *File) decodeLink(b []byte) (Link, error) {
	c := f.cursor(b, "link message")
	if v := c.u8(); v != 1 && c.err == nil {
		return Link{}, corruptf("link message version %d", v)
	}
	flags := c.u8()
	var l Link
	if flags&0x08 != 0 {
		l.Type = LinkType(c.u8())
	}
	if flags&0x04 != 0 {
		c.u64() // creation order
	}
	if flags&0x10 != 0 {
		c.u8() // character set of the name
	}
	// libhdf5 1.10 copies a link's name and value without bounds checks:
	// one that runs past the message reads past its buffer, and can crash.
	n := c.uint(1 << (flags & 3))
	if c.err == nil && n > uint64(c.left()) {
		return Link{}, &formatError{kind: ErrCorrupt, msg: fmt.Sprintf("link message: name of %d bytes in a message of %d", n, len(b)), crash: true}
	}
	l.Name = string(c.bytes(int(n)))
	switch l.Type {
	case LinkHard:
		l.Addr = c.addr()
	case LinkSoft, LinkExternal:
		vn := c.u16()
		if c.err == nil && vn > c.left() {
			return Link{}, &formatError{kind: ErrCorrupt, msg: fmt.Sprintf("link message: value of %d bytes in a message of %d", vn, len(b)), crash: true}
		}
		l.Value = string(c.bytes(vn))
		// libhdf5 1.10 reads an external link's target (the value) as
		// soon as it looks the link up, and crashes on an empty one.
		if l.Type == LinkExternal && vn == 0 && c.err == nil {
			return Link{}, &formatError{kind: ErrCorrupt, msg: fmt.Sprintf("external link %q has no target", l.Name), crash: true}
		}
	}
	if c.err != nil {
		return Link{}, c.err
	}
	if l.Name == "" {
		return Link{}, corruptf("link message: empty name")
	}
	return l, nil
}

// symbolTable lists an old-style group: a version 1 B-tree of symbol
// table nodes whose names lie in a local heap.
func (f *File) symbolTable(btree, heapAddr uint64) ([]Link, error) {
	heap, err := f.localHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	var out []Link
	err = f.walkBTree1(btree, 0, f.sl, func(_ []byte, child uint64) error {
		b, n, err := f.symbolNode(child)
		if err != nil {
			return err
		}
		entry := 2*f.so + 24
		for i := 0; i < n; i++ {
			l, err := f.symbolEntry(b[8+i*entry:8+(i+1)*entry], heap)
			if err != nil {
				return err
			}
			if len(out) >= maxLinks {
				return corruptf("more than %d links", maxLinks)
			}
			out = append(out, l)
		}
		return nil
	})
	return out, err
}

// findSymbol looks name up in an old-style group as libhdf5 does: down the
// version 1 B-tree by binary search, comparing name with the names its
// keys point to in the local heap (the left key of a child, and its right
// key when name sorts after the left), then by binary search over the
// symbol table node's entries. The keys and names on that path must lie in
// the heap, as libhdf5 requires; the others are not read, and a name the
// search misses is not found even if some entry holds it. So a file whose
// keys mislead the search fails, or finds nothing, where libhdf5 does.
func (f *File) findSymbol(btree, heapAddr uint64, name string) (Link, bool, error) {
	heap, err := f.localHeap(heapAddr)
	if err != nil {
		return Link{}, false, err
	}
	key := func(k []byte) (string, error) {
		s, err := heapString(heap, f.cursor(k, "B-tree key").uint(f.sl))
		if err != nil {
			return "", fmt.Errorf("B-tree key: %w", err)
		}
		return s, nil
	}
	addr := btree
	for depth := 0; ; depth++ {
		if depth > maxTreeDepth {
			return Link{}, false, corruptf("B-tree of depth %d", depth)
		}
		b, level, n, err := f.btree1Node(addr, 0, f.sl)
		if err != nil {
			return Link{}, false, err
		}
		at := func(i int) []byte { // key i (0..n)
			p := 8 + 2*f.so + i*(f.sl+f.so)
			return b[p : p+f.sl]
		}
		idx, cmp := 0, 1
		for lt, rt := 0, n; lt < rt && cmp != 0; {
			idx = (lt + rt) / 2
			left, err := key(at(idx))
			if err != nil {
				return Link{}, false, err
			}
			if name <= left {
				cmp = -1
			} else {
				right, err := key(at(idx + 1))
				if err != nil {
					return Link{}, false, err
				}
				cmp = 0
				if name > right {
					cmp = 1
				}
			}
			if cmp < 0 {
				rt = idx
			} else {
				lt = idx + 1
			}
		}
		if cmp != 0 {
			return Link{}, false, nil
		}
		c := f.cursor(b[8+2*f.so+idx*(f.sl+f.so)+f.sl:], "B-tree node")
		child := c.addr()
		if c.err != nil {
			return Link{}, false, c.err
		}
		if level > 0 {
			addr = child
			continue
		}
		return f.findEntry(child, heap, name)
	}
}

// findEntry is findSymbol's binary search over the entries of the symbol
// table node at addr.
func (f *File) findEntry(addr uint64, heap []byte, name string) (Link, bool, error) {
	b, n, err := f.symbolNode(addr)
	if err != nil {
		return Link{}, false, err
	}
	entry := 2*f.so + 24
	// libhdf5 decodes every entry of a node as it loads it.
	for i := 0; i < n; i++ {
		p := 8 + i*entry + 2*f.so
		if err := checkCacheType(uint64(binary.LittleEndian.Uint32(b[p:]))); err != nil {
			return Link{}, false, err
		}
	}
	idx, cmp := 0, 1
	var l Link
	for lt, rt := 0, n; lt < rt && cmp != 0; {
		idx = (lt + rt) / 2
		if l, err = f.symbolEntry(b[8+idx*entry:8+(idx+1)*entry], heap); err != nil {
			return Link{}, false, err
		}
		cmp = strings.Compare(name, l.Name)
		if cmp < 0 {
			rt = idx
		} else {
			lt = idx + 1
		}
	}
	return l, cmp == 0, nil
}

// symbolEntry decodes one symbol table entry of a symbol table node, its
// name (and a soft link's value) from the local heap.
func (f *File) symbolEntry(b, heap []byte) (Link, error) {
	c := f.cursor(b, "symbol table node")
	nameOff := c.uint(f.so)
	addr := c.addr()
	cache := c.u32()
	c.u32() // reserved
	scratch := c.bytes(16)
	if c.err != nil {
		return Link{}, c.err
	}
	if err := checkCacheType(cache); err != nil {
		return Link{}, err
	}
	name, err := heapString(heap, nameOff)
	if err != nil {
		return Link{}, err
	}
	l := Link{Name: name, Type: LinkHard, Addr: addr}
	if cache == 2 {
		// A soft link: the scratch pad holds the offset of its value in
		// the local heap.
		l.Type, l.Addr = LinkSoft, undef
		if l.Value, err = heapString(heap, uint64(binary.LittleEndian.Uint32(scratch))); err != nil {
			return Link{}, err
		}
	}
	return l, nil
}

// checkCacheType refuses a symbol table entry whose cache type is not one
// of the three the format defines (nothing cached, a symbol table, a soft
// link), as libhdf5 does when it decodes the entry.
func checkCacheType(t uint64) error {
	if t > 2 {
		return corruptf("symbol table entry of cache type %d", t)
	}
	return nil
}

// localHeap returns the data segment of the local heap at addr, whose free
// list it checks as libhdf5 does as it loads a heap: every free block
// starts inside the data segment, names a next block other than 0, and
// ends inside the segment. libhdf5 follows the list to its end marker
// (freeNull), so a list that comes back on itself keeps it looping: such a
// list is refused, as ErrLoop too.
func (f *File) localHeap(addr uint64) ([]byte, error) {
	b, err := f.read(addr, uint64(8+2*f.sl+f.so), "local heap")
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "HEAP" || b[4] != 0 {
		return nil, corruptf("no local heap at %d", addr)
	}
	c := f.cursor(b[8:], "local heap")
	size := c.length()
	free := c.length()
	data := c.addr()
	if c.err != nil {
		return nil, c.err
	}
	heap, err := f.read(data, size, "local heap data")
	if err != nil {
		return nil, err
	}
	const freeNull = 1 // the end of a free list
	sl := uint64(f.sl)
	for n := uint64(0); free != freeNull; n++ {
		// Each block holds its 2·sl-byte record, and blocks do not
		// overlap: a list longer than that has a cycle.
		if n > size/(2*sl) {
			return nil, &formatError{kind: ErrCorrupt, msg: fmt.Sprintf("local heap at %d: its free list comes back on itself", addr), loop: true}
		}
		if free >= size || size-free < 2*sl {
			return nil, corruptf("local heap at %d: a free block at %d of a %d-byte heap", addr, free, size)
		}
		c := f.cursor(heap[free:], "local heap free block")
		next, bsize := c.length(), c.length()
		if c.err != nil {
			return nil, c.err
		}
		if next == 0 {
			return nil, corruptf("local heap at %d: a free block's next block is at 0", addr)
		}
		if bsize > size-free {
			return nil, corruptf("local heap at %d: a free block of %d bytes at %d runs past the heap's %d", addr, bsize, free, size)
		}
		free = next
	}
	return heap, nil
}

// heapString returns the NUL-terminated string at off of a local heap.
func heapString(heap []byte, off uint64) (string, error) {
	if off >= uint64(len(heap)) {
		return "", corruptf("a name at offset %d of a local heap of %d bytes", off, len(heap))
	}
	s := heap[off:]
	i := bytes.IndexByte(s, 0)
	if i < 0 {
		return "", corruptf("an unterminated name in a local heap")
	}
	return string(s[:i]), nil
}

// denseLinks lists the links of a link info message's fractal heap.
func (f *File) denseLinks(b []byte) ([]Link, error) {
	c := f.cursor(b, "link info message")
	if v := c.u8(); v != 0 && c.err == nil {
		return nil, corruptf("link info message version %d", v)
	}
	flags := c.u8()
	if flags&1 != 0 {
		c.u64()
	}
	heapAddr := c.addr()
	nameIndex := c.addr()
	if c.err != nil {
		return nil, c.err
	}
	if heapAddr == undef {
		return nil, nil // compact storage: the links are link messages
	}
	heap, err := f.fractalHeap(heapAddr)
	if errors.Is(err, ErrCorrupt) {
		// libhdf5 1.10 can crash looking a name up in a group whose
		// dense link storage it cannot open.
		return nil, &formatError{kind: ErrCorrupt, msg: fmt.Sprintf("dense links: %v", strings.TrimPrefix(err.Error(), "h5: ")), crash: true}
	}
	if err != nil {
		return nil, err
	}
	var out []Link
	err = f.walkBTree2(nameIndex, 5, func(rec []byte) error {
		if len(rec) < 4+heap.idLen {
			return corruptf("link name record of %d bytes", len(rec))
		}
		obj, err := heap.get(rec[4 : 4+heap.idLen])
		if err != nil {
			return err
		}
		l, err := f.decodeLink(obj)
		if err != nil {
			return err
		}
		if len(out) >= maxLinks {
			return corruptf("more than %d links", maxLinks)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// lookup returns the link name of g. An old-style group is searched the
// way libhdf5 searches it (findSymbol); the others through their links.
func (g *Group) lookup(name string) (Link, error) {
	for _, m := range g.msgs {
		if m.typ != msgSymbolTable {
			continue
		}
		c := g.f.cursor(m.body, "symbol table message")
		btree, heap := c.addr(), c.addr()
		if c.err != nil {
			return Link{}, fmt.Errorf("group %q: %w", g.path, c.err)
		}
		l, ok, err := g.f.findSymbol(btree, heap, name)
		switch {
		case err != nil:
			return Link{}, fmt.Errorf("group %q: %w", g.path, err)
		case !ok:
			return Link{}, notFoundf("group %q has no member %q", g.path, name)
		}
		return l, nil
	}
	links, err := g.links()
	if err != nil {
		return Link{}, fmt.Errorf("group %q: %w", g.path, err)
	}
	for _, l := range links {
		if l.Name == name {
			return l, nil
		}
	}
	return Link{}, notFoundf("group %q has no member %q", g.path, name)
}

// resolve follows path from g through hard links and returns the object
// it names. A path starting with "/" starts at the root.
func (g *Group) resolve(path string) (*object, error) {
	cur := &g.object
	if strings.HasPrefix(path, "/") {
		root, err := g.f.Root()
		if err != nil {
			return nil, err
		}
		cur = &root.object
	}
	parts := strings.Split(path, "/")
	if len(parts) > maxPathParts {
		return nil, unsupportedf("path %q has more than %d components", path, maxPathParts)
	}
	for _, p := range parts {
		if p == "" || p == "." {
			continue
		}
		if !cur.isGroup() {
			return nil, notFoundf("%q is not a group", cur.path)
		}
		l, err := (&Group{*cur}).lookup(p)
		if err != nil {
			return nil, err
		}
		full := strings.TrimSuffix(cur.path, "/") + "/" + p
		switch l.Type {
		case LinkHard:
		case LinkSoft:
			return nil, unsupportedf("%q is a soft link; only hard links are followed", full)
		case LinkExternal:
			return nil, unsupportedf("%q is an external link to another file; only hard links are followed", full)
		default:
			return nil, unsupportedf("%q is a user-defined link (type %d); only hard links are followed", full, l.Type)
		}
		next, err := g.f.object(l.Addr, full)
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

// LookupPath looks the last component of path up in the group the rest
// of path names, as libhdf5 does to find a link's information: it reads
// the object headers and link storage of every group on the way, but not
// the header of the object the last link names.
func (g *Group) LookupPath(path string) error {
	path = strings.TrimRight(path, "/")
	dir, last := ".", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		dir, last = path[:i+1], path[i+1:]
	}
	o, err := g.resolve(dir)
	if err != nil {
		return err
	}
	if !o.isGroup() {
		return notFoundf("%q is not a group", o.path)
	}
	if last == "" || last == "." {
		return nil
	}
	_, err = (&Group{*o}).lookup(last)
	return err
}

// Kind returns the kind of object at path from g.
func (g *Group) Kind(path string) (Kind, error) {
	o, err := g.resolve(path)
	if err != nil {
		return KindOther, err
	}
	switch {
	case o.isDataset():
		return KindDataset, nil
	case o.isGroup():
		return KindGroup, nil
	}
	return KindOther, nil
}

// GroupAt returns the group whose object header is at addr (an address
// another reader of the same file reports), named path in errors.
func (f *File) GroupAt(addr uint64, path string) (*Group, error) {
	o, err := f.object(addr, path)
	if err != nil {
		return nil, err
	}
	if !o.isGroup() {
		return nil, notFoundf("%q is not a group", path)
	}
	return &Group{*o}, nil
}

// OpenGroup opens the group at path from g.
func (g *Group) OpenGroup(path string) (*Group, error) {
	o, err := g.resolve(path)
	if err != nil {
		return nil, err
	}
	if !o.isGroup() {
		return nil, notFoundf("%q is not a group", o.path)
	}
	return &Group{*o}, nil
}

// OpenDataset opens the dataset at path from g.
func (g *Group) OpenDataset(path string) (*Dataset, error) {
	o, err := g.resolve(path)
	if err != nil {
		return nil, err
	}
	if !o.isDataset() {
		return nil, notFoundf("%q is not a dataset", o.path)
	}
	return newDataset(o)
}
