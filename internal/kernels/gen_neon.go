package kernels

//go:generate go run ./asmgen/neon -o kernels_arm64.s
