"""Step load shape: the user levels of the plan, one per step of fixed duration; every boundary is
written to the run directory as it happens."""

from __future__ import annotations

from locust import LoadTestShape

from llmload.client.clock import wall_clock
from llmload.load.runtime import get_context

SPAWN_RATE = 100.0  # users per second: a step starts at once (Locust warns above 100)


class StepLoadShape(LoadTestShape):
    _index = -1

    def reset_time(self) -> None:
        super().reset_time()
        self._index = -1

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        ctx = get_context(self.runner.environment)
        levels = ctx.settings.levels
        index = int(self.get_run_time() // ctx.settings.step_duration_s)
        if index != self._index and ctx.recorder is not None:
            if index < len(levels):
                ctx.recorder.start_step(index, levels[index], wall_clock())
            else:
                ctx.recorder.end_step(wall_clock())
        self._index = index
        if index >= len(levels):
            return None
        return levels[index], SPAWN_RATE
