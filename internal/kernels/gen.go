package kernels

//go:generate go run ./asmgen -o kernels_amd64.s
