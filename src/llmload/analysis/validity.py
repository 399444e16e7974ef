"""Is a step's measurement valid? What the load generator's lateness did to it, and Little's law, per step.

The rule judges damage, not symptoms. A late event loop (its own CPU, or other processes taking the machine)
matters only through what it does to the numbers, and that is measured per request:

- send delay, closed loop: the time a user's slot stood idle between its previous response's last bytes
  arriving (the kernel's receive stamp, else the client's end) and its next request leaving. Idle slots
  lower the offered concurrency, so the step's throughput may read low by at most the idle share of the
  users' time: sum(idle) / sum(send-to-send cycle). Bound THROUGHPUT_ERROR_LIMIT (1%): half the knee's 2%
  plateau tolerance, so the generator's own idling cannot by itself move a level onto or off the plateau.
- send delay, open loop: send minus intended send of requests that found a user free (a request that waited
  because all --max-users were busy is the client queue, reported as queue_s); latency is measured from the
  intended time, so this lateness is inside TTFT and E2E.
- read lag: token times come from the kernel's receive stamps (client.stream), so a loop that reads late
  does not move them; requests without stamps (TLS, not Linux) may carry the loop's lateness in every
  token time, estimated by the step's largest event-loop lag. Latency error bound LATENCY_ERROR_LIMIT (5%
  of the step's median TTFT): half the 10% by which the knee rule's despike tells noise from signal.

A step whose measured error exceeds a bound is `excluded` from the knee, with the cause named honestly:
"generator saturated" when the generator's own CPU was high (GENERATOR_CPU_BUSY percent of a core on
average, or GENERATOR_CPU_LIMIT at a peak, or Locust's CPU warning), else "machine contended" (other
processes took its CPU). Symptoms within the bounds (a busy generator, a loop that woke late) are kept,
with a caution that says what was measured. Wall-clock units for generator facts; shares are unitless.
The bounds are defined in llmload.validity_rule.

Little's law for a closed loop: users = TPS x (mean time a user holds a request + mean gap before its
next send). A step whose implied concurrency is off by more than LITTLE_TOLERANCE is flagged: the users
were not all busy (spawn trouble, errors, a stalled generator) or the window was not steady.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from llmload.analysis.figures import figure
from llmload.analysis.frame import RunData
from llmload.analysis.model import GapStats, GeneratorHealth, LittlesLaw, StepDamage
from llmload.validity_rule import (
    ADVICE,
    CONTENDED,
    GENERATOR_CPU_BUSY,
    GENERATOR_CPU_LIMIT,
    LATENCY_ERROR_LIMIT,
    LOOP_LAG_SYMPTOM_S,
    SATURATED,
    THROUGHPUT_ERROR_LIMIT,
)

LITTLE_TOLERANCE = 0.15


def scheduling_gaps(requests: pd.DataFrame) -> pd.Series:
    """Per request: time between the previous request of the same user ending and this one being sent
    (closed loop), or send - intended send (open loop). Target time base."""
    if requests["intended_send_s"].notna().any():
        return requests["queue_s"]
    ordered = requests.sort_values(["worker", "user_id", "send_s"])
    prev_end = ordered.groupby(["worker", "user_id"])["end_s"].shift(1)
    return (ordered["send_s"] - prev_end).reindex(requests.index)


def idle_before_send(requests: pd.DataFrame) -> pd.DataFrame:
    """Closed loop, per request whose user's previous request succeeded: `idle_s`, from that request's last
    bytes arriving (kernel stamp, else its end) to this send, and `cycle_s`, send to send. Target time base;
    NaN elsewhere (first request of a user, after a failure: the backoff is deliberate)."""
    ordered = requests.sort_values(["worker", "user_id", "send_s"])
    previous = ordered.groupby(["worker", "user_id"])[["send_s", "end_s", "last_byte_s", "ok"]].shift(1)
    arrived = previous["last_byte_s"].fillna(previous["end_s"])
    after_ok = previous["ok"].eq(True)
    idle = (ordered["send_s"] - arrived).where(after_ok)
    cycle = (ordered["send_s"] - previous["send_s"]).where(after_ok)
    return pd.DataFrame({"idle_s": idle, "cycle_s": cycle}).reindex(requests.index)


def open_loop_lateness(requests: pd.DataFrame, sent: pd.DataFrame, max_users: int) -> np.ndarray:
    """send - intended send of the open-loop requests in `sent` that found fewer than `max_users` requests
    in flight at their intended time (a user was free: the wait was the generator's, not the client queue)."""
    intended = sent["intended_send_s"].to_numpy(dtype=float)
    sends = np.sort(requests["send_s"].to_numpy(dtype=float))
    ends = np.sort(requests["end_s"].to_numpy(dtype=float))
    in_flight = np.searchsorted(sends, intended, side="left") - np.searchsorted(ends, intended, side="right")
    late: np.ndarray = (sent["send_s"].to_numpy(dtype=float) - intended)[in_flight < max_users]
    known: np.ndarray = late[~np.isnan(late)]
    return known


@dataclass(frozen=True)
class GeneratorSamples:
    """generator.jsonl over one step: CPU of the busiest load process, the machine's, the loop's lag."""

    cpu_percent_max: float | None
    cpu_percent_mean: float | None
    busiest_cpu_mean: float | None
    busiest_demand_mean: float | None  # CPU used + CPU waited for (run queue), percent of a core
    runqueue_wait_mean: float | None
    system_cpu_mean: float | None
    loop_lag_max_s: float | None
    cpu_warnings: int
    samples: int

    @property
    def busy(self) -> bool:
        """The generator's own demand was high: any lateness is its own (saturated), not the machine's,
        also where a busy neighbour kept it from getting the CPU it asked for."""
        return bool(
            self.cpu_warnings
            or (self.cpu_percent_max is not None and self.cpu_percent_max >= GENERATOR_CPU_LIMIT)
            or (self.busiest_cpu_mean is not None and self.busiest_cpu_mean >= GENERATOR_CPU_BUSY)
            or (self.busiest_demand_mean is not None and self.busiest_demand_mean >= GENERATOR_CPU_LIMIT)
        )


def generator_samples(run: RunData, start_s: float, end_s: float) -> GeneratorSamples:
    g = run.generator
    window = g[(g["t_s"] >= start_s) & (g["t_s"] <= end_s)] if len(g) else g
    samples = window[~window["cpu_warning"]] if len(window) else window
    has = bool(len(samples))
    system = samples["system_cpu_percent"].dropna().to_numpy(dtype=float) if has else np.array([])
    wait = samples["runqueue_wait_percent"] if has else pd.Series(dtype=float)
    demand = samples["cpu_percent"] + wait.fillna(0.0) if has else pd.Series(dtype=float)
    return GeneratorSamples(
        cpu_percent_max=float(samples["cpu_percent"].max()) if has else None,
        cpu_percent_mean=float(samples["cpu_percent"].mean()) if has else None,
        busiest_cpu_mean=float(samples.groupby("worker")["cpu_percent"].mean().max()) if has else None,
        busiest_demand_mean=float(demand.groupby(samples["worker"]).mean().max()) if has else None,
        runqueue_wait_mean=float(wait.mean()) if wait.notna().any() else None,
        system_cpu_mean=float(system.mean()) if system.size else None,
        loop_lag_max_s=float(samples["loop_lag_max_s"].max()) if has else None,
        cpu_warnings=int(window["cpu_warning"].sum()) if len(window) else 0,
        samples=int(len(samples)),
    )


def generator_health(g: GeneratorSamples, damage: StepDamage) -> GeneratorHealth:
    """The step's generator samples, the measured damage (step_damage) and the verdict on both."""
    over = [text for text in (_throughput_excess(damage), _latency_excess(damage)) if text]
    cause = (SATURATED if g.busy else CONTENDED) if over else None
    reasons = (f"{cause} ({_cpu_text(g)}): {'; '.join(over)}; {ADVICE[cause]}",) if cause else ()
    return GeneratorHealth(
        cpu_percent_max=figure(g.cpu_percent_max),
        cpu_percent_mean=figure(g.cpu_percent_mean),
        system_cpu_percent_mean=figure(g.system_cpu_mean),
        runqueue_wait_percent_mean=figure(g.runqueue_wait_mean),
        loop_lag_max_s=figure(g.loop_lag_max_s),
        cpu_warnings=g.cpu_warnings,
        samples=g.samples,
        damage=damage,
        cause=cause,
        saturated=cause is not None,
        reasons=reasons,
        cautions=() if cause else _cautions(g, damage),
    )


def step_damage(
    run: RunData, sent: pd.DataFrame, steady_ok: pd.DataFrame, idle: pd.DataFrame, ttft_p50_s: float | None,
    max_users: int | None, loop_lag_max_s: float | None,
) -> StepDamage:
    """What the generator's lateness did to one step (module doc), target time base unless `_wall`."""
    scale = run.time_scale
    pairs = idle.reindex(steady_ok.index).dropna()
    idle_share = float(pairs["idle_s"].sum() / pairs["cycle_s"].sum()) if len(pairs) and pairs["cycle_s"].sum() > 0 else None
    late = open_loop_lateness(run.requests, sent, max_users) if max_users is not None else np.array([])
    unstamped = int(steady_ok["read_lag_max_s"].isna().sum())
    read_lag = steady_ok["read_lag_max_s"].dropna().to_numpy(dtype=float)
    latency_error_s = max(
        float(np.percentile(late, 95)) if late.size else 0.0,
        (loop_lag_max_s or 0.0) * scale if unstamped else 0.0,
    )
    return StepDamage(
        idle_share=figure(idle_share),
        idle_p99_wall_s=_p99(pairs["idle_s"].to_numpy(dtype=float) / scale),
        open_loop_late_p95_wall_s=float(np.percentile(late, 95)) / scale if late.size else None,
        read_lag_p99_wall_s=_p99(read_lag / scale),
        unstamped_requests=unstamped,
        latency_error_s=latency_error_s,
        latency_error_share=figure(latency_error_s / ttft_p50_s) if ttft_p50_s else None,
        throughput_error_limit=THROUGHPUT_ERROR_LIMIT,
        latency_error_limit=LATENCY_ERROR_LIMIT,
    )


def _p99(values: np.ndarray) -> float | None:
    return float(np.percentile(values, 99)) if values.size else None


def _throughput_excess(damage: StepDamage) -> str | None:
    share = damage.idle_share
    if share is None or share <= THROUGHPUT_ERROR_LIMIT:
        return None
    return f"users stood idle {share:.1%} of the time between requests (bound {THROUGHPUT_ERROR_LIMIT:.0%}: throughput reads low)"


def _latency_excess(damage: StepDamage) -> str | None:
    share = damage.latency_error_share
    if share is None or share <= LATENCY_ERROR_LIMIT:
        return None
    where = "requests left late" if damage.open_loop_late_p95_wall_s else "token reads without kernel stamps were late"
    return (
        f"{where} by up to {damage.latency_error_s * 1000:.0f} ms, {share:.0%} of the median TTFT "
        f"(bound {LATENCY_ERROR_LIMIT:.0%})"
    )


def _cpu_text(g: GeneratorSamples) -> str:
    own = "–" if g.busiest_cpu_mean is None else f"{g.busiest_cpu_mean:.0f}%"
    waited = "" if g.runqueue_wait_mean is None else f" and waited {g.runqueue_wait_mean:.0f}% of the time for one"
    machine = "" if g.system_cpu_mean is None else f", the machine {g.system_cpu_mean:.0f}% busy"
    return f"the generator used {own} of a core{waited}{machine}"


def _cautions(g: GeneratorSamples, damage: StepDamage) -> tuple[str, ...]:
    """Symptoms of a late generator whose measured damage stayed within the bounds: kept, and said."""
    out = []
    if g.busiest_cpu_mean is not None and g.busiest_cpu_mean >= GENERATOR_CPU_BUSY:
        out.append(
            f"load generator CPU averaged {g.busiest_cpu_mean:.0f}% of a core: its timing error grows from about 75%"
        )
    if g.loop_lag_max_s is not None and g.loop_lag_max_s > LOOP_LAG_SYMPTOM_S:
        cause = "its own CPU" if g.busy else "other processes took the CPU"
        idle = damage.idle_share
        out.append(
            f"event loop woke {g.loop_lag_max_s * 1000:.0f} ms late ({cause}); kept: token times are kernel-stamped"
            + ("" if idle is None else f" and users stood idle {idle:.2%} of the time")
        )
    if g.cpu_warnings:
        out.append("Locust emitted its CPU warning; the measured timing error stayed within bounds")
    return tuple(out)


def littles_law(users: int, rps: float | None, steady: pd.DataFrame, gaps: pd.Series) -> LittlesLaw:
    hold = float(steady["client_s"].mean()) if len(steady) else math.nan
    gap_values = gaps.reindex(steady.index).dropna()
    gap = float(gap_values.mean()) if len(gap_values) else 0.0
    implied = rps * (hold + gap) if rps is not None and not math.isnan(hold) else math.nan
    deviation = abs(implied - users) / users if users and not math.isnan(implied) else math.nan
    return LittlesLaw(
        implied_users=figure(implied),
        hold_mean_s=figure(hold),
        gap_mean_s=figure(gap),
        deviation=figure(deviation),
        ok=bool(not math.isnan(deviation) and deviation <= LITTLE_TOLERANCE),
    )


def gap_stats(gaps: pd.Series, steady_index: pd.Index, scale: float) -> GapStats:
    values = gaps.reindex(steady_index).dropna().to_numpy(dtype=float) / scale  # wall seconds
    if values.size == 0:
        return GapStats(None, None, None)
    p50, p99 = np.percentile(values, [50, 99])
    return GapStats(float(p50), float(p99), float(values.max()))
