"""The completion handlers of the simulator: vLLM's /v1/chat/completions and /v1/completions, streamed or not,
on top of a simulated engine (binds 127.0.0.1 by default)."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from llmload.scenarios.prompt_tokens import estimate_prompt_tokens, estimate_text_tokens
from llmload.sim.content import completion_pieces
from llmload.sim.faults import HTTP_FAULTS, SimFaults
from llmload.sim.predict import sample_output_tokens
from llmload.sim.realtime import SimRuntime
from llmload.sim.sim_profile import SimProfile
from llmload.sim.sse_chunks import ChunkWriter, malformed_event

RUNTIME_KEY: web.AppKey[SimRuntime] = web.AppKey("runtime", SimRuntime)
RNG_KEY: web.AppKey[random.Random] = web.AppKey("rng", random.Random)
FAULTS_KEY: web.AppKey[SimFaults] = web.AppKey("faults", SimFaults)
SIM_VERSION = "0.0.0-llmload-sim"


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str) -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


def error_response(status: int, message: str, kind: str) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": status}}
    return web.json_response(body, status=status)


@dataclass(frozen=True)
class ChatRequest:
    stream: bool
    include_usage: bool
    prompt_tokens: int
    output_tokens: int
    max_tokens: int
    finish_reason: str
    user_text: str
    completions: bool = False  # /v1/completions: a prompt, answered in choices[0].text


def _message_texts(messages: Any) -> list[str]:
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list", "BadRequestError")
    texts: list[str] = []
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        texts.append(content if isinstance(content, str) else "")
    return texts


def _prompt_text(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise ApiError(400, "prompt must be a non-empty string", "BadRequestError")
    return prompt


def parse_chat(body: Any, profile: SimProfile, rng: random.Random, completions: bool = False) -> ChatRequest:
    """A chat completion request (with `completions`: a text completion request), checked as vLLM checks it;
    prompt tokens counted as the simulator's /tokenize counts them."""
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object", "BadRequestError")
    if body.get("model") != profile.model:
        raise ApiError(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
    if completions:
        user_text = _prompt_text(body)
        prompt = max(1, round(estimate_text_tokens(user_text, tokens_per_cjk_char=profile.tokens_per_char)))
    else:
        texts = _message_texts(body.get("messages"))
        prompt = estimate_prompt_tokens(texts, profile.tokens_per_char, profile.tokens_per_message)
        user_text = "\n".join(t for m, t in zip(body["messages"], texts, strict=True)
                              if isinstance(m, dict) and m.get("role") == "user")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None:
        max_tokens = profile.max_model_len - prompt
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise ApiError(400, "max_tokens must be an integer >= 1", "BadRequestError")
    if prompt + max_tokens > profile.max_model_len:
        raise ApiError(400, f"This model's maximum context length is {profile.max_model_len} tokens. However, you "
                       f"requested {prompt + max_tokens} tokens ({prompt} in the messages, {max_tokens} in the "
                       "completion).", "BadRequestError")
    out = max_tokens if body.get("ignore_eos") else sample_output_tokens(profile, rng, max_tokens)
    options = body.get("stream_options") or {}
    stream = bool(body.get("stream", False))
    return ChatRequest(stream, stream and bool(options.get("include_usage")), prompt, out, max_tokens,
                       "length" if out >= max_tokens else "stop", user_text, completions)


@dataclass
class Outcome:
    """What happened to one chat request, for the simulator's tally: set once, first cause wins."""

    kind: str | None = None  # fault drawn for this request
    duration_s: float = 0.0
    result: str | None = None  # "completed_ok" | "faulted" | "rejected" | "client_gone"
    arrived_s: float = 0.0  # loop time the handler received it (after a slow_headers fault's delay)

    def settle(self, result: str) -> None:
        if self.result is None:
            self.result = result


class Disconnected(Exception):
    """The handler closed the connection on purpose (fault ``disconnect``)."""


async def _mid_stream_fault(request: web.Request, resp: web.StreamResponse, writer: ChunkWriter,
                            outcome: Outcome, faults: SimFaults) -> None:
    kind = outcome.kind
    if kind == "stall":
        faults.injector.injected(kind)
        await asyncio.sleep(outcome.duration_s)
    elif kind == "malformed":
        faults.injector.injected(kind)
        outcome.settle("faulted")
        await resp.write(malformed_event(writer).encode())
    elif kind == "disconnect":
        faults.injector.injected(kind)
        outcome.settle("faulted")
        if request.transport is not None:
            request.transport.close()  # flushes what was written, then FIN: the client sees EOF mid-body
        raise Disconnected


async def _stream_tokens(request: web.Request, runtime: SimRuntime, chat: ChatRequest, outcome: Outcome,
                         faults: SimFaults) -> web.StreamResponse:
    req_id, stream = runtime.submit(chat.prompt_tokens, chat.output_tokens, chat.finish_reason, outcome.arrived_s)
    pieces = completion_pieces(chat.user_text, chat.output_tokens)
    writer = ChunkWriter(runtime.profile.model, chat.completions)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    try:
        await resp.prepare(request)
        role_sent = False
        if outcome.kind == "stall_first":
            faults.injector.injected("stall_first")
            await resp.write(writer.role().encode())
            role_sent = True
            await asyncio.sleep(outcome.duration_s)
        sent, mid_done = 0, False
        mid = max(1, chat.output_tokens // 2)
        while sent < chat.output_tokens:
            await stream.event.wait()
            stream.event.clear()
            n, stream.pending = stream.pending, 0
            parts = [] if role_sent else [writer.role()]
            role_sent = True
            done = sent + n >= chat.output_tokens and outcome.kind != "no_done"  # no_done: never says it ended
            parts.append(writer.content("".join(pieces[sent:sent + n]), chat.finish_reason if done else None))
            sent += n
            await resp.write("".join(parts).encode())
            if not mid_done and sent >= mid:
                mid_done = True
                await _mid_stream_fault(request, resp, writer, outcome, faults)
        if chat.include_usage:
            await resp.write(writer.usage(runtime.profile.model, chat.prompt_tokens, sent).encode())
        if outcome.kind == "no_done":
            faults.injector.injected("no_done")
            outcome.settle("faulted")
        else:
            await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        outcome.settle("completed_ok")
    finally:
        runtime.release(req_id)
    return resp


async def _complete(runtime: SimRuntime, chat: ChatRequest, arrived_s: float) -> web.Response:
    req_id, stream = runtime.submit(chat.prompt_tokens, chat.output_tokens, chat.finish_reason, arrived_s)
    try:
        while stream.due < chat.output_tokens:
            await stream.event.wait()
            stream.event.clear()
    finally:
        runtime.release(req_id)
    text = "".join(completion_pieces(chat.user_text, chat.output_tokens))
    answer: dict[str, Any] = ({"text": text} if chat.completions else
              {"message": {"role": "assistant", "content": text, "reasoning_content": None, "tool_calls": []}})
    body = {"id": f"{'cmpl' if chat.completions else 'chatcmpl'}-{uuid.uuid4().hex}",
            "object": "text_completion" if chat.completions else "chat.completion", "created": int(time.time()),
            "model": runtime.profile.model,
            "choices": [{"index": 0, **answer, "logprobs": None, "finish_reason": chat.finish_reason,
                         "stop_reason": None}],
            "usage": {"prompt_tokens": chat.prompt_tokens, "completion_tokens": chat.output_tokens,
                      "total_tokens": chat.prompt_tokens + chat.output_tokens, "prompt_tokens_details": None},
            "prompt_logprobs": None}
    return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def _handle_chat(request: web.Request, outcome: Outcome, completions: bool) -> web.StreamResponse:
    runtime, faults = request.app[RUNTIME_KEY], request.app[FAULTS_KEY]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        outcome.settle("rejected")
        return error_response(400, "request body is not valid JSON", "BadRequestError")
    try:
        chat = parse_chat(body, runtime.profile, request.app[RNG_KEY], completions)
    except ApiError as exc:
        outcome.settle("rejected")
        return error_response(exc.status, str(exc), exc.kind)
    outcome.kind = faults.injector.draw()
    outcome.duration_s = faults.injector.plan.duration_s(outcome.kind or "")
    if outcome.kind in HTTP_FAULTS:
        faults.injector.injected(outcome.kind)
        outcome.settle("faulted")
        status = HTTP_FAULTS[outcome.kind]
        resp = error_response(status, f"simulated fault: HTTP {status}", "SimulatedFault")
        if status == 429:
            resp.headers["Retry-After"] = "1"
        return resp
    if outcome.kind == "slow_headers":
        faults.injector.injected("slow_headers")
        await asyncio.sleep(outcome.duration_s)
        outcome.arrived_s = runtime.loop.time()
    try:
        if chat.stream:
            return await _stream_tokens(request, runtime, chat, outcome, faults)
        resp = await _complete(runtime, chat, outcome.arrived_s)
        outcome.settle("completed_ok")
        return resp
    except ValueError as exc:  # the engine can never fit the request
        outcome.settle("rejected")
        return error_response(400, str(exc), "BadRequestError")


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _completion(request, completions=False)


async def text_completions(request: web.Request) -> web.StreamResponse:
    return await _completion(request, completions=True)


async def _completion(request: web.Request, completions: bool) -> web.StreamResponse:
    faults = request.app[FAULTS_KEY]
    faults.tally.received += 1
    outcome = Outcome(arrived_s=request.app[RUNTIME_KEY].loop.time())
    try:
        return await _handle_chat(request, outcome, completions)
    except Disconnected:
        raise asyncio.CancelledError from None  # the connection is gone: nothing more to send
    except (asyncio.CancelledError, ConnectionResetError):
        outcome.settle("client_gone")
        raise
    finally:
        tally = faults.tally
        result = outcome.result or "client_gone"
        setattr(tally, result, getattr(tally, result) + 1)
