package main

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kerasrun/kerasrun/oip"
)

// grpcInfer connects to the server's gRPC listener (plaintext, loopback)
// and returns its Infer and a function that closes the connection. One
// connection carries every client, multiplexed as a gRPC channel does.
func grpcInfer(addr string) (func(ctx context.Context, model string, req *oip.InferRequest) (*oip.InferResponse, error), func(), error) {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	c := oip.NewGRPCClient(cc)
	return c.Infer, func() { cc.Close() }, nil
}
