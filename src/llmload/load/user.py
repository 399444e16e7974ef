"""The Locust user: one closed-loop LLM client that sends the workload's prepared requests back to back."""

from __future__ import annotations

from typing import Any

import gevent
from locust import User, constant, task

from llmload.client.stream import ChatStreamClient, StreamOutcome
from llmload.load.failures import failure_backoff_s
from llmload.load.request_encoder import PreparedRequest
from llmload.load.run_lifecycle import get_context, submit_record
from llmload.records import Record
from llmload.scenarios.workload_request import Scenario


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
        self.llm = ChatStreamClient(settings.host, settings.api_key, settings.timeouts, stream=settings.stream)

    def on_stop(self) -> None:
        self.llm.close()

    @task
    def workload_request(self) -> None:
        """The run's workload: the request its scenario picks for this user's next iteration."""
        workload = self.ctx.workload
        prepared = workload.request(self.user_index, self.iteration)
        self.iteration += 1
        self.send(prepared, workload.scenario)

    def send(self, prepared: PreparedRequest, scenario: Scenario | None = None) -> tuple[Record, StreamOutcome]:
        """Sends one prepared request (open loop: at its arrival time), records it (records.jsonl, Locust's
        statistics under the request's name) with `scenario`'s scoring of the answer, and returns both."""
        settings = self.ctx.settings
        intended = self._wait_for_arrival() if settings.open_loop else None
        scorer = scenario if scenario is not None and settings.score and scenario.reads_answers else None
        outcome = self.llm.send(prepared.path, prepared.body, scorer is not None, settings.stream, not settings.chat)
        record = self._record(prepared, outcome, scorer)
        record.intended_send_s = intended
        submit_record(self.environment, record)
        self._fire_locust_event(record, outcome)
        self.failures_in_a_row = 0 if outcome.ok else self.failures_in_a_row + 1
        pause_s = failure_backoff_s(self.failures_in_a_row)
        if pause_s:
            gevent.sleep(pause_s)
        return record, outcome

    def _wait_for_arrival(self) -> float:
        """Open loop: sleep until this request's intended send time (at once if already late)."""
        return self.ctx.dispatcher().next_arrival()

    def _record(self, prepared: PreparedRequest, outcome: StreamOutcome, scorer: Scenario | None) -> Record:
        facts, spec = outcome.facts, prepared.spec
        scenario_facts = spec.facts or None
        if scorer is not None and outcome.ok:
            scenario_facts = {**spec.facts, **scorer.score(spec, facts.answer_text)}
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
            worker=self.ctx.worker_tag,
            connect_s=outcome.connect_s,
            response_bytes=outcome.response_bytes,
            name=spec.name,
            scenario=scenario_facts,
        )

    def _fire_locust_event(self, record: Record, outcome: StreamOutcome) -> None:
        self.environment.events.request.fire(
            request_type="LLM",
            name=record.name,
            response_time=(record.end_s - record.send_s) * 1000.0,
            response_length=record.output_tokens or 0,
            exception=None if outcome.ok else RuntimeError(f"{outcome.error_kind}: {outcome.error}"),
            context={
                "ttft_s": None if record.first_token_s is None else record.first_token_s - record.send_s
            },
            url=self.ctx.settings.host,
        )
