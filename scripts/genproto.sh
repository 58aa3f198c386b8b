#!/usr/bin/env bash
# Regenerates oip/inferencepb from the vendored grpc_predict_v2.proto. The
# generated files are committed, so building kerasrun never needs protoc;
# run this only after changing the .proto or the generator versions below.
# Needs protoc (Debian: protobuf-compiler) and Go; the two Go plugins are
# installed at pinned versions into a temporary GOBIN.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
command -v protoc >/dev/null || { echo "genproto: protoc is not installed (Debian: apt-get install protobuf-compiler)" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install "$PROTOC_GEN_GO"
GOBIN=$bin go install "$PROTOC_GEN_GO_GRPC"
PATH=$bin:$PATH protoc -I oip/inferencepb \
  --go_out=oip/inferencepb --go_opt=paths=source_relative \
  --go-grpc_out=oip/inferencepb --go-grpc_opt=paths=source_relative \
  grpc_predict_v2.proto
gofmt -l oip/inferencepb
