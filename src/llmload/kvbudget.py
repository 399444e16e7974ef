"""KV-cache budget arithmetic (pure; shared by the simulator and capacity planning).

vLLM reserves ``gpu_memory_utilization`` of every GPU, loads the weights, runs a profiling pass to find the
peak activation / non-torch memory ("overhead") and gives the rest to the KV cache. With tensor parallelism
each GPU holds its share of the KV heads, so summing memory over GPUs and dividing by the per-token KV size of
the whole model gives the number of tokens that fit.
"""

from __future__ import annotations

import math

GIB = 1024**3


def kv_bytes_per_token(num_layers: int, num_kv_heads: int, head_dim: int, dtype_bytes: int = 2) -> int:
    """Bytes of K and V one token occupies across all layers (e.g. Qwen3-32B: 64*8*128*2*2 = 256 KiB)."""
    for name, value in (("num_layers", num_layers), ("num_kv_heads", num_kv_heads),
                        ("head_dim", head_dim), ("dtype_bytes", dtype_bytes)):
        if value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    return num_layers * num_kv_heads * head_dim * 2 * dtype_bytes


def kv_budget_tokens(
    gpu_memory_gib: float,
    num_gpus: int,
    gpu_memory_utilization: float,
    weights_gib: float,
    overhead_gib: float,
    kv_bytes_per_token: int,
) -> int:
    """Tokens of KV cache that fit: (gpu_mem * n * util - weights - overhead) / bytes_per_token.

    ``weights_gib`` and ``overhead_gib`` are totals over all GPUs. Raises ValueError when nothing fits.
    """
    if gpu_memory_gib <= 0 or num_gpus <= 0 or kv_bytes_per_token <= 0:
        raise ValueError("gpu_memory_gib, num_gpus and kv_bytes_per_token must be > 0")
    if not 0.0 < gpu_memory_utilization <= 1.0:
        raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
    if weights_gib < 0 or overhead_gib < 0:
        raise ValueError("weights_gib and overhead_gib must be >= 0")
    free_gib = gpu_memory_gib * num_gpus * gpu_memory_utilization - weights_gib - overhead_gib
    if free_gib <= 0:
        raise ValueError(
            f"no memory left for the KV cache: {gpu_memory_gib} GiB x {num_gpus} x {gpu_memory_utilization}"
            f" - weights {weights_gib} GiB - overhead {overhead_gib} GiB = {free_gib:.2f} GiB"
        )
    return math.floor(free_gib * GIB / kv_bytes_per_token)
