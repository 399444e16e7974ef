"""The Locust users. LlmUser is the API of your own locustfile (`from llmload import LlmUser`): its tasks call
`self.chat`, `self.complete` or `self.openai`, and each request is sent, timed and recorded exactly as the
built-in scenarios' are. WorkloadUser sends the run's workload instead (llmload's own locustfile): the
--dataset's requests back to back (closed loop), at their arrival times (open loop: --rate, --trace), or its
sessions, one conversation at a time with the think time between turns (load.session_play).

Importing this module wires llmload into Locust's events (load.locust_hooks): run options, run directory,
step plan, web UI tabs, distributed records and the report."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import gevent
from locust import User, constant, task
from locust.exception import RescheduleTask

from llmload.client.stream import ChatStreamClient, StreamOutcome
from llmload.load import locust_hooks  # noqa: F401 - registers llmload's listeners on Locust's events
from llmload.load.failures import failure_backoff_s
from llmload.load.locustfile_requests import EXPECTED_SCORER, Reply, own_spec, reply_of
from llmload.load.request_encoder import PreparedRequest, prepare_own
from llmload.load.run_lifecycle import get_context, submit_record
from llmload.load.session_play import SessionPlay
from llmload.load.trace_schedule import Arrival
from llmload.records import Record
from llmload.scenarios.datasets.conversations import SessionScenario
from llmload.scenarios.workload_request import Scenario

if TYPE_CHECKING:
    from llmload.load.openai_shape import OpenAiShape


class LlmUser(User):
    """One LLM client (one keep-alive connection) per user. Zero think time, as JMeter's thread groups in the
    seed: each user sends its next request the moment the previous one ends, so the user count is the
    concurrency (set `wait_time` for think time). Subclass it, give it `weight` and `@task`s; llmload's step
    plan (--step-users, --step-rates, auto) sets how many users run, spread over the classes by weight."""

    abstract = True
    wait_time = constant(0)
    sends_workload: ClassVar[bool] = False  # True: the run's --dataset (WorkloadUser), not the tasks' own calls

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.ctx = get_context(environment)
        self.user_index = self.ctx.next_user_index()
        self.iteration = 0
        self.requests_sent = 0
        self.failures_in_a_row = 0  # load.failures: backoff from the second failure in a row
        settings = self.ctx.settings
        self.llm = ChatStreamClient(settings.host, settings.api_key, settings.timeouts, stream=settings.stream)
        self._openai: OpenAiShape | None = None

    def on_start(self) -> None:
        if self.ctx.join_spread_s > 0:  # auto steps: join at a random phase of the cycle (RunContext)
            gevent.sleep(self.ctx.join_delay_s(random.random()))  # noqa: S311 - a phase, not a secret

    def on_stop(self) -> None:
        self.llm.close()

    @property
    def model(self) -> str:
        """The run's model: --model, else the server's first."""
        return self.ctx.settings.model

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        name: str = "chat",
        expected: str | None = None,
        **fields: Any,
    ) -> Reply:
        """POST /v1/chat/completions with `messages`: the run's body (model, stream with its usage trailer,
        temperature, --max-tokens, --ignore-eos, --extra-body), then `fields` (max_tokens=64, stream=False, any
        server field). `name`: the record's and Locust's request name. `expected`: a text the answer must
        contain or `re:PATTERN`, scored as a dataset's expected answers are."""
        spec = own_spec(name, type(self).__name__, messages=messages, expected=expected)
        return self._send_own(prepare_own(self.ctx.settings, spec, True, fields), expected is not None)

    def complete(
        self, prompt: str, name: str = "completion", expected: str | None = None, **fields: Any
    ) -> Reply:
        """POST /v1/completions with `prompt` (no chat template); otherwise as `chat`."""
        spec = own_spec(name, type(self).__name__, prompt=prompt, expected=expected)
        return self._send_own(prepare_own(self.ctx.settings, spec, False, fields), expected is not None)

    @property
    def openai(self) -> OpenAiShape:
        """An object shaped like the `openai` SDK's client, on this user's recorded client (load.openai_shape)."""
        if self._openai is None:
            from llmload.load.openai_shape import OpenAiShape

            self._openai = OpenAiShape(self.ctx.settings, self.send, type(self).__name__)
        return self._openai

    def _send_own(self, prepared: PreparedRequest, scored: bool) -> Reply:
        record, outcome = self.send(prepared, EXPECTED_SCORER if scored else None, keep_text=True)
        return reply_of(record, outcome)

    def send(
        self,
        prepared: PreparedRequest,
        scenario: Scenario | None = None,
        keep_text: bool = False,
        keep_events: bool = False,
        intended: float | None = None,
        scored: bool = False,
    ) -> tuple[Record, StreamOutcome]:
        """Sends one prepared request (open loop: at its arrival time, or when the dispatcher released it at
        `intended`), records it (records.jsonl, Locust's statistics under the request's name) with `scenario`'s
        scoring of the answer (`scored`: whatever --no-score says), and returns both. `keep_text`: the outcome
        holds the answer even unscored; `keep_events`: the response's payloads."""
        settings = self.ctx.settings
        if settings.open_loop and intended is None:
            intended = self._wait_for_arrival()
        scoring = scenario is not None and scenario.reads_answers and (settings.score or scored)
        scorer = scenario if scoring else None
        keep = keep_text or scorer is not None
        outcome = self.llm.send(
            prepared.path, prepared.body, keep, prepared.stream, prepared.completions, keep_events
        )
        self.requests_sent += 1
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
        return self.ctx.dispatcher().next_arrival()[0]

    def _record(self, prepared: PreparedRequest, outcome: StreamOutcome, scorer: Scenario | None) -> Record:
        facts, spec = outcome.facts, prepared.spec
        scenario_facts = spec.facts or None
        if scorer is not None and outcome.ok:
            scenario_facts = {**spec.facts, **scorer.score(spec, facts.answer_text)}
        return Record(
            request_id=f"{self.ctx.worker_tag}-{self.user_index}-{self.requests_sent}",
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


class WorkloadUser(LlmUser):
    """Sends the run's workload (--dataset, --trace): llmload's own locustfile (load.plate_detection). Open
    loop, a user waits for its next arrival, and a session's user its think time between turns, in Locust's
    wait, where a stop ends the user at once (a trace's last arrival leaves users that will never get one)."""

    abstract = True
    sends_workload = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.session: SessionPlay | None = None
        self.sessions_started = 0
        self.think_s = 0.0  # before the next task: a session's think time between its turns
        self.arrival: Arrival | None = None  # open loop: the next request's arrival, taken in wait_time

    def wait_time(self) -> float:
        """Locust's wait before the next task: open loop, until the next arrival is due (load.dispatcher)."""
        if self.ctx.settings.open_loop:
            self.arrival = self.ctx.dispatcher().next_arrival()
            return 0.0
        return self.think_s

    @task
    def workload_request(self) -> None:
        """The run's workload: the request its scenario picks for this user's next iteration, or the one its
        arrival names (a trace), or the next turn of its session."""
        workload = self.ctx.workload
        assert workload is not None, "a run with a WorkloadUser builds its workload (load.context)"
        if workload.sessions is not None:
            self.session_turn(workload.sessions)
            return
        intended, index = None, None
        if self.ctx.settings.open_loop:
            if self.arrival is None:
                raise RescheduleTask()  # the first arrival is waited for in wait_time too
            (intended, index), self.arrival = self.arrival, None
        prepared = workload.requests[index] if index is not None else workload.request(self.user_index, self.iteration)
        self.iteration += 1
        self.send(prepared, workload.scenario, intended=intended)

    def session_turn(self, sessions: SessionScenario) -> None:
        """The next turn of this user's session; a new session when none is in progress. The think time
        follows a turn that has another after it."""
        if self.session is None:
            conversation = sessions.conversations[sessions.pick(self.user_index, self.sessions_started)]
            session_id = f"{self.ctx.worker_tag}-{self.user_index}-{self.sessions_started}"
            self.session, self.sessions_started = SessionPlay(conversation, session_id), self.sessions_started + 1
        prepared = self.session.request(self.ctx.settings)
        self.iteration += 1
        outcome = self.send(prepared, sessions, scored=True)[1]
        goes_on = self.session.answered(outcome)
        self.think_s = sessions.think_s if goes_on else 0.0
        self.session = self.session if goes_on else None
