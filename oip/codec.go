package oip

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
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
	n := len(js)
	for _, b := range bin {
		js = append(js, b...)
	}
	return js, n, nil
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
// as bytes.
func encodeTensor(t *Tensor) (wireTensor, []byte, error) {
	n, size, err := t.dataLen()
	if err != nil {
		return wireTensor{}, nil, err
	}
	want, err := t.NumElements()
	if err != nil {
		return wireTensor{}, nil, err
	}
	if n != want {
		return wireTensor{}, nil, fmt.Errorf("oip: tensor %q: shape %v holds %d elements, data has %d", t.Name, t.Shape, want, n)
	}
	shape := t.Shape
	if shape == nil {
		shape = []int64{}
	}
	wt := wireTensor{Name: t.Name, Shape: shape, Datatype: t.Datatype, Parameters: t.Parameters}
	if t.Binary {
		wt.Parameters = with(t.Parameters, paramBinarySize, n*size)
		return wt, dataBytes(t.Data, n*size), nil
	}
	wt.Data = appendJSONData(make([]byte, 0, n*10+2), t.Data)
	return wt, nil, nil
}

// dataBytes returns the little-endian bytes of a typed slice.
func dataBytes(data any, nbytes int) []byte {
	b := make([]byte, 0, nbytes)
	switch d := data.(type) {
	case []float32:
		for _, v := range d {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	case []float64:
		for _, v := range d {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	case []int32:
		for _, v := range d {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
	case []int64:
		for _, v := range d {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	}
	return b
}

// appendJSONData appends a typed slice as a flat JSON array.
func appendJSONData(b []byte, data any) []byte {
	b = append(b, '[')
	switch d := data.(type) {
	case []float32:
		for i, v := range d {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, float64(v), 32)
		}
	case []float64:
		for i, v := range d {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, v, 64)
		}
	case []int32:
		for i, v := range d {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(v), 10)
		}
	case []int64:
		for i, v := range d {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, v, 10)
		}
	}
	return append(b, ']')
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

// DecodeRequest reads a request body whose JSON part is its first jsonLen
// bytes, the binary data of the tensors following; jsonLen < 0 means the
// whole body is JSON. Its errors describe what is wrong with the request.
func DecodeRequest(body []byte, jsonLen int) (*InferRequest, error) {
	js, bin, err := splitBody(body, jsonLen)
	if err != nil {
		return nil, err
	}
	var w wireRequest
	if err := decodeJSON(js, &w); err != nil {
		return nil, err
	}
	req := &InferRequest{ID: w.ID, Parameters: w.Parameters}
	if v, ok := w.Parameters[paramBinaryOutput]; ok {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("oip: parameter %q is %s, want a boolean", paramBinaryOutput, jsonString(v))
		}
		req.BinaryOutput = b
		req.Parameters = without(w.Parameters, paramBinaryOutput)
	}
	if len(w.Inputs) == 0 {
		return nil, errors.New("oip: the request has no inputs")
	}
	req.Inputs = make([]Tensor, len(w.Inputs))
	for i := range w.Inputs {
		if err := decodeTensor(&w.Inputs[i], &bin, &req.Inputs[i], "input"); err != nil {
			return nil, err
		}
	}
	if len(bin) != 0 {
		return nil, fmt.Errorf("oip: %d bytes of binary data follow the JSON header but no input claims them", len(bin))
	}
	for _, o := range w.Outputs {
		ro := RequestedOutput{Name: o.Name, Binary: req.BinaryOutput, Parameters: o.Parameters}
		if v, ok := o.Parameters[paramBinary]; ok {
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("oip: output %q: parameter %q is %s, want a boolean", o.Name, paramBinary, jsonString(v))
			}
			ro.Binary = b
			ro.Parameters = without(o.Parameters, paramBinary)
		}
		req.Outputs = append(req.Outputs, ro)
	}
	return req, nil
}

