// Package importer reads Keras HDF5 model files (.h5) and builds runnable
// models from them.
//
// It is the only kerasrun package that uses cgo: it reads files through
// gonum.org/v1/hdf5 and a few C helpers over libhdf5. No HDF5 type appears
// in its API. Every HDF5 handle is closed before Load returns. Calls into
// libhdf5 are serialised by a package lock, and each HDF5 session is pinned
// to one OS thread: Debian's libhdf5 is built thread-safe, which makes its
// error stack and its error printing per thread.
//
// Load works in phases: read the root attributes and model_config; decode
// every layer and collect every unsupported class or option into one error
// before building anything; read the weights (converted to float32 once);
// then build each layer and bind its weights strictly, in weight_names
// order. Every stored weight must be taken by exactly one layer and every
// weight a layer expects must be present with the right shape.
//
// Before libhdf5 sees a file, Load checks that it is a regular file that
// carries the HDF5 signature. Declared dataset sizes are checked against
// Options limits before anything is allocated.
package importer
