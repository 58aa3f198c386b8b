package oip

import (
	"fmt"
	"strings"
)

// Datatypes of the protocol. Tensor.Data holds, for each, a slice of the
// Go type named beside it.
const (
	BOOL   = "BOOL"   // []bool; 1 byte raw, 0 or 1
	UINT8  = "UINT8"  // []uint8
	UINT16 = "UINT16" // []uint16
	UINT32 = "UINT32" // []uint32
	UINT64 = "UINT64" // []uint64
	INT8   = "INT8"   // []int8
	INT16  = "INT16"  // []int16
	INT32  = "INT32"  // []int32
	INT64  = "INT64"  // []int64
	FP16   = "FP16"   // []Float16
	FP32   = "FP32"   // []float32
	FP64   = "FP64"   // []float64
	BYTES  = "BYTES"  // [][]byte; raw: 4-byte little-endian length, then the bytes
)

// datatypes lists the datatypes in the order error messages name them.
var datatypes = []string{BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES}

// elemSize returns the byte size of one raw element of a datatype, and 0
// for BYTES, whose elements vary, and for a datatype this package does not
// know.
func elemSize(datatype string) int {
	switch datatype {
	case BOOL, UINT8, INT8:
		return 1
	case UINT16, INT16, FP16:
		return 2
	case UINT32, INT32, FP32:
		return 4
	case UINT64, INT64, FP64:
		return 8
	}
	return 0
}

// knownDatatype reports whether this package encodes a datatype.
func knownDatatype(datatype string) bool {
	return datatype == BYTES || elemSize(datatype) != 0
}

// datatypeOf returns the datatype whose Go type data has, or "".
func datatypeOf(data any) string {
	switch data.(type) {
	case []bool:
		return BOOL
	case []uint8:
		return UINT8
	case []uint16:
		return UINT16
	case []uint32:
		return UINT32
	case []uint64:
		return UINT64
	case []int8:
		return INT8
	case []int16:
		return INT16
	case []int32:
		return INT32
	case []int64:
		return INT64
	case []Float16:
		return FP16
	case []float32:
		return FP32
	case []float64:
		return FP64
	case [][]byte:
		return BYTES
	}
	return ""
}

// dataCount returns the number of elements of a typed slice.
func dataCount(data any) int {
	switch d := data.(type) {
	case []bool:
		return len(d)
	case [][]byte:
		return len(d)
	case nil:
		return 0
	}
	if s := elemSize(datatypeOf(data)); s != 0 {
		return len(byteView(data)) / s
	}
	return 0
}

// unsupported describes a datatype this package does not know.
func unsupported(datatype string) string {
	return fmt.Sprintf("datatype %q is not supported (supported: %s)", datatype, strings.Join(datatypes, ", "))
}

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
	Datatype string  // one of the datatype constants, BOOL to BYTES
	Shape    []int64 // row-major
	// Data is the slice of Datatype's Go type ([]float32 for FP32, and so
	// on: see the datatype constants), with as many elements as Shape
	// holds.
	Data       any
	Parameters Parameters
	// Binary sends the data with the binary tensor data extension. Decoding
	// sets it on the tensors that came that way.
	Binary bool
}

// NewBOOL returns a BOOL tensor over data.
func NewBOOL(name string, shape []int64, data []bool) Tensor {
	return Tensor{Name: name, Datatype: BOOL, Shape: shape, Data: data}
}

// NewUINT8 returns a UINT8 tensor over data.
func NewUINT8(name string, shape []int64, data []uint8) Tensor {
	return Tensor{Name: name, Datatype: UINT8, Shape: shape, Data: data}
}

// NewUINT16 returns a UINT16 tensor over data.
func NewUINT16(name string, shape []int64, data []uint16) Tensor {
	return Tensor{Name: name, Datatype: UINT16, Shape: shape, Data: data}
}

// NewUINT32 returns a UINT32 tensor over data.
func NewUINT32(name string, shape []int64, data []uint32) Tensor {
	return Tensor{Name: name, Datatype: UINT32, Shape: shape, Data: data}
}

// NewUINT64 returns a UINT64 tensor over data.
func NewUINT64(name string, shape []int64, data []uint64) Tensor {
	return Tensor{Name: name, Datatype: UINT64, Shape: shape, Data: data}
}

// NewINT8 returns an INT8 tensor over data.
func NewINT8(name string, shape []int64, data []int8) Tensor {
	return Tensor{Name: name, Datatype: INT8, Shape: shape, Data: data}
}

// NewINT16 returns an INT16 tensor over data.
func NewINT16(name string, shape []int64, data []int16) Tensor {
	return Tensor{Name: name, Datatype: INT16, Shape: shape, Data: data}
}

