# Sluice task runner. `make test` is the one test command (CI runs it through .ci/run).
# Tools installed by scripts/install-deps.sh live in the repo, so put them first on PATH.
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export SAM_CLI_TELEMETRY := 0

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
# Targets of `make test` run one after another, in the order written, even under `make -j`.
.NOTPARALLEL:

.PHONY: help test deps deny test-rust test-e2e test-portal test-lambda check-template sam-build dev build deploy lint bench bench-search sizes

test: deps lint deny test-rust test-e2e test-portal test-lambda check-template sam-build ## everything CI checks, in order
	@echo "make test: every suite passed (lint, deny, rust, e2e, portal, lambda, template checks, sam build)"

deps: ## install .venv (Python tools) and node_modules (Claude Code CLI); idempotent
	bash scripts/install-deps.sh

deny: deps ## cargo deny: banned crates (rustls only), licenses, sources (deny.toml); offline once the crates are fetched
	cargo fetch --locked --quiet
	cargo deny --frozen check bans licenses sources

test-rust: deps ## unit, contract and router tests of the whole workspace
	cargo test --workspace

test-e2e: deps ## end-to-end tests (real Claude Code, anthropic SDK) against sluice serve + the Bedrock simulator
	cargo build -p sluice
	.venv/bin/pytest -p no:cacheprovider tests/e2e -q

test-portal: deps ## the portal: tsc --noEmit on portal-static's JSDoc types, then real Chromium against sluice serve (tests/portal)
	cargo build -p sluice
	tsc -p portal-static --noEmit
	node --test tests/portal/

test-lambda: deps ## the gateway binary under the Lambda runtime API (cargo lambda watch), streaming through a Function URL
	cargo build -p sluice-gateway -p sluice-admin -p sluice
	.venv/bin/pytest -p no:cacheprovider tests/lambda -q

check-template: deps ## cfn-lint + sam validate + SAM->CloudFormation translation of template.yaml, and events/ shape
	bash scripts/check-template.sh

sam-build: deps ## sam build --beta-features without Docker; checks the bootstrap is an aarch64 ELF
	bash scripts/sam-build.sh

dev: ## local stack for development (sluice serve + Bedrock simulator)
	bash scripts/dev.sh

build: deps ## release build of the five functions for Lambda (Graviton)
	cargo lambda build --release --arm64 -p sluice-gateway -p sluice-admin -p sluice-spend -p sluice-notify -p sluice-export

STACK ?= sluice

deploy: deps ## build and deploy the SAM stack (first time: sam deploy --guided), then publish the portal
	sam build --beta-features && sam deploy
	cargo build --release -p sluice
	sam list stack-outputs --stack-name $(STACK) --output json | target/release/sluice portal publish --stack-outputs -

lint: deps ## formatting and clippy, warnings are errors
	cargo fmt --all -- --check && cargo clippy --workspace --all-targets -- -D warnings

bench: ## gateway overhead benchmark
	bash scripts/bench.sh

bench-search: deps ## web search timing: what Sluice adds around a search (release build)
	cargo build --release -p sluice
	.venv/bin/python bench/web_search.py --write

sizes: deps ## each Lambda function's arm64 binary and zip size, as deployed (a Markdown table)
	bash scripts/function-sizes.sh

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'
