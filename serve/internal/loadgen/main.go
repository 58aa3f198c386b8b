// Command loadgen is the load generator of scripts/loadtest.sh: a closed
// loop of concurrent clients that send Open Inference Protocol requests to
// one model for a set time, check every output against a reference, and
// report throughput, latency percentiles and errors.
//
//	loadgen --url http://127.0.0.1:8080 --model W1 --input W1.b32.input.bin \
//	        --ref W1.b32.ref.bin --rows 32 [--concurrency 32] [--duration 10s]
//
// --input holds --rows samples as raw little-endian float32, row-major (the
// layout of ../shared/perf's Wn.bB.input.bin); request k sends sample k mod
// rows, alone (batch 1), and its output must match row k mod rows of --ref
// within --atol. It prints one JSON line and exits 1 if any request failed.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kerasrun/kerasrun/oip"
)

type report struct {
	Label       string         `json:"label,omitempty"`
	Requests    int            `json:"requests"`
	Errors      int            `json:"errors"`
	ErrorKinds  map[string]int `json:"error_kinds,omitempty"`
	Seconds     float64        `json:"seconds"`
	Throughput  float64        `json:"throughput_rps"`
	P50ms       float64        `json:"p50_ms"`
	P90ms       float64        `json:"p90_ms"`
	P99ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	MeanBatch   float64        `json:"mean_batch,omitempty"` // rows per Predict over the whole run, from /metrics
	Concurrency int            `json:"concurrency"`
	Binary      bool           `json:"binary"`
	MaxAbsErr   float64        `json:"max_abs_err"`
}

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "server base URL")
	model := flag.String("model", "W1", "model name")
	inputPath := flag.String("input", "", "raw float32 samples, row-major")
	refPath := flag.String("ref", "", "raw float32 reference outputs, one row per sample")
	rows := flag.Int("rows", 32, "samples in --input and --ref")
	atol := flag.Float64("atol", 1e-4, "largest |output - reference| allowed")
	conc := flag.Int("concurrency", 32, "concurrent clients")
	duration := flag.Duration("duration", 10*time.Second, "measured time")
	warmup := flag.Duration("warmup", time.Second, "unmeasured time before")
	useBinary := flag.Bool("binary", true, "send and receive tensors with the binary extension (else JSON)")
	label := flag.String("label", "", "label for the report")
	flag.Parse()
	if err := run(*url, *model, *inputPath, *refPath, *rows, *atol, *conc, *duration, *warmup, *useBinary, *label); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func readFloats(path string) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of float32", path, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

type sample struct {
	body    []byte
	jsonLen int
	ref     []float32
}

