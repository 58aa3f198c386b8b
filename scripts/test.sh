#!/usr/bin/env bash
# Runs the whole test suite: formatting, vet, and go test -race over every
# package, including the golden fixtures, the bad-file corpus and the
# real-model corpus in ../shared/keras-real (set KERASRUN_CORPUS to use
# another copy).
#
#   scripts/test.sh               the test suite
#   scripts/test.sh fuzz [TIME]   run each fuzzer for TIME (default 30s), a
#                                 duration or a count of executions (20000x)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

# The fuzz targets, as package:Fuzzer. Their seed corpora (testdata/fuzz and
# the seeds they add themselves) also run in the plain test suite.
FUZZERS=(
  importer:FuzzLoad
  importer:FuzzArchive
  importer:FuzzBindWeights
  importer:FuzzParseModelConfig
  internal/inputfile:FuzzJSON
  internal/npyfile:FuzzDecode
  layers:FuzzLayer
  oip:FuzzDecodeRequest
  oip:FuzzDecodeResponse
  oip:FuzzDecodeRaw
  oip:FuzzProto
  internal/h5:FuzzOpen
)

if [ "${1:-}" = fuzz ]; then
  fuzztime="${2:-30s}"
  for f in "${FUZZERS[@]}"; do
    pkg="${f%%:*}" name="${f##*:}"
    echo "fuzz: $pkg $name for $fuzztime" >&2
    start=$SECONDS
    # A short minimization: the default (60 s for each new input) can
    # take the whole budget of a count-based run.
    go test "./$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s
    echo "fuzz: $pkg $name ran $((SECONDS - start))s in all" >&2
  done
  exit 0
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 ./...
