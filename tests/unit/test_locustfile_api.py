"""Your own locustfile's API without Locust running: the body self.chat / self.complete send (the run's, then the
call's fields), the Reply they return (the report's metric definitions), self.openai's requests and the SDK's own
objects it hands back, --locustfile's checks and command lines, and `from llmload import LlmUser` loading Locust
only when asked."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types import Completion
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from llmload.client.stream import CHAT_PATH, COMPLETIONS_PATH, StreamOutcome
from llmload.client.stream_facts import StreamFacts
from llmload.errors import UsageError
from llmload.load.locust_command import headless_argv, ui_argv, worker_argv
from llmload.load.locustfile_requests import EXPECTED_SCORER, own_spec, reply_of
from llmload.load.openai_shape import ChunkStream, OpenAiShape, RequestFailed, parse
from llmload.load.request_encoder import PreparedRequest, prepare_own
from llmload.load.run_command import parse_run_args
from llmload.load.run_options import parse_run_values
from llmload.load.settings import LoadSettings, settings_from
from llmload.records import Record

REPO = Path(__file__).resolve().parents[2]


def settings(**values: Any) -> LoadSettings:
    return replace(settings_from(parse_run_values({"host": "http://h:1", **values}), Path("r")), model="m")


def body_of(prepared: PreparedRequest) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(prepared.body)
    return body


def test_chat_sends_the_runs_body_then_the_calls_fields() -> None:
    run = settings(max_tokens=100, temperature=0.5, extra_body='{"top_k": 5, "seed": 1}')
    spec = own_spec("rag", "Rag", messages=[{"role": "user", "content": "hi"}])
    prepared = prepare_own(run, spec, True, {"max_tokens": 64, "seed": 7})
    assert (prepared.path, prepared.stream, prepared.completions) == (CHAT_PATH, True, False)
    assert body_of(prepared) == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True,
        "stream_options": {"include_usage": True}, "temperature": 0.5, "max_tokens": 64, "top_k": 5, "seed": 7,
    }  # fmt: skip
    assert spec.facts == {"kind": "locustfile", "user": "Rag"} and spec.name == "rag"


def test_a_call_can_ask_for_a_whole_answer_and_complete_goes_to_completions_whatever_the_run_says() -> None:
    whole = prepare_own(settings(), own_spec("chat", "C", messages=[]), True, {"stream": False})
    assert not whole.stream and "stream_options" not in body_of(whole) and body_of(whole)["stream"] is False
    text = prepare_own(settings(no_stream=True), own_spec("completion", "C", prompt="Once"), False, {})
    assert (text.path, text.completions, text.stream) == (COMPLETIONS_PATH, True, False)
    assert body_of(text)["prompt"] == "Once" and "messages" not in body_of(text)


def test_bad_names_and_expected_answers_are_the_locustfiles_mistakes() -> None:
    with pytest.raises(ValueError, match="name"):
        own_spec("", "C", messages=[])
    with pytest.raises(ValueError, match="regex"):
        own_spec("x", "C", messages=[], expected="re:(")
    spec = own_spec("x", "C", messages=[], expected="re:A\\d+")
    assert EXPECTED_SCORER.score(spec, "plate A12") == {"matched": True}
    assert EXPECTED_SCORER.score(spec, "none")["matched"] is False


def record(**kw: Any) -> Record:
    base: dict[str, Any] = {"request_id": "w-0-1", "user_id": 0, "send_s": 100.0, "end_s": 101.5, "ok": True,
                            "first_token_s": 100.2, "last_token_s": 101.4, "output_tokens": 31, "name": "rag"}  # fmt: skip
    return Record(**{**base, **kw})


def test_a_reply_has_the_reports_ttft_and_e2e_and_says_why_a_request_failed() -> None:
    facts = StreamFacts(answer_text="A12", reasoning_text="hm")
    outcome = StreamOutcome(100.0, 101.5, 100.1, 200, facts)
    reply = reply_of(record(scenario={"kind": "locustfile", "matched": True}), outcome)
    assert reply.ok and reply.text == "A12" and reply.reasoning == "hm" and reply.matched is True
    assert reply.ttft_s == pytest.approx(0.2) and reply.e2e_s == pytest.approx(1.4)  # to the last token
    late = reply_of(record(intended_send_s=99.5), outcome)  # open loop: from the intended send time
    assert late.ttft_s == pytest.approx(0.7) and late.e2e_s == pytest.approx(1.9)
    failed = reply_of(record(ok=False, error_kind="http_status", error="HTTP 404: no model", http_status=404,
                             first_token_s=None, last_token_s=None), outcome)  # fmt: skip
    assert not failed.ok and failed.error == "http_status: HTTP 404: no model" and failed.http_status == 404
    assert failed.ttft_s is None and failed.e2e_s == pytest.approx(1.5) and failed.matched is None


def chunk(content: str | None, finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": {"content": content} if content is not None else {}, "finish_reason": finish}
    data = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice], **extra}
    return json.dumps(data).encode()


USAGE_CHUNK = json.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
                          "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}).encode()  # fmt: skip


class FakeSend:
    """LlmUser.send's stand-in: keeps what was sent, answers with the given payloads."""

    def __init__(self, events: list[bytes], ok: bool = True) -> None:
        self.events, self.ok, self.sent = events, ok, []  # type: ignore[var-annotated]

    def __call__(self, prepared: PreparedRequest, scenario: Any, keep_text: bool, keep_events: bool) -> Any:
        self.sent.append((prepared, keep_text, keep_events))
        error = {} if self.ok else {"error_kind": "http_status", "error": "HTTP 400: bad", "http_status": 400}
        outcome = StreamOutcome(1.0, 2.0, 1.1, 200 if self.ok else 400, StreamFacts(), events=list(self.events))
        return record(ok=self.ok, name=prepared.spec.name, **error), outcome


