package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kerasrun/kerasrun/internal/parallel"
	"github.com/kerasrun/kerasrun/runtime"
)

const soakUsage = `usage: kerasrun soak MODEL.h5 [--arch ARCH.json] [--duration 10m] [--workers N]
                     [--batch B] [--steps T] [--input [NAME=]FILE.npy ...]
                     [--interval 1m] [--load-every 1s] [--max-growth PCT] [--json]

A developer's tool, left out of the command list: run concurrent
predictions for a set time and report the process's resident memory
(VmRSS, VmHWM), Go heap and goroutine counts at the start, every interval
and at the end. Each worker calls Predict in a loop; every 8th call runs
under a context cancelled part-way. The model file is loaded again every
--load-every, and dropped, to exercise the importer and libhdf5. With
--max-growth, exits 1 when the resident memory at the end exceeds that
after warm-up by more than PCT percent.
`

// soakSample is one report line.
type soakSample struct {
	Elapsed     string  `json:"elapsed"`
	RSSKiB      int64   `json:"rss_kib"`
	HWMKiB      int64   `json:"hwm_kib"`
	HeapKiB     int64   `json:"heap_kib"`
	Goroutines  int     `json:"goroutines"` // not counting the kernels' parked helpers
	Predictions int64   `json:"predictions"`
	Cancelled   int64   `json:"cancelled"`
	Loads       int64   `json:"loads"`
	Errors      int64   `json:"errors"`
	PerSecond   float64 `json:"predictions_per_s"`
}

