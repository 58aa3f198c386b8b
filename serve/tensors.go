package serve

import (
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
	index  int // in the model's outputs
	binary bool
}

// prepare checks a request against the model and builds its job: one
// float32 tensor per model input, in model order, and the outputs to send
// back. Every error is a 400 that names what is wrong and what the model
// takes.
func (m *model) prepare(req *oip.InferRequest) (*job, []selected, *httpError) {
	bad := func(format string, args ...any) *httpError {
		return errorf(http.StatusBadRequest, "model %q: "+format, append([]any{m.name}, args...)...)
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
			return nil, nil, bad("unknown input %q (inputs: %s)", t.Name, m.inputSpecs())
		}
		if in[k] != nil {
			return nil, nil, bad("input %q given twice", t.Name)
		}
		spec := m.inputs[k]
		shape := make([]int, len(t.Shape))
		for d, v := range t.Shape {
			shape[d] = int(v)
		}
		if len(shape) != len(spec.Shape) || !runtime.ShapeMatches(spec.Shape[1:], shape[1:]) {
			return nil, nil, bad("input %q has shape %v, want %s", t.Name, t.Shape, specString(spec))
		}
		if shape[0] < 1 {
			return nil, nil, bad("input %q has shape %v: the batch axis must hold at least one sample", t.Name, t.Shape)
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
	var sel []selected
	if len(req.Outputs) == 0 {
		for i := range m.outputs {
			sel = append(sel, selected{index: i, binary: req.BinaryOutput})
		}
	} else {
		seen := map[int]bool{}
		for _, o := range req.Outputs {
			k := -1
			for i, io := range m.outputs {
				if io.Name == o.Name {
					k = i
				}
			}
			if k < 0 {
				return nil, nil, bad("unknown output %q (outputs: %s)", o.Name, m.outputNames())
			}
			if seen[k] {
				return nil, nil, bad("output %q requested twice", o.Name)
			}
			seen[k] = true
			sel = append(sel, selected{index: k, binary: o.Binary})
		}
	}
	return &job{key: key.String(), rows: rows, in: in, done: make(chan result, 1)}, sel, nil
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
