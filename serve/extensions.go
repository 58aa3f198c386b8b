package serve

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kerasrun/kerasrun/oip"
	"github.com/kerasrun/kerasrun/runtime"
)

// Extensions named in the server metadata, as Triton names them.
const (
	extensionClassification = "classification"
	extensionStatistics     = "statistics"
	extensionRepository     = "model_repository"
)

// classBytes bounds one classification string: "%f" of a float32 (at most
// 46 characters), a colon and an index, with its 4-byte length prefix in
// binary.
const classBytes = 64

// checkResponse refuses a response over the model's limit before it is
// encoded. With resp nil it checks what the shapes tell before the model
// runs (nothing when an output has a free dimension); otherwise it checks
// the outputs computed. An output counts 4 bytes an element in binary and
// jsonElemBytes in JSON; gRPC (jsonOK false) sends every output in binary.
func (m *model) checkResponse(sel []selected, rows int, jsonOK bool, resp *oip.InferResponse) *httpError {
	size := int64(headerSlack)
	for i, o := range sel {
		var n int64
		if o.classes > 0 {
			per := rowElems(m.outputs[o.index : o.index+1])
			if resp != nil {
				per = int64(len(resp.Outputs[i].Data.([][]byte)) / rows)
			}
			n = satMul(int64(rows), min(per, int64(o.classes)))
			size = satAdd(size, satMul(n, classBytes))
			continue
		}
		if resp == nil {
			for _, d := range m.outputs[o.index].Shape[1:] {
				if d < 0 {
					return nil
				}
			}
			n = satMul(int64(rows), rowElems(m.outputs[o.index:o.index+1]))
		} else {
			n = int64(len(resp.Outputs[i].Data.([]float32)))
		}
		per := int64(4)
		if jsonOK && !o.binary {
			per = jsonElemBytes
		}
		size = satAdd(size, satMul(n, per))
	}
	if size > m.lim.response {
		return errorf(http.StatusRequestEntityTooLarge, "model %q: the response would take up to %d bytes; the limit is %d (ask for fewer rows, fewer outputs, or binary outputs)", m.name, size, m.lim.response)
	}
	return nil
}

// classify returns the classification extension's answer for an output t
// of shape [rows, ...]: per row, the k highest values (fewer if the row
// has fewer), highest first, as BYTES "<value>:<index>", the value
// written as C's "%f" writes it, ties and NaNs in index order after the
// numbers, as Triton orders them. Its shape is [rows, k].
func classify(name string, t *runtime.Tensor, k int) oip.Tensor {
	rows := t.Shape[0]
	per := 0
	if rows > 0 {
		per = len(t.Data) / rows
	}
	k = min(k, per)
	out := make([][]byte, 0, rows*k)
	idx := make([]int, per)
	for r := range rows {
		row := t.Data[r*per : (r+1)*per]
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			x, y := row[a], row[b]
			switch xn, yn := x != x, y != y; {
			case xn || yn:
				return cmp.Compare(boolInt(xn), boolInt(yn))
			}
			return cmp.Compare(y, x)
		})
		for _, i := range idx[:k] {
			b := appendCFloat(nil, row[i])
			b = append(b, ':')
			out = append(out, strconv.AppendInt(b, int64(i), 10))
		}
	}
	return oip.Tensor{Name: name, Datatype: oip.BYTES, Shape: []int64{int64(rows), int64(k)}, Data: out}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// appendCFloat writes v as C's printf("%f") does: six decimals, and
// "nan", "inf", "-inf".
func appendCFloat(b []byte, v float32) []byte {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		if math.Signbit(f) {
			return append(b, "-nan"...)
		}
		return append(b, "nan"...)
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	}
	return strconv.AppendFloat(b, f, 'f', 6, 64)
}

// modelStats are the counters of the statistics extension.
type modelStats struct {
	mu         sync.Mutex
	ok, failed durationCount
	queue      durationCount
	compute    durationCount
	inferences int64 // rows inferred
	executions int64 // Predict calls
	last       time.Time
}

