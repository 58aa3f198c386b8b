package serve

import "context"

// grpcSide is the server's gRPC transport state.
type grpcSide struct{}

// shutdownGRPC stops the gRPC servers: gracefully, then at once when ctx
// ends.
func (s *Server) shutdownGRPC(ctx context.Context) {}
