package serve

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	batchSize  *prometheus.HistogramVec
	batchTime  *prometheus.HistogramVec
	queueDepth *prometheus.GaugeVec
	panics     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, maxBatch int) *metrics {
	sizes := []float64{1}
	for b := 2; b < maxBatch; b *= 2 {
		sizes = append(sizes, float64(b))
	}
	if maxBatch > 1 {
		sizes = append(sizes, float64(maxBatch))
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kerasrun_requests_total",
			Help: "Inference requests by model, HTTP status code (gRPC: the HTTP status of the same error; 499: the client went away) and protocol (rest or grpc).",
		}, []string{"model", "code", "protocol"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kerasrun_request_duration_seconds",
			Help:    "Time from the arrival of an inference request to its answer.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 17),
		}, []string{"model"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kerasrun_batch_size",
			Help:    "Rows (samples) per Predict call, merged requests together.",
			Buckets: sizes,
		}, []string{"model"}),
		batchTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kerasrun_batch_duration_seconds",
			Help:    "Time of one Predict call on a batch.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 17),
		}, []string{"model"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kerasrun_queue_depth",
			Help: "Inference requests waiting in the model's queue.",
		}, []string{"model"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kerasrun_panics_total",
			Help: "Panics recovered in request handlers, each answered 500.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.batchSize, m.batchTime, m.queueDepth, m.panics)
	return m
}
