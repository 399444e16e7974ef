"""compare: deltas per step and of the knee, regressions, noise guard, and the exit codes of
`llmload compare` and `llmload run --baseline` on a made-up regression."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmload.analysis.compare import compare_summaries, parse_max_regression
from llmload.cli import main
from llmload.errors import UsageError


def step(users: int, rps: float, e2e_p95: float, ci: list[float] | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "users": users,
        "rps": rps,
        "output_tokens_per_s": rps * 100,
        "offered_rps": None,
        "ttft_s": {"p95": 1.0, "ci95": {"p95": [0.9, 1.1]}},
        "e2e_s": {"p95": e2e_p95, "ci95": {"p95": ci}},
        "excluded": False,
        **kw,
    }


def summary(run_id: str, steps: list[dict[str, Any]], knee_users: int) -> dict[str, Any]:
    knee = next(s for s in steps if s["users"] == knee_users)
    point = {"users": knee_users, "rps": knee["rps"], "output_tokens_per_s": knee["output_tokens_per_s"]}
    return {
        "schema": "llmload.summary/1",
        "run_id": run_id,
        "model": "m",
        "target": {},
        "steps": steps,
        "knee": point,
        "limit": point,
    }


BASE = summary("base", [step(1, 0.1, 10.0), step(8, 0.8, 10.0), step(16, 0.8, 20.0)], 8)


def test_no_change_no_regression() -> None:
    result = compare_summaries(BASE, BASE, 0.10)
    assert not result["regressed"] and result["regressions"] == []
    assert [r["level"] for r in result["steps"]] == [1, 8, 16]
    assert result["steps"][1]["metrics"]["rps"]["change"] == 0.0


def test_throughput_drop_beyond_tolerance_regresses() -> None:
    new = summary("new", [step(1, 0.1, 10.0), step(8, 0.68, 10.0), step(16, 0.76, 20.0)], 8)
    result = compare_summaries(BASE, new, 0.10)
    where = {(r["where"], r["metric"]) for r in result["regressions"]}
    # 8 users: -15% req/s and tokens/s; 16 users: -5% is inside the tolerance; knee rps -15%
    assert where == {
        ("users 8", "rps"),
        ("users 8", "output_tokens_per_s"),
        ("knee", "rps"),
        ("knee", "output_tokens_per_s"),
        ("limit", "rps"),
        ("limit", "output_tokens_per_s"),
    }
    cell = result["steps"][1]["metrics"]["rps"]
    assert cell["change"] == pytest.approx(-0.15) and cell["delta"] == pytest.approx(-0.12)
    assert compare_summaries(BASE, new, 0.20)["regressed"] is False


def test_latency_regression_needs_intervals_apart() -> None:
    base = summary("base", [step(1, 0.1, 10.0, [9.5, 10.5]), step(8, 0.8, 10.0, [9.0, 11.0])], 8)
    new = summary("new", [step(1, 0.1, 12.0, [11.5, 12.5]), step(8, 0.8, 12.0, [10.5, 14.0])], 8)
    result = compare_summaries(base, new, 0.10)
    assert [(r["where"], r["metric"]) for r in result["regressions"]] == [("users 1", "e2e_p95_s")]
    noisy = result["steps"][1]["metrics"]["e2e_p95_s"]
    assert noisy["within_noise"] and not noisy["regressed"]


def test_knee_moving_down_and_excluded_steps() -> None:
    new = summary("new", [step(1, 0.1, 10.0), step(4, 0.8, 10.0), step(8, 0.4, 20.0, excluded=True)], 4)
    result = compare_summaries(BASE, new, 0.10)
    assert result["knee"]["users"]["regressed"] and result["knee"]["users"]["change"] == pytest.approx(-0.5)
    assert not result["steps"][1]["gating"]
    assert not any(r["where"] == "users 8" for r in result["regressions"])  # excluded: shown, not gated
    assert (result["base_only"], result["new_only"]) == ([16], [4])


def test_missing_value_in_new_run_is_a_regression() -> None:
    new = summary("new", [step(1, 0.1, 10.0), step(8, 0.8, 10.0), step(16, 0.8, 20.0)], 8)
    new["steps"][2]["rps"] = None
    result = compare_summaries(BASE, new, 0.10)
    assert ("users 16", "rps") in {(r["where"], r["metric"]) for r in result["regressions"]}


def test_parse_max_regression() -> None:
    assert parse_max_regression("10%") == pytest.approx(0.10)
    assert parse_max_regression("0.05") == pytest.approx(0.05)
    for bad in ("10", "ten", "-5%"):
        with pytest.raises(UsageError):
            parse_max_regression(bad)


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "summary.json").write_text(json.dumps(data))
    return path


@pytest.fixture
def no_html(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """compare.html and compare.json are checked by the integration tests (matplotlib is slow to load)."""
    written: list[Path] = []

    def fake(result: dict[str, Any], base: dict[str, Any], new: dict[str, Any], out: Path) -> Path:
        written.append(out)
        return out / "compare.html"

    monkeypatch.setattr("llmload.report.compare_report.write_outputs", fake)
    return written


def test_compare_command_exit_codes(
    tmp_path: Path, no_html: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base = _write(tmp_path / "base", BASE)
    slower = summary("slower", [step(1, 0.1, 10.0), step(8, 0.6, 10.0), step(16, 0.6, 20.0)], 8)
    new = _write(tmp_path / "new", slower)
    assert main(["compare", str(base), str(base / "summary.json"), "--out", str(tmp_path / "same")]) == 0
    assert main(["compare", str(base), str(new), "--max-regression", "10%"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED: 8 check(s)" in out and "0.8 -> 0.6 (-25%) !" in out
    assert no_html == [tmp_path / "same", new]  # default --out: NEW's directory
    assert main(["compare", str(base), str(new), "--max-regression", "30%"]) == 0
    assert main(["compare", str(base), str(tmp_path / "nowhere")]) == 2
    assert main(["compare", str(base), str(new), "--max-regression", "10"]) == 2


def test_run_refuses_a_bad_baseline_before_any_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # port 9 is never contacted: the baseline is checked first
    assert main(["run", "--host", "http://127.0.0.1:9", "--baseline", str(tmp_path / "missing.json")]) == 2
    assert "--baseline" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "other"}')
    assert main(["run", "--host", "http://127.0.0.1:9", "--baseline", str(bad)]) == 2
    assert main(["run", "--host", "http://127.0.0.1:9", "--max-regression", "ten"]) == 2


def test_figures_the_new_run_never_measures_are_missing_not_lost() -> None:
    # a JMeter import as the new run: no TTFT and no tokens at any level; one level lost its E2E
    base = summary("llmload", [step(u, 0.1 * u, 10.0) for u in (1, 2, 4)], knee_users=4)
    jtl = [step(u, 0.1 * u, 10.0, ttft_s={"p95": None}, output_tokens_per_s=None) for u in (1, 2, 4)]
    jtl[1]["e2e_s"] = {"p95": None}
    result = compare_summaries(base, summary("jmeter", jtl, knee_users=4), 0.1)
    cells = {(row["level"], name): cell for row in result["steps"] for name, cell in row["metrics"].items()}
    assert not cells[(1, "ttft_p95_s")]["regressed"] and cells[(1, "ttft_p95_s")]["missing"] == "new"
    assert not cells[(4, "output_tokens_per_s")]["regressed"]
    assert cells[(2, "e2e_p95_s")]["regressed"]  # measured at the other levels: lost here
