"""`llmload report RUN_DIR`: everything derived is rebuilt from the raw records.

Writes summary.json (schema llmload.summary/1, README "summary.json"), steps.csv, requests.csv,
junit.xml and report.html; returns them with the gate verdict.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmload.report.options import ReportOptions, resolve
from llmload.report.render import render_html


@dataclass(frozen=True)
class ReportResult:
    summary: dict[str, Any]
    summary_path: Path
    html_path: Path

    @property
    def gate(self) -> dict[str, Any]:
        gate: dict[str, Any] = self.summary.get("gate") or {"passed": True}
        return gate


STEP_CSV_COLUMNS = [
    "users",
    "requests_ok",
    "requests_failed",
    "error_rate",
    "rps",
    "output_tokens_per_s",
    "ttft_p50_s",
    "ttft_p95_s",
    "ttft_p99_s",
    "e2e_mean_s",
    "e2e_p50_s",
    "e2e_p90_s",
    "e2e_p95_s",
    "e2e_p99_s",
    "tpot_p50_s",
    "tpot_p95_s",
    "itl_p50_s",
    "itl_p99_s",
]
_STEP_CSV_PATHS = [
    ("users",),
    ("requests_ok",),
    ("requests_failed",),
    ("error_rate",),
    ("rps",),
    ("output_tokens_per_s",),
    ("ttft_s", "p50"),
    ("ttft_s", "p95"),
    ("ttft_s", "p99"),
    ("e2e_s", "mean"),
    ("e2e_s", "p50"),
    ("e2e_s", "p90"),
    ("e2e_s", "p95"),
    ("e2e_s", "p99"),
    ("tpot_s", "p50"),
    ("tpot_s", "p95"),
    ("itl_s", "p50"),
    ("itl_s", "p99"),
]


def build_report(run_dir: Path, options: ReportOptions | None = None) -> ReportResult:
    from llmload.analysis.apdex import thresholds
    from llmload.analysis.frame import load_run
    from llmload.analysis.report_charts import all_charts
    from llmload.analysis.report_data import report_extras, write_requests_csv
    from llmload.analysis.summary import build_summary
    from llmload.report.gates import evaluate_gate
    from llmload.report.junit import junit_xml

    run = load_run(Path(run_dir))
    opts = resolve(run.run_dir / "meta.json", options)
    summary = build_summary(run)
    slo_spec = str((run.meta.get("options") or {}).get("slo") or "")
    summary.update(_clean(report_extras(run, summary, thresholds(opts.apdex_t_s, opts.apdex_f_s, slo_spec))))
    summary["gate"] = _clean(evaluate_gate(summary, opts))
    summary_path = run.run_dir / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    write_steps_csv(summary, run.run_dir / "steps.csv")
    write_requests_csv(run, summary, run.run_dir / "requests.csv")
    (run.run_dir / "junit.xml").write_text(junit_xml(summary), encoding="utf-8")
    charts = all_charts(run, summary)
    html_path = run.run_dir / "report.html"
    html_path.write_text(render_html(summary, run.meta, charts, _plan(run.run_dir)), encoding="utf-8")
    return ReportResult(summary, summary_path, html_path)


def _clean(value: Any) -> Any:
    from llmload.analysis.summary import _clean as clean

    return clean(value)


def _plan(run_dir: Path) -> dict[str, Any] | None:
    """plan.json of `llmload plan`, when it was written into the run directory."""
    path = run_dir / "plan.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def write_steps_csv(summary: dict[str, Any], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(STEP_CSV_COLUMNS)
        for s in summary["steps"]:
            writer.writerow([_get(s, p) for p in _STEP_CSV_PATHS])
