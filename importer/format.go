package importer

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/kerasrun/kerasrun/layers"
)

// The forms of model file kerasrun reads are told by their content, never
// by their extension: an HDF5 file (a legacy .h5 model or weights file, or
// a Keras 3 .weights.h5) begins with the HDF5 signature (or has it at 512,
// 1024, ... bytes), a Keras 3 .keras archive is a zip. What is neither
// gets one sentence that says what it is and how to save a file kerasrun
// reads.

// fileKind is what sniff finds a path to be.
type fileKind int

const (
	kindHDF5 fileKind = iota
	kindZip
)

// saveHint ends the message for a file kerasrun cannot read.
const saveHint = "kerasrun reads Keras files: in Python, load the model and save it with model.save(\"model.keras\") (Keras 3) or model.save(\"model.h5\")"

// zipMagic begins a zip archive with at least one entry.
var zipMagic = []byte("PK\x03\x04")

// sniff tells the form of the file at p. An HDF5 or zip file is left to its
// reader, which checks it in full; anything else is an error that says what
// the file is.
func sniff(p string) (fileKind, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	if st.IsDir() {
		return 0, corrupt(describeDir(p))
	}
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, zipMagic):
		return kindZip, nil
	case bytes.HasPrefix(head, hdf5Signature), !st.Mode().IsRegular(), n == 0:
		return kindHDF5, nil
	}
	base := filepath.Base(p)
	switch {
	case strings.HasSuffix(base, ".pb"):
		return 0, corrupt(fmt.Errorf("a TensorFlow protocol buffer (%s: a SavedModel's graph or a frozen GraphDef), not a Keras file; %s", base, saveHint))
	case strings.HasSuffix(base, ".index") || strings.Contains(base, ".data-0") || base == "checkpoint":
		return 0, corrupt(fmt.Errorf("a TensorFlow checkpoint file (%s), which holds variables in TensorFlow's own format and no Keras architecture; %s", base, saveHint))
	case bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return 0, corrupt(errors.New("an empty zip archive, not a Keras 3 .keras archive (which holds config.json, metadata.json and model.weights.h5)"))
	case bytes.HasPrefix(head, []byte("\x80")) || bytes.HasPrefix(head, []byte("PK")):
		return 0, corrupt(fmt.Errorf("not a Keras file (a Python pickle or a damaged zip); %s", saveHint))
	}
	// An HDF5 signature may sit at 512, 1024, ... bytes (a user block):
	// the HDF5 reader looks for it and says when there is none.
	return kindHDF5, nil
}

// describeDir says what a directory given as a model is.
func describeDir(p string) error {
	has := func(name string) bool {
		_, err := os.Stat(filepath.Join(p, name))
		return err == nil
	}
	switch {
	case has("saved_model.pb") || has("saved_model.pbtxt"):
		return fmt.Errorf("a TensorFlow SavedModel directory, not a Keras file (kerasrun does not run TensorFlow graphs); %s", saveHint)
	case has("checkpoint"):
		return fmt.Errorf("a directory of TensorFlow checkpoints, which hold variables in TensorFlow's own format and no Keras architecture; %s", saveHint)
	case has("config.json") && has("model.weights.h5"):
		return errors.New("a directory holding an unpacked .keras archive; give the .keras file itself, or model.weights.h5 with --arch config.json")
	}
	return errors.New("a directory, not a regular file holding a model")
}

// Limits on a .keras archive, checked against what the archive declares and
// again while reading: an archive may claim small sizes and inflate without
// bound.
const (
	maxArchiveEntries = 1024
	maxArchiveJSON    = 64 << 20 // config.json, metadata.json
	maxEntryDepth     = 16
	// maxInflateRatio bounds how far an entry may inflate: deflate cannot
	// exceed about 1032:1, so more is a crafted stream.
	maxInflateRatio = 1100
	// A member over bigEntry bytes may inflate at most maxBigRatio times.
	bigEntry    = 64 << 20
	maxBigRatio = 100
)

// kerasArchive is what a .keras archive holds for kerasrun.
type kerasArchive struct {
	config       string // config.json
	kerasVersion string // from metadata.json
	weights      *zip.File
	// r holds the archive's size bytes, where weights lies.
	r    io.ReaderAt
	size int64
}

