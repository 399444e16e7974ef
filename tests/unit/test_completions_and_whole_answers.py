"""/v1/completions streams (text chunks) and non-streamed answers (--no-stream) give the same raw facts as a
chat stream: arrival times, usage counts, the answer without reasoning; TTFT is absent, never zero."""

from __future__ import annotations

import json

import pytest

from llmload.client.sse import MalformedStream, SseSplitter, StreamAccumulator
from llmload.client.stream import consume_stream
from llmload.client.unstreamed import unstreamed_facts


def text_chunk(text: str, finish: str | None = None) -> bytes:
    """A vLLM /v1/completions chunk (it sends "usage": null in each)."""
    body = {"id": "cmpl-1", "object": "text_completion", "model": "m", "usage": None,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}  # fmt: skip
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"


USAGE = b'data: {"id":"cmpl-1","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":4,"total_tokens":11}}\n\n'


def test_a_completions_stream_is_timed_per_text_chunk_and_its_answer_read() -> None:
    pieces = [(1.0, text_chunk("")), (1.5, text_chunk("<think>hm</think>")), (1.75, text_chunk(" 京A12345")),
              (2.0, text_chunk(" ok", "length") + USAGE + b"data: [DONE]\n\n")]  # fmt: skip
    state = {"i": -1}

    def recv() -> bytes:
        state["i"] += 1
        return pieces[state["i"]][1] if state["i"] < len(pieces) else b""

    acc = StreamAccumulator(keep_text=True, completions=True)
    consume_stream(recv, lambda: pieces[min(state["i"], len(pieces) - 1)][0], acc)
    facts = acc.finish()
    assert facts.first_token_s == 1.5  # the empty first text is no token
    assert facts.chunk_s == [1.5, 1.75, 2.0] and facts.last_token_s == 2.0
    assert (facts.prompt_tokens, facts.output_tokens, facts.token_source) == (7, 4, "usage")
    assert facts.answer_text == " 京A12345 ok" and facts.reasoning_text == "hm"
    assert facts.first_answer_s == 1.75 and facts.finish_reason == "length" and facts.done


def test_a_chat_delta_is_no_token_on_the_completions_path_and_the_other_way_round() -> None:
    chat = b'{"choices":[{"index":0,"delta":{"content":"x"}}]}'
    for completions, payload, tokens in ((True, chat, 0), (False, text_chunk("x")[6:-2], 0)):
        acc = StreamAccumulator(keep_text=False, completions=completions)
        acc.add(1.0, SseSplitter().feed(b"data: " + payload + b"\n\n"))
        assert acc.finish().output_tokens == tokens


def test_a_whole_chat_answer_has_e2e_facts_only() -> None:
    body = {"choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "<think>a</think>车牌：京A12345",
                                     "reasoning_content": "b"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "completion_tokens_details": {"reasoning_tokens": 3}}}  # fmt: skip
    facts = unstreamed_facts(json.dumps(body, ensure_ascii=False).encode(), 5.25, True, False)
    assert facts.first_token_s is None and facts.first_answer_s is None and facts.chunk_s == []
    assert facts.last_token_s == 5.25 and facts.done and facts.finish_reason == "stop"
    assert (facts.prompt_tokens, facts.output_tokens, facts.reasoning_tokens) == (12, 9, 3)
    assert facts.answer_text == "车牌：京A12345" and facts.reasoning_text == "ba"


def test_a_whole_text_completion_and_one_without_text_kept() -> None:
    body = json.dumps({"choices": [{"index": 0, "text": "hi", "finish_reason": "length"}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 1}}).encode()  # fmt: skip
    assert unstreamed_facts(body, 1.0, True, True).answer_text == "hi"
    lean = unstreamed_facts(body, 1.0, False, True)
    assert lean.answer_text == "" and lean.output_tokens == 1


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"choices": "x"}'])
def test_a_whole_answer_that_is_no_completion_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedStream):
        unstreamed_facts(body, 1.0, True, False)