type durationCount struct {
	Count int64 `json:"count"`
	NS    int64 `json:"ns"`
}

func (d *durationCount) add(t time.Duration) {
	d.Count++
	d.NS += int64(t)
}

func (st *modelStats) success(d time.Duration, rows int) {
	st.mu.Lock()
	st.ok.add(d)
	st.inferences += int64(rows)
	st.last = time.Now()
	st.mu.Unlock()
}

func (st *modelStats) fail(d time.Duration) {
	st.mu.Lock()
	st.failed.add(d)
	st.mu.Unlock()
}

func (st *modelStats) queued(d time.Duration) {
	st.mu.Lock()
	st.queue.add(d)
	st.mu.Unlock()
}

func (st *modelStats) executed(d time.Duration) {
	st.mu.Lock()
	st.compute.add(d)
	st.executions++
	st.mu.Unlock()
}

// statsJSON is one model's entry of the statistics extension's answer.
type statsJSON struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	LastInference  int64  `json:"last_inference"`
	InferenceCount int64  `json:"inference_count"`
	ExecutionCount int64  `json:"execution_count"`
	InferenceStats struct {
		Success       durationCount `json:"success"`
		Fail          durationCount `json:"fail"`
		Queue         durationCount `json:"queue"`
		ComputeInput  durationCount `json:"compute_input"`
		ComputeInfer  durationCount `json:"compute_infer"`
		ComputeOutput durationCount `json:"compute_output"`
		CacheHit      durationCount `json:"cache_hit"`
		CacheMiss     durationCount `json:"cache_miss"`
	} `json:"inference_stats"`
	BatchStats []struct{} `json:"batch_stats"`
}

func (m *model) statsJSON() statsJSON {
	st := &m.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	j := statsJSON{Name: m.name, Version: Version, InferenceCount: st.inferences, ExecutionCount: st.executions, BatchStats: []struct{}{}}
	if !st.last.IsZero() {
		j.LastInference = st.last.UnixMilli()
	}
	j.InferenceStats.Success = st.ok
	j.InferenceStats.Fail = st.failed
	j.InferenceStats.Queue = st.queue
	j.InferenceStats.ComputeInfer = st.compute
	return j
}

// modelStats is GET /v2/models[/{name}[/versions/{version}]]/stats, the
// statistics extension: success and failure counts and times, time
// queued and in Predict, rows inferred and Predict calls.
func (s *Server) modelStats(w http.ResponseWriter, r *http.Request) {
	var ms []*model
	if r.PathValue("name") == "" {
		s.mu.Lock()
		for _, m := range s.models {
			ms = append(ms, m)
		}
		s.mu.Unlock()
		slices.SortFunc(ms, func(a, b *model) int { return cmp.Compare(a.name, b.name) })
	} else if m := s.findModel(w, r); m != nil {
		ms = []*model{m}
	} else {
		return
	}
	out := struct {
		ModelStats []statsJSON `json:"model_stats"`
	}{ModelStats: []statsJSON{}}
	for _, m := range ms {
		out.ModelStats = append(out.ModelStats, m.statsJSON())
	}
	writeJSON(w, http.StatusOK, out)
}

// repositoryIndex is POST /v2/repository/index of the model repository
// extension: every model served, all ready (a model is served from Add
// to Shutdown; there is no loading or unloading over the protocol).
func (s *Server) repositoryIndex(w http.ResponseWriter, r *http.Request) {
	type entry struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		State   string `json:"state"`
	}
	s.mu.Lock()
	out := make([]entry, 0, len(s.models))
	state := "READY"
	if s.draining {
		state = "UNAVAILABLE"
	}
	for name := range s.models {
		out = append(out, entry{Name: name, Version: Version, State: state})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b entry) int { return cmp.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}
