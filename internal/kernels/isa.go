package kernels

import (
	"fmt"
	"os"
	"strings"
)

// An instruction-set path. Each level runs the kernels of the levels below
// it where it has none of its own (the AVX-512 level runs the AVX2
// depthwise kernels, for one), so that forcing a lower level changes every
// kernel that has a version at the higher one.
type isaLevel uint8

const (
	isaGeneric isaLevel = iota // pure Go
	isaAVX2                    // AVX2 + FMA, 256-bit
	isaAVX512                  // AVX-512F, 512-bit
	isaNEON                    // arm64 Advanced SIMD
)

var isaNames = [...]string{isaGeneric: "generic", isaAVX2: "avx2", isaAVX512: "avx512", isaNEON: "neon"}

// isaPrefer lists the levels best first.
var isaPrefer = [...]isaLevel{isaAVX512, isaAVX2, isaNEON, isaGeneric}

// supported reports whether this CPU, OS and build run level l.
func (l isaLevel) supported() bool {
	switch l {
	case isaAVX2:
		return hasAVX2
	case isaAVX512:
		return hasAVX512
	case isaNEON:
		return hasNEON
	}
	return true
}

// fallback is the level that runs in place of l where l is not supported:
// the best supported one below it on its architecture (AVX-512, AVX2,
// generic), or generic.
func (l isaLevel) fallback() isaLevel {
	for l > isaGeneric && l <= isaAVX512 && !l.supported() {
		l--
	}
	if !l.supported() {
		return isaGeneric
	}
	return l
}

func (l isaLevel) String() string { return isaNames[l] }

// isaEnv is the environment variable that forces a lower path.
const isaEnv = "KERASRUN_ISA"

var (
	// curISA is the path in force; useAVX2 and useAVX512 mirror it for the
	// dispatch points. They are set at init and changed only by SetISA,
	// never while kernels run.
	curISA    isaLevel
	useAVX2   bool
	useAVX512 bool
	// isaNote says why the path in force is not the one KERASRUN_ISA asked for.
	isaNote string
)

func init() {
	best := bestISA()
	want := os.Getenv(isaEnv)
	level, note := chooseISA(want, best)
	isaNote = note
	setLevel(level)
}

// bestISA is the best level this CPU and build run.
func bestISA() isaLevel {
	for _, l := range isaPrefer {
		if l.supported() {
			return l
		}
	}
	return isaGeneric
}

// chooseISA returns the level for the KERASRUN_ISA value want (empty: the
// best one) and, when that is not the level asked for, a note saying why.
func chooseISA(want string, best isaLevel) (isaLevel, string) {
	if want == "" {
		return best, ""
	}
	l, ok := parseISA(want)
	switch {
	case !ok:
		return best, fmt.Sprintf("kernels: %s=%q is not one of %s: using %s", isaEnv, want, strings.Join(isaNames[:], ", "), best)
	case !l.supported():
		f := l.fallback()
		return f, fmt.Sprintf("kernels: %s=%s: this CPU or build lacks it: using %s", isaEnv, want, f)
	}
	return l, ""
}

func parseISA(name string) (isaLevel, bool) {
	for l, n := range isaNames {
		if strings.EqualFold(name, n) {
			return isaLevel(l), true
		}
	}
	return 0, false
}

// setLevel puts level l in force. The arm64 kernels dispatch on curISA
// == isaNEON.
func setLevel(l isaLevel) {
	curISA = l
	useAVX2 = l == isaAVX2 || l == isaAVX512 // isaNEON sorts after them
	useAVX512 = l == isaAVX512
}

// ISA returns the name of the kernel path in force: "avx512", "avx2",
// "neon" or "generic" (pure Go). It is the best path the CPU, the OS and the build
// support, or the lower one that KERASRUN_ISA (read once, at start-up)
// or SetISA asked for.
func ISA() string { return curISA.String() }

// ISANote returns why the path in force differs from the one KERASRUN_ISA
// asked for (an unknown name, or a path this CPU or build lacks, replaced
// by the best one available), or "" when it does not.
func ISANote() string { return isaNote }

// ISAs returns the names of the paths this CPU and build can run, best
// first; "generic" is always last.
func ISAs() []string {
	var s []string
	for _, l := range isaPrefer {
		if l.supported() {
			s = append(s, l.String())
		}
	}
	return s
}

// SetISA forces the kernel path name ("avx512", "avx2", "neon" or
// "generic") and returns a function that restores the previous one. It
// fails, changing nothing, for an unknown name or a path this CPU or build
// lacks (see ISAs). It is meant for tests and benchmarks: it must not be called
// while any kernel runs, in any goroutine, and a PackedB stays valid
// across it (the packed layout is the same on every path).
func SetISA(name string) (restore func(), err error) {
	l, ok := parseISA(name)
	if !ok {
		return nil, fmt.Errorf("kernels: unknown ISA %q (want one of %s)", name, strings.Join(isaNames[:], ", "))
	}
	if !l.supported() {
		return nil, fmt.Errorf("kernels: ISA %s not supported here (have %s)", name, strings.Join(ISAs(), ", "))
	}
	old := curISA
	setLevel(l)
	return func() { setLevel(old) }, nil
}
