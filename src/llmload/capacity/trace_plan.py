"""`llmload plan --target-speed X` of a trace run (summary.json "trace": each step the trace at a speed-up):
the replicas that serve X times the trace's traffic within the SLO, and the KV arithmetic behind it.

Operating point of one replica: the largest measured speed-up at which it and every slower one meet the SLO
(the run's --slo, or plan's --slo judged again on the summary's steps); with several summaries, the smallest.
replicas = ceil(X / that speed-up), each serving X / replicas of the trace's traffic (a balancer spreading it
evenly; requests that shared a prefix on one server may then land on another, so the prefix-cache hit rate
of a replica can fall below the measured one).
KV arithmetic at the operating point: requests in flight = throughput x mean E2E (Little's law), each holding
its prompt and half its answer on average, against the hardware profile's KV budget: the share of the cache the
trace fills there, and the speed-up at which it would fill it if latency held (the cache's own ceiling).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from llmload.analysis.slo import evaluate_slo, level_of_summary_step, parse_slo
from llmload.analysis.trace_speed import max_speed
from llmload.capacity.hardware import HardwareProfile
from llmload.capacity.plan import lifetime_costs
from llmload.errors import UsageError


def trace_operating_point(summary: dict[str, Any], slo_spec: str, source: str) -> dict[str, Any]:
    trace = summary.get("trace")
    if not trace:
        raise UsageError(f"--target-speed: {source} is not a trace run (run it with --trace and --trace-speed)")
    rows = trace["steps"]
    slo = summary.get("slo")
    if slo_spec:
        slo = evaluate_slo(parse_slo(slo_spec), [level_of_summary_step(s) for s in summary["steps"]])
        rows = [{**row, "slo_passed": judged["passed"], "slo_clauses": judged["clauses"]}
                for row, judged in zip(rows, slo["per_step"], strict=True)]  # fmt: skip
    if slo is None:
        raise UsageError(f"--target-speed: {source} was run without --slo: give plan --slo to judge its steps")
    found = max_speed(rows, slo)
    if found["max_speed_passing"] is None:
        return {"source": source, "feasible": False, "why": f"the SLO {slo['spec']} fails at the slowest speed-up"}
    row = next(r for r in rows if r["speed"] == found["max_speed_passing"])
    step = next(s for s in summary["steps"] if s["index"] == row["index"])
    return {
        "source": source, "feasible": True, "slo": slo["spec"], "speed": row["speed"],
        "speed_estimate": found["max_speed_estimate"], "binding_clause": found["binding_clause"],
        "rps": step["rps"] or 0.0, "output_tokens_per_s": step["output_tokens_per_s"] or 0.0,
        "e2e_p95_s": row["e2e_p95_s"],
        "in_flight_mean": row["in_flight_mean"], "kv_tokens_in_flight": row["kv_tokens_in_flight"],
        "prefix_cache_hit_rate": row["prefix_cache_hit_rate"], "trace_rate_rps": trace.get("rate_rps"),
    }  # fmt: skip


def build_trace_plan(
    summaries: list[tuple[str, dict[str, Any]]], hw: HardwareProfile, target_speed: float, slo_spec: str = ""
) -> dict[str, Any]:
    if target_speed <= 0:
        raise UsageError(f"--target-speed: {target_speed} must be > 0 (1 = the trace's own traffic)")
    ops = [trace_operating_point(summary, slo_spec, source) for source, summary in summaries]
    base = {"schema": "llmload.plan/1", "kind": "trace", "target": {"speed": target_speed},
            "slo": slo_spec or None, "hardware": asdict(hw), "operating_points": ops}  # fmt: skip
    bad = [op for op in ops if not op["feasible"]]
    if bad:
        return {**base, "feasible": False, "why": "; ".join(f"{op['source']}: {op['why']}" for op in bad)}
    op = min(ops, key=lambda o: o["speed"])
    replicas = math.ceil(target_speed / op["speed"] - 1e-9)
    per_replica = lifetime_costs(hw, op)
    return {
        **base, "feasible": True, "operating_point": op, "replicas": replicas,
        "gpus": replicas * hw.gpus_per_replica, "per_replica_speed": target_speed / replicas,
        "kv": kv_arithmetic(op, hw, target_speed / replicas), "per_replica": per_replica,
        "fleet": {"rent_total": per_replica["rent_total"] * replicas,
                  "buy_total": per_replica["buy"]["total"] * replicas},
    }  # fmt: skip


def kv_arithmetic(op: dict[str, Any], hw: HardwareProfile, replica_speed: float) -> dict[str, Any]:
    """The KV cache at the operating point and at each replica's share of the target (module doc)."""
    budget, where = hw.kv_tokens()
    held = op["kv_tokens_in_flight"]
    at_target = held * replica_speed / op["speed"] if held is not None else None  # latency as measured
    return {
        "in_flight_mean": op["in_flight_mean"],
        "kv_tokens_in_flight": held,
        "kv_tokens_at_target": at_target,
        "kv_budget_tokens": budget,
        "budget_source": where,
        "kv_share": held / budget if held is not None and budget else None,
        "kv_share_at_target": at_target / budget if at_target is not None and budget else None,
        "kv_bound_speed": op["speed"] * budget / held if held and budget else None,
    }


def format_trace_plan(plan: dict[str, Any]) -> str:
    hw = plan["hardware"]
    lines = [f"llmload plan (trace) — {hw['description'] or hw['name']}"]
    if not plan["feasible"]:
        return "\n".join([*lines, f"NOT FEASIBLE: {plan['why']}"]) + "\n"
    op, kv = plan["operating_point"], plan["kv"]
    about = f" (about {op['speed_estimate']:.2f}x where {op['binding_clause']} reaches its bound)" if op[
        "speed_estimate"] else ""  # fmt: skip
    lines.append(f"operating point   {op['speed']:g}x the trace per replica within {op['slo']}{about}, "
                 f"{op['rps']:.3f} req/s, p95 E2E {op['e2e_p95_s']:.2f} s")  # fmt: skip
    lines.append(f"target            {plan['target']['speed']:g}x -> {plan['replicas']} replicas x "
                 f"{hw['gpus_per_replica']} GPUs = {plan['gpus']} GPUs ({plan['per_replica_speed']:.2f}x each)")
    if kv["kv_tokens_in_flight"] is not None:
        share = f" = {kv['kv_share']:.0%} of the {kv['kv_budget_tokens']:,} token budget" if kv["kv_share"] else ""
        lines.append(f"{'KV at ' + format(op['speed'], 'g') + 'x':18}{kv['in_flight_mean']:.1f} requests in flight (throughput x mean "
                     f"E2E) hold {kv['kv_tokens_in_flight']:,.0f} tokens{share}")  # fmt: skip
    if kv["kv_bound_speed"]:
        lines.append(f"KV ceiling        the cache alone would fill at about {kv['kv_bound_speed']:.1f}x "
                     "(if latency held; the SLO binds first where this is higher)")  # fmt: skip
    return "\n".join(lines) + "\n"
