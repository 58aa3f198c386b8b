#!/usr/bin/env bash
# The hostile-client suite of `kerasrun serve` (internal/cmd/abuse), outside
# the default test run; loopback (127.0.0.1) only.
#
#   scripts/abuse.sh             # or: make abuse     (short: under 90 s)
#   scripts/abuse.sh --long      # or: make abuse ABUSE_FLAGS=--long
#
# It builds bin/kerasrun and the suite, then runs the suite against the
# binary: slowloris, slow bodies and slow readers, connection floods,
# oversize bodies, overflowing shapes, huge names, rows over --max-rows,
# peak RSS under the largest accepted requests, and latency under 200
# concurrent clients over REST and gRPC. It prints one PASS/FAIL/SKIP line
# per case and a Markdown table of the figures, and exits 1 if any case
# failed or was skipped. Arguments go to the suite (--cases, --long,
# --rss-slack, --allow-skip, --rss-memory-limit).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
mkdir -p bin
go build -o bin/kerasrun ./cmd/kerasrun
go build -o bin/abuse ./internal/cmd/abuse
exec bin/abuse --bin bin/kerasrun --fixtures fixtures "$@"