def test_openai_stream_yields_the_sdks_chunks_without_the_usage_chunk_it_did_not_ask_for() -> None:
    send = FakeSend([chunk("Hel"), chunk("lo", "stop"), USAGE_CHUNK, b"[DONE]"])
    client = OpenAiShape(settings(extra_body='{"top_k": 5}'), send, "Bot")
    stream = client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], stream=True,
                                            max_tokens=8, temperature=openai.NOT_GIVEN, extra_body={"seed": 3})  # fmt: skip
    chunks = list(stream)
    assert [type(c) for c in chunks] == [ChatCompletionChunk, ChatCompletionChunk]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello"
    prepared, keep_text, keep_events = send.sent[0]
    assert body_of(prepared) == {"messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 8,
                                 "model": "m", "stream_options": {"include_usage": True}, "top_k": 5, "seed": 3}  # fmt: skip
    assert prepared.spec.name == "chat" and prepared.spec.facts["user"] == "Bot" and keep_events and not keep_text
    asked = client.chat.completions.create(model="x", messages=[], stream=True, name="rag",
                                           stream_options={"include_usage": True})  # fmt: skip
    assert [c.usage.total_tokens for c in asked if c.usage is not None] == [7]  # asked for: handed out
    assert send.sent[1][0].spec.name == "rag" and body_of(send.sent[1][0])["model"] == "x"


def test_openai_whole_answers_and_text_completions_are_the_sdks_types() -> None:
    whole = {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
             "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi"}}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}  # fmt: skip
    answer = OpenAiShape(settings(), FakeSend([json.dumps(whole).encode()]), "B").chat.completions.create(
        model="m", messages=[]
    )
    assert isinstance(answer, ChatCompletion) and answer.choices[0].message.content == "Hi"
    text = {"id": "t", "object": "text_completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "text": "Once", "finish_reason": None, "logprobs": None}]}  # fmt: skip
    send = FakeSend([json.dumps(text).encode(), b"[DONE]"])
    pieces = list(OpenAiShape(settings(), send, "B").completions.create(prompt="x", stream=True))
    assert [type(p) for p in pieces] == [Completion] and pieces[0].choices[0].text == "Once"
    assert send.sent[0][0].path == COMPLETIONS_PATH and send.sent[0][0].spec.name == "completion"


def test_openai_failures_raise_the_sdks_base_error_and_its_own_options_are_refused() -> None:
    client = OpenAiShape(settings(), FakeSend([], ok=False), "B")
    with pytest.raises(openai.OpenAIError) as failure:
        client.chat.completions.create(model="m", messages=[])
    assert isinstance(failure.value, RequestFailed) and failure.value.status_code == 400
    assert str(failure.value) == "http_status: HTTP 400: bad"
    with pytest.raises(TypeError, match="timeout"):
        client.chat.completions.create(model="m", messages=[], timeout=3)


def test_a_chunk_outside_the_sdks_types_is_still_handed_out() -> None:
    odd = parse(chunk("x", "abort"), ChatCompletionChunk)  # a server's own finish reason
    assert odd.choices[0].finish_reason == "abort" and odd.choices[0].delta.content == "x"
    with ChunkStream([chunk("a"), chunk("b")], ChatCompletionChunk, hide_usage_chunk=True) as stream:
        assert next(stream).choices[0].delta.content == "a"
    with pytest.raises(StopIteration):
        next(stream)  # closed


def test_locustfile_option_is_checked_and_replaces_llmloads_own_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--locustfile: nope.py: no such file"):
        parse_run_values({"host": "http://h:1", "locustfile": "nope.py"})
    broken = tmp_path / "broken.py"
    broken.write_text("from llmload import LlmUser\nclass A(LlmUser)\n")
    with pytest.raises(UsageError, match=r"broken.py:2: expected ':'"):
        parse_run_values({"host": "http://h:1", "locustfile": str(broken)})
    plain = tmp_path / "plain.py"
    plain.write_text("from locust import HttpUser\n")
    with pytest.raises(UsageError, match="plain.py has no llmload user class"):
        parse_run_values({"host": "http://h:1", "locustfile": str(plain)})
    mine = tmp_path / "mine.py"
    mine.write_text("from llmload import LlmUser\n")
    with pytest.raises(UsageError, match="--dataset: not used with --locustfile"):
        parse_run_values({"host": "http://h:1", "locustfile": str(mine), "dataset": "synthetic:prompt_tokens=8"})
    args = parse_run_args(["--host", "http://h:1", "--locustfile", str(mine), "--users", "4"])
    argv = headless_argv(vars(args), tmp_path / "run")
    assert argv[argv.index("-f") + 1] == str(mine) and "--locustfile" not in argv and "--step-users" in argv
    ui = ui_argv(vars(args), "127.0.0.1", 8089)
    assert ui[ui.index("-f") + 1] == str(mine) and "--headless" not in ui
    assert worker_argv("h", 1, str(mine))[4] == str(mine) and worker_argv("h", 1)[4].endswith("plate_detection.py")


def test_importing_llmload_loads_locust_only_for_the_locustfile_api() -> None:
    code = ("import sys, llmload\nassert 'locust' not in sys.modules and 'openai' not in sys.modules\n"
            "from llmload import LlmUser, Reply\nassert 'locust' in sys.modules and LlmUser.abstract\n"
            "print(LlmUser.__module__, Reply.__name__, llmload.__version__)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.split()[:2] == ["llmload.load.user", "Reply"]