// NewINT32 returns an INT32 tensor over data.
func NewINT32(name string, shape []int64, data []int32) Tensor {
	return Tensor{Name: name, Datatype: INT32, Shape: shape, Data: data}
}

// NewINT64 returns an INT64 tensor over data.
func NewINT64(name string, shape []int64, data []int64) Tensor {
	return Tensor{Name: name, Datatype: INT64, Shape: shape, Data: data}
}

// NewFP16 returns an FP16 tensor over data.
func NewFP16(name string, shape []int64, data []Float16) Tensor {
	return Tensor{Name: name, Datatype: FP16, Shape: shape, Data: data}
}

// NewFP32 returns an FP32 tensor over data.
func NewFP32(name string, shape []int64, data []float32) Tensor {
	return Tensor{Name: name, Datatype: FP32, Shape: shape, Data: data}
}

// NewFP64 returns an FP64 tensor over data.
func NewFP64(name string, shape []int64, data []float64) Tensor {
	return Tensor{Name: name, Datatype: FP64, Shape: shape, Data: data}
}

// NewBYTES returns a BYTES tensor over data, one []byte an element.
func NewBYTES(name string, shape []int64, data [][]byte) Tensor {
	return Tensor{Name: name, Datatype: BYTES, Shape: shape, Data: data}
}

// maxExactInt is the largest integer magnitude below which every integer
// is a float32.
const maxExactInt = 1 << 24

// Float32s returns the data as float32 values: FP32 data as it is, FP64
// data rounded to the nearest float32, FP16 data and the integers of 16
// bits or fewer converted exactly, BOOL as 0 and 1, and wider integers
// converted exactly when they can be: one of magnitude above 2^24, which
// float32 cannot hold exactly, is an error. BYTES data is an error.
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
	case []Float16:
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = v.Float32()
		}
		return out, nil
	case []bool:
		out := make([]float32, len(d))
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out, nil
	case []uint8:
		return convert(d), nil
	case []int8:
		return convert(d), nil
	case []uint16:
		return convert(d), nil
	case []int16:
		return convert(d), nil
	case []int32:
		return convertExact(t.Name, d)
	case []int64:
		return convertExact(t.Name, d)
	case []uint32:
		return convertExact(t.Name, d)
	case []uint64:
		return convertExact(t.Name, d)
	case [][]byte:
		return nil, fmt.Errorf("oip: tensor %q: BYTES data holds strings, not numbers", t.Name)
	}
	return nil, fmt.Errorf("oip: tensor %q: data is %T, not the slice of a datatype", t.Name, t.Data)
}

// convert converts integers that float32 holds exactly, every one of them.
func convert[T int8 | uint8 | int16 | uint16](d []T) []float32 {
	out := make([]float32, len(d))
	for i, v := range d {
		out[i] = float32(v)
	}
	return out
}

// convertExact converts integers, refusing one of magnitude above 2^24.
func convertExact[T int32 | int64 | uint32 | uint64](name string, d []T) ([]float32, error) {
	out := make([]float32, len(d))
	for i, v := range d {
		// The comparisons of v with 0 keep them valid for unsigned T.
		if (v > 0 && uint64(v) > maxExactInt) || (v < 0 && int64(v) < -maxExactInt) {
			return nil, fmt.Errorf("oip: tensor %q: value %d at index %d has no exact float32", name, v, i)
		}
		out[i] = float32(v)
	}
	return out, nil
}

// NumElements returns the number of elements Shape holds, and an error for a
// negative dimension or a shape whose non-zero dimensions multiply past the
// int range.
func (t *Tensor) NumElements() (int, error) {
	n, err := shapeCount(t.Shape)
	if err != nil {
		return 0, fmt.Errorf("oip: tensor %q: %w", t.Name, err)
	}
	return n, nil
}

// checkData checks that Data is the Go type of Datatype and holds as many
// elements as Shape, and returns that count.
func (t *Tensor) checkData() (int, error) {
	dt := datatypeOf(t.Data)
	if dt == "" {
		return 0, fmt.Errorf("oip: tensor %q: data is %T, not the slice of a datatype", t.Name, t.Data)
	}
	if t.Datatype != dt {
		return 0, fmt.Errorf("oip: tensor %q: datatype %s does not match data of type %T", t.Name, t.Datatype, t.Data)
	}
	n, err := t.NumElements()
	if err != nil {
		return 0, err
	}
	if got := dataCount(t.Data); got != n {
		return 0, fmt.Errorf("oip: tensor %q: shape %s holds %d elements, data has %d", t.Name, shapeString(t.Shape), n, got)
	}
	return n, nil
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
