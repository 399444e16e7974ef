# llmload — everything a fresh machine needs is installed from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(BIN)/python -m pytest

.PHONY: install demo demo-vllm test lint unit integration browser-deps test-vllm clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

## demo: step-load 1..40 users against the built-in simulator of the seed deployment; prints the verdict
demo: $(STAMP)
	$(BIN)/llmload demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks analysis locustfiles
	$(BIN)/mypy --strict src

unit: $(STAMP)
	$(PYTEST) -q tests/unit

## integration: the tests marked `alone` one at a time (timing bounds against a known server's truth), then
## the rest $(INTEGRATION_WORKERS) at a time (pytest-xdist): they wait on sockets more than they compute
INTEGRATION_WORKERS ?= 3
integration: $(STAMP) browser-deps
	$(PYTEST) -q --durations=8 -m alone tests/integration
	$(PYTEST) -q --durations=8 -m "not alone" -n $(INTEGRATION_WORKERS) tests/integration

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

include mk/vllm.mk
include mk/gpu.mk

## test: every test — lint, unit, integration (simulator, Locust, Chromium), real vLLM (CPU build)
test: $(STAMP)
	$(MAKE) --no-print-directory -j2 lint unit  # side by side: neither has a timing bound
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory test-vllm

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
