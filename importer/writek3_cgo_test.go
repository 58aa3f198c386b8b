//go:build cgo

package importer

import (
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/hdf5"
)

// writeK3 writes an HDF5 file in the Keras 3 weights layout with the given
// datasets (their values do not matter to the tests that use it) and the
// given empty groups.
func writeK3(t testing.TB, path string, vars []k3var, groups ...string) {
	t.Helper()
	defer h5lock()()
	f, err := hdf5.CreateFile(path, hdf5.F_ACC_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	made := map[string]bool{}
	mkdirs := func(p string) {
		parts := strings.Split(p, "/")
		for i := range parts {
			g := strings.Join(parts[:i+1], "/")
			if made[g] {
				continue
			}
			made[g] = true
			grp, err := f.CreateGroup(g)
			if err != nil {
				t.Fatalf("group %s: %v", g, err)
			}
			grp.Close()
		}
	}
	for _, g := range groups {
		mkdirs(g)
	}
	for _, v := range vars {
		mkdirs(filepath.Dir(v.path))
		sp, err := hdf5.CreateSimpleDataspace(v.shape, nil)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := f.CreateDataset(v.path, hdf5.T_NATIVE_FLOAT, sp)
		if err != nil {
			t.Fatalf("dataset %s: %v", v.path, err)
		}
		n := uint(1)
		for _, d := range v.shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i%7) / 7
		}
		if n > 0 {
			if err := ds.Write(&data[0]); err != nil {
				t.Fatal(err)
			}
		}
		ds.Close()
		sp.Close()
	}
}
