package importer

import (
	"context"
	"errors"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/runtime"
)

// inputFor returns a deterministic random input for call i, with a batch
// size of 1 to 3, for a model whose input spec is [None, steps, features].
func inputFor(spec runtime.IO, seed int64) *runtime.Tensor {
	rng := rand.New(rand.NewSource(seed))
	shape := append([]int{1 + int(seed%3)}, spec.Shape[1:]...)
	t := runtime.Zeros(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64())
	}
	return t
}

func sameBits(a, b *runtime.Tensor) bool {
	if len(a.Shape) != len(b.Shape) || len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			return false
		}
	}
	return true
}

// TestConcurrentPredict runs 32 goroutines of 100 Predict calls each on one
// model, every call with its own input, plus one input shared by all
// goroutines, and compares every output bit for bit with a serial run.
func TestConcurrentPredict(t *testing.T) {
	const goroutines, calls = 32, 100
	// Small models, so that the test stays fast under -race: an LSTM and a
	// Conv1D.
	for _, id := range []string{"lstm_seq", "conv1d_same"} {
		t.Run(id, func(t *testing.T) {
			m, err := Load(filepath.Join("..", "fixtures", id, "model.h5"), nil)
			if err != nil {
				t.Fatal(err)
			}
			spec := m.Inputs()[0]
			n := goroutines*calls + 1 // the last one is shared
			inputs := make([]*runtime.Tensor, n)
			want := make([][]*runtime.Tensor, n)
			for k := range inputs {
				inputs[k] = inputFor(spec, int64(k))
				if want[k], err = m.Predict(inputs[k]); err != nil {
					t.Fatal(err)
				}
			}
			// The outputs depend on the input, so comparing them means
			// something.
			if sameBits(want[0][0], want[3][0]) {
				t.Fatal("inputs 0 and 3 (both batch 1) give the same output")
			}
			shared := inputs[n-1]
			sharedCopy := shared.Clone()
			var wg sync.WaitGroup
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := 0; i < calls; i++ {
						for _, k := range []int{g*calls + i, n - 1} {
							got, err := m.Predict(inputs[k])
							if err != nil {
								t.Errorf("goroutine %d call %d: %v", g, i, err)
								return
							}
							if len(got) != len(want[k]) {
								t.Errorf("goroutine %d call %d: %d outputs, want %d", g, i, len(got), len(want[k]))
								return
							}
							for j := range got {
								if !sameBits(got[j], want[k][j]) {
									t.Errorf("goroutine %d call %d (input %d): output %d differs from the serial run", g, i, k, j)
									return
								}
							}
						}
					}
				}(g)
			}
			wg.Wait()
			if !sameBits(shared, sharedCopy) {
				t.Error("concurrent Predict calls changed the shared input")
			}
		})
	}
}

