"""`llmload plan`: read summaries, build the plan, write plan.json, print the table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from llmload.capacity.hardware import load_hardware
from llmload.capacity.plan import build_plan
from llmload.capacity.trace_plan import build_trace_plan, format_trace_plan
from llmload.rundir import PLAN, SUMMARY, read_summary


def _load(spec: str) -> tuple[str, dict[str, Any]]:
    """A --summary (summary.json or run dir) and the file it named (the plan's source)."""
    path = Path(spec)
    return str(path / SUMMARY if path.is_dir() else path), read_summary(path, "--summary")


def _money(value: float | None, currency: str) -> str:
    return "–" if value is None else f"{value:,.0f} {currency}" if value >= 100 else f"{value:.4g} {currency}"


def format_plan(plan: dict[str, Any]) -> str:
    if plan.get("kind") == "trace":
        return format_trace_plan(plan)
    hw = plan["hardware"]
    cur = hw["currency"]
    lines = [f"llmload plan — {hw['description'] or hw['name']}"]
    kv = plan.get("kv_prediction")
    if not plan["feasible"]:
        return "\n".join([*lines, f"NOT FEASIBLE: {plan['why']}"]) + "\n"
    op = plan["operating_point"]
    lines += [
        f"operating point   {op['users']} users/replica ({op['why']}), {op['rps']:.3f} req/s, "
        f"{op['output_tokens_per_s']:.1f} output tok/s, p50 E2E {op['e2e_p50_s'] or float('nan'):.1f} s",
    ]
    if kv:
        lines.append(f"KV-bound (predicted) {kv['predicted_users']} users ({kv['binding']}; "
                     f"{kv['kv_budget_tokens']} tokens / {kv['tokens_per_request_mean']:.0f} per request) "
                     f"vs measured knee {op['knee_users']}")
    target = plan["target"]
    want = f"{target['users']} users" if target["users"] is not None else f"{target['rps']} req/s"
    lines += [
        f"target            {want} -> {plan['replicas']} replicas x {hw['gpus_per_replica']} GPUs = "
        f"{plan['gpus']} GPUs (capacity {plan['capacity']['users']} users, {plan['capacity']['rps']:.3f} req/s)",
        f"output tok/s/GPU  {plan['output_tokens_per_s_per_gpu']:.1f}",
    ]
    per, fleet = plan["per_replica"], plan["fleet"]
    lines += [
        f"{'over ' + format(hw['lifetime_years'], 'g') + ' years':18}{'per replica':>18}{'fleet':>18}"
        f"{'per 1M out tok':>16}{'per request':>14}",
        f"{'rent':18}{_money(per['rent_total'], cur):>18}{_money(fleet['rent_total'], cur):>18}"
        f"{_money(per['rent_per_1m_output_tokens'], cur):>16}{_money(per['rent_per_request'], cur):>14}",
        f"{'buy (total)':18}{_money(per['buy']['total'], cur):>18}{_money(fleet['buy']['total'], cur):>18}"
        f"{_money(per['buy_per_1m_output_tokens'], cur):>16}{_money(per['buy_per_request'], cur):>14}",
    ]
    for part in ("gpus", "machine", "electricity"):
        lines.append(f"{'  ' + part:18}{_money(per['buy'][part], cur):>18}{_money(fleet['buy'][part], cur):>18}")
    months = per["break_even_months"]
    lines.append(f"cheaper: {per['cheaper']}" + (f" (buying pays off after {months:.1f} months)" if months else ""))
    return "\n".join(lines) + "\n"


def run_plan(
    summaries: list[str], hardware: str, target_users: int | None, target_rps: float | None,
    slo: str, out: str, stream: TextIO, target_speed: float | None = None,
) -> dict[str, Any]:
    loaded = [_load(s) for s in summaries]
    if target_speed is not None:
        plan = build_trace_plan(loaded, load_hardware(hardware), target_speed, slo)
    else:
        plan = build_plan(loaded, load_hardware(hardware), target_users, target_rps, slo)
    out_path = Path(out) if out else Path(loaded[0][0]).parent / PLAN
    out_path.write_text(json.dumps(plan, indent=2, ensure_ascii=False), encoding="utf-8")
    stream.write(format_plan(plan))
    stream.write(f"plan: {out_path}\n")
    return plan
