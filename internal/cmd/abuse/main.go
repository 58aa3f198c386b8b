// Command abuse is the hostile-client suite of `kerasrun serve` (make
// abuse, scripts/abuse.sh): it starts the server binary on loopback with
// small limits and attacks it as a careless or malicious client would, one
// case at a time, each bounded in time and traffic:
//
//	slowloris      connections sending a request header a byte at a time
//	slow-body      a POST body that trickles past --timeout
//	slow-reader    a large response whose client stops reading
//	shutdown       SIGTERM while a client is stuck on a large response
//	flood          idle connections up to and past --max-conns
//	oversize       a Content-Length, and a chunked body, over the body limit
//	overflow       shapes whose element or byte counts overflow int64
//	huge-names     megabyte names, ids and model names
//	rows           a request over --max-rows
//	rss            the largest accepted request, 2 x --max-inflight at once
//	latency        200 concurrent clients, REST and gRPC
//
//	go run ./internal/cmd/abuse [--bin bin/kerasrun] [--long] [--cases a,b]
//
// It prints one PASS, FAIL or SKIP line per case with what it measured,
// then a Markdown table of the figures, and exits 1 if a case failed or was
// skipped (a case is skipped when the binary lacks a flag it needs;
// --allow-skip turns that into a pass). It only connects to the servers it
// starts, on 127.0.0.1.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// config is the suite's parameters: the short run's by default, scaled up
// by --long.
type config struct {
	bin      string
	fixtures string
	long     bool
	flags    map[string]bool // the flags the binary's serve takes
	nofile   uint64          // the descriptor limit after raising it

	slowConns   int           // slowloris connections
	loadTime    time.Duration // each latency run
	rssTime     time.Duration // the RSS load
	clients     int           // latency clients
	floodConns  int           // --max-conns of the flood server
	rssSlack    int64         // allowed over idle RSS + request_memory
	memLimit    bool          // run the RSS server with --memory-limit
	rssMaxRows  int           // --max-rows of the RSS server
	rssInflight int           // --max-inflight of the RSS server
}

// result is one case's outcome.
type result struct {
	name   string
	status string // PASS, FAIL or SKIP
	detail string
}

// figures are the numbers of the closing table.
type figures struct {
	idleRSS, peakRSS, requestMemory, rssBound int64
	heldConns, maxConns                       int
	healthOK                                  bool
	rest, grpc                                *latencyReport
}

var caseNames = []string{"slowloris", "slow-body", "slow-reader", "shutdown", "flood", "oversize", "overflow", "huge-names", "rows", "rss", "latency"}

func main() {
	cfg := config{}
	flag.StringVar(&cfg.bin, "bin", "bin/kerasrun", "the kerasrun binary")
	flag.StringVar(&cfg.fixtures, "fixtures", "fixtures", "the fixtures folder")
	flag.BoolVar(&cfg.long, "long", false, "scale up for a closing-note measurement (20 s latency runs, as many connections as descriptors allow)")
	cases := flag.String("cases", "", "comma-separated cases to run (default all: "+strings.Join(caseNames, ",")+")")
	allowSkip := flag.Bool("allow-skip", false, "exit 0 when cases were skipped for flags the binary lacks")
	rssSlack := flag.Int64("rss-slack", 64<<20, "bytes the peak RSS may exceed idle RSS + request_memory by (runtime and GC headroom)")
	flag.BoolVar(&cfg.memLimit, "rss-memory-limit", true, "run the RSS case's server with --memory-limit request_memory + rss-slack/2, as a pod's memory limit would")
	flag.Parse()
	cfg.rssSlack = *rssSlack

	want := caseNames
	if *cases != "" {
		want = strings.Split(*cases, ",")
		for _, c := range want {
			if !slices.Contains(caseNames, c) {
				fmt.Fprintf(os.Stderr, "abuse: unknown case %q (cases: %s)\n", c, strings.Join(caseNames, ","))
				os.Exit(2)
			}
		}
	}
	if abs, err := filepath.Abs(cfg.bin); err == nil {
		cfg.bin = abs
	}
	fl, err := serveFlags(cfg.bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "abuse:", err)
		os.Exit(2)
	}
	cfg.flags = fl
	cfg.nofile = raiseNofile()
	cfg.scale()

	start := time.Now()
	fmt.Printf("kerasrun serve hostile-client suite (%s mode): %s, descriptor limit %d\n", map[bool]string{false: "short", true: "long"}[cfg.long], cfg.bin, cfg.nofile)
	var res []result
	fig := &figures{}
	report := func(r result) {
		res = append(res, r)
		fmt.Printf("%-4s %-12s %s\n", r.status, r.name, r.detail)
	}
	mainCases := []string{"slowloris", "slow-body", "slow-reader", "shutdown", "oversize", "overflow", "huge-names", "rows"}
	if anyOf(want, mainCases) {
		runMain(&cfg, want, report)
	}
	if slices.Contains(want, "flood") {
		report(caseFlood(&cfg, fig))
	}
	if slices.Contains(want, "rss") {
		report(caseRSS(&cfg, fig))
	}
	if slices.Contains(want, "latency") {
		for _, r := range caseLatency(&cfg, fig) {
			report(r)
		}
	}
	fmt.Printf("\n%s\n", fig.table(&cfg))
	failed, skipped := 0, 0
	for _, r := range res {
		switch r.status {
		case "FAIL":
			failed++
		case "SKIP":
			skipped++
		}
	}
	fmt.Printf("%d cases: %d passed, %d failed, %d skipped, in %.1f s\n", len(res), len(res)-failed-skipped, failed, skipped, time.Since(start).Seconds())
	if failed > 0 || (skipped > 0 && !*allowSkip) {
		os.Exit(1)
	}
}

