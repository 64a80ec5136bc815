# svclab — see README.md. `sudo make up` runs the lab, `sudo make test` runs every test.
SHELL := /bin/bash
GO ?= go
BIN := bin/svclab
# The Go toolchain on CI machines lives here; sudo drops it from PATH.
export PATH := $(PATH):/usr/local/go/bin
GOFLAGS_BUILD := -trimpath -ldflags='-s -w'
# One static binary; tests build with the same setting so they share the build cache.
export CGO_ENABLED := 0

.PHONY: build up apiserver test test-unit deps bench generate clean fmt vet

build: $(BIN)

# The binary embeds the exercises and the web UI's assets: they are inputs too.
$(BIN): $(shell find . -name '*.go' -not -path './bin/*') $(shell find exercises web/static -type f) go.mod go.sum
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/svclab

# deps installs the host packages the lab and its tests use (Debian/Ubuntu), when missing.
deps:
	@./hack/install-deps.sh

# up runs a 3-node lab in the foreground (Ctrl-C removes it).
up: deps build
	./$(BIN) up

# test runs every test: unit, API compatibility with real kubectl and client-go, privileged.
test: deps build
	./hack/test.sh

# bench prints the API server, lab lifecycle and kube-proxy benchmarks (the last two need root).
bench: build
	./hack/bench.sh
	SVCLAB_BIN=$(CURDIR)/$(BIN) ./hack/bench-lab.sh
	./hack/bench-proxy.sh

generate:
	./hack/update-openapi.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
