# drdrill — the two commands a new user runs are `make drill` and `make test`.
# Each installs or builds what it needs (Go modules through the module proxy,
# mariadb-server via apt when root) or stops with one line saying what to install.

SHELL := /bin/bash
GO ?= go
BUILD := build
LABELS ?=
REPEAT ?= 1
STATICCHECK_VERSION := v0.8.2
ACTIONLINT_VERSION := v1.7.12
export CGO_ENABLED ?= 0

.PHONY: all deps build build-aws image image-check push drill test test-go test-drill test-twin-drill test-junit test-report-check lint bench report-check lambda lambda-check validate outputs clean

all: build

deps:
	@command -v $(GO) >/dev/null || { echo "drdrill: go not found: install Go 1.26 (https://go.dev/doc/install)" >&2; exit 1; }
	@scripts/ensure-mariadb.sh
	@$(GO) mod download

## build: drdrill, ginkgo and the compiled drill suite (build/drill.test), so
## a drill compiles nothing and runs from any directory
build: | deps
	@mkdir -p $(BUILD)
	$(GO) build -buildvcs=auto -o $(BUILD)/drdrill ./cmd/drdrill  # the commit, for `drdrill version` and run.json
	$(GO) build -o $(BUILD)/ginkgo github.com/onsi/ginkgo/v2/ginkgo
	$(GO) test -c -o $(BUILD)/drill.test ./suites/drill
	@for f in $(LAMBDAS); do $(GO) build -tags lambda.norpc -o $(BUILD)/lambda-host/$$f ./lambda/$$f || exit 1; done

## build-aws: drdrill-lifecycle, the Terratest deploy → drill → teardown runner
## behind `drdrill drill --target aws` (Terratest takes minutes to compile)
build-aws: build
	$(GO) build -o $(BUILD)/drdrill-lifecycle ./cmd/drdrill-lifecycle

LAMBDAS := healthmonitor failovertrigger

## lambda: build/lambda/<fn>.zip for arm64 (Graviton), provided.al2023, reproducible
lambda:
	@for f in $(LAMBDAS); do \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -buildvcs=false \
	    -ldflags='-s -w -buildid=' -o $(BUILD)/lambda/$$f/bootstrap ./lambda/$$f || exit 1; \
	  $(GO) run ./cmd/lambdazip $(BUILD)/lambda/$$f.zip $(BUILD)/lambda/$$f/bootstrap || exit 1; \
	  echo "built $(BUILD)/lambda/$$f.zip ($$(stat -c %s $(BUILD)/lambda/$$f.zip) bytes, sha256 $$(sha256sum $(BUILD)/lambda/$$f.zip | cut -c1-16))"; \
	done

## lambda-check: two builds give byte-identical zips
lambda-check: lambda
	@mkdir -p $(BUILD)/lambda-again && cp $(BUILD)/lambda/*.zip $(BUILD)/lambda-again/ && rm -rf $(BUILD)/lambda/*/bootstrap
	@$(MAKE) --no-print-directory lambda >/dev/null
	@for f in $(LAMBDAS); do cmp $(BUILD)/lambda/$$f.zip $(BUILD)/lambda-again/$$f.zip || { echo "lambda-check: $$f.zip differs between two builds" >&2; exit 1; }; done
	@echo "lambda-check: both zips are byte-identical across builds"

## image: the scheduled runner's OCI image (drdrill, ginkgo, drill.test; static,
## non-root, no shell, CA certificates) as an OCI layout in build/image, built
## without a container daemon; the same tree gives the same digest
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
image: | deps
	$(GO) run ./cmd/drdrill-image build --out $(BUILD)/image --bin-dir $(BUILD)/image-bin --platforms $(IMAGE_PLATFORMS)

## image-check: two builds give the same digest
image-check:
	@$(MAKE) --no-print-directory image >/dev/null
	@first=$$($(GO) run ./cmd/drdrill-image digest --layout $(BUILD)/image); rm -rf $(BUILD)/image-bin; \
	  $(MAKE) --no-print-directory image >/dev/null; \
	  second=$$($(GO) run ./cmd/drdrill-image digest --layout $(BUILD)/image); \
	  if [ "$$first" != "$$second" ]; then echo "image-check: two builds differ: $$first and $$second" >&2; exit 1; fi; \
	  echo "image-check: both builds are $$first ($(IMAGE_PLATFORMS))"

## push: IMAGE=REGISTRY/REPOSITORY:TAG (ECR: aws ecr get-login-password | make push IMAGE=… REGISTRY_USERNAME=AWS)
push:
	@test -n "$(IMAGE)" || { echo "make push: give IMAGE=REGISTRY/REPOSITORY:TAG (infra/aws's RunnerRepositoryUrl output, and a tag)" >&2; exit 2; }
	$(GO) run ./cmd/drdrill-image push --layout $(BUILD)/image $(if $(REGISTRY_USERNAME),--username $(REGISTRY_USERNAME) --password-stdin) $(IMAGE)

