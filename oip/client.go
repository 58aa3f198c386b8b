package oip

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client calls a server that speaks the protocol. It is safe for
// concurrent use.
type Client struct {
	base    string
	hc      *http.Client
	maxResp int64
}

// DefaultMaxResponseBytes is the largest inference response a Client
// reads unless SetMaxResponseBytes says otherwise.
const DefaultMaxResponseBytes = 1 << 30

// maxMetadataBytes bounds the other responses: metadata and errors.
const maxMetadataBytes = 1 << 20

// NewClient returns a client for the server at baseURL (such as
// "http://localhost:8080"). A nil hc means http.DefaultClient.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc, maxResp: DefaultMaxResponseBytes}
}

// SetMaxResponseBytes bounds the inference responses c reads: a larger one
// is an error, so that a hostile or broken server cannot exhaust the
// client's memory. Call it before c is used.
func (c *Client) SetMaxResponseBytes(n int64) { c.maxResp = n }

// Live reports whether the server is live (GET /v2/health/live answers 200,
// and not 503). Other statuses are an *Error.
func (c *Client) Live(ctx context.Context) (bool, error) {
	return c.probe(ctx, "/v2/health/live")
}

// Ready reports whether the server is ready for inference (GET
// /v2/health/ready answers 200).
func (c *Client) Ready(ctx context.Context) (bool, error) {
	return c.probe(ctx, "/v2/health/ready")
}

// ModelReady reports whether a model is ready (GET
// /v2/models/{model}/ready answers 200, and not 503). A model the server
// does not know is an *Error with status 404.
func (c *Client) ModelReady(ctx context.Context, model string) (bool, error) {
	return c.probe(ctx, modelPath(model)+"/ready")
}

func (c *Client) probe(ctx context.Context, path string) (bool, error) {
	resp, err := c.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.StatusCode == http.StatusServiceUnavailable {
			return false, nil
		}
		return false, err
	}
	resp.Body.Close()
	return true, nil
}

// ServerMetadata returns GET /v2.
func (c *Client) ServerMetadata(ctx context.Context) (*ServerMetadata, error) {
	var m ServerMetadata
	if err := c.getJSON(ctx, "/v2", &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// ModelMetadata returns GET /v2/models/{model}.
func (c *Client) ModelMetadata(ctx context.Context, model string) (*ModelMetadata, error) {
	var m ModelMetadata
	if err := c.getJSON(ctx, modelPath(model), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadataBytes)).Decode(v); err != nil {
		return fmt.Errorf("oip: GET %s: %w", path, err)
	}
	return nil
}

// Infer runs POST /v2/models/{model}/infer. A response with a status other
// than 200 is an *Error.
func (c *Client) Infer(ctx context.Context, model string, req *InferRequest) (*InferResponse, error) {
	body, jsonLen, err := EncodeRequest(req)
	if err != nil {
		return nil, err
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if jsonLen != len(body) {
		h.Set("Content-Type", "application/octet-stream")
		h.Set(HeaderContentLength, strconv.Itoa(jsonLen))
	}
	resp, err := c.do(ctx, http.MethodPost, modelPath(model)+"/infer", body, h)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > c.maxResp {
		return nil, fmt.Errorf("oip: the response is %d bytes, over the client's limit of %d", resp.ContentLength, c.maxResp)
	}
	rb, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResp+1))
	if err != nil {
		return nil, fmt.Errorf("oip: reading the response: %w", err)
	}
	if int64(len(rb)) > c.maxResp {
		return nil, fmt.Errorf("oip: the response is over the client's limit of %d bytes", c.maxResp)
	}
	n := -1
	if v := resp.Header.Get(HeaderContentLength); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			return nil, fmt.Errorf("oip: bad %s header %q", HeaderContentLength, v)
		}
	}
	return DecodeResponse(rb, n)
}

func modelPath(model string) string {
	return "/v2/models/" + url.PathEscape(model)
}

// do sends a request and returns the response when its status is 200, and
// an *Error otherwise.
func (c *Client) do(ctx context.Context, method, path string, body []byte, h http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes))
	e := &Error{StatusCode: resp.StatusCode}
	var eb struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
		e.Message = eb.Error
	} else {
		e.Message = strings.TrimSpace(string(b))
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = ra
	}
	return nil, e
}
