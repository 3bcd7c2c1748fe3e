# Portico — build, run and test. `make run` and `make test` are all a new machine needs (Go 1.26).
SHELL := /bin/bash
GO ?= go
BIN := bin/portico
PKGS := ./...
# Short fuzz runs in `make test`: a number of executions per target (pkg:Fuzz:count), not a
# duration, because Go 1.26's fuzz coordinator can fail a duration-bounded run with a bare "context
# deadline exceeded" when a loaded machine starves its workers at the deadline (golang/go#75804,
# fixed in Go 1.27); counts are sized to a few seconds each on a quiet machine. `make fuzz` runs
# each target for FUZZTIME_LONG; FUZZTIME=... overrides the counts of `make fuzz-short`.
FUZZTIME ?=
FUZZTIME_LONG ?= 2m
FUZZ_TARGETS := \
	./gateway/session:FuzzOpen:5000x \
	./i18n:FuzzMoney:10000x \
	./invoicedoc:FuzzRenderPDF:20x \
	./tenants/account:FuzzDecode:10000x \
	./tenants:FuzzDocDecode:20000x \
	./gateway:FuzzNormalizeHost:1000x \
	./gateway:FuzzAPIRequestDecode:1000x \
	./mail:FuzzBuildPortalLink:3000x \
	./catalog:FuzzPreview:3000x

.PHONY: all build run test deps deps-run deps-test unit allocs fuzz-short fuzz lint bench bench-scale bench-micro screenshots clean

all: build

build:
	$(GO) build -trimpath -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o $(BIN) ./cmd/portico

## run: install the font Japanese PDFs need if missing, build, start `portico serve` with embedded etcd in ./data, seed the demo tenant, print a link and an API key
run: deps-run build
	./$(BIN) serve --dev --demo --data-dir ./data --webhook-allow-cidr 127.0.0.0/8 \
		--smtp-addr 127.0.0.1:1025 --smtp-tls none --smtp-from "Acme Cloud Billing <billing@acme-cloud.example>"

## test: system packages, lint, the whole suite with the race detector, the allocation budgets
## without it, and short fuzz runs
test: deps lint unit allocs fuzz-short

# What is installed with apt-get (as root, or through sudo) when missing. deps-run: what the
# product itself uses, the IPAex Gothic font for Japanese invoice PDFs (`make run` needs it).
# deps-test: what the tests use beyond that, Chromium (browser tests), poppler-utils (pdftotext
# and pdfinfo, PDF checks), etcd-server (the fault tests run Debian's etcd server processes besides
# embedded members) and Node.js with npm; then axe-core (accessibility checks) from npm into
# internal/browsertest/node_modules, at the version package-lock.json pins. Where systemd runs,
# installing etcd-server starts its service on 127.0.0.1:2379, the address of `make run`'s
# embedded etcd and the CLI's default: deps-test stops and disables that service (the tests start
# their own etcd processes).
AXE := internal/browsertest/node_modules/axe-core/axe.min.js
deps: deps-run deps-test

deps-run:
	@if ! test -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf; then \
		$(call apt_install,fonts-ipaexfont-gothic); \
	fi

deps-test: $(AXE)
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v etcd >/dev/null 2>&1 || test -x /usr/bin/etcd || missing="$$missing etcd-server"; \
	if [ -n "$$missing" ]; then \
		$(call apt_install,$$missing) || exit 1; \
		if [[ "$$missing" == *etcd-server* ]] && systemctl is-active --quiet etcd 2>/dev/null; then \
			echo "stopping and disabling the etcd service etcd-server started (it holds 127.0.0.1:2379)"; \
			sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
			$$sudo systemctl disable --now etcd >/dev/null 2>&1 || true; \
		fi; \
	fi

# apt_install installs the Debian packages $(1), as root or through sudo.
apt_install = echo "installing: $(1)"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(1) >/dev/null

$(AXE): internal/browsertest/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		$(call apt_install,nodejs npm); \
	fi
	cd internal/browsertest && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

unit:
	$(GO) test -race -count=1 -timeout 25m $(PKGS)

# Allocation counts are only meaningful without -race (sync.Pool drops items under it).
allocs:
	$(GO) test -count=1 -run 'ZeroAllocs|DoesNotAllocate' $(PKGS)

fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do n=$${t##*:}; t=$${t%:*}; pkg=$${t%%:*}; fn=$${t##*:}; \
		ft=$(FUZZTIME); ft=$${ft:-$$n}; echo "fuzz $$pkg $$fn ($$ft)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $$ft $$pkg; done

## fuzz: each fuzz target for FUZZTIME_LONG
fuzz:
	@$(MAKE) --no-print-directory fuzz-short FUZZTIME=$(FUZZTIME_LONG)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## bench: the load benchmark suite, under 15 minutes on this 2-core machine (bench/run.sh): the
## customer page against the fasthttp static-bytes limit and net/http + html/template, link
## redemption, session creation, cold pages, HTTPS, memory with 10,000 tenants and 100,000
## accounts, and the hot path's micro-benchmarks; writes bench/RESULTS.md
bench:
	GO=$(GO) bash bench/run.sh

## bench-scale: 1,000,000 accounts across 10,000 tenants (bench/scale.sh, about 30 minutes): loading
## time, etcd size, gateway RSS with the default account cache, page rates of a cached and of
## uncached accounts; writes bench/SCALE.md
bench-scale:
	GO=$(GO) bash bench/scale.sh

## bench-micro: only the Go micro-benchmarks of the hot path, three times each
bench-micro:
	$(GO) test -run '^$$' -bench 'CustomerPage|Open|Render|HostLookup|AccountSnapshot' -benchmem -count 3 ./gateway/... ./plugins/... ./tenants/

## screenshots: the portal tour of `make test` again, then copies its English and Japanese
## overview at 360 and 1280 px into docs/screenshots/ (the README shows them)
screenshots: deps
	$(GO) test -count=1 -run 'TestPortalTour/(en|ja)$$' ./e2e/
	@mkdir -p docs/screenshots
	@for l in en ja; do for w in 360 1280; do \
		cp test-artifacts/portal/$$l/overview-$$w.png docs/screenshots/portal-$$l-$$w.png; done; done
	@ls -l docs/screenshots

clean:
	rm -rf bin
