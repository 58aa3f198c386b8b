//go:build !cgo

package importer

import "errors"

// haveLibhdf5 says whether this build can read through libhdf5: without
// cgo it cannot, and the pure-Go reader reads every file.
const haveLibhdf5 = false

func withLibhdf5(src h5src, fn func(root h5group) error) error {
	return errors.New("libhdf5 is not in this build (built without cgo)")
}

// openObjects counts the HDF5 objects libhdf5 holds open: none without it.
func openObjects() int64 { return 0 }
