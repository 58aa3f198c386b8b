package main

import (
	"github.com/kerasrun/kerasrun/internal/inputfile"
	"github.com/kerasrun/kerasrun/runtime"
)

// readInputFile reads one --input file: .npy, JSON (nested lists or
// {"shape", "data"}), or raw little-endian float32 with shape, which
// --shape gives. shape is nil when --shape named no shape for this input;
// given for an .npy or JSON file, it must match the file's. An error about
// the file's content matches runtime.ErrInvalidInput: exit status 1.
func readInputFile(path string, shape []int) (*runtime.Tensor, error) {
	return inputfile.Read(path, shape)
}
