"""A thread group -> llmload's user steps: levels and one duration per step.

  ThreadGroup (JMeter)       num_threads users for the scheduler's duration (ramp-up, loops: notes)
  Stepping Thread Group      kg.apc.jmeter.threads.SteppingThreadGroup: "Start users count burst" users,
                             then "Start users count" more every "Start users period" + "rampUp" seconds up
                             to num_threads; the top level's "flighttime" hold and the ramp-down are notes
  Concurrency Thread Group   com.blazemeter...ConcurrencyThreadGroup: TargetLevel reached in Steps equal
                             steps over RampUp (each TargetLevel/Steps more, RampUp/Steps long), then held
                             for Hold (Unit M: minutes); without Steps, TargetLevel for Hold
llmload starts a step's users at once and holds every step equally long; what a plan does otherwise is
said in `notes` (run.toml comments), never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from llmload.errors import UsageError
from llmload.jmeter.jmx_tree import PlanElement, element_prop, prop, substitute

STEPPING = "kg.apc.jmeter.threads.SteppingThreadGroup"
CONCURRENCY = "com.blazemeter.jmeter.threads.concurrency.ConcurrencyThreadGroup"
THREAD_GROUPS = ("ThreadGroup", STEPPING, CONCURRENCY)


class Number(Protocol):
    """A thread group's numeric property by name (variables substituted), or the default when empty."""

    def __call__(self, name: str, default: float = 0.0) -> float: ...


@dataclass
class UserSteps:
    levels: list[int]
    step_s: float | None  # None: the plan runs by loop count, not time
    notes: list[str] = field(default_factory=list)


def user_steps(group: PlanElement, variables: dict[str, str]) -> UserSteps:
    def number(name: str, default: float = 0.0) -> float:
        text, _ = substitute(prop(group.node, name).strip(), variables)
        if not text:
            return default
        try:
            return float(text)
        except ValueError:
            raise UsageError(f"thread group '{group.name}': {name} {text!r} is not a number") from None

    if group.testclass == STEPPING:
        return _stepping(number)
    if group.testclass == CONCURRENCY:
        return _concurrency(number, prop(group.node, "Unit") == "M")
    return _plain(group, number)


def _plain(group: PlanElement, number: Number) -> UserSteps:
    threads, ramp_s = int(number("ThreadGroup.num_threads", 1)), number("ThreadGroup.ramp_time")
    timed = prop(group.node, "ThreadGroup.scheduler") == "true" and number("ThreadGroup.duration") > 0
    steps = UserSteps([threads], number("ThreadGroup.duration") if timed else None)
    loops = prop(element_prop(group.node, "ThreadGroup.main_controller") or group.node, "LoopController.loops")
    if not timed:
        steps.notes.append(f"the thread group runs {loops or '?'} loop(s) per thread, not a duration: "
                           "step_duration left at llmload's default (set it)")  # fmt: skip
    elif loops not in ("", "-1"):
        steps.notes.append(f"loops per thread ({loops}) not mapped: llmload runs each step for its duration")
    if ramp_s > 0:
        steps.notes.append(f"ramp-up of {ramp_s:g} s not mapped: llmload starts a step's users at once "
                           "(the auto warm-up keeps the ramp out of the statistics)")  # fmt: skip
    if number("ThreadGroup.delay") > 0:
        steps.notes.append(f"start-up delay of {number('ThreadGroup.delay'):g} s not mapped")
    return steps


def _stepping(number: Number) -> UserSteps:
    total = int(number("ThreadGroup.num_threads", 1))
    per_step = int(number("Start users count")) or total
    levels = [min(total, int(number("Start users count burst")) or per_step)]
    while levels[-1] < total:
        levels.append(min(total, levels[-1] + per_step))
    ramp_s = number("rampUp")
    steps = UserSteps(levels, number("Start users period") + ramp_s)
    if ramp_s > 0:
        steps.notes.append(f"each step's {ramp_s:g} s ramp-up not mapped: llmload starts a step's users at once")
    hold_s = number("flighttime")
    if hold_s != steps.step_s:
        steps.notes.append(f"the top level's hold (flighttime {hold_s:g} s) not mapped: every step lasts step_duration")
    if number("Threads initial delay") > 0:
        steps.notes.append(f"initial delay of {number('Threads initial delay'):g} s not mapped")
    steps.notes.append("ramp-down (Stop users count/period) not mapped: llmload stops all users at the end")
    return steps


def _concurrency(number: Number, minutes: bool) -> UserSteps:
    unit_s = 60.0 if minutes else 1.0
    target, count = int(number("TargetLevel", 1)), int(number("Steps"))
    ramp_s, hold_s = number("RampUp") * unit_s, number("Hold") * unit_s
    if count > 0 and ramp_s > 0:
        levels = list(dict.fromkeys(max(1, round(target * k / count)) for k in range(1, count + 1)))
        steps = UserSteps(levels, ramp_s / count)
        if hold_s > 0:
            steps.notes.append(f"the top level's hold ({hold_s:g} s after the ramp) not mapped: every step "
                               "lasts step_duration")  # fmt: skip
    else:
        steps = UserSteps([target], hold_s or None)
        if ramp_s > 0:
            steps.notes.append(f"linear ramp-up of {ramp_s:g} s not mapped: llmload starts the users at once")
    if number("Iterations") > 0:
        steps.notes.append(f"iterations limit ({number('Iterations'):g}) not mapped: llmload runs by time")
    return steps
