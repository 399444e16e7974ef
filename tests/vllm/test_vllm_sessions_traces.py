"""Sessions, shared prefixes and trace replay on real vLLM (CPU build, the tiny model, prefix caching on: vLLM
0.32's default, 128-token blocks on CPU): a shared prefix gets prefix-cache hits (/metrics) and a lower mean TTFT
than the same lengths without sharing; a 3-turn session's prompt tokens per turn are exactly vLLM's /tokenize of
the messages it sent (the history with the answers as received) and the report has its by-turn table; the
checked-in 60-line Mooncake trace replays with every send within 10 ms of its schedule at 1x and at 4x, its
prompts of the trace's lengths by vLLM's count, and from 2 workers every request once."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from llmload.cpus import format_cpu_list, generator_cpus_beside
from llmload.serve.demo import raise_priority
from llmload.serve.launcher import EngineServer
from replay_checks import assert_trace_on_schedule, assert_turns_count_their_history, records

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO / "datasets" / "trace_mooncake_60.jsonl"
MODEL = "tiny-qwen3"


def run(server: EngineServer, run_dir: Path, *args: str) -> dict[str, Any]:
    cpus = generator_cpus_beside(server.cpus)
    argv = ["run", "--host", server.base_url, "--warmup", "1", "--out", str(run_dir),
            *(["--cpus", format_cpu_list(cpus)] if cpus else []), *args]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "llmload.cli", *argv], cwd=REPO, capture_output=True, text=True, timeout=300,
        check=False, preexec_fn=raise_priority,  # the generator shares 2 cores with vLLM
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]  # 1: a --slo gate failed
    assert all(r["ok"] for r in records(run_dir)), {r["error"] for r in records(run_dir)}
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return summary


def shared_prefix(server: EngineServer, run_dir: Path, groups: int, seed: int) -> dict[str, Any]:
    spec = (f"shared-prefix:groups={groups},prefix_tokens=1024,suffix_tokens=64,output_tokens=8,"
            f"prompts=1000,seed={seed}")  # fmt: skip
    return run(server, run_dir, "--dataset", spec, "--users", "2", "--step-duration", "15s")["steps"][0]


def test_a_shared_prefix_hits_the_prefix_cache_and_answers_sooner(vllm_server: EngineServer, tmp_path: Path) -> None:
    alone = shared_prefix(vllm_server, tmp_path / "alone", groups=1000, seed=1)  # no two requests share a prefix
    shared = shared_prefix(vllm_server, tmp_path / "shared", groups=2, seed=2)
    assert len(records(tmp_path / "alone")) < 1000  # every request sent had its own prefix
    hits = shared["server"]["prefix_cache_hit_rate"]
    print(f"\nshared prefix: hit rate {hits:.3f} vs {alone['server']['prefix_cache_hit_rate']:.3f}; "
          f"mean TTFT {shared['ttft_s']['mean']:.4f} s vs {alone['ttft_s']['mean']:.4f} s")
    assert hits > 0.5 and alone["server"]["prefix_cache_hit_rate"] < 0.05  # 7 of 8.5 blocks of 128 shared
    assert shared["ttft_s"]["mean"] < alone["ttft_s"]["mean"]
    built = {r["scenario"].get("prompt_tokens_built", 1088) for r in records(tmp_path / "shared")}
    assert {r["prompt_tokens"] for r in records(tmp_path / "shared")} == built == {1088}  # P + S by vLLM's count


def tokenize(url: str, messages: list[dict[str, Any]]) -> int:
    body = json.dumps({"model": MODEL, "messages": messages, "add_generation_prompt": True}).encode()
    request = urllib.request.Request(url + "/tokenize", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.loads(response.read())["count"])


def test_a_sessions_turns_count_exactly_their_history(vllm_server: EngineServer, tmp_path: Path) -> None:
    conversations = [[{"role": "user", "content": f"Conversation {i}, question {k}: " + "tell me more. " * (3 + k)}
                      for k in range(3)] for i in range(6)]  # fmt: skip
    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in conversations))
    summary = run(vllm_server, tmp_path / "run", "--dataset", str(data), "--sessions", "--max-tokens", "16",
                  "--ignore-eos", "--users", "2", "--step-duration", "15s")  # fmt: skip
    rows = records(tmp_path / "run")
    count = lambda messages: tokenize(vllm_server.base_url, messages)  # noqa: E731
    assert assert_turns_count_their_history(rows, conversations, count) >= 6
    sessions = summary["sessions"]
    assert [t["turn"] for t in sessions["by_turn"]] == [1, 2, 3]
    assert 'id="session-turns"' in (tmp_path / "run" / "report.html").read_text()
    retok = sessions["retokenized"]
    print(f"\nsessions: {sessions['sessions_started']} started, hit rate {sessions['prefix_cache_hit_rate']}, "
          f"histories counted as implied {retok['equal']}/{retok['checked']}, prompt - implied mean "
          f"{retok['diff_mean']} (min {retok['diff_min']}, max {retok['diff_max']}); by turn: "
          + "; ".join(f"{t['turn']}: TTFT {t['ttft_s']['mean']:.4f} s, prompt {t['prompt_tokens_mean']:.0f}"
                      for t in sessions["by_turn"]))  # fmt: skip
    assert retok["checked"] > 0


def test_the_mooncake_trace_replays_on_schedule_at_1x_and_4x(vllm_server: EngineServer, tmp_path: Path) -> None:
    # 128 users: as many as both steps' requests, so a request never waits for a user while the 1x step's
    # answers are still in flight (64 did once, on a slower-answering server: sends up to 2.8 s late)
    summary = run(vllm_server, tmp_path / "run", "--trace", str(TRACE), "--trace-speed", "1,4",
                  "--step-duration", "15s", "--max-users", "128", "--slo", "ttft_p95<=2s")  # fmt: skip
    late = assert_trace_on_schedule(tmp_path / "run", TRACE, [1.0, 4.0], 15.0)
    rows = records(tmp_path / "run")
    assert len(rows) == 120 and all(r["prompt_tokens"] == r["scenario"]["prompt_tokens"] for r in rows)
    trace = summary["trace"]
    assert all(step["prefix_cache_hit_rate"] > 0 for step in trace["steps"])  # the trace's repeated blocks
    print(f"\ntrace: send late max {max(late) * 1000:.2f} ms; per step "
          + "; ".join(f"{s['speed']}x: hits {s['prefix_cache_hit_rate']:.3f}, TTFT p95 {s['ttft_p95_s']:.3f} s, "
                      f"late p99 {s['send_late_p99_wall_s'] * 1000:.2f} ms" for s in trace["steps"])
          + f"; max speed passing {trace['max_speed_passing']}")  # fmt: skip


def test_two_workers_replay_every_trace_request_once(vllm_server: EngineServer, tmp_path: Path) -> None:
    run(vllm_server, tmp_path / "run", "--trace", str(TRACE), "--trace-speed", "4", "--step-duration", "5s",
        "--max-users", "64", "--workers", "2")  # fmt: skip
    rows = records(tmp_path / "run")
    assert sorted(r["scenario"]["line"] for r in rows) == list(range(1, 61))
    assert len({r["worker"] for r in rows}) == 2
