"""The report's JMeter dashboard on real numbers: response codes, time bins, histogram widths; a figure the
records do not hold is "not measured", never zero; an imported JMeter run draws its Latency, Connect and bytes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jmeter_synth as synth
from helpers import closed_loop, write_run
from llmload.jmeter.jtl_import import import_jtl
from llmload.report.build import build_report
from llmload.report.charts.jmeter_response_times import nice_width
from llmload.report.charts.jmeter_throughput import response_codes
from llmload.report.charts.time_grid import TimeGrid


def test_response_codes_are_the_status_or_the_error_kind() -> None:
    frame = pd.DataFrame(
        {
            "ok": [True, False, False, False, True],
            "http_status": [200, 503, 200, np.nan, np.nan],
            "error_kind": [None, "http_status", "disconnect", "connect", None],
        }
    )
    assert response_codes(frame).tolist() == ["200", "503", "200 disconnect", "connect", "no status"]


def test_time_grid_statistics_per_bin_leave_unmeasured_values_out() -> None:
    grid = TimeGrid(np.array([0.0, 10.0, 20.0, 30.0]), 1.0, "s")
    times = pd.Series([1.0, 2.0, 15.0, 29.0, 31.0])  # 31 s: past the last edge, in the last bin
    values = pd.Series([1.0, 3.0, np.nan, 5.0, 7.0])  # bin 1 holds only a value that was not measured
    x, mean = grid.statistic(times, values, "mean")
    assert x.tolist() == [5.0, 25.0] and mean.tolist() == [2.0, 6.0]
    assert grid.statistic(times, values, "max")[1].tolist() == [3.0, 7.0]
    assert grid.rate(times).tolist() == [0.2, 0.1, 0.1]  # 31 s is past the edges: a rate counts no such event
    assert grid.statistic(times, pd.Series([np.nan] * 5), 0.5)[0].size == 0


@pytest.mark.parametrize(("span_s", "width_s"), [(6.4, 0.2), (60.0, 1.0), (61.0, 2.0), (250.0, 5.0), (0.0, 1.0)])
def test_distribution_bins_are_round_and_at_most_60(span_s: float, width_s: float) -> None:
    assert nice_width(span_s) == pytest.approx(width_s)


def _panel(html: str, key: str) -> str:
    match = re.search(rf'<div class="jm-panel" id="{key}">(.*?)</div>', html, re.S)
    assert match, key
    return match.group(1)


def test_what_the_records_do_not_hold_is_not_measured_never_zero(tmp_path: Path) -> None:
    """Records of a client that stamped no headers, connections or bytes (the golden runs' age)."""
    steps, records = closed_loop([1, 2], 60.0, {1: 5.0, 2: 6.0})
    result = build_report(write_run(tmp_path / "run", steps, records))
    html = result.html_path.read_text(encoding="utf-8")
    for key in ("jm-connect-over-time", "jm-latencies-over-time", "jm-latency-vs-request"):
        assert "Not measured" in _panel(html, f"jm-panel-{key}"), key
        assert f'id="chart-{key}"' not in html
    assert 'id="chart-jm-bytes-over-time"' in html  # the tokens are counted
    assert result.summary["statistics"]["total"]["received_bytes_per_s"] is None
    statistics = _panel(html, "jm-statistics")
    assert statistics.count("not measured") == 4  # received and sent, Total and chat/completions rows


def test_an_imported_jmeter_run_draws_its_latency_connect_and_bytes(tmp_path: Path) -> None:
    rows = synth.samples(levels=4)
    result = build_report(import_jtl(synth.write_csv(tmp_path / "r.jtl", rows), tmp_path / "run").run_dir)
    html = result.html_path.read_text(encoding="utf-8")
    for key in ("jm-connect-over-time", "jm-latencies-over-time", "jm-bytes-over-time", "jm-latency-vs-request"):
        assert f'id="chart-{key}"' in html, key
    (label,) = result.summary["statistics"]["per_label"]
    span_s = (max(r["timeStamp"] + r["elapsed"] for r in rows) - min(r["timeStamp"] for r in rows)) / 1000
    assert label["label"] == "chat/completions" and label["samples"] == len(rows)
    assert label["received_bytes_per_s"] == pytest.approx(sum(r["bytes"] for r in rows) / span_s)
    assert label["output_tokens_per_s"] is None  # JMeter saves no tokens: missing, not 0
