"""Step load shape: the user levels of the plan, one per step of fixed duration; every boundary is
written to the run directory as it happens."""

from __future__ import annotations

from locust import LoadTestShape

from llmload.client.clock import wall_clock
from llmload.load.runtime import get_context, set_arrival_rate

SPAWN_RATE = 100.0  # users per second: a step starts at once (Locust warns above 100)


class StepLoadShape(LoadTestShape):
    _index = -1

    def reset_time(self) -> None:
        super().reset_time()
        self._index = -1

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        environment = self.runner.environment
        ctx = get_context(environment)
        settings = ctx.settings
        index = int(self.get_run_time() // settings.step_duration_s)
        if index != self._index and ctx.recorder is not None:
            now = wall_clock()
            if index < settings.step_count:
                rate = settings.rates[index] if settings.open_loop else None
                users = settings.max_users if settings.open_loop else settings.levels[index]
                ctx.recorder.start_step(index, users, now, rate)
                if rate is not None:
                    set_arrival_rate(environment, rate, now)
            else:
                ctx.recorder.end_step(now)
        self._index = index
        if index >= settings.step_count:
            return None
        return (settings.max_users if settings.open_loop else settings.levels[index]), SPAWN_RATE
