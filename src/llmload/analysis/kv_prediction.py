"""Predicted KV-bound concurrency beside the measured knee (summary.json "kv_prediction"): the KV budget the
simulator was configured with, else the one vLLM reports in /metrics (cache_config_info: num_gpu_blocks x
block_size), over the run's mean tokens per request (capacity.kv)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from llmload.analysis.model import StepStats
from llmload.capacity.kv import kv_concurrency, workload_tokens


def kv_prediction(
    steps: Sequence[StepStats], knee_users: int | None, meta: Mapping[str, Any], server: pd.DataFrame,
    sim_hardware_budget_tokens: int | None = None,
) -> dict[str, Any] | None:
    """The prediction, None without a budget or tokens. sim_hardware_budget_tokens: what the simulator
    profile's hardware facts give (a cross-check shown beside its configured budget; capacity.sim_budget)."""
    tokens = workload_tokens([(s.requests_ok, s.prompt_tokens_mean, s.output_tokens_mean) for s in steps])
    found = _sim_budget(meta.get("target") or {}, sim_hardware_budget_tokens) or _server_budget(server)
    if tokens is None or found is None:
        return None
    pred = kv_concurrency(found["budget"], *tokens, found["max_num_seqs"])
    extra = {k: v for k, v in found.items() if k not in ("budget", "max_num_seqs")}
    return {**pred, **extra, "measured_knee_users": knee_users}


def _sim_budget(target: Mapping[str, Any], hardware_budget_tokens: int | None) -> dict[str, Any] | None:
    sim = target.get("sim") or {}
    if not sim.get("kv_budget_tokens"):
        return None
    out: dict[str, Any] = {"budget": int(sim["kv_budget_tokens"]), "max_num_seqs": sim.get("max_num_seqs"),
                           "source": "simulator's configured KV budget"}
    if hardware_budget_tokens is not None:
        out["hardware_budget_tokens"] = hardware_budget_tokens
    return out


def _server_budget(frame: pd.DataFrame) -> dict[str, Any] | None:
    """vLLM's cache_config_info (num_gpu_blocks x block_size), when sampled."""
    if not len(frame):
        return None
    rows = frame[frame["name"].str.startswith("vllm:cache_config_info")]
    for labels in rows["labels"]:
        info = json.loads(labels) if isinstance(labels, str) else dict(labels)
        try:
            tokens = int(info["num_gpu_blocks"]) * int(info["block_size"])
        except (KeyError, TypeError, ValueError):
            continue
        return {"budget": tokens, "max_num_seqs": None, "source": "vLLM cache_config_info"}
    return None
