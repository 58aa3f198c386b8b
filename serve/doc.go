// Package serve is an inference server for kerasrun models that speaks the
// REST side of the Open Inference Protocol (the KServe V2 protocol), with
// dynamic batching, limits, Prometheus metrics and graceful shutdown.
//
//	s := serve.New(&serve.Options{MaxBatch: 32, MaxDelay: 2 * time.Millisecond})
//	if err := s.Add("tagger", model); err != nil { ... } // model: *runtime.Model
//	go s.Serve(ln)
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
//	GET  /metrics                     Prometheus metrics
//
// Errors are {"error": "..."} with the status: 400 for a bad request (bad
// JSON, an unknown input or output, a wrong datatype or shape, data the
// model refuses: runtime.ErrInvalidInput), 404 for an unknown model,
// version or path, 405 for a wrong method, 413 for a body over
// Options.MaxBodyBytes (or a Predict error matching runtime.ErrLimit), 422
// for a Predict error matching layers.ErrUnsupported, 500 for a kerasrun
// bug (runtime.ErrInternal, a panic in a model included), whose message
// carries an id that the error log repeats, 415 for a
// Content-Encoding other than identity, 503 with Retry-After when the
// model's queue is full or the server is shutting down, 504 when the
// request runs past Options.Timeout, and 499 (logged, never read) when the
// client goes away first.
//
// Inputs may be FP32, FP64, INT32 or INT64 whatever the model declares:
// FP64 values are rounded to float32, as Keras casts them, and integers
// above 2^24 in magnitude, which float32 cannot hold, are refused. Inputs
// that the model declares as integers (token ids) must hold integers.
// Outputs are FP32.
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
// kerasrun_requests_total{model,code}, kerasrun_request_duration_seconds{model}
// (histogram, the whole request), kerasrun_batch_size{model} (histogram,
// rows per Predict), kerasrun_batch_duration_seconds{model} (histogram, one
// Predict), kerasrun_queue_depth{model} (requests waiting), and the Go and
// process collectors. Requests for an unknown model count under model="".
//
// # Concurrency
//
// A Server is safe for concurrent use. Models passed to Add are shared by
// all workers and must be safe for concurrent use, as a *runtime.Model is.
package serve
