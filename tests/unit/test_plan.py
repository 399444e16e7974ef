"""`llmload plan` arithmetic with hand-computed numbers (seed 2x RTX 4090 profile)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmload.capacity.hardware import load_hardware
from llmload.capacity.plan import build_plan
from llmload.cli import main
from llmload.errors import UsageError


def _step(users: int, rps: float, p50: float, p95: float) -> dict[str, Any]:
    return {"users": users, "rps": rps, "output_tokens_per_s": rps * 1250, "requests_ok": 50,
            "e2e_s": {"p50": p50, "p95": p95}, "error_rate": 0.0, "prompt_tokens_mean": 1342.0,
            "output_tokens_mean": 1250.0}


def summary() -> dict[str, Any]:
    steps = [_step(20, 0.5, 40.0, 42.0), _step(29, 0.7, 41.0, 44.0), _step(32, 0.69, 58.0, 65.0)]
    return {"schema": "llmload.summary/1", "steps": steps, "knee": {"users": 29}, "limit": {"users": 32}}


def test_seed_profile_totals_match_the_white_paper() -> None:
    plan = build_plan([("s", summary())], load_hardware("seed-2x4090"), target_users=100)
    per = plan["per_replica"]
    assert per["rent_total"] == pytest.approx(115_999.92)  # 3222.22 x 36: "about 116k CNY"
    assert per["buy"]["gpus"] == 45_000.0  # 2 x 22,500: "about 45k CNY"
    assert per["buy"]["electricity"] == pytest.approx(21_038.4)  # 1 kW x 26,298 h x 0.8 CNY/kWh
    assert per["buy"]["total"] == pytest.approx(66_038.4)
    assert per["cheaper"] == "buy"
    assert per["break_even_months"] == pytest.approx(45_000 / (3222.22 - 584.4))  # 17.06


def test_replicas_and_unit_costs() -> None:
    plan = build_plan([("s", summary())], load_hardware("seed-2x4090"), target_users=100)
    assert (plan["replicas"], plan["gpus"]) == (4, 8)  # ceil(100 / 29)
    assert plan["output_tokens_per_s_per_gpu"] == 437.5  # 0.7 x 1250 / 2
    per = plan["per_replica"]
    assert per["output_tokens_millions"] == pytest.approx(82_838.7)  # 875 x 3600 x 26,298 / 1e6
    assert per["rent_per_1m_output_tokens"] == pytest.approx(1.40031, rel=1e-5)  # 115,999.92 / 82,838.7
    assert per["buy_per_1m_output_tokens"] == pytest.approx(0.79719, rel=1e-5)  # 66,038.4 / 82,838.7
    assert per["rent_per_request"] == pytest.approx(115_999.92 / 66_270_960)  # 0.7 x 94,672,800 s
    assert plan["fleet"]["rent_total"] == pytest.approx(463_999.68)
    assert plan["capacity"] == {"users": 116, "rps": pytest.approx(2.8), "output_tokens_per_s": 3500.0}
    assert plan["kv_prediction"]["predicted_users"] == 31  # 62668 / (1342 + 625)
    assert build_plan([("s", summary())], load_hardware("seed-2x4090"), target_rps=2.0)["replicas"] == 3
    assert build_plan([("s", summary())], load_hardware("seed-2x4090"), target_rps=2.1)["replicas"] == 3


def test_slo_caps_the_operating_point_or_makes_it_infeasible() -> None:
    hw = load_hardware("seed-2x4090")
    capped = build_plan([("s", summary())], hw, target_users=100, slo_spec="e2e_p95<=43s")
    assert capped["operating_point"]["users"] == 20 and capped["replicas"] == 5
    assert "capped by the SLO" in capped["operating_point"]["why"]
    assert build_plan([("s", summary())], hw, target_users=100, slo_spec="e2e_p95<=10s")["feasible"] is False
    slower = summary()
    slower["steps"][1]["rps"] = 0.6  # the conservative summary decides
    assert build_plan([("a", summary()), ("b", slower)], hw, target_rps=2.0)["replicas"] == 4


def test_plan_cli_writes_plan_json_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "summary.json").write_text(json.dumps(summary()))
    assert main(["plan", "--summary", str(tmp_path), "--target-users", "100"]) == 0
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["replicas"] == 4
    out = capsys.readouterr().out
    assert "4 replicas x 2 GPUs = 8 GPUs" in out and "115,999.92" not in out and "116,000 CNY" in out
    assert main(["plan", "--summary", str(tmp_path), "--target-users", "10", "--slo", "e2e_p95<=1s"]) == 1
    assert main(["plan", "--summary", str(tmp_path)]) == 2  # a target is required
    assert main(["plan", "--summary", str(tmp_path), "--target-users", "5", "--slo", "e2e<=1s"]) == 2


def test_bad_hardware_profile_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "hw.toml"
    path.write_text('gpus_per_replica = 2\nlifetime_years = 3\nrent_per_month = "a lot"\ngpu_price = 1\n')
    with pytest.raises(UsageError, match=r"hw.toml:3: rent_per_month: expected a number"):
        load_hardware(str(path))
    path.write_text("gpus_per_replica = 2\nlifetime_years = 3\n")
    with pytest.raises(UsageError, match="missing rent_per_month, gpu_price"):
        load_hardware(str(path))
    with pytest.raises(UsageError, match="no profile named 'nope'"):
        load_hardware("nope")
