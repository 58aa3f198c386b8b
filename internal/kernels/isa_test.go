package kernels

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// testISAs returns the kernel paths this machine runs, best first, for a
// test to run each of; on amd64 it logs the paths the CPU lacks, whose
// tests are then skipped here.
func testISAs(t testing.TB) []string {
	t.Helper()
	have := ISAs()
	if runtime.GOARCH == "amd64" {
		for _, n := range []string{"avx512", "avx2"} {
			if !isaIn(have, n) {
				t.Logf("no %s here: its path is not tested", n)
			}
		}
	}
	return have
}

func isaIn(list []string, name string) bool {
	for _, n := range list {
		if n == name {
			return true
		}
	}
	return false
}

// forceISA puts the path name in force and returns the restore function.
func forceISA(t testing.TB, name string) (restore func()) {
	t.Helper()
	restore, err := SetISA(name)
	if err != nil {
		t.Fatal(err)
	}
	return restore
}

func TestChooseISA(t *testing.T) {
	for _, tc := range []struct {
		want      string
		best, got isaLevel
		note      string // a substring of the note; "" for none
	}{
		{"", isaAVX512, isaAVX512, ""},
		{"", isaGeneric, isaGeneric, ""},
		{"generic", isaAVX512, isaGeneric, ""},
		{"bogus", isaAVX2, isaAVX2, "not one of"},
		{"Generic", isaAVX512, isaGeneric, ""}, // any case
	} {
		got, note := chooseISA(tc.want, tc.best)
		if got != tc.got || (tc.note == "") != (note == "") || !strings.Contains(note, tc.note) {
			t.Errorf("chooseISA(%q, %v) = %v, %q; want %v and a note with %q", tc.want, tc.best, got, note, tc.got, tc.note)
		}
	}
	// A path the CPU lacks falls back to the best one below it.
	for _, l := range []isaLevel{isaAVX512, isaAVX2, isaNEON} {
		got, note := chooseISA(l.String(), bestISA())
		if l.supported() {
			if got != l || note != "" {
				t.Errorf("chooseISA(%v) = %v, %q; want it, no note", l, got, note)
			}
			continue
		}
		if !got.supported() || got >= l && l != isaNEON || note == "" {
			t.Errorf("chooseISA(%v) on a CPU without it = %v, %q; want a supported lower path and a note", l, got, note)
		}
	}
}

func TestSetISA(t *testing.T) {
	defer func(l isaLevel) { setLevel(l) }(curISA)
	have := ISAs()
	if have[len(have)-1] != "generic" {
		t.Fatalf("ISAs() = %v: want generic last", have)
	}
	if ISA() != curISA.String() {
		t.Fatalf("ISA() = %q, want %q", ISA(), curISA)
	}
	for _, n := range have {
		before := ISA()
		restore, err := SetISA(n)
		if err != nil {
			t.Fatalf("SetISA(%q): %v", n, err)
		}
		if ISA() != n {
			t.Errorf("after SetISA(%q), ISA() = %q", n, ISA())
		}
		if useAVX2 != (n == "avx2" || n == "avx512") || useAVX512 != (n == "avx512") {
			t.Errorf("SetISA(%q): useAVX2=%v useAVX512=%v", n, useAVX2, useAVX512)
		}
		restore()
		if ISA() != before {
			t.Errorf("restore after SetISA(%q): ISA() = %q, want %q", n, ISA(), before)
		}
	}
	for _, n := range []string{"avx512", "avx2", "neon", "sse", ""} {
		if isaIn(have, n) {
			continue
		}
		before := ISA()
		if r, err := SetISA(n); err == nil || r != nil {
			t.Errorf("SetISA(%q) on a machine with %v: no error", n, have)
		}
		if ISA() != before {
			t.Errorf("a failed SetISA(%q) changed the path to %q", n, ISA())
		}
	}
}

// TestPackedBAcrossISAs checks that weights packed under one path compute
// under every other: the same bits on the x86 vector paths (each element
// one FMA chain in the same order), and the float64 reference on all.
func TestPackedBAcrossISAs(t *testing.T) {
	isas := testISAs(t)
	for _, tc := range []gemmCase{{32, 512, 200, 0, 0, 0, false}, {1, 300, 70, 0, 0, 0, true}, {13, 9, 40, 2, 1, 3, true}} {
		d := newGemmData(tc)
		for _, packISA := range isas {
			restore := forceISA(t, packISA)
			pb := PackB(tc.k, tc.n, d.b, d.ldb)
			restore()
			var vec []float32
			for _, runISA := range isas {
				restore := forceISA(t, runISA)
				c := d.run(t, func(m int, a []float32, lda int, _ *PackedB, c []float32, ldc int, acc bool) {
					Gemm(m, a, lda, pb, c, ldc, acc)
				})
				restore()
				if runISA == "avx512" || runISA == "avx2" {
					if vec == nil {
						vec = c
					} else {
						compareBits(t, tc.String()+"/packed-"+packISA+"/"+runISA, vec, c, d.ldc)
					}
				}
			}
		}
	}
}

// TestISAEnv runs this test binary again with KERASRUN_ISA set, and checks
// the path the child starts on and its note.
func TestISAEnv(t *testing.T) {
	if os.Getenv("KERNELS_ISA_CHILD") == "1" {
		fmt.Printf("isa=%s note=%q\n", ISA(), ISANote())
		return
	}
	best := ISAs()[0]
	for _, tc := range []struct{ env, isa, note string }{
		{"", best, ""},
		{"generic", "generic", ""},
		{"pentium", best, "not one of"},
		{"neon", "generic", "lacks it"}, // on amd64; on arm64 it is there
	} {
		if tc.env == "neon" && hasNEON {
			continue
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestISAEnv$")
		cmd.Env = append(os.Environ(), "KERNELS_ISA_CHILD=1", isaEnv+"="+tc.env)
		out, err := cmd.CombinedOutput()
		if errors.Is(err, syscall.ENOEXEC) {
			// Under an emulator without binfmt_misc (go test -exec
			// qemu-aarch64, scripts/qemu-test.sh) the binary cannot
			// start itself.
			t.Skipf("cannot run the test binary again here: %v", err)
		}
		if err != nil {
			t.Fatalf("%s=%s: %v\n%s", isaEnv, tc.env, err, out)
		}
		if want := "isa=" + tc.isa + " "; !strings.Contains(string(out), want) ||
			(tc.note == "") != strings.Contains(string(out), `note=""`) || !strings.Contains(string(out), tc.note) {
			t.Errorf("%s=%q: child says %q, want %q and a note with %q", isaEnv, tc.env, out, want, tc.note)
		}
	}
}
