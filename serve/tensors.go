package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/kerasrun/kerasrun/oip"
	"github.com/kerasrun/kerasrun/runtime"
)

// selected is one output of a response.
type selected struct {
	index   int // in the model's outputs
	binary  bool
	classes int // > 0: the top classes (the classification extension)
}

// Parameters the server implements; any other is refused, never ignored.
const (
	paramClassification = "classification"
)

// prepare checks a request against the model and builds its job: one
// float32 tensor per model input, in model order, and the outputs to send
// back. Every error is a 400 that names what is wrong and what the model
// takes.
func (m *model) prepare(req *oip.InferRequest) (*job, []selected, *httpError) {
	bad := func(format string, args ...any) *httpError {
		return errorf(http.StatusBadRequest, "model %q: "+format, append([]any{m.name}, args...)...)
	}
	if k := firstKey(req.Parameters); k != "" {
		return nil, nil, bad("request parameter %s is not supported (the server implements binary_data_output, and classification on an output)", quote(k))
	}
	byName := make(map[string]int, len(m.inputs))
	for i, io := range m.inputs {
		byName[io.Name] = i
	}
	in := make([]*runtime.Tensor, len(m.inputs))
	var key strings.Builder
	rows := -1
	for i := range req.Inputs {
		t := &req.Inputs[i]
		k, ok := byName[t.Name]
		if !ok {
			return nil, nil, bad("unknown input %s (inputs: %s)", quote(t.Name), m.inputSpecs())
		}
		if in[k] != nil {
			return nil, nil, bad("input %q given twice", t.Name)
		}
		if p := firstKey(t.Parameters); p != "" {
			return nil, nil, bad("input %q: parameter %s is not supported", t.Name, quote(p))
		}
		if t.Datatype == oip.BYTES {
			return nil, nil, bad("input %q is BYTES, but the model takes numbers (%s)", t.Name, specString(m.inputs[k]))
		}
		spec := m.inputs[k]
		shape := make([]int, len(t.Shape))
		for d, v := range t.Shape {
			shape[d] = int(v)
		}
		if len(shape) != len(spec.Shape) || !runtime.ShapeMatches(spec.Shape[1:], shape[1:]) {
			return nil, nil, bad("input %q has shape %v, want %s", t.Name, clipShape(t.Shape), specString(spec))
		}
		if shape[0] < 1 {
			return nil, nil, bad("input %q has shape %v: the batch axis must hold at least one sample", t.Name, t.Shape)
		}
		if shape[0] > m.lim.rows {
			return nil, nil, errorf(http.StatusRequestEntityTooLarge, "model %q: input %q has %d rows; the limit is %d rows a request", m.name, t.Name, shape[0], m.lim.rows)
		}
		if rows >= 0 && shape[0] != rows {
			return nil, nil, bad("input %q has %d samples but another input has %d", t.Name, shape[0], rows)
		}
		rows = shape[0]
		data, err := t.Float32s()
		if err != nil {
			return nil, nil, bad("%v", strings.TrimPrefix(err.Error(), "oip: "))
		}
		if strings.HasPrefix(spec.DType, "int") || strings.HasPrefix(spec.DType, "uint") {
			for j, v := range data {
				if float64(v) != math.Trunc(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, nil, bad("input %q takes integers (%s), but value %v at index %d is not one", t.Name, spec.DType, v, j)
				}
			}
		}
		x, err := runtime.NewTensor(shape, data)
		if err != nil {
			return nil, nil, bad("input %q: %v", t.Name, err)
		}
		in[k] = x
	}
	for k, x := range in {
		if x == nil {
			return nil, nil, bad("missing input %q (inputs: %s)", m.inputs[k].Name, m.inputSpecs())
		}
		// The merge key: every input's shape past the batch axis.
		for _, d := range x.Shape[1:] {
			key.WriteString(strconv.Itoa(d))
			key.WriteByte(',')
		}
		key.WriteByte(';')
	}
	sel, e := m.selectOutputs(req)
	if e != nil {
		return nil, nil, e
	}
	return &job{key: key.String(), rows: rows, in: in, done: make(chan result, 1)}, sel, nil
}

// selectOutputs returns the outputs a request asks for.
func (m *model) selectOutputs(req *oip.InferRequest) ([]selected, *httpError) {
	bad := func(format string, args ...any) *httpError {
		return errorf(http.StatusBadRequest, "model %q: "+format, append([]any{m.name}, args...)...)
	}
	var sel []selected
	if len(req.Outputs) == 0 {
		for i := range m.outputs {
			sel = append(sel, selected{index: i, binary: req.BinaryOutput})
		}
	} else {
		seen := map[int]bool{}
		for _, o := range req.Outputs {
			k := -1
			if len(o.Name) > clipLen {
				return nil, bad("unknown output %s (outputs: %s)", quote(o.Name), m.outputNames())
			}
			for i, io := range m.outputs {
				if io.Name == o.Name {
					k = i
				}
			}
			if k < 0 {
				return nil, bad("unknown output %s (outputs: %s)", quote(o.Name), m.outputNames())
			}
			if seen[k] {
				return nil, bad("output %q requested twice", o.Name)
			}
			seen[k] = true
			so := selected{index: k, binary: o.Binary}
			for p, v := range o.Parameters {
				if p != paramClassification {
					return nil, bad("output %q: parameter %s is not supported (the server implements binary_data and classification)", o.Name, quote(p))
				}
				n, ok := positiveInt(v)
				if !ok {
					return nil, bad("output %q: parameter %q is %s, want a positive count of classes", o.Name, p, quote(fmt.Sprint(v)))
				}
				so.classes = n
			}
			sel = append(sel, so)
		}
	}
	return sel, nil
}

// firstKey returns the smallest key of p, or "".
func firstKey(p oip.Parameters) string {
	first := ""
	for k := range p {
		if first == "" || k < first {
			first = k
		}
	}
	return first
}

// positiveInt reads a positive integer parameter: a JSON number, or an
// int64 from gRPC.
func positiveInt(v any) (int, bool) {
	var n int64
	switch x := v.(type) {
	case json.Number:
		var err error
		if n, err = x.Int64(); err != nil {
			return 0, false
		}
	case int64:
		n = x
	case int:
		n = int64(x)
	default:
		return 0, false
	}
	if n < 1 || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}

// clipShape bounds a client's shape for an error message.
func clipShape(s []int64) []int64 {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

func specString(io runtime.IO) string {
	s := make([]string, len(io.Shape))
	for i, d := range io.Shape {
		if d < 0 {
			s[i] = "-1"
		} else {
			s[i] = strconv.Itoa(d)
		}
	}
	return fmt.Sprintf("[%s] %s", strings.Join(s, ","), datatype(io.DType))
}

func (m *model) inputSpecs() string {
	var s []string
	for _, io := range m.inputs {
		s = append(s, fmt.Sprintf("%q %s", io.Name, specString(io)))
	}
	return strings.Join(s, ", ")
}

func (m *model) outputNames() string {
	var s []string
	for _, io := range m.outputs {
		s = append(s, strconv.Quote(io.Name))
	}
	return strings.Join(s, ", ")
}