func cmdSoak(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	arch := fs.String("arch", "", "architecture JSON of a weights-only file")
	duration := fs.Duration("duration", 10*time.Minute, "how long to run")
	workers := fs.Int("workers", goruntime.GOMAXPROCS(0)*2, "concurrent Predict loops")
	batch := fs.Int("batch", 4, "batch size of generated inputs")
	steps := fs.Int("steps", 16, "size of free (None) dimensions other than the batch in generated inputs")
	interval := fs.Duration("interval", 0, "report interval (default: duration/10)")
	loadEvery := fs.Duration("load-every", time.Second, "load the model again this often (0: never)")
	maxGrowth := fs.Float64("max-growth", 0, "fail when RSS grows more than this percent after warm-up (0: report only)")
	asJSON := fs.Bool("json", false, "print JSON lines")
	var inputs listFlag
	fs.Var(&inputs, "input", "input .npy file ([NAME=]FILE), repeatable; default: random inputs")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("takes one model file, got %d arguments", len(pos))
	}
	if *duration <= 0 || *workers <= 0 || *batch <= 0 || *steps <= 0 {
		return usagef("--duration, --workers, --batch and --steps must be positive")
	}
	if *interval <= 0 {
		*interval = max(*duration/10, time.Second)
	}
	path := pos[0]
	m, err := loadModel(path, *arch)
	if err != nil {
		return err
	}
	var feeds [][]*runtime.Tensor
	if len(inputs) > 0 {
		in, err := readInputs(m.Inputs(), inputs, nil)
		if err != nil {
			return err
		}
		feeds = append(feeds, in)
	} else {
		for k := 0; k < 4; k++ {
			feeds = append(feeds, soakInputs(m.Inputs(), *batch, *steps, int64(k)))
		}
	}
	// One call first: the inputs must suit the model.
	if _, err := m.Predict(feeds[0]...); err != nil {
		return fmt.Errorf("soak: the inputs do not run: %w (give --input files)", err)
	}

	var predictions, cancelled, loads, errs atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	start := time.Now()
	report := func(final bool) soakSample {
		if final {
			goruntime.GC()
			debug.FreeOSMemory()
		}
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		rss, hwm := procStatus()
		el := time.Since(start)
		s := soakSample{
			Elapsed: el.Round(time.Second).String(), RSSKiB: rss, HWMKiB: hwm, HeapKiB: int64(ms.HeapAlloc >> 10),
			Goroutines: goruntime.NumGoroutine() - parallel.Helpers(), Predictions: predictions.Load(), Cancelled: cancelled.Load(),
			Loads: loads.Load(), Errors: errs.Load(),
		}
		if el > 0 {
			s.PerSecond = float64(s.Predictions) / el.Seconds()
		}
		if *asJSON {
			b, _ := json.Marshal(s)
			fmt.Fprintln(stdout, string(b))
		} else {
			fmt.Fprintf(stdout, "soak %-8s rss %7d KiB  hwm %7d KiB  heap %7d KiB  goroutines %4d  predictions %9d (%.0f/s)  cancelled %6d  loads %5d  errors %d\n",
				s.Elapsed, s.RSSKiB, s.HWMKiB, s.HeapKiB, s.Goroutines, s.Predictions, s.PerSecond, s.Cancelled, s.Loads, s.Errors)
		}
		return s
	}
	first := report(false)

	ctx, stop := context.WithTimeout(context.Background(), *duration)
	defer stop()
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for i := 0; ctx.Err() == nil; i++ {
				in := feeds[(w+i)%len(feeds)]
				if i%8 == 7 {
					// Cancelled part-way (or not, if it is quick).
					cctx, cancel := context.WithTimeout(ctx, time.Duration(rng.Intn(2000))*time.Microsecond)
					_, err := m.PredictContext(cctx, in...)
					cancel()
					switch {
					case err == nil:
						predictions.Add(1)
					case cctx.Err() != nil:
						cancelled.Add(1)
					default:
						fail(err)
					}
					continue
				}
				if _, err := m.Predict(in...); err != nil {
					fail(err)
					continue
				}
				predictions.Add(1)
			}
		}(w)
	}
	if *loadEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(*loadEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if _, err := loadModel(path, *arch); err != nil {
						fail(err)
					} else {
						loads.Add(1)
					}
				}
			}
		}()
	}
	// Warm-up ends at the first report: pools and caches are full by then.
	var warm soakSample
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
		case <-tick.C:
			s := report(false)
			if n == 0 {
				warm = s
			}
			continue
		}
		break
	}
	wg.Wait()
	last := report(true)
	if warm.RSSKiB == 0 {
		warm = first
	}
	growth := 100 * float64(last.RSSKiB-warm.RSSKiB) / float64(max(warm.RSSKiB, 1))
	fmt.Fprintf(stdout, "soak done: %s, %d predictions, %d cancelled, %d loads, %d errors; rss %d KiB at start, %d KiB after warm-up, %d KiB at the end (%+.1f%%); goroutines %d at start, %d at the end\n",
		last.Elapsed, last.Predictions, last.Cancelled, last.Loads, last.Errors, first.RSSKiB, warm.RSSKiB, last.RSSKiB, growth, first.Goroutines, last.Goroutines)
	if e, ok := firstErr.Load().(string); ok {
		return fmt.Errorf("soak: %d errors, the first: %s", last.Errors, e)
	}
	if last.Goroutines > first.Goroutines {
		return fmt.Errorf("soak: %d goroutines at the end, %d at the start", last.Goroutines, first.Goroutines)
	}
	if *maxGrowth > 0 && growth > *maxGrowth {
		return fmt.Errorf("soak: resident memory grew %.1f%% after warm-up, over --max-growth %.1f%%", growth, *maxGrowth)
	}
	return nil
}

// soakInputs makes random inputs for the model: normal floats, or small
// integer ids for integer inputs, free dimensions batch then steps.
func soakInputs(specs []runtime.IO, batch, steps int, seed int64) []*runtime.Tensor {
	rng := rand.New(rand.NewSource(seed))
	out := make([]*runtime.Tensor, len(specs))
	for i, s := range specs {
		shape := make([]int, len(s.Shape))
		for j, d := range s.Shape {
			switch {
			case j == 0:
				shape[j] = batch
			case d < 0:
				shape[j] = steps
			default:
				shape[j] = d
			}
		}
		t := runtime.Zeros(shape...)
		for k := range t.Data {
			if strings.HasPrefix(s.DType, "int") || strings.HasPrefix(s.DType, "uint") {
				t.Data[k] = float32(rng.Intn(2))
			} else {
				t.Data[k] = float32(rng.NormFloat64())
			}
		}
		out[i] = t
	}
	return out
}

// procStatus reads VmRSS and VmHWM, in KiB, from /proc/self/status (zero
// where it cannot).
func procStatus() (rss, hwm int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		switch key {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}
