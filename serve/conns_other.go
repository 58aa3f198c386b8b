//go:build !unix

package serve

// defaultMaxConns is the connection limit when Options.MaxConns is 0.
func defaultMaxConns() int { return 1024 }
