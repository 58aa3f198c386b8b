//go:build cgo

package importer

// This file is the only place that talks to libhdf5; it is built only
// with cgo, and h5group_cgo.go puts it behind h5group. gonum.org/v1/hdf5
// opens files, groups and datasets and reads the datasets; the small C
// helpers below read string attributes in every form Keras writes (gonum's
// wrapper cannot read string arrays, mishandles fixed-length strings that
// fill their whole length and leaks variable-length ones), turn libhdf5's
// error stack into Go errors and count open handles.

/*
// libhdf5's flags come from pkg-config (hdf5.pc: Debian, Ubuntu, Fedora,
// Homebrew; PKG_CONFIG_PATH finds another install). Built with the tag
// kerasrun_nopkgconfig, they come from CGO_CFLAGS and CGO_LDFLAGS alone,
// for a system without pkg-config or a static link (see the README).
#cgo !kerasrun_nopkgconfig pkg-config: hdf5
#cgo kerasrun_nopkgconfig LDFLAGS: -lhdf5
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

static void kr_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct { char *buf; size_t cap; size_t len; int count; } kr_errctx;

static herr_t kr_walk(unsigned n, const H5E_error2_t *e, void *data) {
	kr_errctx *c = (kr_errctx *)data;
	if (c->count >= 3 || e->desc == NULL) return 0;
	size_t l = strlen(e->desc);
	if (c->len + l + 3 >= c->cap) return 0;
	if (c->count > 0) { memcpy(c->buf + c->len, "; ", 2); c->len += 2; }
	memcpy(c->buf + c->len, e->desc, l);
	c->len += l;
	c->buf[c->len] = 0;
	c->count++;
	return 0;
}

// kr_last_error writes up to three messages of the current error stack,
// innermost first.
static void kr_last_error(char *buf, size_t cap) {
	kr_errctx c = { buf, cap, 0, 0 };
	buf[0] = 0;
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, kr_walk, &c);
	H5Eclear2(H5E_DEFAULT);
}

// kr_attr_meta describes attribute name of loc: its type class, whether it
// is a variable-length string, its element size and its element count.
static int kr_attr_meta(hid_t loc, const char *name, int *cls, int *vlen, size_t *size, long long *n) {
	hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
	if (a < 0) return -1;
	hid_t t = H5Aget_type(a);
	hid_t s = H5Aget_space(a);
	int rc = 0;
	if (t < 0 || s < 0) {
		rc = -1;
	} else {
		*cls = (int)H5Tget_class(t);
		*vlen = (*cls == H5T_STRING) ? (H5Tis_variable_str(t) > 0) : 0;
		*size = H5Tget_size(t);
		H5S_class_t sc = H5Sget_simple_extent_type(s);
		if (sc == H5S_NULL) *n = 0;
		else if (sc == H5S_SCALAR) *n = 1;
		else *n = (long long)H5Sget_simple_extent_npoints(s);
		if (*n < 0) rc = -1;
	}
	if (s >= 0) H5Sclose(s);
	if (t >= 0) H5Tclose(t);
	H5Aclose(a);
	return rc;
}

// kr_attr_read_fixed reads a fixed-length string attribute with its own
// type into buf, which holds n*size bytes.
static int kr_attr_read_fixed(hid_t loc, const char *name, void *buf);

// kr_type_standard reports whether the integer or float type t has the
// layout every writer of Keras files uses, which the pure-Go reader
// (internal/h5) requires too: no offset or padding bits, and for a float
// IEEE 754 binary16, 32 or 64 (not VAX order, an implied leading mantissa
// bit, the standard bias). libhdf5 would convert any other layout.
static int kr_type_standard(hid_t t) {
	size_t size = H5Tget_size(t);
	if (H5Tget_offset(t) != 0 || H5Tget_precision(t) != 8 * size) return 0;
	if (H5Tget_class(t) != H5T_FLOAT) return 1;
	size_t spos, epos, esize, mpos, msize;
	if (H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) < 0) return 0;
	if (H5Tget_order(t) == H5T_ORDER_VAX || H5Tget_norm(t) != H5T_NORM_IMPLIED || mpos != 0) return 0;
	size_t bias = H5Tget_ebias(t);
	return (size == 2 && spos == 15 && epos == 10 && esize == 5 && msize == 10 && bias == 15) ||
	       (size == 4 && spos == 31 && epos == 23 && esize == 8 && msize == 23 && bias == 127) ||
	       (size == 8 && spos == 63 && epos == 52 && esize == 11 && msize == 52 && bias == 1023);
}

static int kr_attr_read_fixed(hid_t loc, const char *name, void *buf) {
	hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
	if (a < 0) return -1;
	hid_t t = H5Aget_type(a);
	int rc = (t < 0) ? -1 : (H5Aread(a, t, buf) < 0 ? -1 : 0);
	if (t >= 0) H5Tclose(t);
	H5Aclose(a);
	return rc;
}

// kr_attr_read_vlen reads a variable-length string attribute into n
// pointers that kr_vlen_free must release.
static int kr_attr_read_vlen(hid_t loc, const char *name, char **ptrs) {
	hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
	if (a < 0) return -1;
	hid_t ft = H5Aget_type(a);
	hid_t mt = H5Tcopy(H5T_C_S1);
	int rc = -1;
	if (ft >= 0 && mt >= 0 && H5Tset_size(mt, H5T_VARIABLE) >= 0 && H5Tset_cset(mt, H5Tget_cset(ft)) >= 0) {
		rc = H5Aread(a, mt, ptrs) < 0 ? -1 : 0;
	}
	if (mt >= 0) H5Tclose(mt);
	if (ft >= 0) H5Tclose(ft);
	H5Aclose(a);
	return rc;
}

static void kr_vlen_free(char **ptrs, long long n) {
	for (long long i = 0; i < n; i++) {
		if (ptrs[i] != NULL) H5free_memory(ptrs[i]);
	}
}

// kr_read_f32 reads a whole dataset converted to native float32. (gonum's
// Dataset.Read uses the file type as the memory type, so it cannot convert.)
static int kr_read_f32(hid_t ds, float *buf) {
	return H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0 ? -1 : 0;
}

// kr_storage gets the size of a dataset's storage and returns 1 for a
// dataset stored compact (the data its header holds), 2 for one stored
// contiguous whose storage is allocated, 0 otherwise and -1 on an error.
// It reads no data.
static int kr_storage(hid_t ds, unsigned long long *size) {
	hid_t dcpl = H5Dget_create_plist(ds);
	if (dcpl < 0) return -1;
	H5D_layout_t layout = H5Pget_layout(dcpl);
	H5Pclose(dcpl);
	if (layout < 0) return -1;
	if (layout == H5D_CONTIGUOUS && H5Dget_offset(ds) == HADDR_UNDEF) return 0;
	if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS) return 0;
	*size = (unsigned long long)H5Dget_storage_size(ds);
	return layout == H5D_COMPACT ? 1 : 2;
}

// kr_walk_notfound sets *data when the innermost error of the stack (the
// first an upward walk visits) is H5E_NOTFOUND: a name that does not
// exist. A traversal that fails for another reason, a corrupt object
// header say, adds H5E_NOTFOUND entries above its own error.
static herr_t kr_walk_notfound(unsigned n, const H5E_error2_t *e, void *data) {
	if (n == 0 && e->min_num == H5E_NOTFOUND) *(int *)data = 1;
	return 0;
}

// kr_link_type returns the type of the link at name from loc (H5L_TYPE_*),
// -1 when there is none, or -2 when libhdf5 failed to look it up for
// another reason, with the error stack left for kr_last_error.
static int kr_link_type(hid_t loc, const char *name) {
	H5L_info_t info;
	if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) {
		int notfound = 0;
		H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, kr_walk_notfound, &notfound);
		if (!notfound) return -2;
		H5Eclear2(H5E_DEFAULT);
		return -1;
	}
	return (int)info.type;
}

// kr_file_size returns the size of the file that holds loc, or -1.
static long long kr_file_size(hid_t loc) {
	hid_t f = H5Iget_file_id(loc);
	if (f < 0) return -1;
	hsize_t size = 0;
	herr_t rc = H5Fget_filesize(f, &size);
	H5Fclose(f);
	return rc < 0 ? -1 : (long long)size;
}

// kr_object_addr gets the address of the object header of loc, without
// decoding its attributes (H5O_INFO_BASIC).
static int kr_object_addr(hid_t loc, haddr_t *addr) {
	H5O_info_t info;
	if (H5Oget_info2(loc, &info, H5O_INFO_BASIC) < 0) return -1;
	*addr = info.addr;
	return 0;
}

static long long kr_open_objects(void) {
	return (long long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
}
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"gonum.org/v1/hdf5"

	"github.com/kerasrun/kerasrun/internal/h5"
)

// h5mu serialises every call into libhdf5. Take it with h5lock.
var h5mu sync.Mutex

// h5lock takes h5mu for a session of libhdf5 calls and returns the
// function that ends it. The session runs on one OS thread: Debian's
// libhdf5 is built thread-safe, and there the error stack, and whether
// errors are printed, belong to the calling thread. So the goroutine is
// locked to its thread, printing is turned off on that thread, and h5err
// reads that thread's stack.
func h5lock() (unlock func()) {
	goruntime.LockOSThread()
	h5mu.Lock()
	C.kr_silence()
	return func() {
		if curScan != nil {
			curScan.file.Close()
			curScan = nil
		}
		h5mu.Unlock()
		goruntime.UnlockOSThread()
	}
}

// curScan validates the metadata of the file the current session opened
// (h5open) before libhdf5 decodes it. It belongs to the holder of h5mu.
var curScan *h5scan

// checkObject validates the attribute messages of the object loc before
// libhdf5 decodes any of them.
func checkObject(loc hdf5.Identifier) error {
	if curScan == nil {
		return nil
	}
	var addr C.haddr_t
	if C.kr_object_addr(C.hid_t(loc.ID()), &addr) < 0 {
		return h5err("object address")
	}
	return curScan.checkAttributes(uint64(addr))
}

// guardLoop walks path from the group loc (or lists loc, with list) with
// the pure-Go reader before libhdf5 does. libhdf5 loads the local heap of
// every old-style group it looks a name up in or lists, and loops forever
// on one whose free list comes back on itself; it reads the target of every
// external link it looks up, and crashes on an empty one. The pure-Go
// reader refuses both (h5.ErrLoop, h5.ErrCrash), and so does guardLoop,
// and damage in the groups on a looked-up path (see loopIn). Any other
// problem it meets is left to libhdf5 to report.
func guardLoop(loc hdf5.Identifier, path string, list bool) error {
	if curScan == nil || curScan.gof == nil {
		return nil
	}
	var addr C.haddr_t
	if C.kr_object_addr(C.hid_t(loc.ID()), &addr) < 0 {
		return h5err("object address")
	}
	g, err := curScan.gof.GroupAt(uint64(addr), ".")
	if err != nil {
		return nil
	}
	return loopIn(g, path, list)
}

// loopIn walks path from g (or lists g, with list) with the pure-Go reader
// and reports what it meets where libhdf5 would loop (h5.ErrLoop) or crash
// (h5.ErrCrash). It also reports damage in the groups on the way to the
// last link of path, which libhdf5 reads to look that link up: a group
// header the pure-Go reader cannot read may still let libhdf5 reach a
// link that crashes it, beyond the point where the pure-Go reader stops.
// Damage in the header of the object the path names is left to libhdf5.
func loopIn(g *h5.Group, path string, list bool) error {
	if list {
		_, err := g.Members()
		if errors.Is(err, h5.ErrLoop) || errors.Is(err, h5.ErrCrash) {
			return corrupt(fmt.Errorf("corrupt HDF5 file: listing a group: %w", err))
		}
		return nil
	}
	// Every structure that loops or crashes libhdf5 (h5.ErrLoop,
	// h5.ErrCrash) lies in a group's link storage, which LookupPath reads.
	if err := g.LookupPath(path); errors.Is(err, h5.ErrCorrupt) {
		return corrupt(fmt.Errorf("corrupt HDF5 file: looking up %q: %w", path, err))
	}
	return nil
}

// h5err turns the current libhdf5 error stack into an error.
func h5err(op string) error {
	buf := make([]byte, 1024)
	C.kr_last_error((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	msg := string(buf[:bytes.IndexByte(buf, 0)])
	if msg == "" {
		msg = "libhdf5 reported an error"
	}
	// libhdf5 fails on a file it cannot read: a damaged one, in practice
	// (what kerasrun does not support is refused before libhdf5 runs).
	return corrupt(fmt.Errorf("%s: %s", op, msg))
}

// h5open opens path read-only. The caller holds h5lock.
func h5open(path string) (*hdf5.File, error) {
	osf, sb, size, err := openChecked(path)
	if err != nil {
		return nil, err
	}
	scan := newScan(osf, size, sb)
	scan.file = osf
	// The root group's attributes are decoded as the file opens.
	if err := scan.checkAttributes(sb.root); err != nil {
		osf.Close()
		return nil, err
	}
	// The pure-Go reader walks ahead of libhdf5 where libhdf5 would loop
	// (guardLoop); the root group's local heap first, which libhdf5 loads
	// for any link the importer looks up there. Other problems are left to
	// libhdf5 to report.
	if gf, err := h5.Open(osf, size); err == nil {
		scan.gof = gf
		if root, err := gf.Root(); err == nil {
			if err := loopIn(root, "", true); err != nil {
				osf.Close()
				return nil, err
			}
		}
	}
	if curScan != nil {
		curScan.file.Close()
	}
	curScan = scan
	f, err := hdf5.OpenFile(path, hdf5.F_ACC_RDONLY)
	if err != nil {
		return nil, h5err("open")
	}
	return f, nil
}

// attrStrings reads the string attribute name of loc, whatever its form:
// a scalar or an array, of fixed- or variable-length strings. It also reads
// the split form name0, name1, ... that Keras writes for attributes over
// 64 KiB. An empty numeric array (Keras writes weight_names of a layer
// without weights that way) gives no strings. ok is false when the
// attribute is absent.
func attrStrings(loc hdf5.Identifier, name string) (vals []string, ok bool, err error) {
	if err := checkObject(loc); err != nil {
		return nil, false, err
	}
	id := C.hid_t(loc.ID())
	found, err := exists(id, name)
	if err != nil {
		return nil, false, err
	}
	if found {
		v, err := readAttrStrings(id, name)
		return v, true, err
	}
	for i := 0; ; i++ {
		chunk := name + strconv.Itoa(i)
		found, err := exists(id, chunk)
		if err != nil {
			return nil, i > 0, err
		}
		if !found {
			return vals, i > 0, nil
		}
		v, err := readAttrStrings(id, chunk)
		if err != nil {
			return nil, true, err
		}
		vals = append(vals, v...)
	}
}

// exists reports whether loc has the attribute name. libhdf5 decodes the
// attribute messages before the one it finds (all of them when there is
// none): a damaged one among them is an error, not an absent attribute.
func exists(id C.hid_t, name string) (bool, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	r := C.H5Aexists(id, cname)
	if r < 0 {
		return false, h5err(fmt.Sprintf("attribute %q", name))
	}
	return r > 0, nil
}

func readAttrStrings(id C.hid_t, name string) ([]string, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var cls, vlen C.int
	var size C.size_t
	var n C.longlong
	if C.kr_attr_meta(id, cname, &cls, &vlen, &size, &n) < 0 {
		return nil, h5err(fmt.Sprintf("attribute %q", name))
	}
	if n == 0 {
		return nil, nil
	}
	if cls != C.H5T_STRING {
		return nil, fmt.Errorf("attribute %q: want strings, found a non-string type", name)
	}
	// The attribute's data lies in the file: a declared size larger than
	// the file is a lie, refused before anything is allocated for it.
	fileSize := int64(C.kr_file_size(id))
	if vlen != 0 {
		// Each variable-length string takes at least 10 bytes in the file
		// (its length and a global heap ID).
		if int64(n) > maxAttrBytes/8 || (fileSize >= 0 && int64(n) > fileSize/10) {
			return nil, fmt.Errorf("attribute %q: %d strings is too many for a file of %d bytes", name, n, fileSize)
		}
		ptrs := (**C.char)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0)))))
		if ptrs == nil {
			return nil, fmt.Errorf("attribute %q: out of memory", name)
		}
		defer C.free(unsafe.Pointer(ptrs))
		if C.kr_attr_read_vlen(id, cname, ptrs) < 0 {
			return nil, h5err(fmt.Sprintf("attribute %q", name))
		}
		defer C.kr_vlen_free(ptrs, n)
		list := unsafe.Slice(ptrs, int(n))
		out := make([]string, len(list))
		for i, p := range list {
			if p != nil {
				out[i] = C.GoString(p)
			}
		}
		return out, nil
	}
	if size == 0 || int64(size) > maxAttrBytes || int64(n) > maxAttrBytes/int64(size) ||
		(fileSize >= 0 && int64(size)*int64(n) > fileSize) {
		return nil, fmt.Errorf("attribute %q: %d strings of %d bytes is out of range for a file of %d bytes", name, n, size, fileSize)
	}
	buf := make([]byte, int(size)*int(n))
	if C.kr_attr_read_fixed(id, cname, unsafe.Pointer(&buf[0])) < 0 {
		return nil, h5err(fmt.Sprintf("attribute %q", name))
	}
	out := make([]string, int(n))
	for i := range out {
		s := buf[i*int(size) : (i+1)*int(size)]
		if j := bytes.IndexByte(s, 0); j >= 0 {
			s = s[:j]
		}
		out[i] = strings.TrimRight(string(s), " ")
	}
	return out, nil
}

// openObjects counts the HDF5 objects open in the whole process.
func openObjects() int64 {
	defer h5lock()()
	return int64(C.kr_open_objects())
}

// statFloat32 reads the declared type and shape of the dataset at path
// under g, without its data. Float types are read; so are integers of 8
// and 16 bits (Keras 3 stores quantized kernels as int8), which convert to
// float32 exactly, and integer scalars of any size (Normalization's count,
// unused at inference); other types are refused. The element count
// saturates instead of overflowing, so that limits can judge it.
func statFloat32(g *hdf5.Group, path string) (datasetInfo, error) {
	if err := checkHardLinks(g.Identifier, path); err != nil {
		return datasetInfo{}, err
	}
	ds, err := g.OpenDataset(path)
	if err != nil {
		return datasetInfo{}, h5err("open dataset")
	}
	defer ds.Close()
	return datasetMetaOf(ds)
}

func datasetMetaOf(ds *hdf5.Dataset) (datasetInfo, error) {
	dt, err := ds.Datatype()
	if err != nil {
		return datasetInfo{}, h5err("dataset type")
	}
	class, size := dt.Class(), dt.Size()
	standard := C.kr_type_standard(C.hid_t(dt.ID())) == 1
	dt.Close()
	if (class == hdf5.T_INTEGER || class == hdf5.T_FLOAT) && !standard {
		return datasetInfo{}, unsupported(fmt.Errorf("dtype is a %s with a non-standard bit layout (offset, padding or exponent fields), which no Keras writer makes", className(int(class), size)))
	}
	if class != hdf5.T_INTEGER {
		// Checked against the shape below.
		if err := checkWeightType(int(class), size, 0); err != nil {
			return datasetInfo{}, err
		}
	}
	sp := ds.Space()
	if sp == nil {
		return datasetInfo{}, h5err("dataset space")
	}
	dims, err := extentDims(sp)
	sp.Close()
	if err != nil {
		return datasetInfo{}, err
	}
	if err := checkWeightType(int(class), size, len(dims)); err != nil {
		return datasetInfo{}, err
	}
	info := newDatasetInfo(uintDims(dims))
	var stored C.ulonglong
	switch kind := C.kr_storage(C.hid_t(ds.ID()), &stored); kind {
	case -1:
		return datasetInfo{}, h5err("dataset layout")
	case 1, 2:
		if err := checkStorage(uint64(stored), kind == 1, info, uint64(size)); err != nil {
			return datasetInfo{}, err
		}
	}
	return info, nil
}

// uintDims converts gonum's dimensions.
func uintDims(dims []uint) []uint64 {
	out := make([]uint64, len(dims))
	for i, d := range dims {
		out[i] = uint64(d)
	}
	return out
}

// readFloat32 reads the data of a dataset that statFloat32 described and
// limits accepted (so it has at most maxElements elements), converted to
// float32: libhdf5 converts float16 and float64 on the fly.
func readFloat32(g *hdf5.Group, path string, want datasetInfo) ([]float32, error) {
	ds, err := g.OpenDataset(path)
	if err != nil {
		return nil, h5err("open dataset")
	}
	defer ds.Close()
	// The file is held open, but check again that it describes what the
	// limits accepted.
	info, err := datasetMetaOf(ds)
	if err != nil {
		return nil, err
	}
	if info.n != want.n || len(info.shape) != len(want.shape) {
		return nil, corrupt(fmt.Errorf("declared shape changed from %v to %v while reading", want.shape, info.shape))
	}
	data := make([]float32, want.n)
	if want.n > 0 {
		if C.kr_read_f32(C.hid_t(ds.ID()), (*C.float)(unsafe.Pointer(&data[0]))) < 0 {
			return nil, h5err("read")
		}
	}
	return data, nil
}

// checkHardLinks checks that every component of path from loc is a hard
// link. libhdf5 follows soft and external links when it opens an object; an
// external link makes it open another file by name, which a model file
// must not be able to do (it could name a FIFO, a device or any readable
// HDF5 file). Keras writes only hard links. A component that does not
// exist is left for the open that follows to report.
func checkHardLinks(loc hdf5.Identifier, path string) error {
	if err := guardLoop(loc, path, false); err != nil {
		return err
	}
	id := C.hid_t(loc.ID())
	prefix := ""
	if strings.HasPrefix(path, "/") {
		prefix = "/"
	}
	for _, part := range strings.Split(path, "/") {
		if part == "" || part == "." {
			continue
		}
		if prefix != "" && prefix != "/" {
			prefix += "/"
		}
		prefix += part
		cp := C.CString(prefix)
		kind := C.kr_link_type(id, cp)
		C.free(unsafe.Pointer(cp))
		switch kind {
		case linkNone:
			return nil
		case linkFailed:
			// Stop at libhdf5's error: opening the path after a failed
			// lookup can crash libhdf5 1.10 (an object header that fails
			// to load after an external link with no target).
			return h5err(fmt.Sprintf("corrupt HDF5 file: looking up %q", prefix))
		}
		if err := linkError(prefix, int(kind)); err != nil {
			return err
		}
	}
	return nil
}

// linkType returns the type of the link name of loc (C.H5L_TYPE_*, which
// are linkHard, linkSoft and linkExternal), or linkNone when there is none
// or libhdf5 cannot look it up.
func linkType(loc hdf5.Identifier, name string) int {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if kind := int(C.kr_link_type(C.hid_t(loc.ID()), cn)); kind != linkFailed {
		return kind
	}
	C.H5Eclear2(C.H5E_DEFAULT)
	return linkNone
}

// linkFailed is kr_link_type's answer when libhdf5 fails to look a link
// up for a reason other than its absence.
const linkFailed = -2

// libhdf5's link types are linkHard, linkSoft and linkExternal: each
// index below is 0 only then, and any other index fails to compile.
var (
	_ = [1]struct{}{}[int(C.H5L_TYPE_HARD)-linkHard]
	_ = [1]struct{}{}[int(C.H5L_TYPE_SOFT)-linkSoft]
	_ = [1]struct{}{}[int(C.H5L_TYPE_EXTERNAL)-linkExternal]
	_ = [1]struct{}{}[int(hdf5.T_INTEGER)-classInteger]
	_ = [1]struct{}{}[int(hdf5.T_FLOAT)-classFloat]
	_ = [1]struct{}{}[int(hdf5.T_STRING)-classString]
	_ = [1]struct{}{}[int(hdf5.T_COMPOUND)-classCompound]
)

// openGroup opens the group at path under g after checkHardLinks.
func openGroup(g *hdf5.Group, path string) (*hdf5.Group, error) {
	if err := checkHardLinks(g.Identifier, path); err != nil {
		return nil, err
	}
	sub, err := g.OpenGroup(path)
	if err != nil {
		return nil, h5err("open group")
	}
	return sub, nil
}

// extentDims returns the dimensions of a dataspace: none for a scalar
// (Keras stores some weights as scalars, e.g. Attention's scale). gonum's
// SimpleExtentDims cannot read a scalar space.
func extentDims(sp *hdf5.Dataspace) ([]uint, error) {
	switch sp.SimpleExtentType() {
	case hdf5.S_SCALAR:
		return nil, nil
	case hdf5.S_SIMPLE:
	default:
		return nil, errNullSpace
	}
	if sp.SimpleExtentNDims() == 0 {
		return nil, nil
	}
	dims, _, err := sp.SimpleExtentDims()
	if err != nil {
		return nil, h5err("dataset shape")
	}
	return dims, nil
}