// openArchive reads the directory of the .keras archive at p and its JSON
// members. The caller closes the returned file when it has read the
// weights.
func openArchive(p string) (io.Closer, *kerasArchive, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, corrupt(fmt.Errorf("a zip file kerasrun cannot read as a Keras 3 archive: %w", err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	a, err := openArchiveAt(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, a, nil
}

// readArchive reads the directory of a .keras archive and its JSON
// members. Its errors match ErrCorrupt unless they are about a form of
// archive kerasrun does not read (layers.ErrUnsupported) or a limit.
func readArchive(zr *zip.Reader) (*kerasArchive, error) {
	a, err := readArchiveEntries(zr)
	if err != nil && !errors.Is(err, layers.ErrUnsupported) && !errors.Is(err, ErrLimit) {
		err = corrupt(err)
	}
	return a, err
}

func readArchiveEntries(zr *zip.Reader) (*kerasArchive, error) {
	if len(zr.File) > maxArchiveEntries {
		return nil, fmt.Errorf("the zip archive has %d entries, more than a Keras archive holds (%d)", len(zr.File), maxArchiveEntries)
	}
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		name := f.Name
		if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.Contains(name, "\x00") ||
			path.Clean(name) != strings.TrimSuffix(name, "/") || strings.HasPrefix(path.Clean(name), "..") || filepath.IsAbs(name) {
			return nil, fmt.Errorf("the zip archive has an entry with an unsafe path %q", clip(name))
		}
		if strings.Count(name, "/") > maxEntryDepth {
			return nil, fmt.Errorf("the zip archive has an entry nested %d folders deep (%q)", strings.Count(name, "/"), clip(name))
		}
		if _, dup := byName[name]; dup {
			return nil, fmt.Errorf("the zip archive has two entries named %q", clip(name))
		}
		if f.CompressedSize64 > 0 {
			switch ratio := f.UncompressedSize64 / f.CompressedSize64; {
			case ratio > maxInflateRatio:
				return nil, fmt.Errorf("the zip archive's entry %q claims to inflate %d times, which deflate cannot do: a crafted archive", clip(name), ratio)
			case ratio > maxBigRatio && f.UncompressedSize64 > bigEntry:
				// Keras: saving_lib refuses members over 4 GiB that
				// inflate more than 100 times; kerasrun copies the
				// weights to disk, so it draws the line lower.
				return nil, fmt.Errorf("the zip archive's entry %q would inflate %d times to %d bytes: a zip bomb, not a Keras archive (Keras stores its members uncompressed)", clip(name), ratio, f.UncompressedSize64)
			}
		}
		byName[name] = f
	}
	cfg, hasCfg := byName["config.json"]
	w, hasW := byName["model.weights.h5"]
	if !hasCfg {
		if hasW || byName["model.weights.npz"] != nil {
			return nil, errors.New("a zip archive with Keras weights but no config.json, so no architecture: give the architecture JSON as well (kerasrun --arch)")
		}
		return nil, fmt.Errorf("a zip archive that is not a Keras 3 .keras archive (no config.json; a .keras archive holds config.json, metadata.json and model.weights.h5); %s", saveHint)
	}
	a := &kerasArchive{}
	js, err := readEntry(cfg, maxArchiveJSON)
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	a.config = string(js)
	if m := byName["metadata.json"]; m != nil {
		mb, err := readEntry(m, maxArchiveJSON)
		if err != nil {
			return nil, fmt.Errorf("metadata.json: %w", err)
		}
		var meta struct {
			KerasVersion string `json:"keras_version"`
		}
		if err := json.Unmarshal(mb, &meta); err != nil {
			return nil, fmt.Errorf("metadata.json: %w", err)
		}
		a.kerasVersion = meta.KerasVersion
	}
	switch {
	case hasW:
		a.weights = w
	case byName["model.weights.npz"] != nil:
		return nil, unsupported(fmt.Errorf("the archive stores its weights as model.weights.npz; kerasrun reads the default HDF5 form: save with model.save(\"model.keras\") without weights_format"))
	case byName["model.weights.json"] != nil:
		return nil, unsupported(errors.New("the archive's weights are sharded (model.weights.json); kerasrun reads one model.weights.h5: save without max_shard_size"))
	default:
		return nil, errors.New("a Keras 3 archive without weights (no model.weights.h5): it holds only the architecture; save the trained model with model.save(\"model.keras\")")
	}
	if err := checkJSONDepth("config.json", a.config); err != nil {
		return nil, err
	}
	return a, nil
}

// readEntry reads a whole archive entry of at most limit bytes.
func readEntry(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, limitError("", limit, fmt.Errorf("%d bytes, over the limit of %d", f.UncompressedSize64, limit))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, limitError("", limit, fmt.Errorf("inflates past the limit of %d bytes", limit))
	}
	return b, nil
}

// extractWeights copies the archive's model.weights.h5 into a private
// temporary file (mode 0600, in os.TempDir, never beside the user's file)
// and returns its path; the reader unlinks it as soon as it has opened it.
// The copy is bounded by limit bytes, whatever the archive declares.
func extractWeights(f *zip.File, limit int64) (string, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return "", limitError("MaxWeightBytes", limit, fmt.Errorf("model.weights.h5 is %d bytes, over the limit of %d (raise importer.Options.MaxWeightBytes)", f.UncompressedSize64, limit))
	}
	rc, err := f.Open()
	if err != nil {
		return "", fmt.Errorf("model.weights.h5: %w", err)
	}
	defer rc.Close()
	// Keras (h5py) writes the HDF5 signature at the start: anything else
	// is refused before it is copied.
	head := make([]byte, len(hdf5Signature))
	if _, err := io.ReadFull(rc, head); err != nil || !bytes.Equal(head, hdf5Signature) {
		return "", corrupt(errors.New("model.weights.h5 in the archive is not an HDF5 file (no HDF5 signature)"))
	}
	name, n, err := writeTemp(io.MultiReader(bytes.NewReader(head), rc), limit, "kerasrun-*.weights.h5")
	if err == nil && n > limit {
		os.Remove(name)
		err = limitError("MaxWeightBytes", limit, fmt.Errorf("model.weights.h5 inflates past %d bytes (raise importer.Options.MaxWeightBytes)", limit))
	}
	if err != nil {
		return "", fmt.Errorf("model.weights.h5: %w", err)
	}
	return name, nil
}

