//go:build cgo

package importer

import (
	"os"

	"gonum.org/v1/hdf5"
)

// haveLibhdf5 says whether this build can read through libhdf5.
const haveLibhdf5 = true

// withLibhdf5 is withH5 through libhdf5, under the HDF5 lock. libhdf5 reads
// only files, so bytes held in a reader are first copied into a private
// temporary file, unlinked as soon as libhdf5 has opened it.
func withLibhdf5(src h5src, fn func(root h5group) error) error {
	if src.r != nil {
		tmp, err := tempCopy(src.r, src.size)
		if err != nil {
			return err
		}
		defer os.Remove(tmp) // gone already once libhdf5 has opened it
		src = h5src{path: tmp, remove: true}
	}
	defer h5lock()()
	f, err := h5open(src.path)
	if src.remove {
		os.Remove(src.path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	root, err := f.OpenGroup("/")
	if err != nil {
		return h5err("open root group")
	}
	defer root.Close()
	return fn(cgoGroup{root})
}

// cgoGroup is an h5group read through libhdf5. Its methods run under the
// HDF5 lock that withLibhdf5 holds.
type cgoGroup struct{ g *hdf5.Group }

func (c cgoGroup) attrStrings(name string) ([]string, bool, error) {
	return attrStrings(c.g.Identifier, name)
}

func (c cgoGroup) linkType(name string) int { return linkType(c.g.Identifier, name) }

func (c cgoGroup) checkHardLinks(path string) error { return checkHardLinks(c.g.Identifier, path) }

func (c cgoGroup) openGroup(path string) (h5group, error) {
	sub, err := openGroup(c.g, path)
	if err != nil {
		return nil, err
	}
	return cgoGroup{sub}, nil
}

func (c cgoGroup) numMembers() (int, error) {
	if err := guardLoop(c.g.Identifier, ".", true); err != nil {
		return 0, err
	}
	n, err := c.g.NumObjects()
	if err != nil {
		return 0, h5err("list group")
	}
	return int(n), nil
}

func (c cgoGroup) memberName(i int) (string, error) {
	name, err := c.g.ObjectNameByIndex(uint(i))
	if err != nil {
		return "", h5err("list group")
	}
	return name, nil
}

func (c cgoGroup) memberKind(i int) (h5kind, error) {
	typ, err := c.g.ObjectTypeByIndex(uint(i))
	if err != nil {
		return kindUnknown, h5err("object type")
	}
	return h5kind(typ), nil
}

func (c cgoGroup) statFloat32(path string) (datasetInfo, error) { return statFloat32(c.g, path) }

func (c cgoGroup) readFloat32(path string, want datasetInfo) ([]float32, error) {
	return readFloat32(c.g, path, want)
}

// datasetMeta reads a dataset's shape and dtype, not its data.
func (c cgoGroup) datasetMeta(path string) ([]int, string, error) {
	if err := checkHardLinks(c.g.Identifier, path); err != nil {
		return nil, "", err
	}
	ds, err := c.g.OpenDataset(path)
	if err != nil {
		return nil, "", h5err("open dataset")
	}
	defer ds.Close()
	dt, err := ds.Datatype()
	if err != nil {
		return nil, "", h5err("dataset type")
	}
	class, size := dt.Class(), dt.Size()
	dt.Close()
	sp := ds.Space()
	if sp == nil {
		return nil, "", h5err("dataset space")
	}
	dims, err := extentDims(sp)
	sp.Close()
	if err != nil {
		return nil, "", err
	}
	return metaShape(uintDims(dims)), metaDType(int(class), size), nil
}

func (c cgoGroup) close() { c.g.Close() }

// gonum's object types are h5kind's values: each index below is 0 only
// then, and any other index fails to compile.
var (
	_ = [1]struct{}{}[int(hdf5.H5G_UNKNOWN)-int(kindUnknown)]
	_ = [1]struct{}{}[int(hdf5.H5G_GROUP)-int(kindGroup)]
	_ = [1]struct{}{}[int(hdf5.H5G_DATASET)-int(kindDataset)]
	_ = [1]struct{}{}[int(hdf5.H5G_TYPE)-int(kindType)]
	_ = [1]struct{}{}[int(hdf5.H5G_LINK)-int(kindLink)]
	_ = [1]struct{}{}[int(hdf5.H5G_UDLINK)-int(kindUDLink)]
)
