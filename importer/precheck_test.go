package importer

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/internal/h5"
)

// TestLookup3 checks the checksum against the test vectors of Bob
// Jenkins's lookup3.c (driver5).
func TestLookup3(t *testing.T) {
	for _, tc := range []struct {
		s    string
		init uint32
		want uint32
	}{
		{"", 0, 0xdeadbeef},
		{"", 0xdeadbeef, 0xbd5b7dde},
		{"Four score and seven years ago", 0, 0x17770551},
		{"Four score and seven years ago", 1, 0xcd628161},
	} {
		if got := h5.Lookup3([]byte(tc.s), tc.init); got != tc.want {
			t.Errorf("h5.Lookup3(%q, %#x) = %#08x, want %#08x", tc.s, tc.init, got, tc.want)
		}
	}
}

// TestPrecheckSuperblock checks the superblock checks on hand-made
// superblocks of every version.
func TestPrecheckSuperblock(t *testing.T) {
	// v0 builds a version 0 superblock with 8-byte addresses for a file of
	// size bytes.
	v0 := func(eof, root uint64, size int) []byte {
		b := make([]byte, max(size, 96))
		copy(b, hdf5Signature)
		b[13], b[14] = 8, 8
		binary.LittleEndian.PutUint64(b[24:], 0)                // base
		binary.LittleEndian.PutUint64(b[32:], undefinedAddress) // free space
		binary.LittleEndian.PutUint64(b[40:], eof)              // end of file
		binary.LittleEndian.PutUint64(b[48:], undefinedAddress) // driver info
		binary.LittleEndian.PutUint64(b[56:], 0)                // root link name
		binary.LittleEndian.PutUint64(b[64:], root)             // root object header
		return b[:size]
	}
	v2 := func(eof, root uint64, size int, sum bool) []byte {
		b := make([]byte, max(size, 48))
		copy(b, hdf5Signature)
		b[8], b[9], b[10] = 2, 8, 8
		binary.LittleEndian.PutUint64(b[12:], 0)
		binary.LittleEndian.PutUint64(b[20:], undefinedAddress)
		binary.LittleEndian.PutUint64(b[28:], eof)
		binary.LittleEndian.PutUint64(b[36:], root)
		if sum {
			binary.LittleEndian.PutUint32(b[44:], h5.Lookup3(b[:44], 0))
		}
		return b[:size]
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		want string // "" for no error
	}{
		{"v0_ok", v0(200, 96, 200), ""},
		{"v0_longer_than_eof", v0(200, 96, 300), ""},
		{"v0_eof_past_end", v0(201, 96, 200), "ends at byte 201, but it has only 200 bytes"},
		{"v0_eof_undefined", v0(undefinedAddress, 96, 200), "truncated HDF5 file"},
		{"v0_root_outside", v0(200, 5000, 200), "root group address 5000 is outside the file"},
		{"v0_short", v0(200, 96, 60), "truncated superblock"},
		{"v2_ok", v2(100, 48, 100, true), ""},
		{"v2_bad_checksum", v2(100, 48, 100, false), "superblock checksum"},
		{"v2_eof_past_end", v2(101, 48, 100, true), "ends at byte 101"},
		{"v9", append(append([]byte{}, hdf5Signature...), 9, 8, 8, 0, 0, 0, 0, 0), "superblock version 9"},
		{"bad_offsets", func() []byte { b := v0(200, 96, 200); b[13] = 3; return b }(), "size of offsets is 3"},
		{"wide_address", func() []byte {
			// 16-byte addresses whose high half is not zero.
			b := make([]byte, 400)
			copy(b, hdf5Signature)
			b[13], b[14] = 16, 8
			b[24+16*2+9] = 1
			return b
		}(), "does not fit in 64 bits"},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := precheckFile(p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestPrecheckNotRegular checks that a FIFO and a directory are refused at
// once: opening a FIFO for reading would wait for a writer forever.
func TestPrecheckNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.h5")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Load(fifo, nil)
		done <- err
	}()
	select {
	case err := <-done:
		wantMessage(t, err, fifo, "not a regular file")
	case <-time.After(5 * time.Second):
		t.Fatal("Load of a FIFO hangs")
	}
	_, err := Load(dir, nil)
	wantMessage(t, err, dir, "not a regular file")
}

// TestLoadTruncatedEverywhere cuts a valid model file at many lengths: every
// cut must be refused by the end-of-file check, before libhdf5 reads it.
func TestLoadTruncatedEverywhere(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "fixtures", "example", "model.h5"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cut.h5")
	for n := 1; n < len(src); n += 211 {
		if err := os.WriteFile(p, src[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p, nil)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("cut at %d bytes: %v", n, err)
		}
		if n >= 96 && !strings.Contains(err.Error(), "truncated HDF5 file") {
			t.Errorf("cut at %d bytes: %v", n, err)
		}
	}
}

// TestCheckJSONDepth checks the nesting bound, which runs before any
// recursive parser, and that brackets inside strings do not count.
func TestCheckJSONDepth(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, tc := range []struct {
		js string
		ok bool
	}{
		{deep(maxJSONDepth), true},
		{deep(maxJSONDepth + 1), false},
		{`{"a": "` + strings.Repeat("[", 10000) + `"}`, true},
		{`{"a": "\"` + strings.Repeat("{", 10000) + `"}`, true},
		{`["\\"` + deep(maxJSONDepth) + `]`, false},
	} {
		err := checkJSONDepth("model_config", tc.js)
		if (err == nil) != tc.ok {
			t.Errorf("%.40s...: %v, want ok=%v", tc.js, err, tc.ok)
		}
	}
	// Deep enough to overflow the goroutine stack of a recursive parser:
	// rejected at once, at the first byte past the limit (the error names
	// the byte, so the work done is counted, not timed).
	err := checkJSONDepth("model_config", deep(20_000_000))
	if err == nil || !strings.Contains(err.Error(), "nests more than 512 levels") {
		t.Errorf("20,000,000 levels: %v", err)
	} else if at := fmt.Sprintf("(at byte %d)", maxJSONDepth); !strings.Contains(err.Error(), at) {
		t.Errorf("20,000,000 levels: %v; want it rejected %s", err, at)
	}
}

// TestCountLayers checks the layer count that is compared with
// Options.MaxLayers before the config is decoded.
func TestCountLayers(t *testing.T) {
	seq := sequential(denseLayerJSON("d1", 2, "[null, 3]", ""), denseLayerJSON("d2", 2, "", ""))
	nested := `{"class_name": "Sequential", "config": {"name": "outer", "layers": [` +
		`{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 3]}}, ` +
		seq + `, ` + denseLayerJSON("d3", 2, "", "") + `]}}`
	for _, tc := range []struct {
		js          string
		limit, want int
	}{
		{seq, 100, 2},
		{nested, 100, 4},
		{nested, 2, 3},
		{`{"class_name": "Sequential", "config": [1, 2, 3]}`, 100, 3},
		{`not json`, 100, 0},
	} {
		if got := countLayers(tc.js, tc.limit); got != tc.want {
			t.Errorf("countLayers(%.60s..., %d) = %d, want %d", tc.js, tc.limit, got, tc.want)
		}
	}
}
