package importer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
)

// The loader reads HDF5 through h5group, which two readers implement:
// libhdf5 through gonum.org/v1/hdf5 (h5.go, h5group_cgo.go; built only with
// cgo) and the pure-Go reader internal/h5 (h5group_go.go; always built).
// Both give the same strings, the same float32 values bit for bit and the
// same checks; Options.HDF5Reader chooses one at run time.

// The readers Options.HDF5Reader names.
const (
	readerLibhdf5 = "libhdf5"
	readerGo      = "go"
)

// hdf5Reader returns the reader the options choose: HDF5Reader, else
// libhdf5 where the build has it (cgo), else the Go reader.
func (o *Options) hdf5Reader() (string, error) {
	name := ""
	if o != nil {
		name = o.HDF5Reader
	}
	switch name {
	case "":
		if haveLibhdf5 {
			return readerLibhdf5, nil
		}
		return readerGo, nil
	case readerGo:
		return readerGo, nil
	case readerLibhdf5:
		if !haveLibhdf5 {
			return "", errors.New("Options.HDF5Reader is \"libhdf5\", but this build has no libhdf5 (it was built without cgo); use \"go\" or leave it empty")
		}
		return readerLibhdf5, nil
	}
	return "", fmt.Errorf("Options.HDF5Reader is %q; want \"libhdf5\", \"go\" or empty for the default", name)
}

// h5src is where an HDF5 file's bytes are: a file at path, or r, size
// bytes long.
type h5src struct {
	path string
	// remove says that path is a private temporary copy, unlinked as soon
	// as it is open.
	remove bool
	r      io.ReaderAt
	size   int64
}

func pathSrc(path string) h5src { return h5src{path: path} }

// withH5 opens the HDF5 file src with the reader opts choose and calls fn
// with its root group. Every handle is closed when it returns; with
// src.remove the file is unlinked as soon as it is open, whatever happens.
func withH5(src h5src, opts *Options, fn func(root h5group) error) error {
	reader, err := opts.hdf5Reader()
	if err != nil {
		if src.remove {
			os.Remove(src.path)
		}
		return err
	}
	if reader == readerLibhdf5 {
		return withLibhdf5(src, fn)
	}
	return withGoH5(src, fn)
}

// h5group is a group of an open HDF5 file, as the loader reads it. Paths
// are relative to the group. Errors that the file causes match ErrCorrupt
// or layers.ErrUnsupported.
type h5group interface {
	// attrStrings reads the string attribute name, whatever its form: a
	// scalar or an array, of fixed- or variable-length strings. It also
	// reads the split form name0, name1, ... that Keras writes for
	// attributes over 64 KiB. An empty attribute of any type (Keras
	// writes weight_names of a layer without weights as an empty float
	// array) gives no strings. ok is false when the attribute is absent.
	// A fixed-length string ends at its first NUL and loses its trailing
	// spaces; a variable-length one ends at its first NUL.
	attrStrings(name string) (vals []string, ok bool, err error)
	// linkType returns the type of the link name (linkHard, linkSoft,
	// linkExternal or another), or linkNone when there is none.
	linkType(name string) int
	// checkHardLinks checks that every component of path is a hard link.
	// A component that does not exist is left for the open that follows
	// to report.
	checkHardLinks(path string) error
	// openGroup opens the group at path after checkHardLinks.
	openGroup(path string) (h5group, error)
	// numMembers, memberName and memberKind list the group's links in
	// name order.
	numMembers() (int, error)
	memberName(i int) (string, error)
	memberKind(i int) (h5kind, error)
	// statFloat32 reads the declared type and shape of the dataset at
	// path, after checkHardLinks, without its data. Float types are read;
	// so are integers of 8 and 16 bits (Keras 3 stores quantized kernels
	// as int8), which convert to float32 exactly, and integer scalars of
	// any size (Normalization's count, unused at inference); other types
	// are refused. The element count saturates at math.MaxInt64 instead
	// of overflowing, so that limits can judge it.
	statFloat32(path string) (datasetInfo, error)
	// readFloat32 reads the data of a dataset that statFloat32 described
	// and limits accepted (so it has at most maxElements elements),
	// converted to float32 as libhdf5 converts: float64 and wide integers
	// round to nearest even.
	readFloat32(path string, want datasetInfo) ([]float32, error)
	// datasetMeta reads a dataset's shape and dtype name, not its data.
	datasetMeta(path string) ([]int, string, error)
	// close releases the group.
	close()
}

// The link types of linkType (libhdf5's H5L_TYPE_* values, which are those
// of the file format).
const (
	linkNone     = -1
	linkHard     = 0
	linkSoft     = 1
	linkExternal = 64
)

// linkError explains a link of type kind at path that the loader does not
// follow, or returns nil for a hard link.
func linkError(path string, kind int) error {
	switch kind {
	case linkHard:
		return nil
	case linkSoft:
		return fmt.Errorf("%q is a soft link; kerasrun follows only hard links", path)
	case linkExternal:
		return fmt.Errorf("%q is an external link to another file; kerasrun does not follow links out of the file", path)
	}
	return fmt.Errorf("%q is a user-defined link (type %d); kerasrun follows only hard links", path, kind)
}