// weightsAt returns the bytes of the archive's model.weights.h5, at most
// limit of them, for a reader that reads in place: a stored entry (Keras
// writes its members uncompressed) is read where it lies in the archive,
// after its CRC-32 is checked as extracting it would check it; a
// compressed one is inflated into memory. Its checks and errors are those
// of extractWeights.
func weightsAt(a *kerasArchive, limit int64) (io.ReaderAt, int64, error) {
	f := a.weights
	if f.UncompressedSize64 > uint64(limit) {
		return nil, 0, limitError("MaxWeightBytes", limit, fmt.Errorf("model.weights.h5 is %d bytes, over the limit of %d (raise importer.Options.MaxWeightBytes)", f.UncompressedSize64, limit))
	}
	notHDF5 := corrupt(errors.New("model.weights.h5 in the archive is not an HDF5 file (no HDF5 signature)"))
	if f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 && a.r != nil {
		off, err := f.DataOffset()
		if err != nil {
			return nil, 0, fmt.Errorf("model.weights.h5: %w", err)
		}
		size := int64(f.UncompressedSize64)
		if off < 0 || off > a.size || size > a.size-off {
			return nil, 0, fmt.Errorf("model.weights.h5: %w", zip.ErrFormat)
		}
		r := io.NewSectionReader(a.r, off, size)
		head := make([]byte, len(hdf5Signature))
		if _, err := r.ReadAt(head, 0); err != nil || !bytes.Equal(head, hdf5Signature) {
			return nil, 0, notHDF5
		}
		if f.CRC32 != 0 {
			h := crc32.NewIEEE()
			if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
				return nil, 0, fmt.Errorf("model.weights.h5: %w", err)
			}
			if h.Sum32() != f.CRC32 {
				return nil, 0, fmt.Errorf("model.weights.h5: %w", zip.ErrChecksum)
			}
		}
		return r, size, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, 0, fmt.Errorf("model.weights.h5: %w", err)
	}
	defer rc.Close()
	head := make([]byte, len(hdf5Signature))
	if _, err := io.ReadFull(rc, head); err != nil || !bytes.Equal(head, hdf5Signature) {
		return nil, 0, notHDF5
	}
	var buf bytes.Buffer
	buf.Write(head)
	n, err := io.Copy(&buf, io.LimitReader(rc, limit+1-int64(len(head))))
	if err != nil {
		return nil, 0, fmt.Errorf("model.weights.h5: %w", err)
	}
	if n+int64(len(head)) > limit {
		return nil, 0, limitError("MaxWeightBytes", limit, fmt.Errorf("model.weights.h5 inflates past %d bytes (raise importer.Options.MaxWeightBytes)", limit))
	}
	return bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil
}

// writeTemp copies at most limit+1 bytes of r into a private temporary
// file (mode 0600, in os.TempDir) named after pattern, and returns its
// path and the number of bytes copied. On error no file is left.
func writeTemp(r io.Reader, limit int64, pattern string) (string, int64, error) {
	tmp, err := os.CreateTemp("", pattern)
	if err != nil {
		return "", 0, err
	}
	n, err := io.Copy(tmp, io.LimitReader(r, limit+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", 0, err
	}
	return tmp.Name(), n, nil
}
