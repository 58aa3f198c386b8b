package importer

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/kerasrun/kerasrun/internal/h5"
)

// withGoH5 is withH5 through the pure-Go reader internal/h5, which reads
// src.r (or the file at src.path) in place: no copy, no lock. The same
// checks as libhdf5's path run first (checkAt, and h5scan on every object
// whose attributes are read), so that both readers refuse the same files
// with the same errors where the checks catch the damage.
func withGoH5(src h5src, fn func(root h5group) error) error {
	r, size := src.r, src.size
	var sb *superblock
	if r == nil {
		// O_NONBLOCK: opening a FIFO for reading would otherwise wait for
		// a writer.
		f, err := os.OpenFile(src.path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if src.remove {
			os.Remove(src.path)
		}
		if err != nil {
			return err
		}
		defer f.Close()
		if sb, size, err = checkOpened(f); err != nil {
			return err
		}
		r = f
	} else {
		if size < 0 {
			return fmt.Errorf("negative size %d", size)
		}
		var err error
		if sb, err = checkAt(r, size); err != nil {
			return err
		}
	}
	scan := newScan(r, size, sb)
	if err := scan.checkAttributes(sb.root); err != nil {
		return err
	}
	f, err := h5.Open(r, size)
	if err != nil {
		return goH5Err("open", err)
	}
	root, err := f.Root()
	if err != nil {
		return goH5Err("open root group", err)
	}
	return fn(&goGroup{g: root, scan: scan})
}

// goH5Err classifies an error of internal/h5 for the importer's callers:
// what the reader does not support matches layers.ErrUnsupported,
// anything else ErrCorrupt (as libhdf5's errors do).
func goH5Err(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	if errors.Is(err, h5.ErrLoop) || errors.Is(err, h5.ErrCrash) {
		// Worded as libhdf5's path words it (loopIn), which refuses these
		// before libhdf5 reads them.
		err = fmt.Errorf("corrupt HDF5 file: %w", err)
	}
	if errors.Is(err, h5.ErrUnsupported) {
		return unsupported(err)
	}
	return corrupt(err)
}

// goOpenErr is goH5Err for opening the object at path, which says, as
// libhdf5 does, that an object that is not there doesn't exist.
func goOpenErr(op, path string, err error) error {
	if errors.Is(err, h5.ErrNotFound) {
		return corrupt(fmt.Errorf("%s: object '%s' doesn't exist: %w", op, path, err))
	}
	return goH5Err(op, err)
}

// goGroup is an h5group read by internal/h5. It belongs to one load, on
// one goroutine (scan and the caches are not locked).
type goGroup struct {
	g     *h5.Group
	scan  *h5scan
	links []h5.Link // read once, by members
	kinds []h5kind  // by memberKind, for links
	read  bool
}

// attribute returns the group's attribute name, or nil when it has none:
// looked up as libhdf5 looks it up (h5.Group.Attribute), after h5scan has
// checked the group's attributes as it does for libhdf5's path.
func (g *goGroup) attribute(name string) (*h5.Attribute, error) {
	if err := g.scan.checkAttributes(g.g.Addr()); err != nil {
		return nil, err
	}
	a, err := g.g.Attribute(name)
	switch {
	case errors.Is(err, h5.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, goH5Err(fmt.Sprintf("attribute %q", name), err)
	}
	return a, nil
}

func (g *goGroup) attrStrings(name string) (vals []string, ok bool, err error) {
	a, err := g.attribute(name)
	if err != nil {
		return nil, false, err
	}
	if a != nil {
		v, err := goAttrStrings(a)
		return v, true, err
	}
	for i := 0; ; i++ {
		a, err := g.attribute(name + strconv.Itoa(i))
		if err != nil {
			return nil, i > 0, err
		}
		if a == nil {
			return vals, i > 0, nil
		}
		v, err := goAttrStrings(a)
		if err != nil {
			return nil, true, err
		}
		vals = append(vals, v...)
	}
}

// goAttrStrings reads a string attribute as libhdf5's path does: a
// fixed-length string ends at its first NUL and loses its trailing spaces,
// whatever its padding; a variable-length one ends at its first NUL.
func goAttrStrings(a *h5.Attribute) ([]string, error) {
	if a.Len() == 0 {
		return nil, nil
	}
	if a.Type.Class != h5.ClassString {
		return nil, fmt.Errorf("attribute %q: want strings, found a non-string type", a.Name)
	}
	vals, err := a.Strings()
	if err != nil {
		return nil, goH5Err(fmt.Sprintf("attribute %q", a.Name), err)
	}
	for i, s := range vals {
		if j := strings.IndexByte(s, 0); j >= 0 {
			s = s[:j]
		}
		if !a.Type.VarLen {
			s = strings.TrimRight(s, " ")
		}
		vals[i] = s
	}
	return vals, nil
}

// members returns the group's links in name order.
func (g *goGroup) members() ([]h5.Link, error) {
	if g.read {
		return g.links, nil
	}
	links, err := g.g.Members()
	if err != nil {
		return nil, goH5Err("list group", err)
	}
	g.links, g.kinds, g.read = links, make([]h5kind, len(links)), true
	for i := range g.kinds {
		g.kinds[i] = kindUnknown - 1 // not yet known
	}
	return links, nil
}

func (g *goGroup) linkType(name string) int {
	links, err := g.members()
	if err != nil {
		return linkNone
	}
	for _, l := range links {
		if l.Name == name {
			return int(l.Type)
		}
	}
	return linkNone
}

func (g *goGroup) checkHardLinks(path string) error {
	cur := g
	prefix := ""
	parts := strings.Split(path, "/")
	for i, part := range parts {
		if part == "" || part == "." {
			continue
		}
		if prefix != "" {
			prefix += "/"
		}
		prefix += part
		kind := cur.linkType(part)
		if kind == linkNone {
			return nil
		}
		if err := linkError(prefix, kind); err != nil {
			return err
		}
		if i == len(parts)-1 {
			break
		}
		sub, err := cur.g.OpenGroup(part)
		if err != nil {
			return nil // left for the open that follows
		}
		cur = &goGroup{g: sub, scan: g.scan}
	}
	return nil
}

func (g *goGroup) openGroup(path string) (h5group, error) {
	if err := g.checkHardLinks(path); err != nil {
		return nil, err
	}
	sub, err := g.g.OpenGroup(path)
	if err != nil {
		return nil, goOpenErr("open group", path, err)
	}
	return &goGroup{g: sub, scan: g.scan}, nil
}

func (g *goGroup) numMembers() (int, error) {
	links, err := g.members()
	return len(links), err
}

func (g *goGroup) memberName(i int) (string, error) {
	links, err := g.members()
	if err != nil {
		return "", err
	}
	if i < 0 || i >= len(links) {
		return "", corrupt(fmt.Errorf("list group: no member %d", i))
	}
	return links[i].Name, nil
}

func (g *goGroup) memberKind(i int) (h5kind, error) {
	links, err := g.members()
	if err != nil {
		return kindUnknown, err
	}
	if i < 0 || i >= len(links) {
		return kindUnknown, corrupt(fmt.Errorf("object type: no member %d", i))
	}
	switch links[i].Type {
	case h5.LinkHard:
	case h5.LinkSoft:
		return kindLink, nil
	default:
		return kindUDLink, nil
	}
	if g.kinds[i] >= kindUnknown {
		return g.kinds[i], nil
	}
	k, err := g.g.Kind(links[i].Name)
	if err != nil {
		return kindUnknown, goH5Err("object type", err)
	}
	switch k {
	case h5.KindGroup:
		g.kinds[i] = kindGroup
	case h5.KindDataset:
		g.kinds[i] = kindDataset
	default:
		g.kinds[i] = kindType
	}
	return g.kinds[i], nil
}

// dataset opens the dataset at path after checkHardLinks.
func (g *goGroup) dataset(path string) (*h5.Dataset, error) {
	if err := g.checkHardLinks(path); err != nil {
		return nil, err
	}
	ds, err := g.g.OpenDataset(path)
	if err != nil {
		return nil, goOpenErr("open dataset", path, err)
	}
	return ds, nil
}

// goDims returns a dataset's dimensions: none for a scalar.
func goDims(ds *h5.Dataset) ([]uint64, error) {
	switch ds.Space() {
	case h5.SpaceScalar:
		return nil, nil
	case h5.SpaceSimple:
		return ds.Dims(), nil
	}
	return nil, errNullSpace
}

// goClass returns the class number and element size of a dataset's type,
// as libhdf5 reports them.
func goClass(t h5.Datatype) (int, uint) {
	switch t.Class {
	case h5.ClassInteger:
		return classInteger, uint(t.Size)
	case h5.ClassFloat:
		return classFloat, uint(t.Size)
	case h5.ClassString:
		return classString, uint(t.Size)
	}
	return t.RawClass, uint(t.Size)
}

func (g *goGroup) statFloat32(path string) (datasetInfo, error) {
	ds, err := g.dataset(path)
	if err != nil {
		return datasetInfo{}, err
	}
	return goDatasetInfo(ds)
}

func goDatasetInfo(ds *h5.Dataset) (datasetInfo, error) {
	class, size := goClass(ds.Type())
	if class != classInteger {
		if err := checkWeightType(class, size, 0); err != nil {
			return datasetInfo{}, err
		}
	}
	dims, err := goDims(ds)
	if err != nil {
		return datasetInfo{}, err
	}
	if err := checkWeightType(class, size, len(dims)); err != nil {
		return datasetInfo{}, err
	}
	info := newDatasetInfo(dims)
	if n, compact, ok := ds.StoredSize(); ok {
		if err := checkStorage(n, compact, info, uint64(size)); err != nil {
			return datasetInfo{}, err
		}
	}
	return info, nil
}

func (g *goGroup) readFloat32(path string, want datasetInfo) ([]float32, error) {
	ds, err := g.g.OpenDataset(path)
	if err != nil {
		return nil, goOpenErr("open dataset", path, err)
	}
	info, err := goDatasetInfo(ds)
	if err != nil {
		return nil, err
	}
	if info.n != want.n || len(info.shape) != len(want.shape) {
		return nil, corrupt(fmt.Errorf("declared shape changed from %v to %v while reading", want.shape, info.shape))
	}
	data, err := ds.ReadFloat32()
	if err != nil {
		return nil, goH5Err("read", err)
	}
	if int64(len(data)) != want.n {
		return nil, corrupt(fmt.Errorf("read: %d values, not the %d declared", len(data), want.n))
	}
	return data, nil
}

func (g *goGroup) datasetMeta(path string) ([]int, string, error) {
	ds, err := g.dataset(path)
	if err != nil {
		return nil, "", err
	}
	dims, err := goDims(ds)
	if err != nil {
		return nil, "", err
	}
	class, size := goClass(ds.Type())
	return metaShape(dims), metaDType(class, size), nil
}

func (g *goGroup) close() {}
