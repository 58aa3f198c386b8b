//go:build !cgo

package importer

import "testing"

// writeK3 skips the test without cgo: it writes HDF5 files through
// libhdf5.
func writeK3(t testing.TB, path string, vars []k3var, groups ...string) {
	t.Helper()
	t.Skip("writing an HDF5 file needs libhdf5 (cgo)")
}
