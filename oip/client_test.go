package oip

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestClientResponseLimit: a response over the client's limit is an error,
// whether the server announces its length or streams it.
func TestClientResponseLimit(t *testing.T) {
	big := `{"model_name":"m","outputs":[{"name":"y","shape":[1],"datatype":"FP32","data":[1]}],"id":"` + strings.Repeat("x", 4096) + `"}`
	for _, chunked := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if chunked {
				w.Write([]byte(big[:10]))
				w.(http.Flusher).Flush()
				w.Write([]byte(big[10:]))
				return
			}
			w.Write([]byte(big))
		}))
		c := NewClient(srv.URL, nil)
		c.SetMaxResponseBytes(1024)
		_, err := c.Infer(context.Background(), "m", &InferRequest{Inputs: []Tensor{NewFP32("x", []int64{1}, []float32{1})}})
		if err == nil || !strings.Contains(err.Error(), "limit of 1024") {
			t.Errorf("chunked=%v: %v", chunked, err)
		}
		c.SetMaxResponseBytes(DefaultMaxResponseBytes)
		if _, err := c.Infer(context.Background(), "m", &InferRequest{Inputs: []Tensor{NewFP32("x", []int64{1}, []float32{1})}}); err != nil {
			t.Errorf("chunked=%v, default limit: %v", chunked, err)
		}
		srv.Close()
	}
}
