#!/usr/bin/env bash
# Installs what kerasrun needs on Debian, only when something is missing:
# libhdf5-dev and pkg-config (for cgo in importer/), gcc, and the Python packages that the
# tests and tools/gen_fixtures.py use (and protoc, for the Python gRPC client's messages). Go itself must already be installed
# (/usr/local/go on our machines).
set -euo pipefail
need=()
dpkg -s libhdf5-dev >/dev/null 2>&1 || need+=(libhdf5-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
if [ "${KERASRUN_NO_PYTHON:-}" != 1 ]; then
  /usr/bin/python3 -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
  /usr/bin/python3 -c 'import h5py' 2>/dev/null || need+=(python3-h5py)
  /usr/bin/python3 -c 'import torch' 2>/dev/null || need+=(python3-torch)
  # The third-party OIP gRPC client (tools/oip_grpc_client.py).
  /usr/bin/python3 -c 'import grpc' 2>/dev/null || need+=(python3-grpcio)
  /usr/bin/python3 -c 'import google.protobuf' 2>/dev/null || need+=(python3-protobuf)
  command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "kerasrun: Go is not installed (expected /usr/local/go)" >&2; exit 1; }
