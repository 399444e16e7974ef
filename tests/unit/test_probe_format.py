"""The probe table: one row per check, timings in ms, a pass count."""

from __future__ import annotations

from llmload.serve.endpoint_probe import ProbeResult, format_probe


def test_probe_table_lists_every_check_with_timing_and_verdict() -> None:
    results = [
        ProbeResult("models", True, 0.0123, "tiny-qwen3"),
        ProbeResult("chat (stream)", True, 0.5, "TTFT 80 ms, E2E 500 ms"),
        ProbeResult("tokenize", False, 0.002, "HTTP 404"),
    ]
    lines = format_probe("http://127.0.0.1:8000", results).splitlines()
    assert lines[0] == "probe http://127.0.0.1:8000"
    assert lines[2].split() == ["models", "ok", "12", "ms", "tiny-qwen3"]
    assert lines[3].startswith("chat (stream)  ok       500 ms  TTFT 80 ms")
    assert lines[4].split()[:3] == ["tokenize", "FAIL", "2"]
    assert lines[-1] == "2/3 checks passed"