// TestConcurrentLoad loads different fixtures from 8 goroutines at once,
// checks each against its expected outcome, and checks that every HDF5
// handle is closed afterwards.
func TestConcurrentLoad(t *testing.T) {
	cases, err := golden.Load(filepath.Join("..", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, perGoroutine = 8, 12
	before := openObjects()
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				// Goroutines start at different cases and step by a
				// stride prime to the count, so they load different files
				// at the same time.
				c := &cases[(g*9+i*7)%len(cases)]
				m, err := loadCase(c)
				switch {
				case c.Expect == "error":
					if err == nil && len(c.Inputs) > 0 {
						in, rerr := c.ReadInputs()
						if rerr != nil {
							t.Error(rerr)
							return
						}
						_, err = m.Predict(in...)
					}
					if err == nil {
						t.Errorf("%s: no error", c.ID)
					}
				case err != nil:
					t.Errorf("%s: %v", c.ID, err)
				default:
					in, err := c.ReadInputs()
					if err != nil {
						t.Error(err)
						return
					}
					got, err := m.Predict(in...)
					if err != nil {
						t.Errorf("%s: predict: %v", c.ID, err)
					} else if err := c.Check(got); err != nil {
						t.Errorf("%s: %v", c.ID, err)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	if after := openObjects(); after != before {
		t.Errorf("%d HDF5 objects open after the loads, %d before", after, before)
	}
}

// TestHDF5ErrorsStayQuiet loads a file that libhdf5 itself rejects from
// several OS threads at once, in a child process, and checks that libhdf5
// prints nothing to stderr: its error goes into the returned error.
func TestHDF5ErrorsStayQuiet(t *testing.T) {
	if !haveLibhdf5 {
		t.Skip("libhdf5's error stack: this build has no libhdf5 (no cgo)")
	}
	// A corrupt dataset object header: the prechecks pass it, and libhdf5
	// fails on it.
	bad, err := filepath.Abs(filepath.Join(badDir, "corrupt_dataset_header.h5"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHDF5ErrorsChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "KERASRUN_H5_CHILD="+bad)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "--- PASS: TestHDF5ErrorsChild") {
		t.Fatalf("the child test did not run:\n%s", stdout.String())
	}
	out := stdout.String() + stderr.String()
	if strings.Contains(out, "HDF5-DIAG") {
		i := strings.Index(out, "HDF5-DIAG")
		t.Errorf("libhdf5 printed its error stack:\n%s", out[i:min(len(out), i+400)])
	}
}

// TestHDF5ErrorsChild is the child of TestHDF5ErrorsStayQuiet; it does
// nothing unless KERASRUN_H5_CHILD names the file to load.
func TestHDF5ErrorsChild(t *testing.T) {
	path := os.Getenv("KERASRUN_H5_CHILD")
	if path == "" {
		return
	}
	const threads = 8
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := 0; i < threads; i++ {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			// A goroutine locked to its thread keeps it while it waits,
			// so the others run on other OS threads.
			goruntime.LockOSThread()
			defer goruntime.UnlockOSThread()
			ready.Done()
			<-start
			_, err := Load(path, nil)
			if err == nil || !strings.Contains(err.Error(), "deserialize") {
				t.Errorf("Load(%s) = %v, want libhdf5's object header error", path, err)
			}
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// TestPredictContextCancelLongSequence runs an LSTM over a 100,000-step
// sequence whose context ends while it runs: PredictContext must return
// the context's error at its next check, long before the sequence ends.
// The context ends at its cancelAt-th poll, so the test counts the polls
// (the work done), never the time taken.
func TestPredictContextCancelLongSequence(t *testing.T) {
	const units, features, steps = 32, 3, 100_000
	path := filepath.Join(t.TempDir(), "lstm_any_length.h5")
	cfg := sequential(`{"class_name": "LSTM", "config": {"name": "lstm_1", "units": 32, "batch_input_shape": [null, null, 3], "dtype": "float32", "return_sequences": false}}`)
	writeH5(t, h5File{Path: path, ModelConfig: &cfg, Layers: []h5Layer{{Name: "lstm_1", Weights: []h5Weight{
		{Name: "lstm_1/kernel:0", Shape: []int{features, 4 * units}},
		{Name: "lstm_1/recurrent_kernel:0", Shape: []int{units, 4 * units}},
		{Name: "lstm_1/bias:0", Shape: []int{4 * units}},
	}}}})
	m, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := runtime.Zeros(1, steps, features)
	for i := range x.Data {
		x.Data[i] = float32(i%11)/11 - 0.5
	}
	// A cancel and a deadline work the same way.
	for _, end := range []error{context.Canceled, context.DeadlineExceeded} {
		const cancelAt = 20
		ctx := &pollContext{cancelAt: cancelAt, err: end, done: make(chan struct{})}
		if _, err := m.PredictContext(ctx, x); !errors.Is(err, end) {
			t.Fatalf("PredictContext returned %v, want %v (did the 100,000 steps finish?)", err, end)
		}
		// The LSTM polls about every 64 steps: a run to the end would poll
		// about 1,500 times. After the poll that ends the context, at most
		// one more (the model's, between layers) may come.
		n := ctx.polls.Load()
		t.Logf("%v: returned at poll %d", end, n)
		if n > cancelAt+1 {
			t.Errorf("%v: %d polls of the context, want it to return at poll %d", end, n, cancelAt)
		}
	}
}

// pollContext is a context that ends, with err, at the cancelAt-th call of
// its Err method, and counts those calls.
type pollContext struct {
	cancelAt int64
	err      error
	polls    atomic.Int64
	done     chan struct{}
	once     sync.Once
}

func (c *pollContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *pollContext) Value(any) any               { return nil }
func (c *pollContext) Done() <-chan struct{}       { return c.done }

func (c *pollContext) Err() error {
	if c.polls.Add(1) < c.cancelAt {
		return nil
	}
	c.once.Do(func() { close(c.done) })
	return c.err
}
