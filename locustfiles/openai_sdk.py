"""Your own locustfile, example 2: code written against the openai SDK, moved in unchanged (`self.openai`).

`answer()` is an assistant's turn as an application would write it: a short non-streamed call rewrites the
question into a search query, then the answer is streamed. It takes any object shaped like `openai.OpenAI()`:
the real SDK's client outside Locust, `self.openai` inside, where each of its calls is sent, timed and recorded
like any llmload request (name "chat": the SDK has no request name; `name=` is llmload's addition).

    llmload run --locustfile locustfiles/openai_sdk.py --host URL --users 1:16:1 --step-duration 60s
    locust -f locustfiles/openai_sdk.py --host URL                                  # Locust's web UI
    # the same function outside Locust, on the real SDK:
    #   answer(openai.OpenAI(base_url=URL + "/v1", api_key="-"), MODEL, "Why is the sky blue?")
"""

import random
from typing import Any

from locust import task

from llmload import LlmUser

QUESTIONS = [
    "Why is the sky blue?",
    "How do vaccines train the immune system?",
    "What limits the speed of a CPU?",
    "Why do leaves change colour in autumn?",
]


def answer(client: Any, model: str, question: str) -> str:
    rewrite = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": f"Rewrite as a short search query: {question}"}],
        max_tokens=16,
    )
    query = rewrite.choices[0].message.content or question
    stream = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": f"Search results for: {query.strip()}"},
            {"role": "user", "content": question},
        ],
        max_tokens=128,
        stream=True,
    )
    text = ""
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    return text


class Assistant(LlmUser):
    @task
    def turn(self) -> None:
        answer(self.openai, self.model, random.choice(QUESTIONS))
