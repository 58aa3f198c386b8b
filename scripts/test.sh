#!/usr/bin/env bash
# Runs the whole test suite: formatting, vet, and go test -race over every
# package, including the golden fixtures and the real-model corpus in
# ../shared/keras-real (set KERASRUN_CORPUS to use another copy).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 ./...
