package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestSoak runs the soak command briefly: it must finish without errors,
// with as many goroutines as it started with, and report memory.
func TestSoak(t *testing.T) {
	var out, errOut bytes.Buffer
	model := filepath.Join("..", "..", "fixtures", "lstm_seq", "model.h5")
	code := run([]string{"soak", model, "--duration", "1500ms", "--interval", "500ms", "--workers", "4", "--load-every", "200ms"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	s := out.String()
	for _, want := range []string{"rss", "hwm", "goroutines", "soak done:", "0 errors"} {
		if !strings.Contains(s, want) {
			t.Errorf("output does not mention %q:\n%s", want, s)
		}
	}
	if rss, hwm := procStatus(); rss <= 0 || hwm < rss {
		t.Errorf("procStatus() = %d, %d", rss, hwm)
	}
}
