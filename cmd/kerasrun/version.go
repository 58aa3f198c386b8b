package main

import (
	"flag"
	"fmt"
	"io"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	"github.com/kerasrun/kerasrun/internal/kernels"
)

// version is the release, set at link time by a build that knows it (the
// Docker image: -ldflags "-X main.version=v1.2.3"). Empty, the module
// version recorded in the binary stands in.
var version string

const versionUsage = `usage: kerasrun version

Print kerasrun's version: the release (set at link time with
-ldflags "-X main.version=..."), the module version, the version-control
revision, time and state the binary was built from (recorded by go build),
the Go release and platform, and the kernels in force (avx512, avx2, neon
or generic; KERASRUN_ISA forces a lower one) with those this CPU can run.
`

func cmdVersion(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("takes no arguments, got %q", pos)
	}
	writeVersion(stdout, version, readBuildInfo())
	return nil
}

// buildInfo is what debug.ReadBuildInfo tells of the binary.
type buildInfo struct {
	module, modVersion string
	revision, time     string
	modified           string // "true" or "false"; "" when not recorded
	goVersion          string
}

func readBuildInfo() buildInfo {
	b := buildInfo{goVersion: goruntime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.module, b.modVersion = bi.Main.Path, bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.time":
			b.time = s.Value
		case "vcs.modified":
			b.modified = s.Value
		}
	}
	return b
}

// writeVersion prints the first line "kerasrun VERSION", then one
// "key: value" line for each fact that is known.
func writeVersion(w io.Writer, release string, b buildInfo) {
	v := release
	if v == "" {
		v = b.modVersion
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	fmt.Fprintf(w, "kerasrun %s\n", v)
	if b.module != "" {
		mv := b.modVersion
		if mv == "" {
			mv = "(devel)"
		}
		fmt.Fprintf(w, "module:   %s %s\n", b.module, mv)
	}
	if b.revision != "" {
		rev := b.revision
		if b.modified == "true" {
			rev += " (modified)"
		}
		fmt.Fprintf(w, "revision: %s\n", rev)
	}
	if b.time != "" {
		fmt.Fprintf(w, "time:     %s\n", b.time)
	}
	fmt.Fprintf(w, "go:       %s %s/%s\n", b.goVersion, goruntime.GOOS, goruntime.GOARCH)
	fmt.Fprintf(w, "kernels:  %s (this CPU: %s)\n", kernels.ISA(), strings.Join(kernels.ISAs(), ", "))
	if n := kernels.ISANote(); n != "" {
		fmt.Fprintf(w, "          %s\n", strings.TrimPrefix(n, "kernels: "))
	}
}
