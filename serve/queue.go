package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kerasrun/kerasrun/runtime"
)

var (
	errQueueFull = errors.New("serve: the queue is full")
	errClosed    = errors.New("serve: the server is shutting down")
	// errBatch marks a batch whose outputs do not split into its requests.
	errBatch = errors.New("serve: outputs do not split by rows")
)

// job is one inference request in a queue.
type job struct {
	ctx  context.Context
	key  string // input shapes past the batch axis: jobs merge only with equal keys
	rows int
	in   []*runtime.Tensor
	enq  time.Time
	done chan result // buffered: the worker never blocks on it

	// release gives back the request's place among those in flight. Its
	// waiter calls it, unless it left while the job was in a batch: then
	// the worker calls it once the batch is done with the job's data.
	release func()

	// Guarded by queue.mu.
	taken     bool // out of the queue and in a batch
	delivered bool // its result is in done
	abandoned bool // its waiter left while it was in a batch
}

type result struct {
	out []*runtime.Tensor
	err error
}

type queueOptions struct {
	maxBatch int
	maxDelay time.Duration
	size     int
	workers  int
}

// queue is the bounded queue of one model and its workers.
type queue struct {
	m    *model
	opts queueOptions
	log  *slog.Logger

	depth     prometheus.Gauge
	batchSize prometheus.Observer
	batchTime prometheus.Observer

	mu      sync.Mutex
	pending []*job // FIFO
	forming int    // jobs taken into the batch being gathered
	closed  bool

	// wake tells the gathering worker that a job arrived or the queue
	// closed. Only the worker that holds gather reads it.
	wake   chan struct{}
	gather sync.Mutex
	wg     sync.WaitGroup
}

func newQueue(m *model, o queueOptions, met *metrics, log *slog.Logger) *queue {
	q := &queue{
		m: m, opts: o, log: log,
		depth:     met.queueDepth.WithLabelValues(m.name),
		batchSize: met.batchSize.WithLabelValues(m.name),
		batchTime: met.batchTime.WithLabelValues(m.name),
		wake:      make(chan struct{}, 1),
	}
	q.depth.Set(0)
	q.wg.Add(o.workers)
	for range o.workers {
		go q.worker()
	}
	return q
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// do queues j and waits for its outputs, or for j.ctx to end. A job still
// queued when its context ends leaves the queue at once.
func (q *queue) do(j *job) ([]*runtime.Tensor, error) {
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return nil, errClosed
	case len(q.pending) >= q.opts.size:
		q.mu.Unlock()
		return nil, errQueueFull
	}
	j.enq = time.Now()
	q.pending = append(q.pending, j)
	q.depth.Set(float64(len(q.pending)))
	q.mu.Unlock()
	q.signal()
	select {
	case r := <-j.done:
		return r.out, r.err
	case <-j.ctx.Done():
		q.remove(j)
		return nil, j.ctx.Err()
	}
}

// deliver hands a job its result, and gives back the job's place in flight
// if its waiter has left.
func (q *queue) deliver(j *job, r result) {
	q.mu.Lock()
	j.delivered = true
	abandoned := j.abandoned
	q.mu.Unlock()
	j.done <- r
	if abandoned && j.release != nil {
		j.release()
	}
}

// remove takes j out of the queue if no worker has taken it yet; a job
// in a batch whose result has not come is marked abandoned instead.
func (q *queue) remove(j *job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if j.taken {
		j.abandoned = !j.delivered
		return
	}
	for i, p := range q.pending {
		if p == j {
			copy(q.pending[i:], q.pending[i+1:])
			q.pending[len(q.pending)-1] = nil
			q.pending = q.pending[:len(q.pending)-1]
			break
		}
	}
	q.depth.Set(float64(len(q.pending)))
}

// close stops the workers once the queue is empty and waits for them.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
	q.wg.Wait()
}

func (q *queue) worker() {
	defer q.wg.Done()
	for {
		b := q.next()
		if b == nil {
			return
		}
		q.run(b)
	}
}

