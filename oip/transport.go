package oip

import "context"

// InferClient is what Client (REST) and GRPCClient (gRPC) both do, for code
// that works over either transport. A failure the server answers is an
// error that errors.As finds an *Error in: Client returns one, and
// GRPCClient's *GRPCError converts to one with the REST status of the
// same failure.
type InferClient interface {
	// Live reports whether the server is live.
	Live(ctx context.Context) (bool, error)
	// Ready reports whether the server is ready for inference.
	Ready(ctx context.Context) (bool, error)
	// ModelReady reports whether a model is ready.
	ModelReady(ctx context.Context, model string) (bool, error)
	// ServerMetadata returns the server's metadata.
	ServerMetadata(ctx context.Context) (*ServerMetadata, error)
	// ModelMetadata returns a model's metadata.
	ModelMetadata(ctx context.Context, model string) (*ModelMetadata, error)
	// Infer runs an inference on a model.
	Infer(ctx context.Context, model string, req *InferRequest) (*InferResponse, error)
}

var (
	_ InferClient = (*Client)(nil)
	_ InferClient = (*GRPCClient)(nil)
)
