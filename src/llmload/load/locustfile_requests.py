"""A locustfile's own requests (LlmUser.chat / complete): their spec, the scorer of an `expected` answer, and
the Reply a task gets back. The timings are the report's metric definitions, in this machine's seconds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmload.client.stream import StreamOutcome
from llmload.records import Record
from llmload.scenarios.expected import parse_expected
from llmload.scenarios.workload_request import RequestSpec, expected_score

KIND = (
    "locustfile"  # the record's scenario part: {"kind": "locustfile", "user": CLASS, "matched"?, "answer"?}
)


@dataclass(frozen=True, slots=True)
class Reply:
    """What one request of `self.chat` / `self.complete` gave. Failed requests are recorded and returned, never
    raised: `ok` is False and `error` says why."""

    name: str
    ok: bool
    text: str  # the answer, its reasoning left out
    reasoning: str  # reasoning_content / <think> text, when the model gave any
    ttft_s: float | None  # to the first content-bearing chunk; None when not streamed or nothing came
    e2e_s: float  # to the last token (to the end for a failure), from the send (open loop: the intended send)
    output_tokens: int | None  # the server's usage count, else the content chunks
    prompt_tokens: int | None
    finish_reason: str | None
    http_status: int | None
    error: str | None  # "kind: message" of a failure (records.ERROR_KINDS)
    matched: bool | None  # the `expected` answer was found (None: none asked, or not scored)


def own_spec(
    name: str,
    user_class: str,
    messages: Sequence[Mapping[str, Any]] | None = None,
    prompt: str | None = None,
    expected: str | None = None,
) -> RequestSpec:
    """The spec of one call; ValueError for a bad name or `expected` (an empty text, a regex that does not
    compile): a mistake in the locustfile, raised in its task."""
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"name: {name!r} must be a non-empty string (the record's and Locust's request name)"
        )
    parsed = parse_expected(expected) if expected is not None else None
    facts = {"kind": KIND, "user": user_class}
    return RequestSpec(name, messages=messages, prompt=prompt, expected=parsed, facts=facts)


class ExpectedScorer:
    """The scenario of a call with `expected`: scores the answer as a dataset's expected answers are scored
    (scenarios.workload_request.expected_score). Its requests are built when sent, so it prepares none."""

    specs: Sequence[RequestSpec] = ()
    reads_answers = True

    def pick(self, user_index: int, iteration: int) -> int:
        raise NotImplementedError("a locustfile's requests are built by its own tasks")

    def score(self, spec: RequestSpec, answer_text: str) -> dict[str, Any]:
        return expected_score(spec, answer_text)


EXPECTED_SCORER = ExpectedScorer()


def reply_of(record: Record, outcome: StreamOutcome) -> Reply:
    origin = record.intended_send_s if record.intended_send_s is not None else record.send_s
    last = record.last_token_s if record.ok and record.last_token_s is not None else record.end_s
    matched = (record.scenario or {}).get("matched")
    return Reply(
        name=record.name,
        ok=record.ok,
        text=outcome.facts.answer_text,
        reasoning=outcome.facts.reasoning_text,
        ttft_s=None if record.first_token_s is None else record.first_token_s - origin,
        e2e_s=last - origin,
        output_tokens=record.output_tokens,
        prompt_tokens=record.prompt_tokens,
        finish_reason=record.finish_reason,
        http_status=record.http_status,
        error=None if record.ok else f"{record.error_kind}: {record.error}",
        matched=matched if isinstance(matched, bool) else None,
    )
