"""Predicted KV-bound concurrency: how many requests fit in the KV cache at once.

A request holds its prompt plus the tokens generated so far. In a closed loop whose users are spread over
their requests' phases, the average request holds prompt + output/2 tokens (`users_mean`: the level where
the KV cache, on average, fills and the knee is expected); if every request sat at its full length at
once, prompt + output (`users_full`: the level below which no preemption can happen). The bound is the
lesser of users_mean and vLLM's --max-num-seqs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def kv_concurrency(
    budget_tokens: int, prompt_tokens: float, output_tokens: float, max_num_seqs: int | None = None
) -> dict[str, Any]:
    if budget_tokens <= 0 or prompt_tokens < 0 or output_tokens < 0 or prompt_tokens + output_tokens <= 0:
        raise ValueError("budget_tokens must be > 0 and a request must hold at least one token")
    mean_tokens = prompt_tokens + output_tokens / 2
    full_tokens = prompt_tokens + output_tokens
    users_mean = budget_tokens / mean_tokens
    bound = math.floor(users_mean)
    binding = "kv_cache"
    if max_num_seqs is not None and max_num_seqs < bound:
        bound, binding = max_num_seqs, "max_num_seqs"
    return {
        "kv_budget_tokens": budget_tokens,
        "prompt_tokens": prompt_tokens,
        "output_tokens": output_tokens,
        "tokens_per_request_mean": mean_tokens,
        "tokens_per_request_full": full_tokens,
        "users_mean": users_mean,
        "users_full": budget_tokens / full_tokens,
        "max_num_seqs": max_num_seqs,
        "predicted_users": bound,
        "binding": binding,
    }


StepTokens = tuple[int | None, float | None, float | None]  # a step's requests_ok, prompt/output_tokens_mean


def workload_tokens(steps: Iterable[StepTokens]) -> tuple[float, float] | None:
    """Mean prompt and output tokens per successful request over a run's steps (weighted by requests)."""
    rows = [(n, p, o) for n, p, o in steps if n and p is not None and o is not None]
    total = sum(n for n, _, _ in rows)
    if not total:
        return None
    prompt = sum(p * n for n, p, _ in rows) / total
    output = sum(o * n for n, _, o in rows) / total
    return prompt, output
