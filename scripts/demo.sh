#!/usr/bin/env bash
# Builds kerasrun and runs it on the bundled example model: its summary,
# then a prediction printed as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
KERASRUN_NO_PYTHON=1 source scripts/deps.sh
go build -o bin/kerasrun ./cmd/kerasrun
bin/kerasrun summary fixtures/example/model.h5
echo
echo "prediction for fixtures/example/input.npy:"
bin/kerasrun predict fixtures/example/model.h5 --input fixtures/example/input.npy --output -