// next forms the next batch: the oldest job and every later one with the
// same key, up to maxBatch rows, waiting until the oldest has been queued
// for maxDelay. It returns nil when the queue is closed and empty. One
// worker gathers at a time.
func (q *queue) next() []*job {
	q.gather.Lock()
	defer q.gather.Unlock()
	var (
		batch    []*job
		rows     int
		key      string
		deadline time.Time
		timer    *time.Timer
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		q.mu.Lock()
		if batch == nil {
			if len(q.pending) == 0 {
				closed := q.closed
				q.mu.Unlock()
				if closed {
					return nil
				}
				<-q.wake
				continue
			}
			key = q.pending[0].key
			deadline = q.pending[0].enq.Add(q.opts.maxDelay)
		}
		kept := q.pending[:0]
		for _, j := range q.pending {
			if j.key == key && (rows == 0 || rows+j.rows <= q.opts.maxBatch) {
				j.taken = true
				batch = append(batch, j)
				rows += j.rows
			} else {
				kept = append(kept, j)
			}
		}
		clear(q.pending[len(kept):])
		q.pending = kept
		q.depth.Set(float64(len(q.pending)))
		closed := q.closed
		wait := time.Until(deadline)
		done := rows >= q.opts.maxBatch || closed || wait <= 0
		q.forming = len(batch)
		if done {
			q.forming = 0
		}
		q.mu.Unlock()
		if done {
			return batch
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		select {
		case <-q.wake:
		case <-timer.C:
		}
	}
}

// run runs a batch and hands each job its rows.
func (q *queue) run(batch []*job) {
	live := batch[:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			q.deliver(j, result{err: err}) // dropped before running
			continue
		}
		live = append(live, j)
	}
	now := time.Now()
	for _, j := range live {
		q.m.stats.queued(now.Sub(j.enq))
	}
	switch len(live) {
	case 0:
		return
	case 1:
		j := live[0]
		out, err := q.predict(j.ctx, j.rows, j.in)
		q.deliver(j, result{out, err})
		return
	}
	rows := 0
	for _, j := range live {
		rows += j.rows
	}
	in := make([]*runtime.Tensor, len(live[0].in))
	for k := range in {
		shape := append([]int{rows}, live[0].in[k].Shape[1:]...)
		data := make([]float32, 0, runtime.NumElements(shape))
		for _, j := range live {
			data = append(data, j.in[k].Data...)
		}
		in[k] = &runtime.Tensor{Shape: shape, Data: data}
	}
	// The batch runs until every one of its requests is gone.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var left atomic.Int32
	left.Store(int32(len(live)))
	for _, j := range live {
		stop := context.AfterFunc(j.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	out, err := q.predict(ctx, rows, in)
	if err == nil {
		err = checkRows(out, rows)
	}
	if err != nil {
		if ctx.Err() != nil {
			for _, j := range live {
				q.deliver(j, result{err: j.ctx.Err()})
			}
			return
		}
		// One request's bad data must not fail the others, and a model
		// whose outputs do not split by rows still answers: run them one
		// by one.
		q.log.Warn("batch failed; running its requests one by one", "model", q.m.name, "requests", len(live), "rows", rows, "error", err)
		for _, j := range live {
			if j.ctx.Err() != nil {
				q.deliver(j, result{err: j.ctx.Err()})
				continue
			}
			o, err := q.predict(j.ctx, j.rows, j.in)
			q.deliver(j, result{o, err})
		}
		return
	}
	r0 := 0
	for _, j := range live {
		mine := make([]*runtime.Tensor, len(out))
		for k, t := range out {
			per := len(t.Data) / rows
			shape := append([]int{j.rows}, t.Shape[1:]...)
			mine[k] = &runtime.Tensor{Shape: shape, Data: t.Data[r0*per : (r0+j.rows)*per : (r0+j.rows)*per]}
		}
		q.deliver(j, result{out: mine})
		r0 += j.rows
	}
}

// checkRows checks that every output has the batch's rows on its first
// axis.
func checkRows(out []*runtime.Tensor, rows int) error {
	for k, t := range out {
		if len(t.Shape) == 0 || t.Shape[0] != rows {
			return fmt.Errorf("%w: output %d has shape %v for a batch of %d samples", errBatch, k, t.Shape, rows)
		}
	}
	return nil
}

// predict runs the model. A panic in it (a kerasrun model returns one as
// an error itself; any other Model may not) becomes a
// *runtime.InternalError: the worker goroutine would otherwise take the
// process down.
func (q *queue) predict(ctx context.Context, rows int, in []*runtime.Tensor) (out []*runtime.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &runtime.InternalError{Value: r}
		}
	}()
	start := time.Now()
	out, err = q.m.m.PredictContext(ctx, in...)
	q.batchTime.Observe(time.Since(start).Seconds())
	q.m.stats.executed(time.Since(start))
	q.batchSize.Observe(float64(rows))
	return out, err
}
