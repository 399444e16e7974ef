"""Knee evidence, SLO, USL fit and KV-bound prediction for one run: the extra summary.json blocks."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from llmload.analysis.frame import RunData
from llmload.analysis.goodput import slo_summary
from llmload.analysis.knee import find_knee, valid_steps
from llmload.analysis.step_requests import throughput_draws
from llmload.analysis.usl import fit_usl
from llmload.capacity.kv import kv_concurrency, workload_tokens


def knee_analysis(run: RunData, steps: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """find_knee with every input a run can give, and the summary keys slo, usl, kv_prediction."""
    spec = str((run.meta.get("options") or {}).get("slo") or "")
    slo = slo_summary(run, steps, spec, f"{run.run_dir}/meta.json: options.slo") if spec else None
    server = [{"users": s["users"], **s["server"]} for s in steps if s.get("server")]
    knee = find_knee(steps, server=server or None, slo=slo, rps_draws=throughput_draws(run, steps))
    valid = valid_steps(steps)
    usl = fit_usl([s["users"] for s in valid], [s["rps"] for s in valid])
    return knee, {"slo": slo, "usl": usl, "kv_prediction": kv_prediction(run, steps, knee.get("knee"))}


def _server_kv_budget(run: RunData) -> tuple[int, int | None] | None:
    """(tokens, None) from vLLM's cache_config_info (num_gpu_blocks x block_size), when sampled."""
    frame = getattr(run, "server", None)
    if frame is None or not len(frame):
        return None
    rows = frame[frame["name"].str.startswith("vllm:cache_config_info")]
    for labels in rows["labels"]:
        info = json.loads(labels) if isinstance(labels, str) else dict(labels)
        try:
            return int(info["num_gpu_blocks"]) * int(info["block_size"]), None
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _sim_budget(target: dict[str, Any]) -> dict[str, Any] | None:
    sim = target.get("sim") or {}
    if not sim.get("kv_budget_tokens"):
        return None
    out: dict[str, Any] = {"budget": int(sim["kv_budget_tokens"]), "max_num_seqs": sim.get("max_num_seqs"),
                           "source": "simulator's configured KV budget"}
    from llmload.kvbudget import kv_budget_tokens
    from llmload.sim.sim_profile import HARDWARE_KEYS, load_profile

    with contextlib.suppress(Exception):  # a profile that no longer loads only loses the cross-check
        profile = load_profile(str(sim.get("profile")))
        facts = [getattr(profile, k) for k in HARDWARE_KEYS]
        if None not in facts:
            out["hardware_budget_tokens"] = kv_budget_tokens(*facts)
    return out


def kv_prediction(run: RunData, steps: list[dict[str, Any]], knee: dict[str, Any] | None) -> dict[str, Any] | None:
    """Predicted KV-bound concurrency beside the measured knee (simulator profile or vLLM's cache info)."""
    tokens = workload_tokens(steps)
    found = _sim_budget(run.meta.get("target") or {})
    if found is None:
        server = _server_kv_budget(run)
        found = {"budget": server[0], "max_num_seqs": None, "source": "vLLM cache_config_info"} if server else None
    if tokens is None or found is None:
        return None
    pred = kv_concurrency(found["budget"], *tokens, found["max_num_seqs"])
    extra = {k: v for k, v in found.items() if k not in ("budget", "max_num_seqs")}
    return {**pred, **extra, "measured_knee_users": knee["users"] if knee else None}
