"""Fault plans, the seeded injector, the profile's [faults] table, the client's payload check, and the
load side's reaction to failures (backoff, target watch, exit codes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmload.client.error_body import error_message
from llmload.client.preflight_request import PreflightResult
from llmload.client.sse import MalformedStream
from llmload.client.stream import check_payloads
from llmload.errors import UsageError
from llmload.load.failures import BACKOFF_MAX_S, TargetWatch, failure_backoff_s
from llmload.load.option_values import check_host
from llmload.load.supervise import exit_code, mark_stopped
from llmload.sim.faults import FaultInjector, FaultPlan, build_plan, flag_items, merge_plans
from llmload.sim.sim_profile import parse_profile


def plan(*flags: str) -> FaultPlan:
    return build_plan(flag_items(list(flags)))


def test_flags_parse_rates_durations_and_exit_time() -> None:
    p = plan("http_500=0.05", "stall=0.02:5s", "slow_headers=0.1:250ms", "exit_at=2m")
    assert p.rate("http_500") == 0.05 and p.rate("stall") == 0.02 and p.rate("disconnect") == 0.0
    assert p.duration_s("stall") == 5.0 and p.duration_s("slow_headers") == 0.25
    assert p.exit_at_s == 120.0
    assert p.describe()["stall"] == {"rate": 0.02, "duration_wall_s": 5.0}


@pytest.mark.parametrize(
    ("flag", "needle"),
    [
        ("http_418=0.1", "unknown fault 'http_418'"),
        ("http_500=1.5", "must be between 0 and 1"),
        ("http_500=abc", "is not a number"),
        ("stall=0.1", "needs RATE:DURATION"),
        ("stall=0.1:-3s", "is not a duration"),
        ("disconnect=0.1:3s", "takes a rate only"),
        ("exit_at=0s", "must be greater than zero"),
        ("http_500", "expected KIND=SPEC"),
    ],
)
def test_bad_fault_flags_name_the_flag(flag: str, needle: str) -> None:
    with pytest.raises(UsageError) as exc:
        plan(flag)
    assert needle in str(exc.value) and flag.split("=")[0] in str(exc.value)


def test_rates_may_not_add_up_to_more_than_one() -> None:
    with pytest.raises(UsageError, match="add up to 1.2"):
        plan("http_500=0.6", "http_503=0.6")
    with pytest.raises(UsageError, match="add up to 1.1"):
        merge_plans(plan("http_500=0.6"), plan("malformed=0.5"))


def test_flags_override_the_profile_per_kind() -> None:
    merged = merge_plans(plan("http_500=0.5", "stall=0.1:1s", "exit_at=9s"), plan("http_500=0.1"))
    assert merged.rate("http_500") == 0.1 and merged.rate("stall") == 0.1 and merged.exit_at_s == 9.0


def test_same_seed_same_faults_and_rates_as_asked() -> None:
    p = plan("http_500=0.05", "stall=0.02:1s", "disconnect=0.10")
    first = [FaultInjector(p, seed=7).draw() for _ in range(1)]
    a, b, c = FaultInjector(p, seed=7), FaultInjector(p, seed=7), FaultInjector(p, seed=8)
    seq_a = [a.draw() for _ in range(20000)]
    assert seq_a == [b.draw() for _ in range(20000)]
    assert seq_a != [c.draw() for _ in range(20000)]
    assert first[0] == seq_a[0]
    # 20000 draws: expected 1000 / 400 / 2000 faults, 16600 clean; 4 sigma bands
    assert abs(seq_a.count("http_500") - 1000) < 4 * 31
    assert abs(seq_a.count("stall") - 400) < 4 * 20
    assert abs(seq_a.count("disconnect") - 2000) < 4 * 43
    assert abs(seq_a.count(None) - 16600) < 4 * 53


def test_no_plan_never_faults() -> None:
    injector = FaultInjector(FaultPlan(), seed=1)
    assert {injector.draw() for _ in range(1000)} == {None}


def test_profile_faults_table_and_its_errors(tmp_path: Path) -> None:
    good = 'model = "m"\n[faults]\nhttp_503 = 0.25\nstall_first = "0.1:2s"\nexit_at = "30s"\n'
    profile = parse_profile(good, "p.toml", "p")
    assert profile.faults.rate("http_503") == 0.25 and profile.faults.duration_s("stall_first") == 2.0
    assert profile.faults.exit_at_s == 30.0
    with pytest.raises(UsageError, match=r"^p\.toml:4: unknown fault 'http_999'"):
        parse_profile('model = "m"\n\n[faults]\nhttp_999 = 0.1\n', "p.toml", "p")
    with pytest.raises(UsageError, match=r"^p\.toml:3: fault stall needs RATE:DURATION"):
        parse_profile('model = "m"\n[faults]\nstall = 0.1\n', "p.toml", "p")
    with pytest.raises(UsageError, match=r"^p\.toml:2: 'faults' must be a table"):
        parse_profile('model = "m"\nfaults = 3\n', "p.toml", "p")


def test_client_rejects_events_that_are_not_json_objects() -> None:
    check_payloads([b'{"choices":[]}', b"[DONE]", b'{"a":1}  '])
    for bad in (b'{"choices":[{"delta":{"content":"\\u4eac', b"hello", b""):
        with pytest.raises(MalformedStream):
            check_payloads([b'{"ok":1}', bad])


def test_backoff_starts_at_the_second_failure_and_is_capped() -> None:
    waits = [failure_backoff_s(n) for n in range(0, 10)]
    assert waits[:5] == [0.0, 0.0, 0.1, 0.2, 0.4]
    assert waits[-1] == BACKOFF_MAX_S and failure_backoff_s(10_000) == BACKOFF_MAX_S
    # a dead server: the first 10 failures of one user take 9.1 s of pauses, then 2 s per request
    assert sum(waits) == pytest.approx(9.1)


def test_target_is_lost_only_after_a_window_of_connect_failures() -> None:
    watch = TargetWatch(window_s=10.0)
    assert not watch.observe(0.0, "connect")
    assert not watch.observe(5.0, "connect")
    assert not watch.observe(9.9, "connect")
    assert not watch.observe(9.95, None)  # one success resets the streak
    assert not watch.observe(10.0, "connect") and not watch.observe(19.0, "connect")
    assert not watch.observe(19.5, "http_status")  # the server answered: it is there
    for t in (20.0, 25.0):
        assert not watch.observe(t, "connect")
    assert watch.observe(30.0, "connect")
    assert "3 requests in a row failed to connect" in watch.reason()


def test_preflight_result_rejects_only_permanent_4xx() -> None:
    assert PreflightResult(400, None, "x").rejected and PreflightResult(401, None, "x").rejected
    assert not PreflightResult(429, None, "x").rejected and not PreflightResult(503, None, "x").rejected
    assert not PreflightResult(None, None, "timeout").rejected and not PreflightResult(200, 0.1, None).rejected
    body = b'{"error": {"message": "This model\'s maximum context length is 2048 tokens.\\nHowever"}}'
    assert error_message(body) == "This model's maximum context length is 2048 tokens. However"


def test_bad_hosts_are_usage_errors() -> None:
    check_host("http://127.0.0.1:8000")
    for host in ("127.0.0.1:8000", "ftp://x", "http://", "http://h:99999"):
        with pytest.raises(UsageError, match="--host"):
            check_host(host)


def test_partial_runs_are_marked_in_meta(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text('{"run_id": "r"}')
    assert mark_stopped(tmp_path, 0, None) is None
    reason = mark_stopped(tmp_path, -9, None)
    assert reason is not None and "SIGKILL" in reason and "SIGKILL" in (tmp_path / "meta.json").read_text()
    assert "SIGTERM" in str(mark_stopped(tmp_path, 0, "SIGTERM"))
    assert exit_code(0, "interrupted by SIGINT", "SIGINT") == 130
    assert exit_code(0, "target lost: ...", None) == 3 and exit_code(4, None, None) == 4
