"""`llmload plan`: from measured summaries, a target and a hardware/cost profile to replicas and money.

Operating point of one replica: the measured knee (optimal concurrency); with an SLO, the lower of the knee
and the SLO's max_users_passing, at that step's measured throughput. With several summaries (repeat runs of
the same deployment), the one with the lowest throughput at its operating point is used (conservative).
replicas = ceil(target_users / op.users) or ceil(target_rps / op.rps); GPUs = replicas x gpus_per_replica.
Lifetime L = lifetime_years x HOURS_PER_YEAR hours; a replica busy duty_cycle of it at the operating point:
  rent  = rent_per_month x 12 x lifetime_years
  buy   = gpus x gpu_price + machine_price + power_w/1000 x L x duty_cycle x electricity_per_kwh
  cost per 1M output tokens = cost / (op.output_tokens_per_s x 3600 x L x duty_cycle) x 1e6; per request alike
  break-even month = (gpus x gpu_price + machine_price) / (rent_per_month - monthly electricity)
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from llmload.analysis.slo import evaluate_slo, parse_slo, summary_levels
from llmload.capacity.hardware import HardwareProfile
from llmload.capacity.kv import kv_concurrency, workload_tokens
from llmload.errors import UsageError

HOURS_PER_YEAR = 8766.0  # 365.25 days
HOURS_PER_MONTH = HOURS_PER_YEAR / 12


def operating_point(summary: dict[str, Any], slo_spec: str = "", source: str = "summary") -> dict[str, Any]:
    knee = summary.get("knee")
    if not knee:
        raise UsageError(f"{source}: no knee in this summary ({summary.get('knee_reason')})")
    slo = evaluate_slo(parse_slo(slo_spec), summary_levels(summary)) if slo_spec else summary.get("slo")
    users, why = int(knee["users"]), "knee (optimal concurrency)"
    if slo:
        passing = slo.get("max_users_passing")
        if passing is None:
            return {"source": source, "feasible": False, "why": f"the SLO {slo['spec']} fails at every level"}
        if passing < users:
            users, why = int(passing), f"capped by the SLO {slo['spec']}"
    rows = [s for s in summary["steps"] if s["users"] == users and s.get("rps") is not None]
    if not rows:
        raise UsageError(f"{source}: no measured step at {users} users")
    row = max(rows, key=lambda s: s["requests_ok"])
    return {
        "source": source,
        "feasible": True,
        "why": why,
        "users": users,
        "rps": float(row["rps"]),
        "output_tokens_per_s": float(row["output_tokens_per_s"]),
        "e2e_p50_s": row["e2e_s"]["p50"],
        "e2e_p95_s": row["e2e_s"]["p95"],
        "knee_users": int(knee["users"]),
        "limit_users": (summary.get("limit") or {}).get("users"),
    }


def replicas_needed(op: dict[str, Any], target_users: int | None, target_rps: float | None) -> int:
    if (target_users is None) == (target_rps is None):
        raise UsageError("plan: give exactly one of --target-users and --target-rps")
    if target_users is not None:
        if target_users < 1:
            raise UsageError(f"--target-users: {target_users} must be at least 1")
        return math.ceil(target_users / int(op["users"]))
    assert target_rps is not None
    if target_rps <= 0 or op["rps"] <= 0:
        raise UsageError(f"--target-rps: {target_rps} must be > 0 (and the measured throughput too)")
    return math.ceil(target_rps / float(op["rps"]) - 1e-9)


def lifetime_costs(hw: HardwareProfile, op: dict[str, Any]) -> dict[str, Any]:
    """Per replica over the lifetime, with the per-token and per-request costs for rent and for buy."""
    hours = hw.lifetime_years * HOURS_PER_YEAR * hw.duty_cycle
    electricity = hw.power_w / 1000 * hours * hw.electricity_per_kwh
    cards = hw.gpus_per_replica * hw.gpu_price
    buy = cards + hw.machine_price + electricity
    rent = hw.rent_per_month * 12 * hw.lifetime_years
    tokens_m = op["output_tokens_per_s"] * 3600 * hours / 1e6
    requests = op["rps"] * 3600 * hours
    monthly_power = hw.power_w / 1000 * HOURS_PER_MONTH * hw.duty_cycle * hw.electricity_per_kwh
    saving = hw.rent_per_month - monthly_power
    return {
        "rent_total": rent,
        "buy": {"gpus": cards, "machine": hw.machine_price, "electricity": electricity, "total": buy},
        "output_tokens_millions": tokens_m,
        "requests": requests,
        "rent_per_1m_output_tokens": rent / tokens_m if tokens_m else None,
        "buy_per_1m_output_tokens": buy / tokens_m if tokens_m else None,
        "rent_per_request": rent / requests if requests else None,
        "buy_per_request": buy / requests if requests else None,
        "break_even_months": (cards + hw.machine_price) / saving if saving > 0 else None,
        "cheaper": "buy" if buy < rent else "rent",
    }


def _kv_prediction(summary: dict[str, Any], hw: HardwareProfile) -> dict[str, Any] | None:
    budget, where = hw.kv_tokens()
    tokens = workload_tokens(
        (s.get("requests_ok"), s.get("prompt_tokens_mean"), s.get("output_tokens_mean")) for s in summary["steps"]
    )
    if budget is None or tokens is None:
        return None
    return {**kv_concurrency(budget, *tokens, hw.max_num_seqs), "budget_source": where}


def build_plan(
    summaries: list[tuple[str, dict[str, Any]]],
    hw: HardwareProfile,
    target_users: int | None = None,
    target_rps: float | None = None,
    slo_spec: str = "",
) -> dict[str, Any]:
    if not summaries:
        raise UsageError("plan: give at least one --summary")
    ops = [operating_point(s, slo_spec, source) for source, s in summaries]
    target = {"users": target_users, "rps": target_rps}
    base = {"schema": "llmload.plan/1", "target": target, "slo": slo_spec or None, "hardware": asdict(hw),
            "operating_points": ops, "kv_prediction": _kv_prediction(summaries[0][1], hw)}
    bad = [op for op in ops if not op["feasible"]]
    if bad:
        return {**base, "feasible": False, "why": "; ".join(f"{op['source']}: {op['why']}" for op in bad)}
    op = min(ops, key=lambda o: o["rps"])
    replicas = replicas_needed(op, target_users, target_rps)
    per_replica = lifetime_costs(hw, op)
    fleet = {k: per_replica[k] * replicas for k in ("rent_total", "output_tokens_millions", "requests")}
    fleet["buy"] = {k: v * replicas for k, v in per_replica["buy"].items()}
    return {
        **base,
        "feasible": True,
        "operating_point": op,
        "replicas": replicas,
        "gpus": replicas * hw.gpus_per_replica,
        "capacity": {"users": replicas * op["users"], "rps": replicas * op["rps"],
                     "output_tokens_per_s": replicas * op["output_tokens_per_s"]},
        "output_tokens_per_s_per_gpu": op["output_tokens_per_s"] / hw.gpus_per_replica,
        "per_replica": per_replica,
        "fleet": fleet,
    }
