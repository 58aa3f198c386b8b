//go:build !cgo

package h5ref

import "errors"

// Available reports whether this build can walk files (it has cgo).
const Available = false

// Walk needs cgo.
func Walk(path string) ([]Object, error) { return nil, errors.New("h5ref: built without cgo") }
