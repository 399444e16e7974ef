"""SSE parsing and record timing, driven by scripted byte pieces and a scripted clock (no sockets)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from llmload.client.answer_text import DECODE_EVERY
from llmload.client.sse import MalformedStream, SseSplitter, StreamAccumulator
from llmload.client.stream import consume_stream


def chunk(content: str | None = None, reasoning: str | None = None, finish: str | None = None) -> bytes:
    delta: dict[str, str] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    body = {
        "id": "x",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"


def usage(prompt: int, completion: int, reasoning: int | None = None) -> bytes:
    u: dict[str, object] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reasoning is not None:
        u["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return b"data: " + json.dumps({"id": "x", "choices": [], "usage": u}).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


def scripted(pieces: list[tuple[float, bytes]]) -> tuple[Callable[[], bytes], Callable[[], float]]:
    """recv() returns the pieces in order; clock() returns the time of the piece just received."""
    state = {"i": -1}

    def recv() -> bytes:
        state["i"] += 1
        return pieces[state["i"]][1] if state["i"] < len(pieces) else b""

    def clock() -> float:
        i = min(state["i"], len(pieces) - 1)
        return pieces[i][0]

    return recv, clock


def run(pieces: list[tuple[float, bytes]], keep_text: bool = True) -> StreamAccumulator:
    acc = StreamAccumulator(keep_text=keep_text)
    recv, clock = scripted(pieces)
    consume_stream(recv, clock, acc)
    return acc


def test_splitter_reassembles_events_split_anywhere() -> None:
    stream = chunk("你好") + chunk("世界") + b": keep-alive\n\n" + DONE
    for cut in range(1, len(stream)):
        splitter = SseSplitter()
        payloads = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])
        assert len(payloads) == 3, cut
        assert payloads[-1] == b"[DONE]"
        assert splitter.pending == b""


def test_splitter_accepts_crlf_and_multiline_data() -> None:
    payloads = SseSplitter().feed(b'data: {"a":\r\ndata: 1}\r\n\r\n')
    assert payloads == [b'{"a":\n1}']


def test_ttft_itl_and_tokens_come_from_arrival_times_and_usage() -> None:
    send = 100.0
    pieces = [
        (100.050, chunk(content="")),  # role-only first chunk: not content-bearing
        (100.120, chunk("京A")),
        (100.140, chunk("88888") + chunk("。")),  # two events in one read share one arrival time
        (100.200, chunk(finish="stop")),
        (100.210, usage(1342, 3)),
        (100.215, DONE),
    ]
    facts = run(pieces).finish()
    assert facts.first_token_s == pytest.approx(100.120)
    assert facts.first_token_s - send == pytest.approx(0.120)
    assert facts.chunk_s == pytest.approx([100.120, 100.140, 100.140])
    assert facts.last_token_s == pytest.approx(100.140)  # usage and [DONE] do not extend E2E
    assert (facts.prompt_tokens, facts.output_tokens, facts.token_source) == (1342, 3, "usage")
    assert facts.finish_reason == "stop"
    assert facts.done
    assert facts.answer_text == "京A88888。"


def test_think_section_is_reasoning_and_first_answer_is_after_it() -> None:
    pieces = [
        (1.0, chunk("<think>\n好的")),
        (1.5, chunk("，找车牌</think>")),
        (2.0, chunk("\n\n")),
        (2.5, chunk("沪C12345")),
        (2.6, usage(10, 4)),
        (2.7, DONE),
    ]
    facts = run(pieces).finish()
    assert facts.first_token_s == 1.0
    assert facts.first_answer_s == 2.5  # whitespace after </think> is not the answer yet
    assert facts.reasoning_text == "\n好的，找车牌"
    assert facts.answer_text.strip() == "沪C12345"


def test_reasoning_content_field_counts_as_first_token_but_not_answer() -> None:
    pieces = [
        (0.3, chunk(reasoning="思考")),
        (0.9, chunk("粤B12345")),
        (1.0, usage(5, 2, reasoning=1)),
        (1.1, DONE),
    ]
    facts = run(pieces).finish()
    assert (facts.first_token_s, facts.first_answer_s) == (0.3, 0.9)
    assert facts.reasoning_tokens == 1
    assert facts.reasoning_text == "思考"


def test_without_usage_the_token_count_falls_back_to_chunks_and_says_so() -> None:
    facts = run([(0.1, chunk("a")), (0.2, chunk("b")), (0.3, DONE)]).finish()
    assert (facts.output_tokens, facts.token_source) == (2, "chunks")


def test_missing_done_is_visible() -> None:
    facts = run([(0.1, chunk("a")), (0.2, usage(1, 1))]).finish()
    assert not facts.done


def test_malformed_json_is_detected_when_text_is_decoded() -> None:
    acc = run([(0.1, b'data: {"choices": [{"delta": {"content": "x"}\n\n'), (0.2, DONE)])
    with pytest.raises(MalformedStream):
        acc.finish()


def test_fast_mode_skips_text_but_keeps_timing() -> None:
    facts = run(
        [(0.1, chunk("a")), (0.2, chunk("b")), (0.3, usage(1, 2)), (0.4, DONE)], keep_text=False
    ).finish()
    assert facts.chunk_s == [0.1, 0.2]
    assert facts.answer_text == ""
    assert facts.output_tokens == 2



def compact_chunk(content: str) -> bytes:
    """A chunk as vLLM writes it (no spaces): the form the answer decoder reads without a JSON parse."""
    body = {"id": "x", "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return b"data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def think_across_batches(i: int) -> bytes:
    """A reasoning section that opens in the first batch of chunks and closes in the second."""
    return compact_chunk("<think>" if i == 0 else "</think>" if i == DECODE_EVERY + 5 else f"w{i} ")


@pytest.mark.parametrize(
    ("name", "make", "answer_from", "reasoning"),
    [
        ("answer only", lambda i: compact_chunk(f"w{i} "), 0, ""),
        ("chunks decoded one by one", lambda i: chunk(f"w{i} "), 0, ""),  # not the compact form
        ("a think section across batches", think_across_batches, DECODE_EVERY + 6,
         "".join(f"w{i} " for i in range(1, DECODE_EVERY + 5))),
        ("reasoning_content first", lambda i: chunk(reasoning="r") if i < DECODE_EVERY + 20 else chunk(f"w{i} "),
         DECODE_EVERY + 20, "r" * (DECODE_EVERY + 20)),
    ],
)  # fmt: skip
def test_a_long_answer_is_decoded_while_it_streams(
    name: str, make: Callable[[int], bytes], answer_from: int, reasoning: str
) -> None:
    n = 3 * DECODE_EVERY + 10
    pieces = [(1.0 + i / 10_000, make(i)) for i in range(n)] + [(9.0, DONE)]
    acc = StreamAccumulator(keep_text=True)
    recv, clock = scripted(pieces[:-1])
    consume_stream(recv, clock, acc)
    assert acc.text is not None and acc.text.undecoded < DECODE_EVERY, name  # little is left for the end
    acc.add(9.0, [DONE[6:-2]])
    facts = acc.finish()
    assert facts.answer_text == "".join(f"w{i} " for i in range(answer_from, n)), name
    assert facts.reasoning_text == reasoning, name
    assert facts.first_answer_s == 1.0 + answer_from / 10_000, name


def test_after_done_the_body_is_read_to_its_end_and_a_stall_there_is_not_a_failure() -> None:
    from llmload.client.stream_error import StreamError

    for tail, reads in (([b""], 3), ([StreamError("first_token_timeout", "no data")], 3)):
        pieces: list[bytes | StreamError] = [chunk("沪C12345"), DONE, *tail]
        calls: list[int] = []

        def recv(pieces: list[bytes | StreamError] = pieces, calls: list[int] = calls) -> bytes:
            calls.append(1)
            piece = pieces.pop(0) if pieces else b""
            if isinstance(piece, StreamError):
                raise piece
            return piece

        acc = StreamAccumulator(keep_text=True)
        consume_stream(recv, lambda: 1.0, acc)  # the terminator read (or the stall swallowed), nothing raised
        facts = acc.finish()
        assert len(calls) == reads and facts.done and facts.answer_text == "沪C12345"