// DecodeResponse reads a response body, as DecodeRequest reads a request.
func DecodeResponse(body []byte, jsonLen int) (*InferResponse, error) {
	js, bin, err := splitBody(body, jsonLen)
	if err != nil {
		return nil, err
	}
	var w wireResponse
	if err := decodeJSON(js, &w); err != nil {
		return nil, err
	}
	resp := &InferResponse{ModelName: w.ModelName, ModelVersion: w.ModelVersion, ID: w.ID, Parameters: w.Parameters}
	resp.Outputs = make([]Tensor, len(w.Outputs))
	for i := range w.Outputs {
		if err := decodeTensor(&w.Outputs[i], &bin, &resp.Outputs[i], "output"); err != nil {
			return nil, err
		}
	}
	if len(bin) != 0 {
		return nil, fmt.Errorf("oip: %d bytes of binary data follow the JSON header but no output claims them", len(bin))
	}
	return resp, nil
}

func splitBody(body []byte, jsonLen int) (js, bin []byte, err error) {
	if jsonLen < 0 {
		return body, nil, nil
	}
	if jsonLen > len(body) {
		return nil, nil, fmt.Errorf("oip: %s is %d but the body has %d bytes", HeaderContentLength, jsonLen, len(body))
	}
	return body[:jsonLen], body[jsonLen:], nil
}

func decodeJSON(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("oip: bad JSON: %w", err)
	}
	if dec.More() {
		return errors.New("oip: bad JSON: data after the top-level value")
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("oip: bad JSON: data after the top-level value")
	}
	return nil
}

func without(p Parameters, key string) Parameters {
	if len(p) == 1 {
		return nil
	}
	out := make(Parameters, len(p)-1)
	for k, v := range p {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// decodeTensor fills t from its wire form, taking its binary data, if any,
// from the front of *bin.
func decodeTensor(w *wireTensor, bin *[]byte, t *Tensor, what string) error {
	*t = Tensor{Name: w.Name, Datatype: w.Datatype, Shape: w.Shape, Parameters: w.Parameters}
	if w.Name == "" {
		return fmt.Errorf("oip: an %s has no name", what)
	}
	if w.Shape == nil {
		return fmt.Errorf("oip: %s %q has no shape", what, w.Name)
	}
	n, err := t.NumElements()
	if err != nil {
		return fmt.Errorf("oip: %s %q: shape %v: %s", what, w.Name, w.Shape, errTail(err))
	}
	size := elemSize(w.Datatype)
	if size == 0 {
		return fmt.Errorf("oip: %s %q: datatype %q is not supported (supported: FP32, FP64, INT32, INT64)", what, w.Name, w.Datatype)
	}
	if v, ok := w.Parameters[paramBinarySize]; ok {
		if w.Data != nil {
			return fmt.Errorf("oip: %s %q has both %q and \"data\"", what, w.Name, paramBinarySize)
		}
		nb, ok := jsonInt(v)
		if !ok {
			return fmt.Errorf("oip: %s %q: %q is %s, want a byte count", what, w.Name, paramBinarySize, jsonString(v))
		}
		if nb != int64(n)*int64(size) {
			return fmt.Errorf("oip: %s %q: %q is %d, but shape %v of %s takes %d bytes", what, w.Name, paramBinarySize, nb, w.Shape, w.Datatype, n*size)
		}
		if int64(len(*bin)) < nb {
			return fmt.Errorf("oip: %s %q: %q is %d, but only %d bytes of binary data are left", what, w.Name, paramBinarySize, nb, len(*bin))
		}
		t.Data = fromBytes(w.Datatype, (*bin)[:nb], n)
		*bin = (*bin)[nb:]
		t.Binary = true
		t.Parameters = without(w.Parameters, paramBinarySize)
		return nil
	}
	if w.Data == nil {
		return fmt.Errorf("oip: %s %q has no data (neither \"data\" nor the %q parameter)", what, w.Name, paramBinarySize)
	}
	t.Data, err = parseData(w.Data, w.Datatype, n)
	if err != nil {
		return fmt.Errorf("oip: %s %q: %v", what, w.Name, err)
	}
	if got := dataCount(t.Data); got != n {
		return fmt.Errorf("oip: %s %q: shape %v holds %d elements, \"data\" has %d", what, w.Name, w.Shape, n, got)
	}
	return nil
}

func errTail(err error) string {
	s := err.Error()
	if i := bytes.LastIndex([]byte(s), []byte(": ")); i >= 0 {
		return s[i+2:]
	}
	return s
}

// jsonInt reads a non-negative integer parameter.
func jsonInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil && n >= 0
	case float64:
		if x >= 0 && x == math.Trunc(x) && x < 1<<53 {
			return int64(x), true
		}
	case int:
		return int64(x), x >= 0
	case int64:
		return x, x >= 0
	}
	return 0, false
}

