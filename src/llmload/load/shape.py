"""Step load shape: the user levels of the plan, one per step of fixed duration; every boundary is
written to the run directory as it happens."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from locust import LoadTestShape

from llmload.client.clock import wall_clock
from llmload.load.adaptive import AdaptivePlan, Measurement, Plan
from llmload.load.context import RunContext
from llmload.load.process import process_state
from llmload.load.run_lifecycle import get_context, set_arrival_rate

if TYPE_CHECKING:
    from llmload.telemetry.run_telemetry import Telemetry

SPAWN_RATE = 100.0  # users per second and per load process: a step starts at once (Locust warns above 100)
MAX_STEP_EXTENSION = 3.0  # an adaptive step without a finished request runs up to 3 x its duration


class StepLoadShape(LoadTestShape):
    _index = -1
    _plan: Plan | None = None
    _level: int | None = None
    _step_started_s = 0.0

    def reset_time(self) -> None:
        super().reset_time()
        self._index = -1
        self._plan = None

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
            return self._adaptive_tick(ctx, state.telemetry)
        index = int(self.get_run_time() // settings.step_duration_s)
        if index != self._index and ctx.recorder is not None:
            now = wall_clock()
            if index < settings.step_count:
                rate = ctx.step_rate(index) if settings.open_loop else None
                users = settings.max_users if settings.open_loop else settings.levels[index]
                ctx.recorder.start_step(index, users, now, rate)
                if rate is not None:
                    set_arrival_rate(environment, rate, wall_clock(), index)  # after the step's bookkeeping
            else:
                ctx.recorder.end_step(now)
        self._index = index
        if index >= settings.step_count:
            return None
        return (settings.max_users if settings.open_loop else settings.levels[index]), self._spawn_rate()

    def _adaptive_tick(self, ctx: RunContext, telemetry: Telemetry | None) -> tuple[int, float] | None:
        """`--users auto`: run each level for the step duration, then ask the plan for the next one."""
        recorder = ctx.recorder
        assert recorder is not None
        run_time, now = self.get_run_time(), wall_clock()
        duration = ctx.settings.step_duration_s
        if self._plan is None:
            self._plan = AdaptivePlan(max_users=ctx.settings.max_users).steps()
            self._level, self._index, self._step_started_s = next(self._plan), 0, run_time
            recorder.start_step(0, self._level, now)
        elif self._level is not None and run_time - self._step_started_s >= duration:
            measurement = recorder.measure(now)
            if measurement is None and run_time - self._step_started_s < MAX_STEP_EXTENSION * duration:
                return self._level, self._spawn_rate()  # nothing finished yet: let the step run longer
            if measurement is not None:
                measurement = with_server_queue(measurement, telemetry, now)
            try:
                self._level = self._plan.send(measurement or Measurement(self._level, 0.0, float("inf")))
            except StopIteration:
                self._level = None
                recorder.end_step(now)
                return None
            self._index += 1
            self._step_started_s = run_time
            recorder.start_step(self._index, self._level, now)
        return (self._level, self._spawn_rate()) if self._level is not None else None

    def _spawn_rate(self) -> float:
        """SPAWN_RATE for each process that sends requests: a master splits the rate over its workers (4,096
        users over 12 workers start in 3 s, not 41 s)."""
        workers = getattr(self.runner, "worker_count", 0) if self.runner is not None else 0
        return SPAWN_RATE * max(1, int(workers or 0))


def with_server_queue(measurement: Measurement, telemetry: Telemetry | None, now_s: float) -> Measurement:
    """The measurement with vLLM's mean waiting/running requests over its window, when /metrics is sampled
    (the run's telemetry, whose `metrics` is None once it found no vLLM series)."""
    sampler = telemetry.metrics if telemetry is not None else None
    means = sampler.queue_means(measurement.window_start_s, now_s) if sampler is not None else None
    if means is None:
        return measurement
    return dataclasses.replace(measurement, waiting_mean=means[0], running_mean=means[1])