// h5kind is the kind of object a group member is; its values and names are
// gonum's hdf5.GType's.
type h5kind int

const (
	kindUnknown h5kind = iota - 1
	kindGroup
	kindDataset
	kindType
	kindLink
	kindUDLink
)

func (k h5kind) String() string {
	switch k {
	case kindUnknown:
		return "unknown"
	case kindGroup:
		return "group"
	case kindDataset:
		return "dataset"
	case kindType:
		return "type"
	case kindLink:
		return "link"
	case kindUDLink:
		return "udlink"
	}
	return fmt.Sprintf("GType(%d)", int(k))
}

// attrString reads a string attribute of g that holds one string.
func attrString(g h5group, name string) (string, bool, error) {
	v, ok, err := g.attrStrings(name)
	if err != nil || !ok {
		return "", ok, err
	}
	if len(v) != 1 {
		return "", true, fmt.Errorf("attribute %q: want one string, found %d", name, len(v))
	}
	return v[0], true, nil
}

// maxAttrBytes bounds one attribute read.
const maxAttrBytes = 256 << 20

// maxElements is the most elements kerasrun reads into one weight, whatever
// Options say.
const maxElements = 1 << 40

// datasetInfo is what the metadata of a weight dataset declares.
type datasetInfo struct {
	shape []int
	n     int64 // elements, saturated at math.MaxInt64
}

// The HDF5 datatype classes (libhdf5's H5T_class_t, the file format's
// class numbers) that className names.
const (
	classInteger  = 0
	classFloat    = 1
	classString   = 3
	classCompound = 6
)

// checkWeightType checks a weight dataset's type (class and element size)
// and rank, as statFloat32 describes.
func checkWeightType(class int, size uint, rank int) error {
	switch {
	case class == classInteger:
		if size > 2 && rank > 0 {
			return unsupported(fmt.Errorf("dtype is %s, not a float type; of integers kerasrun reads 8- and 16-bit weights, which float32 holds exactly, and scalars", className(class, size)))
		}
	case class != classFloat:
		return unsupported(fmt.Errorf("dtype is %s, not a float type (float16, float32 or float64)", className(class, size)))
	case size != 2 && size != 4 && size != 8:
		return unsupported(fmt.Errorf("dtype is a %d-byte float, not float16, float32 or float64", size))
	}
	return nil
}

// newDatasetInfo returns the info of a dataset of dims, its element count
// saturated.
// checkStorage checks that a dataset's stored data, bytes long, holds what
// its info.n values of size bytes each need: exactly, for compact data (in
// its object header), and at least, for allocated contiguous storage.
// libhdf5 1.10 reads that much whatever the layout says: past the end of a
// shorter buffer, or of none (a crash), or on into whatever follows.
func checkStorage(bytes uint64, compact bool, info datasetInfo, size uint64) error {
	hi, want := bits.Mul64(uint64(info.n), size)
	switch {
	case compact && (hi != 0 || bytes != want):
		return corrupt(fmt.Errorf("corrupt HDF5 file: compact dataset holds %d bytes of data, not the %d of its %d values of %d bytes", bytes, want, info.n, size))
	case !compact && (hi != 0 || bytes < want):
		return corrupt(fmt.Errorf("corrupt HDF5 file: contiguous dataset's storage holds %d bytes, less than the %d of its %d values of %d bytes", bytes, want, info.n, size))
	}
	return nil
}

func newDatasetInfo(dims []uint64) datasetInfo {
	info := datasetInfo{shape: make([]int, len(dims)), n: 1}
	for i, d := range dims {
		info.shape[i] = int(min(d, math.MaxInt64))
	}
	for _, d := range info.shape {
		if d == 0 {
			info.n = 0
			break
		}
		if info.n > math.MaxInt64/int64(d) {
			info.n = math.MaxInt64
		} else if info.n != math.MaxInt64 {
			info.n *= int64(d)
		}
	}
	return info
}

// metaShape is a dataset's shape as Inspect reports it.
func metaShape(dims []uint64) []int {
	shape := make([]int, len(dims))
	for i, d := range dims {
		shape[i] = int(min(d, 1<<40))
	}
	return shape
}

// metaDType names a dataset's type as Inspect reports it.
func metaDType(class int, size uint) string {
	if class == classFloat {
		return fmt.Sprintf("float%d", 8*size)
	}
	return className(class, size)
}

func className(class int, size uint) string {
	switch class {
	case classInteger:
		return fmt.Sprintf("integer (%d bytes)", size)
	case classString:
		return "string"
	case classCompound:
		return "compound"
	}
	return fmt.Sprintf("type class %d", class)
}

// errNullSpace is the error for a dataset of a null dataspace.
var errNullSpace = errors.New("dataset has no data (a null dataspace)")
