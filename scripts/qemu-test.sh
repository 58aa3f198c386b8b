#!/usr/bin/env bash
# Runs the tests of every package that builds without cgo as linux/arm64
# binaries under qemu-user, so that the NEON kernels (and the pure-Go
# fallback, forced through SetISA) are checked on an x86 machine, without
# cgo: a cross C toolchain and an arm64 libhdf5 are not assumed.
#
#   scripts/qemu-test.sh [go test flags]   e.g. -run NEON -v
#
# It installs qemu-user (which provides qemu-aarch64) when it is missing.
# qemu-user has no race detector to offer here (-race needs cgo), so the
# tests run without -race; the amd64 suite (scripts/test.sh) runs with it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "kerasrun: Go is not installed (expected /usr/local/go)" >&2; exit 1; }
if ! command -v qemu-aarch64 >/dev/null; then
  echo "installing: qemu-user" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq qemu-user >/dev/null
fi

# A package is tested when neither it nor its tests depend, directly or
# not, on a non-standard package with cgo files (listed with cgo on, as
# the package would build on a real arm64 machine). Of the others, those
# whose only cgo is libhdf5 are tested too, through the pure-Go HDF5
# reader that a build without cgo uses: the importer (every fixture and
# corpus model), kerasruntest and the examples. The root package, serve
# and the CLI are left out: their tests run go commands or servers with
# deadlines that emulation would stretch.
mod=$(go list -m)
pkgs=()
for p in $(go list ./...); do
  cgo=$(CGO_ENABLED=1 GOOS=linux GOARCH=arm64 go list -deps -test \
    -f '{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}' "$p" | head -n 1)
  case "$p" in
  "$mod/importer" | "$mod/kerasruntest" | "$mod/examples/"*) cgo="" ;;
  esac
  if [ -n "$cgo" ]; then
    echo "qemu-test: skipping $p (needs cgo: $cgo)" >&2
    continue
  fi
  pkgs+=("$p")
done

GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go vet "${pkgs[@]}"
GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go test -count=1 -exec qemu-aarch64 "$@" "${pkgs[@]}"
