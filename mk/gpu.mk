# The GPU tier (included by the root Makefile): a random-weight Qwen3 served by `transformers serve
# --continuous-batching` on an NVIDIA GPU, under llmload's load (tests/gpu). Not part of `make test`.
#   make gpu-wheels   here, with network: the wheels the GPU machine lacks, into .whl/ (git-ignored)
#   make test-gpu     on the GPU machine: installs .whl/ into $(GPU_SITE), runs tests/gpu; skips without a GPU
GPU_PYTHON ?= python3
GPU_SITE ?= /tmp/llmload-gpu-site
GPU_PYTEST_ARGS ?=  # e.g. --basetemp /tmp/gpu-runs to keep the runs' directories
GPU_PLATFORMS := $(foreach p,manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_26_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64 manylinux_2_5_x86_64,--platform $(p))

.PHONY: gpu-wheels test-gpu

gpu-wheels:
	$(PYTHON) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		$(GPU_PLATFORMS) -d .whl -r serve/gpu-wheels.txt
	@ls .whl | wc -l | xargs echo "wheels in .whl:"

test-gpu:
	@if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then \
		echo "make test-gpu: skipped: no NVIDIA GPU here (nvidia-smi finds none); run it on the GPU machine"; exit 0; fi
	@test -d .whl || { echo "make test-gpu: no .whl/ here: run 'make gpu-wheels' where there is network, carry .whl"; exit 2; }
	$(GPU_PYTHON) -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $(GPU_SITE) .whl/*.whl
	PYTHONPATH=$(GPU_SITE):$(CURDIR)/src $(GPU_PYTHON) -m pytest -q -s -p no:cacheprovider $(GPU_PYTEST_ARGS) tests/gpu
