"""Sessions: conversations read as turns (recorded answers replaced by the live ones), synthetic sessions of
exact lengths, each turn's prompt growth counted before the run, a session played turn by turn with the
history exactly as received, the options that go with sessions, and the by-turn analysis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import T0, rec, write_run
from llmload.analysis.pipeline import analyze_run
from llmload.cli import main
from llmload.client.stream import StreamOutcome
from llmload.client.stream_facts import StreamFacts
from llmload.load.run_options import parse_run_values
from llmload.load.session_play import SessionPlay
from llmload.load.settings import settings_from
from llmload.records import StepMark
from llmload.scenarios.datasets.conversations import Conversation, SessionScenario, turns_of
from llmload.scenarios.datasets.session_growth import with_growth
from llmload.scenarios.datasets.session_spec import build_sessions, parse_sessions
from llmload.scenarios.datasets.workload_source import WorkloadOptions, load_workload
from token_counters import FRAMING, PRIMER, WordCounter, words

HOST = "http://127.0.0.1:9"
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": "Hi! How can I help?"}, {"role": "user", "content": "Tell me a joke"},
        {"role": "assistant", "content": "No."}, {"role": "user", "content": "Please"}]  # fmt: skip


def test_a_conversations_user_messages_are_its_turns_and_recorded_answers_are_kept_aside() -> None:
    turns = turns_of(CHAT, max_tokens=32)
    assert [[m["content"] for m in t.messages] for t in turns] == [["Be brief.", "Hello there"], ["Tell me a joke"],
                                                                    ["Please"]]  # fmt: skip
    assert [t.recorded_answer for t in turns] == ["Hi! How can I help?", "No.", None]
    assert all(t.max_tokens == 32 for t in turns)
    with pytest.raises(ValueError, match="tool message"):
        turns_of([{"role": "user", "content": "x"}, {"role": "tool", "content": "{}"}])
    with pytest.raises(ValueError, match="no user message"):
        turns_of([{"role": "system", "content": "x"}])


def test_chat_and_sharegpt_files_load_as_sessions_with_their_growth_counted(tmp_path: Path) -> None:
    chat = tmp_path / "c.jsonl"
    chat.write_text(json.dumps({"messages": CHAT, "name": "support"}) + "\n")
    scenario, _ = load_workload(WorkloadOptions(str(chat), sessions=True, think_s=1.5), WordCounter)
    assert isinstance(scenario, SessionScenario) and scenario.think_s == 1.5
    conversation = scenario.conversations[0]
    assert conversation.name == "support" and conversation.facts == {"source": "chat", "line": 1}
    # turn 2 adds: the answer's framing, the new message with its framing; the primer is counted once either way
    assert [t.added_tokens for t in conversation.turns] == [None, FRAMING + FRAMING + words("Tell me a joke"),
                                                            FRAMING + FRAMING + words("Please")]  # fmt: skip
    assert scenario.specs[0].messages == CHAT[:2] and scenario.specs[0].facts["turn"] == 1
    sharegpt = tmp_path / "s.json"
    sharegpt.write_text(json.dumps([{"conversations": [{"from": "human", "value": "q1"}, {"from": "gpt", "value": "a b c"},
                                                       {"from": "human", "value": "q2"}]}]))  # fmt: skip
    replayed, _ = load_workload(WorkloadOptions(str(sharegpt), sessions=True, recorded_output_len=True), WordCounter)
    assert [t.max_tokens for t in replayed.conversations[0].turns] == [3, None]  # the recorded answer's tokens


def test_synthetic_sessions_have_messages_of_the_asked_length_and_alike_growth() -> None:
    spec = parse_sessions("sessions:turns=3,prompt_tokens=40,output_tokens=8,think_s=0.5,sessions=5,seed=2")
    assert (spec.turns, spec.think_s, spec.sessions) == (3, 0.5, 5)
    counter = WordCounter()
    conversations = with_growth(build_sessions(spec, counter), counter, alike=True)
    texts = [m["content"] for c in conversations for t in c.turns for m in t.messages]
    assert len(conversations) == 5 and len(set(texts)) == 15  # every message its own
    assert all(counter.count([{"role": "user", "content": text}], None) == 40 for text in texts)
    assert all(t.max_tokens == 8 for c in conversations for t in c.turns) and conversations[0].ignore_eos
    assert [t.added_tokens for t in conversations[4].turns] == [None, FRAMING + 40 - PRIMER, FRAMING + 40 - PRIMER]


def outcome(answer: str, prompt_tokens: int, output_tokens: int, ok: bool = True) -> StreamOutcome:
    facts = StreamFacts(prompt_tokens=prompt_tokens, output_tokens=output_tokens, answer_text=answer)
    return StreamOutcome(0.0, 1.0, 0.5, 200, facts, None if ok else "disconnect", None if ok else "cut")


def test_a_session_sends_the_history_with_the_answers_as_received_and_knows_the_next_prompts_tokens() -> None:
    counter = WordCounter()
    conversation = with_growth([Conversation("s", turns_of(CHAT, 16), {"source": "chat", "line": 1})], counter)[0]
    settings = settings_from(parse_run_values({"host": HOST}), Path("."))
    play = SessionPlay(conversation, "w-0-0")
    first = json.loads(play.request(settings).body)
    assert first["messages"] == CHAT[:2] and first["max_tokens"] == 16
    prompt_1 = counter.count(first["messages"], None)
    assert play.answered(outcome("Hey  there ✓", prompt_1, 7))  # an answer unlike the recorded one
    second = json.loads(play.request(settings).body)
    assert second["messages"] == [*CHAT[:2], {"role": "assistant", "content": "Hey  there ✓"}, CHAT[3]]
    implied = prompt_1 + 7 + conversation.turns[1].added_tokens
    assert play.request(settings).spec.facts == {"kind": "session", "session_id": "w-0-0", "turn": 2, "turns": 3,
                                                 "source": "chat", "line": 1, "prompt_tokens_implied": implied}
    # had the answer gone back as its 7 generated tokens, the server counts the implied number: here 3 words
    assert counter.count(second["messages"], None) == implied - 7 + words("Hey  there ✓")
    assert play.answered(outcome("fine", 40, 2))
    assert not play.answered(outcome("the end", 50, 2))  # the last turn
    failed = SessionPlay(conversation, "w-0-1")
    assert not failed.answered(outcome("", 10, 0, ok=False))  # a failed turn ends the session


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sessions", "--rate", "1"], "--sessions: a session's next turn waits for its answer"),
        (["--dataset", "sessions:turns=2,prompt_tokens=8,output_tokens=2", "--rate", "1"], "sessions run closed loop"),
        (["--think-time", "2s"], "--think-time: only sessions pause between turns"),
        (["--sessions", "--dataset", "synthetic:prompt_tokens=8,output_tokens=2"], "--sessions: plays the conversations"),
        (["--dataset", "sessions:turns=2,prompt_tokens=8,output_tokens=2,think_s=1", "--think-time", "1s"],
         "give it once"),
        (["--dataset", "sessions:turns=0,prompt_tokens=8,output_tokens=2"], "sessions: turns=0 must be >= 1"),
        (["--dataset", "sessions:turns=2,prompt_tokens=8"], "sessions: output_tokens is required"),
        (["--dataset", "sessions:turns=2,prompt_tokens=8,output_tokens=2", "--endpoint", "completions"],
         "a session is a chat"),
    ],
)
def test_session_options_that_do_not_go_together(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--host", HOST, *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err, err


def test_a_chat_file_played_as_sessions_names_its_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"messages": CHAT}) + "\n" + json.dumps({"messages": [{"role": "assistant",
                                                                                      "content": "x"}]}) + "\n")
    assert main(["run", "--host", HOST, "--dataset", str(path), "--sessions"]) == 2
    assert f"{path}:2: no user message" in capsys.readouterr().err


def test_the_report_has_each_turns_latency_and_how_the_server_counted_the_history(tmp_path: Path) -> None:
    records = []
    for n in range(4):  # 4 sessions of 2 turns; turn 2 slower, its history counted 2 tokens over in 1 session
        first = rec(2 * n, 10.0 * n, 1.0, ttft=0.1,
                    scenario={"kind": "session", "session_id": f"s{n}", "turn": 1, "turns": 2})
        implied = 100 + 11 + 20  # rec(): prompt 100, output 11 tokens
        second = rec(2 * n + 1, 10.0 * n + 2, 2.0, ttft=0.3,
                     scenario={"kind": "session", "session_id": f"s{n}", "turn": 2, "turns": 2,
                               "prompt_tokens_implied": implied})  # fmt: skip
        second.prompt_tokens = implied + (2 if n == 0 else 0)
        records += [first, second]
    run = write_run(tmp_path / "run", [StepMark(0, 4, T0, T0 + 40.0)], records)
    sessions = analyze_run(run).sessions
    assert sessions is not None and sessions["sessions_started"] == 4 and sessions["turn_requests"] == 8
    one, two = sessions["by_turn"]
    assert (one["turn"], two["turn"]) == (1, 2)
    assert one["ttft_s"].mean == pytest.approx(0.1) and two["ttft_s"].mean == pytest.approx(0.3)
    assert two["e2e_s"].p50 == pytest.approx(2.0) and two["prompt_tokens_mean"] == pytest.approx(131.5)
    assert one["retokenized"]["checked"] == 0
    assert two["retokenized"] == {"checked": 4, "equal": 3, "diff_mean": 0.5, "diff_min": 0.0, "diff_max": 2.0}
    assert sessions["prefix_cache_hit_rate"] is None  # no server metrics in this run
    assert analyze_run(write_run(tmp_path / "plain", [StepMark(0, 1, T0, T0 + 5)], [rec(0, 0, 1)])).sessions is None
