"""`llmload report RUN_DIR`: everything derived is rebuilt from the raw records."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmload.report.render import render_html


@dataclass(frozen=True)
class ReportResult:
    summary: dict[str, Any]
    summary_path: Path
    html_path: Path


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


def build_report(run_dir: Path) -> ReportResult:
    from llmload.analysis.charts import knee_chart, over_time_chart
    from llmload.analysis.frame import load_run
    from llmload.analysis.summary import build_summary

    run = load_run(Path(run_dir))
    summary = build_summary(run)
    summary_path = run.run_dir / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    write_steps_csv(summary, run.run_dir / "steps.csv")
    charts = {"knee": knee_chart(summary), "over_time": over_time_chart(run)}
    html_path = run.run_dir / "report.html"
    html_path.write_text(render_html(summary, run.meta, charts), encoding="utf-8")
    return ReportResult(summary, summary_path, html_path)


def write_steps_csv(summary: dict[str, Any], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(STEP_CSV_COLUMNS)
        for s in summary["steps"]:
            writer.writerow(
                [
                    s["users"],
                    s["requests_ok"],
                    s["requests_failed"],
                    s["error_rate"],
                    s["rps"],
                    s["output_tokens_per_s"],
                    s["ttft_s"]["p50"],
                    s["ttft_s"]["p95"],
                    s["ttft_s"]["p99"],
                    s["e2e_s"]["mean"],
                    s["e2e_s"]["p50"],
                    s["e2e_s"]["p90"],
                    s["e2e_s"]["p95"],
                    s["e2e_s"]["p99"],
                    s["tpot_s"]["p50"],
                    s["tpot_s"]["p95"],
                    s["itl_s"]["p50"],
                    s["itl_s"]["p99"],
                ]
            )
