package oip

import (
	"fmt"
	"math"
)

// Datatypes of the protocol that this package encodes.
const (
	FP32  = "FP32"
	FP64  = "FP64"
	INT32 = "INT32"
	INT64 = "INT64"
)

// HeaderContentLength is the header of the binary tensor data extension: the
// length in bytes of the JSON part at the start of a body; the binary data
// of the tensors follows it.
const HeaderContentLength = "Inference-Header-Content-Length"

// ExtensionBinaryData is the name of the binary tensor data extension in the
// server metadata.
const ExtensionBinaryData = "binary_tensor_data"

// Parameters are the protocol's free-form parameters. Numbers read from the
// wire are json.Number values.
type Parameters map[string]any

// ServerMetadata is the response of GET /v2.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// TensorMetadata describes one input or output of a model. A shape holds -1
// for a free dimension, the batch axis included.
type TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ModelMetadata is the response of GET /v2/models/{name}.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions,omitempty"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// Tensor is one named input or output with its data.
type Tensor struct {
	Name     string
	Datatype string  // FP32, FP64, INT32 or INT64
	Shape    []int64 // row-major
	// Data is a []float32, []float64, []int32 or []int64 matching Datatype,
	// with as many elements as Shape holds.
	Data       any
	Parameters Parameters
	// Binary sends the data with the binary tensor data extension. Decoding
	// sets it on the tensors that came that way.
	Binary bool
}

// NewFP32 returns an FP32 tensor over data.
func NewFP32(name string, shape []int64, data []float32) Tensor {
	return Tensor{Name: name, Datatype: FP32, Shape: shape, Data: data}
}

// NewFP64 returns an FP64 tensor over data.
func NewFP64(name string, shape []int64, data []float64) Tensor {
	return Tensor{Name: name, Datatype: FP64, Shape: shape, Data: data}
}

// NewINT32 returns an INT32 tensor over data.
func NewINT32(name string, shape []int64, data []int32) Tensor {
	return Tensor{Name: name, Datatype: INT32, Shape: shape, Data: data}
}

// NewINT64 returns an INT64 tensor over data.
func NewINT64(name string, shape []int64, data []int64) Tensor {
	return Tensor{Name: name, Datatype: INT64, Shape: shape, Data: data}
}

// maxExactInt is the largest integer magnitude below which every integer
// is a float32.
const maxExactInt = 1 << 24

// Float32s returns the data as float32 values: FP32 data as it is, FP64
// data rounded to the nearest float32, and integers converted exactly; an
// integer of magnitude above 2^24, which float32 cannot hold exactly, is an
// error.
func (t *Tensor) Float32s() ([]float32, error) {
	switch d := t.Data.(type) {
	case []float32:
		return d, nil
	case []float64:
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = float32(v)
		}
		return out, nil
	case []int32:
		out := make([]float32, len(d))
		for i, v := range d {
			if v > maxExactInt || v < -maxExactInt {
				return nil, fmt.Errorf("oip: tensor %q: value %d at index %d has no exact float32", t.Name, v, i)
			}
			out[i] = float32(v)
		}
		return out, nil
	case []int64:
		out := make([]float32, len(d))
		for i, v := range d {
			if v > maxExactInt || v < -maxExactInt {
				return nil, fmt.Errorf("oip: tensor %q: value %d at index %d has no exact float32", t.Name, v, i)
			}
			out[i] = float32(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("oip: tensor %q: data is %T, want []float32, []float64, []int32 or []int64", t.Name, t.Data)
}

// NumElements returns the number of elements Shape holds, and an error for a
// negative dimension or a product that overflows.
func (t *Tensor) NumElements() (int, error) {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return 0, fmt.Errorf("oip: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
		}
		if d != 0 && int64(n) > math.MaxInt64/d {
			return 0, fmt.Errorf("oip: tensor %q: shape %v is too large", t.Name, t.Shape)
		}
		n *= int(d)
	}
	return n, nil
}

// dataLen returns the number of elements of Data and its element size in
// bytes, checking it against Datatype.
func (t *Tensor) dataLen() (n, size int, err error) {
	want := ""
	switch d := t.Data.(type) {
	case []float32:
		n, size, want = len(d), 4, FP32
	case []float64:
		n, size, want = len(d), 8, FP64
	case []int32:
		n, size, want = len(d), 4, INT32
	case []int64:
		n, size, want = len(d), 8, INT64
	default:
		return 0, 0, fmt.Errorf("oip: tensor %q: data is %T, want []float32, []float64, []int32 or []int64", t.Name, t.Data)
	}
	if t.Datatype != want {
		return 0, 0, fmt.Errorf("oip: tensor %q: datatype %s does not match data of type %T", t.Name, t.Datatype, t.Data)
	}
	return n, size, nil
}

// elemSize returns the byte size of one element of a datatype, and 0 for a
// datatype this package does not encode.
func elemSize(datatype string) int {
	switch datatype {
	case FP32, INT32:
		return 4
	case FP64, INT64:
		return 8
	}
	return 0
}

// RequestedOutput selects one output of an inference.
type RequestedOutput struct {
	Name string
	// Binary asks for the output with the binary tensor data extension.
	Binary     bool
	Parameters Parameters
}

// InferRequest is an inference request.
type InferRequest struct {
	ID         string
	Parameters Parameters
	Inputs     []Tensor
	// Outputs selects outputs, in the order the response gives them; empty
	// means every output of the model, in model order.
	Outputs []RequestedOutput
	// BinaryOutput asks for every output with the binary tensor data
	// extension (the "binary_data_output" parameter), unless a
	// RequestedOutput says otherwise.
	BinaryOutput bool
}

// InferResponse is an inference response.
type InferResponse struct {
	ModelName    string
	ModelVersion string
	ID           string
	Parameters   Parameters
	Outputs      []Tensor
}

// Output returns the output named name, or nil.
func (r *InferResponse) Output(name string) *Tensor {
	for i := range r.Outputs {
		if r.Outputs[i].Name == name {
			return &r.Outputs[i]
		}
	}
	return nil
}

// Error is a response with a status other than 200: the protocol's
// {"error": "..."} body with its HTTP status.
type Error struct {
	StatusCode int
	Message    string
	// RetryAfter is the Retry-After header in seconds, or 0.
	RetryAfter int
}

func (e *Error) Error() string {
	return fmt.Sprintf("oip: status %d: %s", e.StatusCode, e.Message)
}
