"""report.html of a one-hour run of about 100,000 requests (tests/hour_run.py) stays one file under 5 MB (issue
#20), JMeter dashboard included: every chart drawn, no script, nothing fetched from elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

from hour_run import hour_run
from llmload.report.build import build_report
from llmload.report.charts.report_charts import JMETER_CHART_KEYS

MAX_BYTES = 5 * 1024 * 1024


def test_an_hour_of_100k_requests_gives_a_report_under_5_mb(tmp_path: Path) -> None:
    result = build_report(hour_run(tmp_path / "run"))
    assert 95_000 <= result.summary["requests"]["total"] <= 110_000
    html = result.html_path.read_text(encoding="utf-8")
    size = len(html.encode("utf-8"))
    assert size < MAX_BYTES, f"report.html is {size / 1e6:.2f} MB"
    drawn = set(re.findall(r'<figure class="chart[^"]*" id="chart-([a-z0-9-]+)"', html))
    assert set(JMETER_CHART_KEYS) <= drawn, f"not drawn: {set(JMETER_CHART_KEYS) - drawn}"
    assert "<script" not in html and not re.search(r'(src|href)="https?:', html)
