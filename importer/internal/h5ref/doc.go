// Package h5ref walks an HDF5 file with libhdf5 and returns every object,
// link, attribute and dataset as plain Go values: the reference that the
// pure-Go reader internal/h5 is compared with, bit for bit
// (importer/h5go_compare_test.go). It is test support, built only with cgo;
// without cgo it is empty and Available is false. It lives under importer/
// because the importer holds all of the project's cgo; only the importer's
// tests import it.
package h5ref

// Type describes a datatype as libhdf5 reports it.
type Type struct {
	Class     int // H5T_class_t: 0 integer, 1 float, 3 string, ...
	Size      int
	BigEndian bool
	Signed    bool
	VarLen    bool // a variable-length string
	Pad       int  // H5T_str_t of a fixed-length string
	CharSet   int  // H5T_cset_t of a string
}

// Attr is one attribute.
type Attr struct {
	Name  string
	Type  Type
	Space int // H5S_class_t: 0 scalar, 1 simple, 2 null
	Dims  []uint64
	// Raw holds the elements as stored (fixed-size types); Strings the
	// values of variable-length strings.
	Raw     []byte
	Strings []string
}

// Link is one member of a group, in libhdf5's name order.
type Link struct {
	Name string
	Type int // H5L_type_t: 0 hard, 1 soft, 64 external
}

// Object is one object reached by hard links.
type Object struct {
	Path  string
	Kind  int // H5O_type_t: 0 group, 1 dataset, 2 named datatype
	Addr  uint64
	Attrs []Attr
	Links []Link // groups
	// Datasets: the element type, dataspace and data as stored (not read
	// for variable-length types).
	Type  Type
	Space int
	Dims  []uint64
	Raw   []byte
}