func dataCount(d any) int {
	switch x := d.(type) {
	case []float32:
		return len(x)
	case []float64:
		return len(x)
	case []int32:
		return len(x)
	case []int64:
		return len(x)
	}
	return 0
}

// fromBytes reads n little-endian elements of a datatype.
func fromBytes(datatype string, b []byte, n int) any {
	switch datatype {
	case FP32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out
	case FP64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return out
	case INT32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out
	default: // INT64
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return out
	}
}

// parseData reads the JSON "data" of a tensor, flat or nested, into a typed
// slice. raw is valid JSON (the decoder checked it). n is the expected
// count, used only as a capacity hint bounded by the size of raw.
func parseData(raw []byte, datatype string, n int) (any, error) {
	hint := min(n, len(raw)/2+1)
	var (
		f32 []float32
		f64 []float64
		i32 []int32
		i64 []int64
	)
	switch datatype {
	case FP32:
		f32 = make([]float32, 0, hint)
	case FP64:
		f64 = make([]float64, 0, hint)
	case INT32:
		i32 = make([]int32, 0, hint)
	default:
		i64 = make([]int64, 0, hint)
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '[' || c == ']' || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '"':
			j := bytes.IndexByte(raw[i+1:], '"')
			if j < 0 {
				return nil, errors.New("bad string in \"data\"")
			}
			s := string(raw[i+1 : i+1+j])
			v, ok := specialFloat(s)
			if !ok || (datatype != FP32 && datatype != FP64) {
				return nil, fmt.Errorf("\"data\" holds the string %q, not a %s number", s, datatype)
			}
			if datatype == FP32 {
				f32 = append(f32, float32(v))
			} else {
				f64 = append(f64, v)
			}
			i += j + 2
			continue
		case c == '-' || (c >= '0' && c <= '9'):
		default:
			return nil, fmt.Errorf("\"data\" holds %s; want numbers in (nested) arrays", tokenAt(raw, i))
		}
		j := i + 1
		for j < len(raw) && isNumberByte(raw[j]) {
			j++
		}
		s := unsafe.String(&raw[i], j-i)
		var err error
		switch datatype {
		case FP32:
			var v float64
			v, err = strconv.ParseFloat(s, 32)
			f32 = append(f32, float32(v))
		case FP64:
			var v float64
			v, err = strconv.ParseFloat(s, 64)
			f64 = append(f64, v)
		case INT32:
			var v int64
			v, err = strconv.ParseInt(s, 10, 32)
			i32 = append(i32, int32(v))
		default:
			var v int64
			v, err = strconv.ParseInt(s, 10, 64)
			i64 = append(i64, v)
		}
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) && (datatype == FP32 || datatype == FP64) {
				// A value beyond the float range reads as an infinity,
				// as a cast does in numpy; strconv returned it.
				i = j
				continue
			}
			return nil, fmt.Errorf("%q is not a %s value", string(raw[i:j]), datatype)
		}
		i = j
	}
	switch datatype {
	case FP32:
		return f32, nil
	case FP64:
		return f64, nil
	case INT32:
		return i32, nil
	}
	return i64, nil
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
