"""Your own locustfile, example 1: a weighted mix of short chat turns (3 users in 4) and long-context questions
about a document (1 in 4) with a follow-up turn, each request recorded under its name ("chat", "long-context",
"follow-up").

    llmload run --locustfile locustfiles/chat_and_long_context.py --host URL --users 4:32:4 --step-duration 60s
    locust -f locustfiles/chat_and_long_context.py --host URL                      # Locust's web UI

Every prompt is built here, at import, never in a task: a task only picks one. The documents differ from
their first word on (no accidental prefix-cache hits between them); LONG_CONTEXT_WORDS sets their length.
"""

import os
import random

from locust import task

from llmload import LlmUser

LONG_CONTEXT_WORDS = int(os.environ.get("LONG_CONTEXT_WORDS", "3000"))  # about 4,000 tokens with most tokenizers
QUESTIONS = [
    "What is the capital of Australia?",
    "Give me three tips for writing a clear commit message.",
    "Explain what a load test measures, in two sentences.",
    "Translate 'good morning' into French, German and Spanish.",
    "What does TTFT stand for in LLM serving?",
    "Name four prime numbers greater than 50.",
]
WORDS = ["server", "queue", "token", "batch", "cache", "prompt", "answer", "latency", "request", "model",
         "memory", "kernel", "thread", "shard", "replica", "window", "metric", "budget", "stream", "decode",
         "prefill", "tensor", "scheduler"]  # fmt: skip


def _document(seed: int, words: int) -> str:
    rng = random.Random(seed)
    return f"Report {seed}: " + " ".join(rng.choice(WORDS) for _ in range(words))


DOCUMENTS = [_document(seed, LONG_CONTEXT_WORDS) for seed in range(16)]


def long_context_messages() -> list[dict[str, str]]:
    document = random.choice(DOCUMENTS)
    return [
        {"role": "system", "content": "Answer from the document only."},
        {"role": "user", "content": f"{document}\n\nWhich three words occur most often in this report?"},
    ]


class Chat(LlmUser):
    weight = 3

    @task
    def ask(self) -> None:
        self.chat([{"role": "user", "content": random.choice(QUESTIONS)}], name="chat", max_tokens=64)


class LongContext(LlmUser):
    weight = 1

    @task
    def ask(self) -> None:
        messages = long_context_messages()
        reply = self.chat(messages, name="long-context", max_tokens=256)  # reply.ttft_s, .e2e_s, .output_tokens
        if reply.ok:  # a follow-up turn: its history holds the answer exactly as it came
            messages += [{"role": "assistant", "content": reply.text}, {"role": "user", "content": "Why those?"}]
            self.chat(messages, name="follow-up", max_tokens=64)
