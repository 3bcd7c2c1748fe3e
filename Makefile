# Portico — build, run and test. `make run` and `make test` are all a new machine needs (Go 1.26).
SHELL := /bin/bash
GO ?= go
BIN := bin/portico
PKGS := ./...
# Short fuzz runs in `make test`; `make fuzz` runs each target for FUZZTIME_LONG.
FUZZTIME ?= 3s
FUZZTIME_LONG ?= 2m
FUZZ_TARGETS := \
	./gateway/session:FuzzOpen \
	./plugins/format:FuzzMoney

.PHONY: all build run test unit allocs fuzz-short fuzz lint bench clean

all: build

build:
	$(GO) build -trimpath -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o $(BIN) ./cmd/portico

## run: build, start `portico serve` with embedded etcd in ./data, seed the demo tenant, print a link and an API key
run: build
	./$(BIN) serve --dev --demo --data-dir ./data

## test: lint, the whole suite with the race detector, the allocation budgets without it, and
## short fuzz runs
test: lint unit allocs fuzz-short

unit:
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

# Allocation counts are only meaningful without -race (sync.Pool drops items under it).
allocs:
	$(GO) test -count=1 -run 'ZeroAllocs|DoesNotAllocate' $(PKGS)

fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; done

## fuzz: each fuzz target for FUZZTIME_LONG
fuzz:
	@$(MAKE) --no-print-directory fuzz-short FUZZTIME=$(FUZZTIME_LONG)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## bench: micro-benchmarks of the hot path
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./gateway/... ./plugins/... ./tenants/...

clean:
	rm -rf bin