func run(url, model, inputPath, refPath string, rows int, atol float64, conc int, duration, warmup time.Duration, useBinary bool, label string) error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
	c := oip.NewClient(url, hc)
	ctx := context.Background()
	md, err := c.ModelMetadata(ctx, model)
	if err != nil {
		return err
	}
	if len(md.Inputs) != 1 || len(md.Outputs) != 1 {
		return fmt.Errorf("model %s has %d inputs and %d outputs; loadgen drives one of each", model, len(md.Inputs), len(md.Outputs))
	}
	in, err := readFloats(inputPath)
	if err != nil {
		return err
	}
	ref, err := readFloats(refPath)
	if err != nil {
		return err
	}
	if rows <= 0 || len(in)%rows != 0 || len(ref)%rows != 0 {
		return fmt.Errorf("--input (%d values) and --ref (%d values) do not split into %d rows", len(in), len(ref), rows)
	}
	shape := append([]int64{1}, md.Inputs[0].Shape[1:]...)
	per := len(in) / rows
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	if n != int64(per) {
		return fmt.Errorf("a sample of shape %v has %d values; --input has %d per row", shape, n, per)
	}
	// Requests are encoded once: the generator should spend its CPU on
	// sending, not on encoding.
	samples := make([]sample, rows)
	for r := range samples {
		x := oip.NewFP32(md.Inputs[0].Name, shape, in[r*per:(r+1)*per])
		x.Binary = useBinary
		body, jl, err := oip.EncodeRequest(&oip.InferRequest{Inputs: []oip.Tensor{x}, BinaryOutput: useBinary})
		if err != nil {
			return err
		}
		rp := len(ref) / rows
		samples[r] = sample{body: body, jsonLen: jl, ref: ref[r*rp : (r+1)*rp]}
	}
	endpoint := strings.TrimRight(url, "/") + "/v2/models/" + model + "/infer"

	var (
		mu     sync.Mutex
		lat    []time.Duration
		kinds  = map[string]int{}
		maxErr float64
		next   int
	)
	start := time.Now()
	measureFrom := start.Add(warmup)
	stop := measureFrom.Add(duration)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				k := next
				next++
				mu.Unlock()
				t0 := time.Now()
				if !t0.Before(stop) {
					return
				}
				s := &samples[k%rows]
				e, kind := send(hc, endpoint, s, atol)
				d := time.Since(t0)
				mu.Lock()
				if t0.After(measureFrom) {
					lat = append(lat, d)
					if kind != "" {
						kinds[kind]++
					}
					maxErr = max(maxErr, e)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rep := report{Label: label, Requests: len(lat), Concurrency: conc, Binary: useBinary, MaxAbsErr: maxErr, Seconds: duration.Seconds()}
	for _, v := range kinds {
		rep.Errors += v
	}
	if rep.Errors > 0 {
		rep.ErrorKinds = kinds
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		q := func(p float64) float64 {
			i := int(math.Ceil(p*float64(len(lat)))) - 1
			return float64(lat[max(i, 0)].Microseconds()) / 1000
		}
		rep.P50ms, rep.P90ms, rep.P99ms, rep.MaxMs = q(0.5), q(0.9), q(0.99), q(1)
		rep.Throughput = float64(len(lat)) / duration.Seconds()
	}
	rep.MeanBatch = meanBatch(hc, strings.TrimRight(url, "/")+"/metrics", model)
	js, _ := json.Marshal(rep)
	fmt.Println(string(js))
	if rep.Errors > 0 || rep.Requests == 0 {
		return fmt.Errorf("%d errors in %d requests", rep.Errors, rep.Requests)
	}
	return nil
}

// send posts one request and checks its output. It returns the largest
// absolute error and, for a failure, its kind.
func send(hc *http.Client, endpoint string, s *sample, atol float64) (float64, string) {
	req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(s.body))
	if err != nil {
		return 0, "request"
	}
	if s.jsonLen != len(s.body) {
		req.Header.Set(oip.HeaderContentLength, strconv.Itoa(s.jsonLen))
		req.Header.Set("Content-Type", "application/octet-stream")
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "transport"
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "read"
	}
	if resp.StatusCode != http.StatusOK {
		return 0, "status " + strconv.Itoa(resp.StatusCode)
	}
	jl := -1
	if v := resp.Header.Get(oip.HeaderContentLength); v != "" {
		if jl, err = strconv.Atoi(v); err != nil {
			return 0, "header"
		}
	}
	res, err := oip.DecodeResponse(body, jl)
	if err != nil || len(res.Outputs) != 1 {
		return 0, "decode"
	}
	got, err := res.Outputs[0].Float32s()
	if err != nil || len(got) != len(s.ref) {
		return 0, "output shape"
	}
	var worst float64
	for i, v := range got {
		d := math.Abs(float64(v) - float64(s.ref[i]))
		if !(d <= atol) {
			return d, "wrong output"
		}
		worst = max(worst, d)
	}
	return worst, ""
}

// meanBatch reads the mean rows per Predict from the server's metrics, or
// 0 when they cannot be read.
func meanBatch(hc *http.Client, url, model string) float64 {
	resp, err := hc.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	var sum, count float64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case `kerasrun_batch_size_sum{model="` + model + `"}`:
			sum = v
		case `kerasrun_batch_size_count{model="` + model + `"}`:
			count = v
		}
	}
	if count == 0 {
		return 0
	}
	return math.Round(sum/count*100) / 100
}
