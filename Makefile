# Weft's front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

# Runs a script owned by a component, or says plainly that the capability is not there yet.
define run_script
	@if [ -x "$(1)" ] || [ -f "$(1)" ]; then bash $(1) $(2); \
	else echo "make $@: not yet available ($(1) does not exist)" >&2; exit 2; fi
endef

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z0-9-]*:.*## / {printf "  \033[1m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## Install what building and testing need (npm ci, Debian packages)
	@bash hack/deps.sh

.PHONY: up
up: deps ## The main job: local cluster, images, Weft, a Mesh and the meshed demo app
	$(call run_script,hack/up.sh)

.PHONY: down
down: ## Tear down what `make up` started
	$(call run_script,hack/down.sh)

.PHONY: test
test: deps ## Lint, type-check and run every unit and integration test
	@bash hack/test.sh

.PHONY: e2e
e2e: deps ## End-to-end suites against the local cluster (brings it up)
	$(call run_script,hack/e2e.sh)

.PHONY: bench
bench: deps ## Benchmarks that print ratios against peers measured in the same run
	$(call run_script,bench/run.sh)

.PHONY: gen
gen: ## Regenerate api/gen from api/proto and crds/*.yaml from crds/*.schema.ts
	@bash hack/gen-proto.sh
	@tsx crds/gen.ts

.PHONY: lint
lint: ## eslint and prettier
	@eslint . && prettier --check . --log-level warn

.PHONY: typecheck
typecheck: ## tsc --noEmit
	@tsc --noEmit

.PHONY: build
build: ## Bundle the operator, control plane, CLI and proxy with esbuild
	$(call run_script,hack/build.sh)

.PHONY: sea
sea: ## Build the proxy as one executable: dist/weft-proxy
	$(call run_script,proxy/sea/build.sh)

.PHONY: images
images: ## Build the OCI images daemonless and import them into the local cluster
	$(call run_script,hack/images/build.sh)

.PHONY: install
install: ## Apply config/install.yaml (CRDs, namespace, operator) to the current cluster
	$(call run_script,hack/install.sh)

.PHONY: cluster-up
cluster-up: ## Start the local single-node Kubernetes (built from source, cached)
	$(call run_script,hack/cluster/up.sh)

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and remove everything it created
	$(call run_script,hack/cluster/down.sh)

.PHONY: cluster-status
cluster-status: ## Components of the local cluster, their PIDs and ports, node conditions
	$(call run_script,hack/cluster/status.sh)
