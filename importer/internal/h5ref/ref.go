//go:build cgo

package h5ref

/*
#cgo !kerasrun_nopkgconfig pkg-config: hdf5
#cgo kerasrun_nopkgconfig LDFLAGS: -lhdf5
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int cls; size_t size; int order; int sign; int vlen; int pad; int cset; } ref_type;

static void ref_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static void ref_describe(hid_t t, ref_type *d) {
	memset(d, 0, sizeof(*d));
	d->cls = (int)H5Tget_class(t);
	d->size = H5Tget_size(t);
	if (d->cls == H5T_INTEGER || d->cls == H5T_FLOAT) d->order = (int)H5Tget_order(t);
	if (d->cls == H5T_INTEGER) d->sign = (int)H5Tget_sign(t);
	if (d->cls == H5T_STRING) {
		d->vlen = H5Tis_variable_str(t) > 0;
		d->pad = (int)H5Tget_strpad(t);
		d->cset = (int)H5Tget_cset(t);
	}
}

// ref_space describes a dataspace: its class, rank and dims (up to 32).
static int ref_space(hid_t s, int *cls, int *rank, hsize_t *dims) {
	*cls = (int)H5Sget_simple_extent_type(s);
	*rank = H5Sget_simple_extent_ndims(s);
	if (*rank < 0 || *rank > 32) return -1;
	if (*rank > 0 && H5Sget_simple_extent_dims(s, dims, NULL) < 0) return -1;
	return 0;
}

static long long ref_nlinks(hid_t g) {
	H5G_info_t i;
	if (H5Gget_info(g, &i) < 0) return -1;
	return (long long)i.nlinks;
}

static long ref_link_name(hid_t g, hsize_t i, char *buf, size_t cap) {
	return (long)H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, cap, H5P_DEFAULT);
}

static int ref_link_type(hid_t g, const char *name) {
	H5L_info_t info;
	if (H5Lget_info(g, name, &info, H5P_DEFAULT) < 0) return -1;
	return (int)info.type;
}

static int ref_obj_info(hid_t o, haddr_t *addr, long long *nattrs) {
	H5O_info_t oi;
	if (H5Oget_info2(o, &oi, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS) < 0) return -1;
	*addr = oi.addr;
	*nattrs = (long long)oi.num_attrs;
	return (int)oi.type;
}

static long ref_attr_name(hid_t o, hsize_t i, char *buf, size_t cap) {
	return (long)H5Aget_name_by_idx(o, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, cap, H5P_DEFAULT);
}

static hid_t ref_attr_open(hid_t o, hsize_t i) {
	return H5Aopen_by_idx(o, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT);
}

static int ref_attr_raw(hid_t a, hid_t t, void *buf) { return H5Aread(a, t, buf) < 0 ? -1 : 0; }

static int ref_attr_vlen(hid_t a, int cset, char **ptrs) {
	hid_t mt = H5Tcopy(H5T_C_S1);
	int rc = -1;
	if (mt >= 0 && H5Tset_size(mt, H5T_VARIABLE) >= 0 && H5Tset_cset(mt, cset) >= 0)
		rc = H5Aread(a, mt, ptrs) < 0 ? -1 : 0;
	if (mt >= 0) H5Tclose(mt);
	return rc;
}

static void ref_free(char *p) { if (p) H5free_memory(p); }

static int ref_dset_raw(hid_t d, hid_t t, void *buf) {
	return H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0 ? -1 : 0;
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Available reports whether this build can walk files (it has cgo).
const Available = true

var mu sync.Mutex

// Walk returns every object reachable from the root of the file at path
// by hard links, depth first in name order, each once.
func Walk(path string) ([]Object, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mu.Lock()
	defer mu.Unlock()
	C.ref_silence()
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	fid := C.H5Fopen(cp, C.H5F_ACC_RDONLY, C.H5P_DEFAULT)
	if fid < 0 {
		return nil, fmt.Errorf("h5ref: cannot open %s", path)
	}
	defer C.H5Fclose(fid)
	w := &walker{seen: map[uint64]bool{}}
	root := C.CString("/")
	defer C.free(unsafe.Pointer(root))
	g := C.H5Oopen(fid, root, C.H5P_DEFAULT)
	if g < 0 {
		return nil, fmt.Errorf("h5ref: cannot open the root group")
	}
	defer C.H5Oclose(g)
	if err := w.object(g, "/"); err != nil {
		return nil, err
	}
	return w.out, nil
}

type walker struct {
	seen map[uint64]bool
	out  []Object
}

func goType(t C.hid_t) Type {
	var d C.ref_type
	C.ref_describe(t, &d)
	return Type{Class: int(d.cls), Size: int(d.size), BigEndian: d.order == C.H5T_ORDER_BE, Signed: d.sign == C.H5T_SGN_2,
		VarLen: d.vlen != 0, Pad: int(d.pad), CharSet: int(d.cset)}
}

func space(s C.hid_t) (int, []uint64, uint64, error) {
	var cls, rank C.int
	var dims [32]C.hsize_t
	if C.ref_space(s, &cls, &rank, &dims[0]) < 0 {
		return 0, nil, 0, fmt.Errorf("h5ref: dataspace")
	}
	n := uint64(1)
	var out []uint64
	for i := 0; i < int(rank); i++ {
		out = append(out, uint64(dims[i]))
		n *= uint64(dims[i])
	}
	switch cls {
	case C.H5S_NULL:
		n = 0
	case C.H5S_SCALAR:
		n = 1
	}
	return int(cls), out, n, nil
}

func (w *walker) object(o C.hid_t, path string) error {
	var addr C.haddr_t
	var nattrs C.longlong
	kind := C.ref_obj_info(o, &addr, &nattrs)
	if kind < 0 {
		return fmt.Errorf("h5ref: %s: object info", path)
	}
	w.seen[uint64(addr)] = true
	obj := Object{Path: path, Kind: int(kind), Addr: uint64(addr)}
	buf := make([]byte, 1<<16)
	for i := 0; i < int(nattrs); i++ {
		n := C.ref_attr_name(o, C.hsize_t(i), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
		if n < 0 || int(n) >= len(buf) {
			return fmt.Errorf("h5ref: %s: attribute %d name", path, i)
		}
		a, err := attr(o, i, string(buf[:n]))
		if err != nil {
			return fmt.Errorf("h5ref: %s: %w", path, err)
		}
		obj.Attrs = append(obj.Attrs, a)
	}
	var kids []string
	switch kind {
	case C.H5O_TYPE_GROUP:
		nl := C.ref_nlinks(o)
		if nl < 0 {
			return fmt.Errorf("h5ref: %s: links", path)
		}
		for i := 0; i < int(nl); i++ {
			n := C.ref_link_name(o, C.hsize_t(i), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
			if n < 0 || int(n) >= len(buf) {
				return fmt.Errorf("h5ref: %s: link %d name", path, i)
			}
			name := string(buf[:n])
			cn := C.CString(name)
			lt := C.ref_link_type(o, cn)
			C.free(unsafe.Pointer(cn))
			obj.Links = append(obj.Links, Link{Name: name, Type: int(lt)})
			if lt == C.H5L_TYPE_HARD {
				kids = append(kids, name)
			}
		}
	case C.H5O_TYPE_DATASET:
		if err := dataset(o, &obj); err != nil {
			return fmt.Errorf("h5ref: %s: %w", path, err)
		}
	}
	w.out = append(w.out, obj)
	for _, name := range kids {
		cn := C.CString(name)
		k := C.H5Oopen(o, cn, C.H5P_DEFAULT)
		C.free(unsafe.Pointer(cn))
		if k < 0 {
			return fmt.Errorf("h5ref: %s: cannot open %q", path, name)
		}
		var kaddr C.haddr_t
		var kn C.longlong
		C.ref_obj_info(k, &kaddr, &kn)
		var err error
		if !w.seen[uint64(kaddr)] {
			p := path + "/" + name
			if path == "/" {
				p = "/" + name
			}
			err = w.object(k, p)
		}
		C.H5Oclose(k)
		if err != nil {
			return err
		}
	}
	return nil
}

func attr(o C.hid_t, i int, name string) (Attr, error) {
	a := C.ref_attr_open(o, C.hsize_t(i))
	if a < 0 {
		return Attr{}, fmt.Errorf("attribute %q: open", name)
	}
	defer C.H5Aclose(a)
	t := C.H5Aget_type(a)
	defer C.H5Tclose(t)
	s := C.H5Aget_space(a)
	defer C.H5Sclose(s)
	out := Attr{Name: name, Type: goType(t)}
	var n uint64
	var err error
	if out.Space, out.Dims, n, err = space(s); err != nil {
		return Attr{}, err
	}
	if n == 0 {
		return out, nil
	}
	if out.Type.VarLen {
		ptrs := make([]*C.char, n)
		cptrs := (**C.char)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0)))))
		defer C.free(unsafe.Pointer(cptrs))
		if C.ref_attr_vlen(a, C.int(out.Type.CharSet), cptrs) < 0 {
			return Attr{}, fmt.Errorf("attribute %q: read", name)
		}
		copy(ptrs, unsafe.Slice(cptrs, n))
		for _, p := range ptrs {
			out.Strings = append(out.Strings, C.GoString(p))
			C.ref_free(p)
		}
		return out, nil
	}
	if out.Type.Class == C.H5T_VLEN || out.Type.Class == C.H5T_REFERENCE {
		return out, nil
	}
	out.Raw = make([]byte, n*uint64(out.Type.Size))
	if C.ref_attr_raw(a, t, unsafe.Pointer(&out.Raw[0])) < 0 {
		return Attr{}, fmt.Errorf("attribute %q: read", name)
	}
	return out, nil
}

func dataset(d C.hid_t, obj *Object) error {
	t := C.H5Dget_type(d)
	defer C.H5Tclose(t)
	s := C.H5Dget_space(d)
	defer C.H5Sclose(s)
	obj.Type = goType(t)
	var n uint64
	var err error
	if obj.Space, obj.Dims, n, err = space(s); err != nil {
		return err
	}
	if n == 0 || obj.Type.VarLen || obj.Type.Class == C.H5T_VLEN || obj.Type.Class == C.H5T_REFERENCE {
		return nil
	}
	obj.Raw = make([]byte, n*uint64(obj.Type.Size))
	if C.ref_dset_raw(d, t, unsafe.Pointer(&obj.Raw[0])) < 0 {
		return fmt.Errorf("read")
	}
	return nil
}
