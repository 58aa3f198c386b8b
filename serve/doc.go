// Package serve is an inference server for kerasrun models that speaks the
// Open Inference Protocol (the KServe V2 protocol), over REST and gRPC,
// with dynamic batching, limits, Prometheus metrics and graceful shutdown.
//
//	s := serve.New(&serve.Options{MaxBatch: 32, MaxDelay: 2 * time.Millisecond})
//	if err := s.Add("tagger", model); err != nil { ... } // model: *runtime.Model
//	go s.Serve(ln)      // REST
//	go s.ServeGRPC(gln) // gRPC (inference.GRPCInferenceService)
//	...
//	s.Shutdown(ctx) // in-flight requests finish; new ones are refused
//
// # Endpoints
//
//	GET  /v2/health/live              200 {"live": true}
//	GET  /v2/health/ready             200 {"ready": true}; 503 while shutting down
//	GET  /v2                          server metadata
//	GET  /v2/models/{name}            model metadata (also .../versions/1)
//	GET  /v2/models/{name}/ready      200 {"name": ..., "ready": true}
//	POST /v2/models/{name}/infer      inference (also .../versions/1/infer)
//	GET  /v2/models[/{name}]/stats    the statistics extension
//	POST /v2/repository/index         the model repository extension (index only)
//	GET  /metrics                     Prometheus metrics
//
// Errors are {"error": "..."} with the status: 400 for a bad request (bad
// JSON, an unknown input, output or parameter, a wrong datatype or shape,
// data the model refuses: runtime.ErrInvalidInput), 404 for an unknown
// model, version or path, 405 for a wrong method, 408 for a body not
// received within Options.Timeout, 413 for a body over the model's body
// limit, more rows than Options.MaxRows, a response over the response limit
// (or a Predict error matching runtime.ErrLimit), 415 for a
// Content-Encoding other than identity, 422 for a Predict error matching
// layers.ErrUnsupported, 431 for headers over 64 KiB, 500 for a kerasrun
// bug (runtime.ErrInternal, a panic in a model or a handler included),
// whose message carries an incident id that the error log repeats, 503
// with Retry-After when the model's queue is full, no place among
// Options.MaxInflight frees in time, the connection is one of those kept
// for health probes, or the server is shutting down, and 504 when the
// inference runs past Options.Timeout. A client that goes away is logged
// and counted as 499, which never goes on the wire. Strings from the
// client are repeated in errors and logs only up to 96 bytes.
//
// Inputs may be of any numeric datatype whatever the model declares (FP16,
// FP32, FP64, BOOL, INT8 to INT64, UINT8 to UINT64), converted to float32
// exactly: FP64 values are rounded to float32, as Keras casts them, and
// integers above 2^24 in magnitude, which float32 cannot hold, are
// refused. BYTES inputs are refused. Inputs that the model declares as
// integers (token ids) must hold integers. Outputs are FP32.
//
// Parameters: binary_data_output (request), binary_data_size (input) and
// binary_data (output) of the binary tensor data extension, and
// classification (output) of the classification extension: the top N
// classes of each row as BYTES "<value>:<index>", highest first, the value
// written as C's "%f", in a [rows, N] tensor (Triton's format; NaNs sort
// last, ties by index). Any other parameter is a 400 that names it.
//
// # Limits
//
// Every limit has a default, and Server.MemoryBound states what the
// requests in flight may hold: Options.MaxInflight times 8 body limits and
// 3 response limits of the largest model. A REST request waits for its
// place before its body is read. gRPC reads a message before any handler
// runs: past twice MaxInflight, a ModelInfer is refused with
// RESOURCE_EXHAUSTED before its message is read.
// The body limit is checked against Content-Length before the body is
// read, and a chunked body is cut as soon as it passes it; binary tensor
// data is read straight into the tensors, without a copy of the body.
// Each listener of Serve holds at most Options.MaxConns connections, and a
// few more for the health endpoints; near the limit, idle keep-alive
// connections and connections silent for a second are closed, and
// responses ask their client to close the connection. Options.WriteTimeout
// bounds the writing of each response, so a client that stops reading
// frees its handler.
//
// # Dynamic batching
//
// Each model has a bounded queue (Options.QueueSize requests) and
// Options.Workers workers. A free worker takes the oldest queued request
// and every later one whose inputs have the same shape apart from the
// batch axis, up to Options.MaxBatch rows in all, waiting until the oldest
// has been queued for Options.MaxDelay for more to arrive; it runs them as
// one Predict on their inputs concatenated along the batch axis, and hands
// each request exactly its own rows of every output. Requests whose shapes
// differ are never merged, and a request of more than MaxBatch rows runs
// alone. Batching assumes what Keras's predict(batch_size=...) assumes:
// a sample's outputs depend on that sample alone.
//
// A request whose client goes away, or that times out, while queued leaves
// the queue at once, freeing its place; one that is in a forming batch is
// dropped before the batch runs, and a batch all of whose requests are gone
// is cancelled. When a merged batch fails for a reason other than
// cancellation, or its outputs do not have its rows on their first axis,
// its requests run again one by one, so that one request with bad data
// fails alone.
//
// Numbers: the rows a request gets back from a merged batch are the rows
// that one Predict on the whole batch computes, and they are bit-identical
// to a Predict on that request alone: kerasrun's kernels compute each row
// the same way whatever the batch size (internal/kernels).
//
// # Metrics
//
// kerasrun_requests_total{model,code,protocol} (protocol rest or grpc; a
// gRPC request is counted under the HTTP status of its error),
// kerasrun_request_duration_seconds{model}
// (histogram, the whole request), kerasrun_batch_size{model} (histogram,
// rows per Predict), kerasrun_batch_duration_seconds{model} (histogram, one
// Predict), kerasrun_queue_depth{model} (requests waiting),
// kerasrun_inflight_requests (requests holding a place among MaxInflight),
// kerasrun_connections (held by the REST listeners),
// kerasrun_panics_total, and the Go and process collectors. Requests for
// an unknown model count under model="".
//
// # Concurrency
//
// A Server is safe for concurrent use. Models passed to Add are shared by
// all workers and must be safe for concurrent use, as a *runtime.Model is.
package serve
