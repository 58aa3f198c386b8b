package serve

import (
	"fmt"
	"math"
	"math/bits"
	"unicode/utf8"

	"github.com/kerasrun/kerasrun/runtime"
)

// The sizes the derived limits assume.
const (
	// freeDim is the length a free dimension (a sequence length, most
	// often) counts as when a limit is derived from a model's shapes.
	freeDim = 1024
	// jsonElemBytes bounds the JSON text of one number as the server
	// writes it and as clients commonly send it: the shortest float32 that
	// reads back ("-1.17549435e-38", 15 characters) and its comma.
	jsonElemBytes = 16
	// headerSlack is room for the JSON header around the data: names,
	// shapes, parameters.
	headerSlack = 64 << 10
	// Bounds of a derived body or response limit.
	minDerived = 1 << 20
	maxDerived = 256 << 20
)

// limits are one model's request and response bounds.
type limits struct {
	rows     int   // most rows (samples) one request may hold
	body     int64 // most bytes of a request body
	response int64 // most bytes of an encoded response
}

// rowElems returns the elements of one row (sample) of each of ios, summed,
// counting a free dimension as freeDim, saturating at math.MaxInt64.
func rowElems(ios []runtime.IO) int64 {
	var sum uint64
	for _, io := range ios {
		n := uint64(1)
		for _, d := range io.Shape[1:] {
			if d < 0 {
				d = freeDim
			}
			hi, lo := bits.Mul64(n, uint64(d))
			if hi != 0 || lo > math.MaxInt64 {
				return math.MaxInt64
			}
			n = lo
		}
		sum += n
		if sum > math.MaxInt64 {
			return math.MaxInt64
		}
	}
	return int64(sum)
}

// derive returns the limit for rows rows of ios in JSON, clamped to
// [minDerived, maxDerived].
func derive(ios []runtime.IO, rows int) int64 {
	per := rowElems(ios)
	if per > maxDerived/jsonElemBytes/int64(rows) {
		return maxDerived
	}
	return max(minDerived, min(maxDerived, int64(rows)*per*jsonElemBytes+headerSlack))
}

// modelLimits derives a model's limits from the server options: a zero
// body or response limit is derived from the model's shapes and the row
// limit.
func (o *Options) modelLimits(ins, outs []runtime.IO) limits {
	l := limits{rows: o.MaxRows, body: o.MaxBodyBytes, response: o.MaxResponseBytes}
	if l.body <= 0 {
		l.body = derive(ins, l.rows)
	}
	if l.response <= 0 {
		l.response = derive(outs, l.rows)
	}
	return l
}

// requestMemory bounds the memory one request holding a place in flight
// holds, within 6 bodies: the JSON text as the decoder holds it, the
// "data" arrays it keeps, the decoded inputs and their copy in a merged
// batch, each within 2 bodies for the inputs (a decoded number takes 4
// bytes for at least 2 of text), 1 for the texts (binary data is read
// straight into the inputs; a gRPC message and its protobuf take 2); and
// within 3 responses: the outputs, the response and its encoding.
func (l limits) requestMemory() int64 {
	return satAdd(satMul(6, l.body), satMul(3, l.response))
}

// readAheadMemory bounds what one gRPC request accepted but still waiting
// for its place holds: its message and its decoded protobuf.
func (l limits) readAheadMemory() int64 { return satMul(2, l.body) }

func satMul(a, b int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// clipLen is the most bytes of a client's string that an error message or
// log line repeats.
const clipLen = 96

// clip bounds a client-supplied string for an error or a log line: past
// clipLen bytes it is cut at a rune boundary and says how long it was.
func clip(s string) string {
	if len(s) <= clipLen {
		return s
	}
	n := clipLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:n], len(s))
}

// quote is strconv.Quote of clip(s).
func quote(s string) string { return fmt.Sprintf("%q", clip(s)) }
