"""Statistics per request name through `llmload run` against the simulator: a chat JSONL file whose lines carry
two names gives records of both, each step's `by_name` with each name's own timing (the fixed profile's TTFT
100 ms and ITL 20 ms: E2E = 0.1 + 0.02 x (tokens - 1)), the names' throughput adding up to the step's, named
SLO clauses judged on those figures, and the report's per-name rows and verdict line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from simulator import llmload, simulator, summary

TOKENS = {"short": 4, "long": 32}
E2E_S = {name: 0.1 + 0.02 * (tokens - 1) for name, tokens in TOKENS.items()}  # 0.16 s and 0.72 s


def test_two_names_get_their_own_statistics_and_slo(tmp_path: Path) -> None:
    data = tmp_path / "mix.jsonl"
    lines = [{"messages": [{"role": "user", "content": f"{name} {i}"}], "max_tokens": tokens, "name": name}
             for i in range(3) for name, tokens in TOKENS.items()]  # fmt: skip
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    run_dir = tmp_path / "run"
    with simulator("fixed-100ms-20ms", tmp_path) as url:
        result = llmload("run", "--host", url, "--dataset", str(data), "--users", "2,4",
                         "--step-duration", "3s", "--warmup", "0.5", "--metrics-interval", "0", "--out", str(run_dir),
                         "--slo", "short:e2e_p50<=0.3s,long:e2e_p50<=0.3s,long:ttft_p95<=0.2s")  # fmt: skip
    assert result.returncode == 1, result.stdout[-1500:] + result.stderr[-1500:]  # long's E2E fails its clause
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert {r["name"] for r in records} == set(TOKENS) and all(r["ok"] for r in records)
    s = summary(run_dir)
    for step in s["steps"]:
        by_name = step["by_name"]
        assert set(by_name) == set(TOKENS)
        for name, stats in by_name.items():
            assert stats["e2e_s"]["p50"] == pytest.approx(E2E_S[name], abs=0.02), (step["users"], name)
            assert stats["ttft_s"]["p50"] == pytest.approx(0.1, abs=0.02)
            assert stats["output_tokens_per_s"] == pytest.approx(TOKENS[name] * stats["rps"], rel=1e-6)
        assert sum(stats["rps"] for stats in by_name.values()) == pytest.approx(step["rps"], rel=1e-9)
        assert sum(stats["requests_ok"] for stats in by_name.values()) == step["requests_ok"]
        judged = next(row for row in s["slo"]["per_step"] if row["users"] == step["users"])["clauses"]
        assert [c["passed"] for c in judged] == [True, False, True]
        assert judged[1]["value"] == by_name["long"]["e2e_s"]["p50"]
    assert set(s["saturation_by_name"]["per_name"]) == set(TOKENS)
    assert "which request name saturates first:" in result.stdout
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert html.count('<tr class="by-name') == 2 * len(s["steps"]) and 'id="chart-by-name"' in html
