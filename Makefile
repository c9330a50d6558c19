# kfpargo — run Kubeflow Pipelines on plain Argo Workflows.
#
#   make demo   bring up the local stack, run the seed MNIST pipeline three times (the cache at work), tear down
#   make test   unit, integration (real MinIO) and end-to-end tests (real Argo)
#
# The local stack needs root (its node agent uses mount namespaces).

GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDVERSION := -X github.com/kfpargo/kfpargo/version.Version=$(VERSION)
STACK     := $(GO) run ./test/cmd/localstack
GOFLAGS_T ?= -count=1
TEST_TIMEOUT ?= 60m

.PHONY: all build images demo test unit stack-build stack-up stack-down vet fmt clean help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

build: ## build kfpargo, the launcher and the cache webhook into bin/, stamped with VERSION
	$(GO) build -ldflags '$(LDVERSION)' -o $(BIN)/kfpargo ./cmd/kfpargo
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w $(LDVERSION)' -o $(BIN)/launcher ./cmd/launcher
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w $(LDVERSION)' -o $(BIN)/cachewebhook ./cmd/cachewebhook

# Images are assembled without a Docker engine (build/imagebuild; the
# Dockerfiles under images/ build the same with Docker). docs/images.md.
PLATFORMS ?= linux/amd64,linux/arm64
PUSH      ?=

images: ## build the launcher and cache webhook images into bin/images, tagged VERSION (PUSH=registry/prefix also pushes)
	$(GO) run ./build/imagebuild -version '$(VERSION)' -platforms '$(PLATFORMS)' -out $(BIN)/images $(if $(PUSH),-push '$(PUSH)')

stack-build: ## build (or find cached) every binary the local stack runs
	$(STACK) build

stack-up: ## start the local stack in the background (writes .stack/env)
	$(STACK) up

stack-down: ## stop the local stack and clean up
	$(STACK) down

demo: stack-build ## run the seed MNIST pipeline three times on the local stack, showing the step cache
	$(GO) run ./test/cmd/demo

vet: ## go vet and gofmt check
	$(GO) vet ./...
	@# not `tee /dev/stderr`: reopening stderr truncates a log file it points at
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:" >&2; echo "$$unformatted" >&2; exit 1; fi

unit: ## unit tests only (no servers)
	KFPARGO_SKIP_STACK=1 $(GO) test $(GOFLAGS_T) -short ./...

# go test -fuzz takes one target per run, so each package:target pair runs
# in turn; a crasher is written to that package's testdata/fuzz and then
# replays in every plain go test. Long runs: make fuzz FUZZTIME=10m.
# Go 1.26 can end a timed run with a bare "context deadline exceeded" and no
# crasher (go.dev/issue/75804, fixed in Go 1.27); that alone is not a failure.
FUZZTIME     ?= 15s
FUZZPARALLEL ?= 1
FUZZ_TARGETS := ./ir:FuzzParse ./translator:FuzzTranslate ./translator:FuzzCELCondition ./step:FuzzBraceEscape ./cachestore:FuzzDecodeEntry ./cachewebhook:FuzzAdmissionReview ./launcher:FuzzResolveArgs ./launcher:FuzzUserOutputs ./step:FuzzParseRunArgs

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (default 15s)
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "$$name ($$pkg) for $(FUZZTIME)"; \
		if $(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s -parallel $(FUZZPARALLEL) >$$log 2>&1; then \
			if grep -q 'no fuzz tests to fuzz' $$log; then echo "$$name: no such fuzz target in $$pkg"; exit 1; fi; \
			tail -n 3 $$log; \
		elif grep -q 'context deadline exceeded' $$log && ! grep -q -e 'Failing input written' -e '^    --- FAIL' $$log; then \
			grep '^fuzz: elapsed' $$log | tail -n 1; echo "$$name: deadline race of the Go fuzz coordinator, no crasher (go.dev/issue/75804)"; \
		else \
			cat $$log; exit 1; \
		fi; \
	done

# Integration tests start MinIO from the stack's binary cache and the
# end-to-end suite starts the whole stack; KFPARGO_REQUIRE_SERVERS makes a
# missing server a failure instead of a skip.
test: stack-build vet ## unit, integration and end-to-end tests
	KFPARGO_REQUIRE_SERVERS=1 $(GO) test $(GOFLAGS_T) -p 1 -timeout $(TEST_TIMEOUT) ./...

fmt: ## gofmt the tree
	gofmt -w .

clean: ## remove build outputs and local stack state (not the binary cache)
	-$(STACK) down
	rm -rf $(BIN) .stack
