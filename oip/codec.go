package oip

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The wire forms. Data stays raw until the datatype and shape are known.
type wireTensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters Parameters      `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

type wireOutput struct {
	Name       string     `json:"name"`
	Parameters Parameters `json:"parameters,omitempty"`
}

type wireRequest struct {
	ID         string       `json:"id,omitempty"`
	Parameters Parameters   `json:"parameters,omitempty"`
	Inputs     []wireTensor `json:"inputs"`
	Outputs    []wireOutput `json:"outputs,omitempty"`
}

type wireResponse struct {
	ModelName    string       `json:"model_name"`
	ModelVersion string       `json:"model_version,omitempty"`
	ID           string       `json:"id,omitempty"`
	Parameters   Parameters   `json:"parameters,omitempty"`
	Outputs      []wireTensor `json:"outputs"`
}

const (
	paramBinarySize   = "binary_data_size"
	paramBinary       = "binary_data"
	paramBinaryOutput = "binary_data_output"
)

// EncodeRequest writes req as a request body. jsonLen is the length of the
// JSON part: it equals len(body) unless an input is Binary, and then goes in
// the Inference-Header-Content-Length header.
func EncodeRequest(req *InferRequest) (body []byte, jsonLen int, err error) {
	w := wireRequest{ID: req.ID, Parameters: req.Parameters}
	if req.BinaryOutput {
		w.Parameters = with(w.Parameters, paramBinaryOutput, true)
	}
	var bin [][]byte
	for i := range req.Inputs {
		wt, b, err := encodeTensor(&req.Inputs[i])
		if err != nil {
			return nil, 0, err
		}
		w.Inputs = append(w.Inputs, wt)
		if b != nil {
			bin = append(bin, b)
		}
	}
	for _, o := range req.Outputs {
		p := o.Parameters
		if o.Binary != req.BinaryOutput {
			p = with(p, paramBinary, o.Binary)
		}
		w.Outputs = append(w.Outputs, wireOutput{Name: o.Name, Parameters: p})
	}
	return appendBinary(w, bin)
}

// EncodeResponse writes resp as a response body; jsonLen is as for
// EncodeRequest.
func EncodeResponse(resp *InferResponse) (body []byte, jsonLen int, err error) {
	w := wireResponse{ModelName: resp.ModelName, ModelVersion: resp.ModelVersion, ID: resp.ID, Parameters: resp.Parameters, Outputs: []wireTensor{}}
	var bin [][]byte
	for i := range resp.Outputs {
		wt, b, err := encodeTensor(&resp.Outputs[i])
		if err != nil {
			return nil, 0, err
		}
		w.Outputs = append(w.Outputs, wt)
		if b != nil {
			bin = append(bin, b)
		}
	}
	return appendBinary(w, bin)
}

func appendBinary(w any, bin [][]byte) ([]byte, int, error) {
	js, err := json.Marshal(w)
	if err != nil {
		return nil, 0, fmt.Errorf("oip: %w", err)
	}
	n, size := len(js), len(js)
	if len(bin) == 0 {
		return js, n, nil
	}
	for _, b := range bin {
		var ok bool
		if size, ok = addInt(size, len(b)); !ok {
			return nil, 0, errors.New("oip: the body is too large")
		}
	}
	body := make([]byte, 0, size)
	body = append(body, js...)
	for _, b := range bin {
		body = append(body, b...)
	}
	return body, n, nil
}

// with returns a copy of p with key set to v.
func with(p Parameters, key string, v any) Parameters {
	out := make(Parameters, len(p)+1)
	for k, x := range p {
		out[k] = x
	}
	out[key] = v
	return out
}

// encodeTensor returns the wire form of t and, when t is Binary, its data
// as raw bytes.
func encodeTensor(t *Tensor) (wireTensor, []byte, error) {
	if _, err := t.checkData(); err != nil {
		return wireTensor{}, nil, err
	}
	shape := t.Shape
	if shape == nil {
		shape = []int64{}
	}
	wt := wireTensor{Name: t.Name, Shape: shape, Datatype: t.Datatype, Parameters: t.Parameters}
	if t.Binary {
		raw, err := rawBytes(t)
		if err != nil {
			return wireTensor{}, nil, err
		}
		wt.Parameters = with(t.Parameters, paramBinarySize, len(raw))
		return wt, raw, nil
	}
	data, err := jsonData(t)
	if err != nil {
		return wireTensor{}, nil, err
	}
	wt.Data = data
	return wt, nil, nil
}

// jsonData returns the data of t, which checkData accepted, as a flat JSON
// array.
func jsonData(t *Tensor) ([]byte, error) {
	var b []byte
	switch d := t.Data.(type) {
	case []bool:
		b = append(make([]byte, 0, 6*len(d)+2), '[')
		for i, v := range d {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendBool(b, v)
		}
	case []uint8:
		b = appendUints(d)
	case []uint16:
		b = appendUints(d)
	case []uint32:
		b = appendUints(d)
	case []uint64:
		b = appendUints(d)
	case []int8:
		b = appendInts(d)
	case []int16:
		b = appendInts(d)
	case []int32:
		b = appendInts(d)
	case []int64:
		b = appendInts(d)
	case []Float16:
		b = append(make([]byte, 0, 8*len(d)+2), '[')
		for i, v := range d {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat16(b, v)
		}
	case []float32:
		b = append(make([]byte, 0, 10*len(d)+2), '[')
		for i, v := range d {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, float64(v), 32)
		}
	case []float64:
		b = append(make([]byte, 0, 12*len(d)+2), '[')
		for i, v := range d {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, v, 64)
		}
	case [][]byte:
		// JSON strings hold text: other bytes would be replaced, so they
		// must travel in binary.
		if i, ok := validUTF8(d); !ok {
			return nil, fmt.Errorf("oip: tensor %q: BYTES element %d is not UTF-8 text, which JSON holds; send the tensor in binary", t.Name, i)
		}
		b = append(make([]byte, 0, 8*len(d)+2), '[')
		for i, v := range d {
			if i > 0 {
				b = append(b, ',')
			}
			q, err := json.Marshal(string(v))
			if err != nil {
				return nil, fmt.Errorf("oip: tensor %q: %w", t.Name, err)
			}
			b = append(b, q...)
		}
	}
	return append(b, ']'), nil
}

func appendInts[T int8 | int16 | int32 | int64](d []T) []byte {
	b := append(make([]byte, 0, 4*len(d)+2), '[')
	for i, v := range d {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return b
}

func appendUints[T uint8 | uint16 | uint32 | uint64](d []T) []byte {
	b := append(make([]byte, 0, 4*len(d)+2), '[')
	for i, v := range d {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return b
}

// appendFloat writes the shortest decimal that reads back as the same
// value, and NaN and the infinities, which JSON numbers cannot hold, as
// strings.
func appendFloat(b []byte, v float64, bits int) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(v, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, bits)
}

// parseData reads the JSON "data" of a tensor, flat or nested, in row-major
// order, into the typed slice of its datatype. raw is valid JSON (the
// decoder checked it). n is the count the shape holds: the result is an
// error past it, and memory is reserved for at most as many elements as
// raw could hold, so a huge shape with little data allocates little.
func parseData(raw []byte, datatype string, n int) (any, error) {
	// Every element takes at least 2 bytes of JSON ("0,"); a BYTES string
	// at least 3 ("""",).
	hint := min(n, len(raw)/2+1)
	switch datatype {
	case BOOL:
		return parseJSON(raw, datatype, n, hint, parseBool)
	case UINT8:
		return parseJSON(raw, datatype, n, hint, parseUint[uint8])
	case UINT16:
		return parseJSON(raw, datatype, n, hint, parseUint[uint16])
	case UINT32:
		return parseJSON(raw, datatype, n, hint, parseUint[uint32])
	case UINT64:
		return parseJSON(raw, datatype, n, hint, parseUint[uint64])
	case INT8:
		return parseJSON(raw, datatype, n, hint, parseInt[int8])
	case INT16:
		return parseJSON(raw, datatype, n, hint, parseInt[int16])
	case INT32:
		return parseJSON(raw, datatype, n, hint, parseInt[int32])
	case INT64:
		return parseJSON(raw, datatype, n, hint, parseInt[int64])
	case FP16:
		// A decimal reads as the nearest float64, which then rounds to
		// the nearest binary16 (see parseFloat16 for when that differs
		// from rounding the decimal once).
		return parseJSON(raw, datatype, n, hint, func(tok token) (Float16, error) {
			v, err := parseFloatToken(tok, datatype, 64)
			return float16FromFloat64(v), err
		})
	case FP32:
		return parseJSON(raw, datatype, n, hint, func(tok token) (float32, error) {
			v, err := parseFloatToken(tok, datatype, 32)
			return float32(v), err
		})
	case FP64:
		return parseJSON(raw, datatype, n, hint, func(tok token) (float64, error) {
			return parseFloatToken(tok, datatype, 64)
		})
	case BYTES:
		return parseJSON(raw, datatype, n, min(n, len(raw)/3+1), parseString)
	}
	return nil, errors.New(unsupported(datatype))
}

// A token is one scalar of JSON "data": a number, a string with its
// quotes, or a literal (true, false, null).
type token struct {
	kind byte // '0' number, '"' string, 'l' literal
	text string
}

// parseJSON walks the scalars of raw, whatever arrays nest them, through
// parse.
func parseJSON[T any](raw []byte, datatype string, n, hint int, parse func(token) (T, error)) ([]T, error) {
	out := make([]T, 0, hint)
	for i := 0; i < len(raw); {
		c := raw[i]
		var tok token
		j := i + 1
		switch {
		case c == '[' || c == ']' || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '"':
			for j < len(raw) && raw[j] != '"' {
				if raw[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(raw) {
				return nil, errors.New("bad string in \"data\"")
			}
			j++
			tok = token{'"', unsafe.String(&raw[i], j-i)}
		case c == '-' || (c >= '0' && c <= '9'):
			for j < len(raw) && isNumberByte(raw[j]) {
				j++
			}
			tok = token{'0', unsafe.String(&raw[i], j-i)}
		case c >= 'a' && c <= 'z':
			for j < len(raw) && raw[j] >= 'a' && raw[j] <= 'z' {
				j++
			}
			tok = token{'l', unsafe.String(&raw[i], j-i)}
		default:
			return nil, fmt.Errorf("\"data\" holds %s; %s", tokenAt(raw, i), wantScalars(datatype))
		}
		if len(out) == n {
			return nil, fmt.Errorf("\"data\" has more than the %d elements the shape holds", n)
		}
		v, err := parse(tok)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		i = j
	}
	return out, nil
}

// wantScalars says what "data" must hold for a datatype.
func wantScalars(datatype string) string {
	switch datatype {
	case BOOL:
		return "want true and false in (nested) arrays"
	case BYTES:
		return "want strings in (nested) arrays"
	}
	return "want numbers in (nested) arrays"
}

func parseBool(tok token) (bool, error) {
	switch tok.text {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("\"data\" holds %s, not a BOOL (true or false)", clip(tok.text))
}

func parseInt[T int8 | int16 | int32 | int64](tok token) (T, error) {
	if tok.kind != '0' {
		return 0, notNumber(tok, datatypeOf([]T(nil)))
	}
	var zero T
	v, err := strconv.ParseInt(tok.text, 10, int(unsafe.Sizeof(zero))*8)
	if err != nil {
		return 0, fmt.Errorf("%q is not a %s value", clip(tok.text), datatypeOf([]T(nil)))
	}
	return T(v), nil
}

func parseUint[T uint8 | uint16 | uint32 | uint64](tok token) (T, error) {
	if tok.kind != '0' {
		return 0, notNumber(tok, datatypeOf([]T(nil)))
	}
	var zero T
	v, err := strconv.ParseUint(tok.text, 10, int(unsafe.Sizeof(zero))*8)
	if err != nil {
		return 0, fmt.Errorf("%q is not a %s value", clip(tok.text), datatypeOf([]T(nil)))
	}
	return T(v), nil
}

// parseFloatToken reads a number, or a string that stands for NaN or an
// infinity, as a float of bitSize bits. A number beyond the float range
// reads as an infinity, as a cast does in numpy.
func parseFloatToken(tok token, datatype string, bitSize int) (float64, error) {
	switch tok.kind {
	case '"':
		if v, ok := specialFloat(tok.text[1 : len(tok.text)-1]); ok {
			return v, nil
		}
		return 0, notNumber(tok, datatype)
	case 'l':
		return 0, notNumber(tok, datatype)
	}
	v, err := strconv.ParseFloat(tok.text, bitSize)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			// strconv returned the infinity or the zero.
			return v, nil
		}
		return 0, fmt.Errorf("%q is not a %s value", clip(tok.text), datatype)
	}
	return v, nil
}

// notNumber describes a string or literal where a number belongs.
func notNumber(tok token, datatype string) error {
	if tok.kind == '"' {
		return fmt.Errorf("\"data\" holds the string %q, not a %s number", clip(tok.text[1:len(tok.text)-1]), datatype)
	}
	return fmt.Errorf("\"data\" holds %s; %s", clip(tok.text), wantScalars(datatype))
}

// parseString reads a JSON string as the bytes of its text.
func parseString(tok token) ([]byte, error) {
	if tok.kind != '"' {
		return nil, fmt.Errorf("\"data\" holds %s; %s", clip(tok.text), wantScalars(BYTES))
	}
	inner := tok.text[1 : len(tok.text)-1]
	if !strings.Contains(inner, `\`) && utf8.ValidString(inner) {
		return []byte(inner), nil
	}
	var s string
	if err := json.Unmarshal([]byte(tok.text), &s); err != nil {
		return nil, fmt.Errorf("bad string in \"data\": %v", err)
	}
	return []byte(s), nil
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

func tokenAt(raw []byte, i int) string {
	j := min(i+12, len(raw))
	return strconv.Quote(string(raw[i:j]))
}

// specialFloat reads the strings that stand for NaN and the infinities.
func specialFloat(s string) (float64, bool) {
	switch s {
	case "NaN", "nan":
		return math.NaN(), true
	case "Infinity", "inf", "Inf", "+Infinity", "+Inf":
		return math.Inf(1), true
	case "-Infinity", "-inf", "-Inf":
		return math.Inf(-1), true
	}
	return 0, false
}

// maxEcho is the most bytes of a string from the wire that an error
// repeats.
const maxEcho = 64

// clip returns s, or its first maxEcho bytes (whole runes) and "...", so
// that an error never echoes a huge string.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	i := maxEcho
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
