// Package h5 reads the subset of HDF5 that Keras model files use, in pure
// Go, from an io.ReaderAt of known size: a file, a byte slice or a zip
// entry all serve.
//
// It follows the "HDF5 File Format Specification Version 3.0" and covers
// what Keras 1.2 to 3.x, through h5py 2.x to 3.x and libhdf5 1.8 to 1.14,
// write:
//
//   - superblocks of versions 0 to 3, at offset 0 or after a user block;
//   - object headers of versions 1 and 2, with their continuation blocks
//     (version 2 checksums are verified);
//   - groups stored as symbol tables (a version 1 B-tree and a local heap)
//     and as link messages, compact or dense (a fractal heap indexed by a
//     version 2 B-tree);
//   - attributes, compact or dense, of fixed-length strings (null-terminated,
//     null-padded or space-padded), variable-length strings (the global
//     heap), ASCII or UTF-8, and of integers and floats, with scalar, simple
//     or null dataspaces;
//   - datasets stored contiguous, compact or chunked, their chunks indexed by
//     a version 1 B-tree, a single chunk, an implicit index, a fixed array,
//     an extensible array or a version 2 B-tree, filtered by deflate,
//     shuffle and Fletcher32 (whose checksum is verified), of float16,
//     float32, float64 and 8- to 64-bit integers, little or big endian.
//
// Everything else is refused with an error that matches ErrUnsupported:
// soft and external links are listed, never followed; shared (committed)
// datatypes, virtual and external storage, fractal heaps with I/O filters,
// extensible array indexes whose unlimited dimension is not the first, and
// filters other than those above (szip, nbit, scaleoffset, LZF) are not
// read. Groups list their members in name order, libhdf5's default, even
// when the file also tracks creation order.
//
// # Trust model
//
// The bytes may come from anyone. Every address and length is checked
// against the size given to Open before it is used, every loop is bounded
// by counts that were themselves checked, a structure reached twice in one
// walk (a cycle) is an error, and nothing is allocated from a declared size
// before that size is checked against the file: a dataset's data may not
// exceed what its stored bytes can hold (deflate expands at most 1032
// times). Malformed input gives an error matching ErrCorrupt, never a panic
// or a hang.
//
// # Concurrency
//
// A File and the Groups, Datasets and Attributes it returns are safe for
// concurrent use when the io.ReaderAt is (os.File and bytes.Reader are).
// Values returned are copies that the caller owns.
package h5