func anyOf(want, of []string) bool {
	for _, w := range want {
		if slices.Contains(of, w) {
			return true
		}
	}
	return false
}

// scale sets the case sizes of the short or the long run.
func (c *config) scale() {
	c.slowConns, c.loadTime, c.rssTime, c.clients, c.floodConns = 64, 3*time.Second, 4*time.Second, 200, 256
	c.rssMaxRows, c.rssInflight = 8192, 4
	if c.long {
		c.slowConns, c.loadTime, c.rssTime = 200, 20*time.Second, 20*time.Second
		// The flood server holds floodConns connections, and the suite
		// opens a quarter more: both under the descriptor limit, with
		// room for the listeners, files and probes.
		c.floodConns = max(256, int(c.nofile-300)*4/5)
	}
}

// raiseNofile raises the soft RLIMIT_NOFILE to the hard limit (the server
// subprocesses inherit it) and returns the limit in force.
func raiseNofile() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	if rl.Cur < rl.Max {
		up := rl
		up.Cur = rl.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			rl = up
		}
	}
	return rl.Cur
}

// needFlags returns the flags of names that the binary lacks.
func (c *config) needFlags(names ...string) []string {
	var miss []string
	for _, n := range names {
		if !c.flags[n] {
			miss = append(miss, "--"+n)
		}
	}
	return miss
}

// serverArgs keeps the flag/value pairs of kv whose flag the binary takes
// (so that the cases that need no new flag still run on an older binary)
// and returns them with the dropped flags.
func (c *config) serverArgs(kv ...string) (args, dropped []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		name := strings.TrimLeft(kv[i], "-")
		if name == "model" || c.flags[name] {
			args = append(args, kv[i], kv[i+1])
		} else {
			dropped = append(dropped, kv[i])
		}
	}
	return args, dropped
}

func (c *config) fixture(id string) string {
	return filepath.Join(c.fixtures, id, "model.h5")
}

func pass(name, format string, args ...any) result {
	return result{name, "PASS", fmt.Sprintf(format, args...)}
}

func fail(name, format string, args ...any) result {
	return result{name, "FAIL", fmt.Sprintf(format, args...)}
}

func skip(name, format string, args ...any) result {
	return result{name, "SKIP", fmt.Sprintf(format, args...)}
}

// table is the Markdown table of the figures measured.
func (f *figures) table(c *config) string {
	var b strings.Builder
	mode := "short"
	if c.long {
		mode = "long"
	}
	fmt.Fprintf(&b, "| figure (%s run) | value |\n|---|---|\n", mode)
	if f.peakRSS > 0 {
		lim := "none"
		if c.memLimit && c.flags["memory-limit"] {
			lim = "request_memory + slack/2"
		}
		fmt.Fprintf(&b, "| peak RSS, largest accepted request x %d at once (--max-inflight %d, --max-rows %d, Go memory limit %s) | %s (idle %s, request_memory %s, bound %s) |\n",
			2*c.rssInflight, c.rssInflight, c.rssMaxRows, lim, mib(f.peakRSS), mib(f.idleRSS), mib(f.requestMemory), mib(f.rssBound))
	}
	if f.maxConns > 0 {
		fmt.Fprintf(&b, "| connections held with health answered (--max-conns %d) | %d (health answered: %v) |\n", f.maxConns, f.heldConns, f.healthOK)
	}
	for _, l := range []*latencyReport{f.rest, f.grpc} {
		if l == nil {
			continue
		}
		fmt.Fprintf(&b, "| %s, %d clients, %s: p50 / p99 / throughput | %.2f ms / %.2f ms / %.0f req/s (%d requests, %d errors) |\n",
			l.transport, l.clients, l.duration, l.p50, l.p99, l.throughput, l.requests, l.errors)
	}
	return strings.TrimRight(b.String(), "\n")
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