## validate: terraform fmt, init with the schema-only stand-in provider, validate,
## the mutation tests, the plan tests and the backend and version pins (skips with
## one line without terraform/tofu or the schemas; under CI=true that is a failure)
validate:
	$(GO) test -count=1 -v -run 'Formatted|SchemaValidatedOffline|ValidateRejects|PlanAssertions|Static|BackendAndVersionPins|CIRefuses|Hygiene|Runner' ./infra/aws/

## outputs: cfn-outputs/flat-outputs.json from the applied stack's `terraform output -json`
outputs: build
	cd infra/aws && terraform output -json | ../../$(BUILD)/drdrill outputs --out ../../cfn-outputs/flat-outputs.json

## drill: lab up → suites (LABELS=…, REPEAT=N) → reports/<run-id>/ → lab down (always)
## TARGET=aws: Terratest deploy → outputs → drill → teardown (SKIP_deploy=1, SKIP_teardown=1)
## TARGET=twin: the AWS target against the AWS twin on this machine (docs/twin.md)
## The recipes exec: make passes SIGTERM (and only SIGTERM) to its recipe's
## process, and the drill must be that process (or the script that hands
## signals on to it), not a shell that dies and leaves the drill running.
drill: build $(if $(filter aws,$(TARGET)),build-aws)
ifeq ($(TARGET),twin)
	BUILD=$(BUILD) LABELS='$(LABELS)' exec scripts/twin-drill.sh --repeat $(REPEAT) --policy '$(POLICY)' --flake-attempts $(or $(FLAKE_ATTEMPTS),0)
else
	exec $(BUILD)/drdrill drill --labels '$(LABELS)' --repeat $(REPEAT) --policy '$(POLICY)' --target $(or $(TARGET),lab) --flake-attempts $(or $(FLAKE_ATTEMPTS),0)
endif

## test: lint, unit and real-process tests, and the drill suites against a real
## lab; each stage's wall time goes to the table printed at the end
STAGE := STAGE_TABLE=$(BUILD)/stages.tsv scripts/stage.sh
test:
	@mkdir -p $(BUILD) && rm -f $(BUILD)/stages.tsv
	@$(STAGE) deps $(MAKE) --no-print-directory deps
	@$(STAGE) build $(MAKE) --no-print-directory build build-aws
	@$(STAGE) lint $(MAKE) --no-print-directory lint
	@$(STAGE) lambda-check $(MAKE) --no-print-directory lambda-check
	@$(STAGE) image-check $(MAKE) --no-print-directory image-check IMAGE_PLATFORMS=linux/$$($(GO) env GOARCH)
	@$(STAGE) go-test $(MAKE) --no-print-directory test-go
	@$(STAGE) drill $(MAKE) --no-print-directory test-drill
	@$(STAGE) twin-drill $(MAKE) --no-print-directory test-twin-drill
	@$(STAGE) junit-check $(MAKE) --no-print-directory test-junit
	@$(STAGE) browser-install scripts/ensure-chromium.sh
	@$(STAGE) report-check $(MAKE) --no-print-directory test-report-check
	@awk -F'\t' 'BEGIN { print "make test: stage timings" } { printf "  %-14s %8s s  %s\n", $$1, $$2, $$3; t += $$2 } END { printf "  %-14s %8.1f s\n", "total", t }' $(BUILD)/stages.tsv

test-go:
	@scripts/ensure-awscli.sh
	@scripts/leftovers.sh snapshot $(BUILD)/leftovers.before
	$(GO) test -count=1 -timeout 25m ./...
	@scripts/leftovers.sh check $(BUILD)/leftovers.before

## the whole catalogue, twice on one lab: every fault rolls back to a steady state.
## A spec that fails once on a busy machine is retried and reported flaky.
test-drill:
	exec $(BUILD)/drdrill drill --reports $(BUILD)/test-reports --repeat 2 --flake-attempts 2

## the AWS target end to end against the AWS twin (scaled AWS durations)
test-twin-drill:
	BUILD=$(BUILD) exec scripts/twin-drill.sh --reports $(BUILD)/twin-reports --flake-attempts 2

## the junit.xml of the drill just run carries every measured value, equal to report.json's
test-junit:
	DRDRILL_CHECK_RUN=$$(realpath $$(ls -d $(BUILD)/test-reports/*/ | sort | tail -1)) $(GO) test -count=1 -run TestDrillJUnitCarriesEveryMeasurement ./internal/report

test-report-check:
	scripts/report-check.sh $$(ls -d $(BUILD)/test-reports/*/ | sort | tail -1)index.html
	scripts/report-check.sh $(BUILD)/test-reports/index.html

## report-check: render the newest run's report in headless Chromium and save a screenshot
report-check:
	scripts/report-check.sh $$(ls -d reports/*/ | sort | tail -1)index.html

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change: $$out" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION) -config-file docs/ci/actionlint.yaml docs/ci/github/*.yml

## bench: one line per figure, `drdrill-bench <name> <value> <unit>`
bench: build
	$(GO) run ./cmd/drdrill-bench

clean:
	rm -rf $(BUILD)
