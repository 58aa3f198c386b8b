// Package layers holds kerasrun's native implementations of Keras layers and
// the registry that maps a Keras class_name to them.
//
// Each Keras class family lives in its own file and registers its class names
// in init. Loading a layer has two phases, kept apart on purpose:
//
//  1. Decode turns a layer's JSON config into a typed Config. Every option is
//     either understood, explicitly ignored because it only matters in
//     training (initializers, regularizers, constraints, dropout rates), or
//     rejected with an error that names the layer, its class and the option.
//     Nothing is silently ignored.
//  2. Config.Build takes the static input shapes and the layer's weights, in
//     the order Keras stored them, checks every shape and returns an immutable
//     runtime.Layer.
//
// Masks: a Config that accepts masked inputs implements MaskRule; the
// importer applies the rules statically at load, so a masked input reaching a
// layer that Keras would refuse fails at load (mask.go).
//
// Layout: tensors are float32, row-major, batch first (see package runtime).
// Weights keep the Keras layout ([in, out] kernels, gate blocks side by side)
// unless a file says otherwise; cuDNN weights are converted at build
// (cudnn.go). Products run on weights packed for internal/kernels: LSTM
// weights are packed at build, their columns in the block order of
// gateBlocks so that a step splits into independent blocks (gateblocks.go);
// the others are packed on first use. Large packed weights live in
// huge-page mappings (kernels.WeightFloats).
//
// Parallelism: with GOMAXPROCS > 1, a recurrent layer splits a batch with
// rows to spare into pieces of rows, each running its own time loop on a
// core (recurPieces), and otherwise each step by gate blocks; Bidirectional
// runs its two directions on half the cores each (withCores), writing the
// halves of a concatenated sequence in place (seqView); Conv1D, pooling
// and Embedding split their samples, the depthwise convolutions their
// output rows (depthwise2D, channels innermost), Conv2D blocks of output
// rows (a block's im2col rows, then their product, while they are in
// cache), ZeroPadding2D its output rows, the element-wise layers (Add of
// two inputs among them) their chunks of values, and large products their row or column chunks,
// on the helpers of parallel.For. The 2-D convolutions run on
// channels_last data; a channels_first input is moved channels last and
// the output moved back. Work too small to
// pay for a hand-off, or fine-grained while another process competes for
// the cores (parallel.SplitWorth), stays on the caller. While another
// process competes (parallel.Contended), an LSTM's steps are shared by the
// cores as peers that never wait for a descheduled one (lstm_shared.go),
// and Bidirectional cuts its directions into pieces of rows that the cores
// claim one at a time (runPieces). Every split gives the bits of the
// serial run.
//
// Memory: outputs come from runtime.Zeros/Empty (pooled; Predict recycles
// them), scratch from the same pools, given back when the call ends.
//
// Concurrency: built layers are immutable and safe for concurrent use (their
// lazily packed weights are made once, under a sync.Once; scratch buffers
// never outlive a call). The
// registry is written only from init functions and from Register, which must
// be called before models are loaded.
//
// This package is pure Go; it never needs cgo or libhdf5.
package layers
