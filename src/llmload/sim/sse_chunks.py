"""The simulator's SSE chunks, pre-rendered in vLLM's formats (chat and text completions), and a malformed one."""

from __future__ import annotations

import json
import time
import uuid


class ChunkWriter:
    """Pre-rendered SSE chunks in vLLM's chat.completion.chunk format, or (`completions`) its
    text_completion chunks of /v1/completions (no role chunk; the text in choices[0].text)."""

    def __init__(self, model: str, completions: bool = False) -> None:
        self.completions = completions
        self.id = f"{'cmpl' if completions else 'chatcmpl'}-{uuid.uuid4().hex}"
        self.object = "text_completion" if completions else "chat.completion.chunk"
        self.created = int(time.time())
        head = {"id": self.id, "object": self.object, "created": self.created, "model": model}
        choice = '"text":' if completions else '"delta":'
        self.prefix = "data: " + json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ',"choices":[{"index":0,' + choice

    def role(self) -> str:
        if self.completions:
            return ""
        return self.prefix + '{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n'

    def content(self, text: str, finish_reason: str | None) -> str:
        reason = "null" if finish_reason is None else f'"{finish_reason}"'
        piece = json.dumps(text, ensure_ascii=False)
        if self.completions:
            return self.prefix + piece + f',"logprobs":null,"finish_reason":{reason}}}]}}\n\n'
        return self.prefix + '{"content":' + piece + f'}},"logprobs":null,"finish_reason":{reason}}}]}}\n\n'

    def usage(self, model: str, prompt: int, completion: int) -> str:
        body = {"id": self.id, "object": self.object, "created": self.created, "model": model,
                "choices": [], "usage": {"prompt_tokens": prompt, "total_tokens": prompt + completion,
                                         "completion_tokens": completion}}
        return "data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n\n"


def malformed_event(writer: ChunkWriter) -> str:
    return writer.prefix + '{"content":"\\u4eac' + "\n\n"  # cut mid-JSON: not a JSON object
