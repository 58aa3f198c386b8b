// Package importer reads Keras HDF5 model files (.h5) and builds runnable
// models from them.
//
// It reads HDF5 through one of two readers, behind one internal interface
// (h5group, h5read.go), so that the load logic is shared:
//
//   - libhdf5, through gonum.org/v1/hdf5 and a few C helpers (h5.go,
//     h5group_cgo.go), built only with cgo, and the default there;
//   - the pure-Go reader internal/h5 (h5group_go.go), always built, and the
//     default without cgo, so that CGO_ENABLED=0 builds a static binary
//     for any GOOS and GOARCH. It reads an io.ReaderAt in place: a model
//     held in memory (LoadReaderAt) and the weights inside a .keras archive
//     need no temporary file.
//
// Options.HDF5Reader chooses one at run time. Both give the same strings
// and the same float32 weights, bit for bit, and refuse the same files
// (h5readers_cgo_test.go checks every fixture and corpus file with both).
//
// This is the only kerasrun package that uses cgo. No HDF5 type appears
// in its API. Every HDF5 handle is closed before Load returns. Calls into
// libhdf5 are serialised by a package lock, and each HDF5 session is pinned
// to one OS thread: Debian's libhdf5 is built thread-safe, which makes its
// error stack and its error printing per thread. libhdf5 never prints: its
// error stack becomes the returned error. The Go reader takes no lock.

// Load works in phases: read the root attributes and model_config; decode
// every layer and collect every unsupported class or option into one error
// before building anything; read the weights (converted to float32 once);
// then build each layer and bind its weights strictly, in weight_names
// order. Every stored weight must be taken by exactly one layer and every
// weight a layer expects must be present with the right shape.
//
// # Trust model
//
// A model file may come from anyone. Load, LoadWeights and Inspect must
// return an error, never crash the process, hang or allocate without bound,
// whatever the bytes. libhdf5 is C and, in the 1.10 releases Debian ships,
// crashes or loops on some malformed files (fuzzing found both), so these
// checks run in Go before libhdf5 sees the bytes they cover:
//
//   - The path is opened without blocking and must be a regular file (a
//     FIFO or a device could block or never end).
//   - It must carry the HDF5 signature at offset 0 or at 512, 1024, 2048,
//     ... (a user block), and a superblock of version 0, 1, 2 or 3 whose
//     sizes of offsets and lengths are valid, whose checksum (versions 2 and
//     3) is right, whose end-of-file address is not past the real end of the
//     file (a truncated file is refused here), whose root group lies
//     inside the file, and which (versions 0 and 1) names no driver
//     information block: only HDF5's family, multi and split drivers write
//     one, libhdf5's default driver cannot open their files, and libhdf5
//     allocates and reads whatever size a block declares as it opens one.
//   - Before libhdf5 decodes the attributes of an object (the root group,
//     model_weights, each layer's group), its object header is parsed in Go
//     (h5scan.go): every message must lie inside its block and every block
//     inside the file (version 2 blocks must match their checksums), every
//     attribute's data must be exactly the size its datatype and dataspace
//     declare, and every variable-length string must point to a global heap
//     object of its length inside a well-formed heap collection. A declared
//     attribute larger than the file is refused before it is allocated.
//   - Before libhdf5 looks a name up in a group or lists one, kerasrun's
//     pure-Go reader walks the same path (guardLoop in h5.go): libhdf5
//     follows the free list of an old-style group's local heap to its end
//     and loops forever on one that comes back on itself, and it crashes
//     on an external link with an empty target as it looks the link up;
//     the Go reader refuses both.
//   - A compact dataset (its data in its object header) must hold exactly
//     the bytes its values need: libhdf5 reads that many whatever it
//     holds, and crashes when it holds none.
//   - Objects are reached only through hard links: a soft or external link
//     in a path kerasrun opens is refused, so a file cannot make libhdf5
//     open another file.
//   - The declared type and shape of every weight dataset are read first,
//     and checked against Options (MaxTensorElements, MaxWeightBytes) before
//     any data is read or allocated. Only float16, float32 and float64
//     datasets are read.
//   - model_config must nest no more than 512 levels deep before any JSON
//     parser or decoder recurses over it (a config nested a few million
//     levels deep would otherwise overflow the goroutine stack, a fatal
//     error), and its layers are counted against Options.MaxLayers before
//     they are decoded.
//
// What libhdf5 still parses unchecked: dataset object headers (layout,
// filters, fill values), chunk indexes and compressed chunks, group symbol
// tables (B-trees and local heaps), attributes kept in dense storage (a
// fractal heap: only files written with libver='latest' that hold
// attributes over 64 KiB) and version 2 structures beyond their checksums. libhdf5 checks these itself, and fuzzing mutated Keras files
// has not crashed it there since the checks above, but a crafted file may
// still reach a libhdf5 bug. Keep libhdf5 up to date, and load files from
// untrusted sources in a separate process when a crash must not take a
// service down, or read them with the Go reader, which runs the same checks
// first and bounds everything else itself (see internal/h5).
//
// The architecture JSON given to LoadWeights is parsed directly and is not
// depth-checked yet: give it only from trusted sources.
//
// # Errors
//
// An error about a file that is not a Keras file, or is truncated or
// damaged, matches ErrCorrupt; one about a limit of Options is a
// *LimitError, which matches ErrLimit and names the field that raises it;
// one about a class, option or storage form kerasrun does not run matches
// layers.ErrUnsupported. Matching never changes a message. (errors.go)
//
// The checks read the file through their own descriptor, and libhdf5 reads
// it again: a file that is rewritten while it loads may reach libhdf5
// changed. Load files that are not being written.
package importer
