"""The Locust user: one closed-loop LLM client that streams chat completions back to back."""

from __future__ import annotations

import random
from typing import Any

import gevent
from locust import User, constant, task

from llmload.client.stream import ChatStreamClient, StreamOutcome
from llmload.load.failures import failure_backoff_s
from llmload.load.run_lifecycle import get_context, submit_record
from llmload.records import Record
from llmload.scenarios.plates.plate_scenario import ScenarioRequest

REQUEST_NAME = "chat/completions"


class LlmUser(User):
    """Zero think time, as JMeter's thread groups in the seed: each user sends its next request the
    moment the previous one ends, so the user count is the concurrency."""

    abstract = True
    wait_time = constant(0)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.ctx = get_context(environment)
        self.user_index = self.ctx.next_user_index()
        self.iteration = 0
        self.failures_in_a_row = 0  # load.failures: backoff from the second failure in a row
        settings = self.ctx.settings
        self.llm = ChatStreamClient(settings.host, settings.api_key, settings.timeouts)

    def on_start(self) -> None:
        if self.ctx.join_spread_s > 0:  # auto steps: join at a random phase of the cycle (RunContext)
            gevent.sleep(random.uniform(0.0, self.ctx.join_spread_s))  # noqa: S311 - a phase, not a secret

    def on_stop(self) -> None:
        self.llm.close()

    @task
    def chat(self) -> None:
        request = self.ctx.scenario.request(self.user_index, self.iteration)
        self.iteration += 1
        body = self.ctx.settings.request_body(request.messages)
        intended = self._wait_for_arrival() if self.ctx.settings.open_loop else None
        outcome = self.llm.chat_stream(body, keep_text=self.ctx.settings.score)
        record = self._record(request, outcome)
        record.intended_send_s = intended
        submit_record(self.environment, record)
        self._fire_locust_event(record, outcome)
        self.failures_in_a_row = 0 if outcome.ok else self.failures_in_a_row + 1
        pause_s = failure_backoff_s(self.failures_in_a_row)
        if pause_s:
            gevent.sleep(pause_s)

    def _wait_for_arrival(self) -> float:
        """Open loop: sleep until this request's intended send time (at once if already late)."""
        return self.ctx.dispatcher().next_arrival()

    def _record(self, request: ScenarioRequest, outcome: StreamOutcome) -> Record:
        facts = outcome.facts
        found = (
            self.ctx.scenario.plates_found(facts.answer_text)
            if outcome.ok and self.ctx.settings.score
            else []
        )
        return Record(
            request_id=f"{self.ctx.worker_tag}-{self.user_index}-{self.iteration}",
            user_id=self.user_index,
            send_s=outcome.send_s,
            end_s=outcome.end_s,
            ok=outcome.ok,
            headers_s=outcome.headers_s,
            first_token_s=facts.first_token_s,
            first_answer_s=facts.first_answer_s,
            last_token_s=facts.last_token_s,
            chunk_s=facts.chunk_s,
            last_byte_s=outcome.last_byte_s,
            read_lag_max_s=outcome.read_lag_max_s,
            prompt_tokens=facts.prompt_tokens,
            output_tokens=facts.output_tokens,
            reasoning_tokens=facts.reasoning_tokens,
            token_source=facts.token_source,
            finish_reason=facts.finish_reason,
            http_status=outcome.http_status,
            error_kind=outcome.error_kind,
            error=outcome.error,
            batch_ids=request.batch_ids,
            plates_expected=request.plates_expected,
            plates_found=found,
            worker=self.ctx.worker_tag,
        )

    def _fire_locust_event(self, record: Record, outcome: StreamOutcome) -> None:
        self.environment.events.request.fire(
            request_type="LLM",
            name=REQUEST_NAME,
            response_time=(record.end_s - record.send_s) * 1000.0,
            response_length=record.output_tokens or 0,
            exception=None if outcome.ok else RuntimeError(f"{outcome.error_kind}: {outcome.error}"),
            context={
                "ttft_s": None if record.first_token_s is None else record.first_token_s - record.send_s
            },
            url=self.ctx.settings.host,
        )
