package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGenerated fails when kernels_arm64.s is not what the generator writes
// now: run `go generate ./internal/kernels` after changing the generator.
func TestGenerated(t *testing.T) {
	have, err := os.ReadFile("../../kernels_arm64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, generate()) {
		t.Fatal("internal/kernels/kernels_arm64.s is stale: run go generate ./internal/kernels")
	}
}
