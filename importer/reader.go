package importer

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kerasrun/kerasrun/runtime"
)

// LoadReaderAt is Load for a model file held in r, size bytes long (an
// embedded file, a blob store object). name only labels errors; it may be
// empty.
//
// A .keras archive is read from r directly, and so is an HDF5 model with
// the Go HDF5 reader (Options.HDF5Reader). libhdf5 reads only files, so
// with it an HDF5 model is first copied into a private temporary file
// (mode 0600, in os.TempDir), which is unlinked as soon as libhdf5 has
// opened it.
func LoadReaderAt(r io.ReaderAt, size int64, name string, opts *Options) (*runtime.Model, error) {
	m, err := loadReaderAt(r, size, opts)
	if err != nil {
		return nil, readerError(name, err)
	}
	return m, nil
}

// LoadWeightsReaderAt is LoadWeights for a weights file held in r, size
// bytes long, as LoadReaderAt is for Load.
func LoadWeightsReaderAt(arch []byte, r io.ReaderAt, size int64, name string, opts *Options) (*runtime.Model, error) {
	m, err := loadWeightsReaderAt(arch, r, size, opts)
	if err != nil {
		return nil, readerError(name, err)
	}
	return m, nil
}

func readerError(name string, err error) error {
	if name == "" {
		return fmt.Errorf("importer: %w", err)
	}
	return fmt.Errorf("importer: %s: %w", name, err)
}

// readerKind tells a zip archive from anything else, which is left to the
// HDF5 checks.
func readerKind(r io.ReaderAt, size int64) (fileKind, error) {
	if size < 0 {
		return 0, fmt.Errorf("negative size %d", size)
	}
	if size == 0 {
		return 0, corrupt(errors.New("not an HDF5 file: the file is empty"))
	}
	head := make([]byte, min(size, 8))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return 0, err
	}
	switch {
	case bytes.HasPrefix(head, zipMagic):
		return kindZip, nil
	case bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return 0, corrupt(errors.New("an empty zip archive, not a Keras 3 .keras archive (which holds config.json, metadata.json and model.weights.h5)"))
	}
	return kindHDF5, nil
}

// openArchiveAt reads the directory of the .keras archive in r and its
// JSON members.
func openArchiveAt(r io.ReaderAt, size int64) (*kerasArchive, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, corrupt(fmt.Errorf("a zip file kerasrun cannot read as a Keras 3 archive: %w", err))
	}
	a, err := readArchive(zr)
	if err != nil {
		return nil, err
	}
	a.r, a.size = r, size
	return a, nil
}

// tempCopy copies r into a private temporary file for libhdf5, which the
// caller's reader unlinks as soon as it has opened it.
func tempCopy(r io.ReaderAt, size int64) (string, error) {
	name, n, err := writeTemp(io.NewSectionReader(r, 0, size), size, "kerasrun-*.h5")
	if err != nil {
		return "", err
	}
	if n != size {
		os.Remove(name)
		return "", corrupt(fmt.Errorf("truncated: the reader holds %d bytes, not the %d given as its size", n, size))
	}
	return name, nil
}

func loadReaderAt(r io.ReaderAt, size int64, opts *Options) (*runtime.Model, error) {
	kind, err := readerKind(r, size)
	if err != nil {
		return nil, err
	}
	if kind == kindZip {
		a, err := openArchiveAt(r, size)
		if err != nil {
			return nil, err
		}
		store, err := archiveWeights(a, opts)
		if err != nil {
			return nil, err
		}
		return buildKeras3(a.config, a.kerasVersion, store, opts)
	}
	return loadHDF5(h5src{r: r, size: size}, opts)
}

func loadWeightsReaderAt(arch []byte, r io.ReaderAt, size int64, opts *Options) (*runtime.Model, error) {
	a, err := parseArch(arch)
	if err != nil {
		return nil, err
	}
	kind, err := readerKind(r, size)
	if err != nil {
		return nil, err
	}
	if kind == kindZip {
		ar, err := openArchiveAt(r, size)
		if err != nil {
			return nil, err
		}
		store, err := archiveWeights(ar, opts)
		if err != nil {
			return nil, err
		}
		version := a.kerasVersion
		if version == "" {
			version = ar.kerasVersion
		}
		return buildKeras3(a.config, version, store, opts)
	}
	var store *k3store
	var fw *fileWeights
	err = withH5(h5src{r: r, size: size}, opts, func(root h5group) error {
		var err error
		if isKeras3Weights(root) {
			store, err = readKeras3Root(root, opts)
		} else {
			_, fw, err = readRoot(root, opts, true)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if store != nil {
		return buildKeras3(a.config, a.kerasVersion, store, opts)
	}
	return buildPositional(a, fw, opts)
}
