"""Step load shape: the user levels of the plan, one per step, each for the step duration or, with
`--step-duration auto`, until the step's numbers are steady (llmload.step_stop, asked through the recorder);
every boundary is written to the run directory as it happens, and after an auto step the estimate of the
rest of the plan is said (load.plan_estimate)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from locust import LoadTestShape

from llmload.client.clock import wall_clock
from llmload.load.adaptive import AUTO_STEPS_START, AdaptivePlan, Plan
from llmload.load.context import RunContext
from llmload.load.level_measurement import Measurement, expected_answer_s
from llmload.load.plan_estimate import adaptive_left, fixed_left, left_text
from llmload.load.process import process_state
from llmload.load.recorder import RunRecorder
from llmload.load.run_lifecycle import get_context, set_arrival_rate, set_join_spread
from llmload.step_stop import StopDecision

if TYPE_CHECKING:
    from llmload.telemetry.run_telemetry import Telemetry

SPAWN_RATE = 100.0  # users per second and per load process: a step starts at once (Locust warns above 100)

MAX_STEP_EXTENSION = 3.0  # an adaptive step without a finished request runs up to 3 x its duration


class StepLoadShape(LoadTestShape):
    _index = -1
    _planner: AdaptivePlan | None = None
    _plan: Plan | None = None
    _level: int | None = None
    _step_started_s = 0.0
    _measured: dict[
        int, Measurement
    ]  # auto steps of a fixed plan: each level's measurement, for the estimate

    def __init__(self) -> None:
        super().__init__()
        self._measured = {}

    def reset_time(self) -> None:
        super().reset_time()
        self._index = -1
        self._planner = self._plan = None
        self._measured = {}

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        environment = self.runner.environment
        ctx = get_context(environment)
        state = process_state(environment)
        settings = ctx.settings
        if state.stop_reason:  # target lost (load.failures): end the run
            if ctx.recorder is not None:
                ctx.recorder.end_step(wall_clock())
            return None
        if settings.adaptive:
            return self._adaptive_tick(environment, ctx, state.telemetry)
        index = (
            self._auto_index(ctx)
            if settings.auto_steps
            else int(self.get_run_time() // settings.step_duration_s)
        )
        if index != self._index and ctx.recorder is not None:
            now = wall_clock()
            if index < settings.step_count:
                rate = ctx.step_rate(index) if settings.open_loop else None
                users = settings.max_users if settings.open_loop else settings.levels[index]
                before = settings.levels[index - 1] if index and not settings.open_loop else users
                spread = self._join(environment, ctx, ctx.recorder, users - before)
                ctx.recorder.start_step(index, users, now, rate, spread)
                if rate is not None:
                    set_arrival_rate(environment, rate, wall_clock(), index)  # after the step's bookkeeping
            elif not settings.auto_steps:
                ctx.recorder.end_step(now)
        self._index = index
        if index >= settings.step_count:
            return None
        return (settings.max_users if settings.open_loop else settings.levels[index]), self._spawn_rate()

    def _auto_index(self, ctx: RunContext) -> int:
        """Auto steps of a fixed plan: the next step once the current one has measured enough (it is ended
        here, with the decision, and the rest of the plan estimated)."""
        if self._index < 0:
            return 0
        recorder, settings = ctx.recorder, ctx.settings
        assert recorder is not None
        now = wall_clock()
        decision = recorder.stop_check(now, settings.stop_rule)
        if decision is None:
            return self._index
        measurement = recorder.measure(now)
        if measurement is not None:
            self._measured[measurement.users] = measurement
        recorder.end_step(now, decision)
        users = settings.levels[self._index]
        to_come = settings.levels[self._index + 1 :]
        left = fixed_left(self._measured, to_come, users, settings.max_users, settings.stop_rule.min_samples)
        if left is not None and to_come:
            recorder.note(left_text(left, recorder.time_scale))
        return self._index + 1

    def _adaptive_tick(
        self, environment: Any, ctx: RunContext, telemetry: Telemetry | None
    ) -> tuple[int, float] | None:
        """`--users auto`: run each level for the step duration (or until steady), then ask the plan for
        the next one."""
        recorder = ctx.recorder
        assert recorder is not None
        run_time, now = self.get_run_time(), wall_clock()
        if self._plan is None:
            start = AUTO_STEPS_START if ctx.settings.auto_steps else 1
            self._planner = AdaptivePlan(start=start, max_users=ctx.settings.max_users)
            self._plan = self._planner.steps()
            self._level, self._index, self._step_started_s = next(self._plan), 0, run_time
            recorder.start_step(0, self._level, now)
        elif self._level is not None:
            done = self._adaptive_step_done(ctx, recorder, telemetry, run_time - self._step_started_s, now)
            if done is None:
                return self._level, self._spawn_rate()
            measurement = with_server_evidence(recorder.measure(now), telemetry, now)
            ended = self._level
            try:
                self._level = self._plan.send(measurement or Measurement(self._level, 0.0, float("inf")))
            except StopIteration:
                self._level = None
            recorder.end_step(now, done if isinstance(done, StopDecision) else None)
            if self._level is None:
                return None
            if isinstance(done, StopDecision):
                self._say_adaptive_estimate(ctx, recorder, ended)
            self._index += 1
            self._step_started_s = run_time
            expected_s = expected_answer_s(self._planner.measured, self._level) if self._planner else None
            spread = self._join(environment, ctx, recorder, self._level - ended, expected_s)
            recorder.start_step(self._index, self._level, now, join_spread_s=spread)
        return (self._level, self._spawn_rate()) if self._level is not None else None

    @staticmethod
    def _join(
        environment: Any, ctx: RunContext, recorder: RunRecorder, adds: int, expected_s: float | None = None
    ) -> float | None:
        """Auto steps: the `adds` users a step adds join at random moments of one answer, the previous level's
        or the plan's expected one at the new level (target time) when longer, stratified, so that their
        answers' phases spread over the new cycle (clumped, they fill a KV cache at once); the spread, None
        when it adds none."""
        previous = recorder.previous_answer_s
        if not ctx.settings.auto_steps or not previous:
            return None
        spread = max(previous, (expected_s or 0.0) / recorder.time_scale)
        set_join_spread(environment, spread, max(0, adds))
        return spread if adds > 0 else None

    def _spawn_rate(self) -> float:
        """SPAWN_RATE for each process that sends requests: a master splits the rate over its workers (4,096
        users over 12 workers start in 3 s, not 41 s)."""
        workers = getattr(self.runner, "worker_count", 0) if self.runner is not None else 0
        return SPAWN_RATE * max(1, int(workers or 0))

    def _say_adaptive_estimate(self, ctx: RunContext, recorder: RunRecorder, ended_users: int) -> None:
        assert self._planner is not None
        settings = ctx.settings
        left = adaptive_left(
            self._planner.measured, ended_users, settings.max_users, settings.stop_rule.min_samples
        )
        if left is not None:
            recorder.note(left_text(left, recorder.time_scale))

    def _adaptive_step_done(
        self, ctx: RunContext, recorder: RunRecorder, telemetry: Telemetry | None, elapsed_s: float, now_s: float
    ) -> StopDecision | bool | None:
        """None: the step runs on; a decision (auto steps: the plan's rule for the level, given what the step
        shows so far) or True (fixed steps): it ends now."""
        duration = ctx.settings.step_duration_s
        if duration is None:
            assert self._planner is not None
            so_far = recorder.measure(now_s) if recorder.warmup_end_s(now_s) is not None else None
            rule = self._planner.stop_rule(ctx.settings.stop_rule, with_server_evidence(so_far, telemetry, now_s))
            return recorder.stop_check(now_s, rule)
        if elapsed_s < duration:
            return None
        if recorder.measure(now_s) is None and elapsed_s < MAX_STEP_EXTENSION * duration:
            return None  # nothing finished yet: let the step run longer
        return True


def with_server_evidence(
    measurement: Measurement | None, telemetry: Telemetry | None, now_s: float
) -> Measurement | None:
    """The measurement with vLLM's scheduler over its window (mean requests waiting and running, KV-cache
    usage, preemptions), when /metrics is sampled (the run's telemetry, whose `metrics` is None once it found
    no vLLM series)."""
    sampler = telemetry.metrics if telemetry is not None else None
    if measurement is None or sampler is None:
        return measurement
    window = sampler.scheduler_window(measurement.window_start_s, now_s)
    if window is None:
        return measurement
    return dataclasses.replace(
        measurement, waiting_mean=window.waiting_mean, running_mean=window.running_mean,
        kv_usage_mean=window.kv_usage_mean, preemptions=window.preemptions,
    )  # fmt: skip
