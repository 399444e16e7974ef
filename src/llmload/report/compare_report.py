"""`llmload compare BASE NEW`: side-by-side deltas per matching step and of the knee, compare.json and
compare.html (both curves on one chart); exit 1 on regression (llmload.analysis.compare has the rules)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from llmload.analysis.compare import compare_summaries
from llmload.exit_codes import ExitCode
from llmload.report.charts.curve_charts import compare_chart
from llmload.report.render import render_compare_html
from llmload.rundir import COMPARE_HTML, COMPARE_JSON, read_summary


def _where(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _cell(cell: dict[str, Any]) -> str:
    base, new = cell["base"], cell["new"]
    if not isinstance(base, int | float) or not isinstance(new, int | float):
        base_text = "missing" if cell.get("missing") == "base" else _fmt(base)
        new_text = "missing" if cell.get("missing") == "new" else _fmt(new)
        return f"{base_text} -> {new_text}" + (" !" if cell["regressed"] else "")
    change = "" if cell["change"] is None else f" ({cell['change']:+.0%})"
    mark = " !" if cell["regressed"] else " ~" if cell.get("within_noise") else ""
    return f"{_fmt(base)} -> {_fmt(new)}{change}{mark}"


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


def format_comparison(result: dict[str, Any]) -> str:
    names = ("rps", "output_tokens_per_s", "ttft_p95_s", "e2e_p95_s")
    header = f"{'level':>8}  " + "".join(
        f"{h:>26}" for h in ("req/s", "output tok/s", "p95 TTFT s", "p95 E2E s")
    )
    lines = [
        f"llmload compare — baseline {result['base']['run_id']} vs new {result['new']['run_id']} "
        f"(tolerance {result['max_regression']:.0%}; '!' regression, '~' beyond it but within the noise)",
        header,
    ]
    for row in result["steps"]:
        level = f"{row['level']}{'' if row['gating'] else '*'}"
        lines.append(f"{level:>8}  " + "".join(f"{_cell(row['metrics'][n]):>26}" for n in names))
    for point in ("knee", "limit"):
        cells = result[point]
        lines.append(
            f"{point:>8}  users {_cell(cells['users'])}, req/s {_cell(cells['rps'])}, "
            f"output tok/s {_cell(cells['output_tokens_per_s'])}"
        )
    if result["base_only"] or result["new_only"]:
        lines.append(f"unmatched levels: baseline only {result['base_only']}, new only {result['new_only']}")
    if any(not r["gating"] for r in result["steps"]):
        lines.append("* step excluded in either run (load generator saturated): shown, not gated")
    verdict = f"REGRESSED: {len(result['regressions'])} check(s)" if result["regressed"] else "no regression"
    lines.append(verdict)
    return "\n".join(lines) + "\n"


def run_compare(
    base_path: Path, new_path: Path, max_regression: float, out_dir: Path | None, stream: TextIO
) -> int:
    base = read_summary(Path(base_path), "compare BASE")
    new = read_summary(Path(new_path), "compare NEW")
    result = compare_summaries(base, new, max_regression)
    result["base"]["path"], result["new"]["path"] = str(base_path), str(new_path)
    out = Path(out_dir) if out_dir else _where(Path(new_path))
    html_path = write_outputs(result, base, new, out)
    stream.write(format_comparison(result))
    stream.write(f"comparison: {html_path}\n")
    return ExitCode.FAILED if result["regressed"] else ExitCode.OK


def write_outputs(result: dict[str, Any], base: dict[str, Any], new: dict[str, Any], out: Path) -> Path:
    """compare.json and compare.html (both runs' curves on one chart) in `out`; returns the HTML path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / COMPARE_JSON).write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    html_path = out / COMPARE_HTML
    html_path.write_text(
        render_compare_html(result, compare_chart(base, new, "baseline", "new")), encoding="utf-8"
    )
    return html_path
