# kerasrun: make test | fuzz | fuzz-ci | soak | loadtest | abuse | busycore
#
#   make test                   gofmt, go vet and go test -race ./... (scripts/test.sh)
#   make fuzz [FUZZTIME=30s]    each fuzzer for FUZZTIME
#   make fuzz-ci                each fuzzer briefly (20000 executions), as CI does
#                               (a count: see .ci/run on Go 1.26's deadline race)
#   make soak [SOAK=10m]        concurrent predictions for SOAK, reporting
#                               memory and goroutines (kerasrun soak)
#   make loadtest               kerasrun serve under load: W1 of ../shared/perf,
#                               with and without batching (scripts/loadtest.sh)
#   make abuse [ABUSE_FLAGS=--long]
#                               the hostile-client suite of kerasrun serve
#                               (scripts/abuse.sh; loopback only, under 90 s)
#   make busycore               2-thread latency quiet and with one core busy
#                               (scripts/busycore.sh; needs ../shared/perf's models)

FUZZTIME ?= 30s
FUZZTIME_CI ?= 20000x
SOAK ?= 10m
SOAK_MODEL ?= fixtures/example/model.h5
SOAK_FLAGS ?= --interval 1m
ABUSE_FLAGS ?=

.PHONY: test fuzz fuzz-ci soak loadtest abuse busycore

test:
	scripts/test.sh

fuzz:
	scripts/test.sh fuzz $(FUZZTIME)

fuzz-ci:
	scripts/test.sh fuzz $(FUZZTIME_CI)

soak:
	go build -o bin/kerasrun ./cmd/kerasrun
	bin/kerasrun soak $(SOAK_MODEL) --duration $(SOAK) $(SOAK_FLAGS)

loadtest:
	scripts/loadtest.sh

abuse:
	scripts/abuse.sh $(ABUSE_FLAGS)

busycore:
	scripts/busycore.sh
