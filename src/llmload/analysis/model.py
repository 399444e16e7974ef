"""The typed model of a run's analysis: what analysis/ computes and report/ writes and draws.

Frozen dataclasses whose field names are summary.json's keys (docs/run-directory.md); analysis.summary_json
turns them into that JSON, in one place. A figure that was not measured is None, never NaN (analysis.figures).
The evidence blocks whose shape is the JSON itself (server, GPU and time split per step, SLO, USL, KV
prediction, time split, APDEX, error tables, quality examples) are kept as mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmload.analysis.figures import OMIT_IF_NONE
from llmload.analysis.frame import RunData
from llmload.analysis.knee_model import KneeLevel, KneeResult

Evidence = Mapping[str, Any]  # a block whose shape is its JSON


@dataclass(frozen=True)
class Distribution:
    """A latency's distribution over a step's steady successes (exact percentiles; None without values)."""

    n: int
    mean: float | None
    min: float | None
    max: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    # 95% bootstrap intervals of p50, p95 and p99 (analysis.stats), for TTFT and E2E
    ci95: Mapping[str, list[float] | None] | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class Accuracy:
    """Plate detection, micro-averaged over successful requests."""

    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class ExpectedMatch:
    """Answers scored against a dataset's `expected` (successful requests): how many matched."""

    scored: int
    matched: int
    match_rate: float | None


@dataclass(frozen=True)
class StepDamage:
    """What the load generator's lateness did to one step (analysis.validity); wall seconds where `_wall`."""

    idle_share: float | None
    idle_p99_wall_s: float | None
    open_loop_late_p95_wall_s: float | None
    read_lag_p99_wall_s: float | None
    unstamped_requests: int
    latency_error_s: float
    latency_error_share: float | None
    throughput_error_limit: float
    latency_error_limit: float


@dataclass(frozen=True)
class GeneratorHealth:
    """The load generator over one step: its samples, the measured damage and the verdict on both."""

    cpu_percent_max: float | None
    cpu_percent_mean: float | None
    system_cpu_percent_mean: float | None
    loop_lag_max_s: float | None
    cpu_warnings: int
    samples: int
    damage: StepDamage
    cause: str | None  # validity_rule.SATURATED or CONTENDED when the damage was over its bounds
    saturated: bool
    reasons: tuple[str, ...]
    cautions: tuple[str, ...]
    # the main thread's run-queue wait (absent in runs from before it was sampled)
    runqueue_wait_percent_mean: float | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class LittlesLaw:
    """Closed loop: users = throughput x (mean hold + mean gap before the next send)."""

    implied_users: float | None
    hold_mean_s: float | None
    gap_mean_s: float | None
    deviation: float | None
    ok: bool


@dataclass(frozen=True)
class NotApplicable:
    """Little's law of an open-loop step (arrivals do not wait for answers)."""

    ok: bool = True
    applicable: bool = False


@dataclass(frozen=True)
class GapStats:
    """The generator's scheduling lag in wall seconds (analysis.validity.scheduling_gaps)."""

    p50_s: float | None
    p99_s: float | None
    max_s: float | None


@dataclass(frozen=True)
class EmptyWindow:
    """A step whose steady window held no complete request: its latency has no sample (llmload.steady)."""

    window_s: float
    shortest_e2e_s: float | None  # the shortest answer of the requests sent in the step
    reason: str


@dataclass(frozen=True)
class StepValidity:
    generator: GeneratorHealth
    littles_law: LittlesLaw | NotApplicable
    scheduling_lag_wall: GapStats
    empty_window: EmptyWindow | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class StepStop:
    """`--step-duration auto`: why the step ended (llmload.step_stop), as the load generator decided it."""

    reason: str  # "converged"; "max duration": the bound, its numbers less certain; "past knee": its p95
    less_certain: bool
    samples: int
    rps_ci_rel: float | None
    e2e_p95_ci_rel: float | None
    min_samples: int
    tolerance: float
    max_step_s: float
    rps_tolerance: float  # the throughput's: tighter near the knee (`--users auto`)
    e2e_p50_ci_rel: float | None  # what ended a step past the knee


@dataclass(frozen=True)
class NameStats:
    """One request name's share of a step (analysis.name_stats): the step's own definitions over its requests."""

    requests_ok: int  # steady successes: the latency statistics' samples
    requests_failed: int
    error_rate: float
    rps: float | None  # work in the window (llmload.steady)
    output_tokens_per_s: float | None
    ttft_s: Distribution
    e2e_s: Distribution
    tpot_s: Distribution


@dataclass(frozen=True)
class StepStats:
    """One step over its steady window (analysis.step_stats); target time base, seconds from time zero."""

    index: int
    users: int
    start_s: float
    end_s: float
    warmup_s: float
    window_s: float
    requests_sent: int
    requests_ok: int  # steady successes: the latency statistics' samples
    requests_failed: int
    error_rate: float
    completed_in_window: int
    rps: float | None  # work in the window (llmload.steady); None for a window of no length
    output_tokens_per_s: float | None
    prompt_tokens_mean: float | None
    output_tokens_mean: float | None
    itl_s: Distribution
    errors_by_kind: Mapping[str, int]
    accuracy: Accuracy
    ttft_s: Distribution
    ttfa_s: Distribution
    e2e_s: Distribution
    tpot_s: Distribution
    validity: StepValidity
    excluded: bool  # from the knee: the generator's timing error was over its bounds
    excluded_reasons: tuple[str, ...]
    offered_rps: float | None  # open loop: the arrival rate
    queue_s: Distribution
    output_tokens_per_s_per_user: float | None
    server: Evidence | None  # vLLM /metrics over the steady window (analysis.server_evidence)
    gpu: tuple[Evidence, ...]  # NVML, per GPU
    time_split: Evidence | None  # TTFT and E2E in queue, prefill, decode and the rest (analysis.time_split)
    # answers scored against the dataset's `expected` (steady successes); left out of runs that scored none
    expected: ExpectedMatch | None = field(default=None, metadata=OMIT_IF_NONE)
    # the same figures per request name, in name order; left out of runs of one name (analysis.name_stats)
    by_name: Mapping[str, NameStats] | None = field(default=None, metadata=OMIT_IF_NONE)
    stop: StepStop | None = field(default=None, metadata=OMIT_IF_NONE)  # auto steps only

    def knee_level(self) -> KneeLevel:
        return KneeLevel(
            users=self.users,
            rps=self.rps,
            output_tokens_per_s=self.output_tokens_per_s,
            e2e_p50_s=self.e2e_s.p50,
            e2e_p95_s=self.e2e_s.p95,
            e2e_mean_s=self.e2e_s.mean,
            ttft_p95_s=self.ttft_s.p95,
            requests_ok=self.requests_ok,
            excluded=self.excluded,
            cause=self.validity.generator.cause,
        )


@dataclass(frozen=True)
class LabelStats:
    """JMeter's Statistics and APDEX of one label over the whole run, or of all of them (analysis.label_stats)."""

    label: str
    samples: int
    failed: int
    error_rate: float | None
    e2e_s: Distribution  # of the successes, as every latency statistic here
    rps: float | None  # samples over the label's span: JMeter's Transactions/s
    received_bytes_per_s: float | None  # response body bytes; None where the records count none
    output_tokens_per_s: float | None
    apdex: Evidence  # analysis.apdex with the run's thresholds, and its rating


@dataclass(frozen=True)
class LabelStatistics:
    per_label: tuple[LabelStats, ...]
    total: LabelStats


@dataclass(frozen=True)
class RequestCounts:
    total: int
    ok: int
    failed: int


@dataclass(frozen=True)
class RunAnalysis:
    """Everything the report needs of one run (analysis.pipeline.analyze_run)."""

    run: RunData
    complete: bool  # the generator closed the run and did not stop early
    stopped_reason: str | None
    requests: RequestCounts
    steps: tuple[StepStats, ...]
    knee: KneeResult
    saturation_by_name: Evidence | None  # which request name saturates first; None for a run of one name
    slo: Evidence | None  # --slo judged per step, with goodput (analysis.slo, analysis.goodput)
    usl: Evidence  # analysis.usl
    kv_prediction: Evidence | None  # analysis.kv_prediction
    time_split: Evidence  # whether the server's phase histograms split the steps, and from where it queues
    accuracy: Accuracy
    expected: ExpectedMatch | None  # all successful requests; None where the run scored no expected answer
    apdex: Evidence  # analysis.apdex
    statistics: LabelStatistics  # per label, JMeter's Statistics table (analysis.label_stats)
    errors: Evidence  # analysis.error_tables
    quality_examples: Evidence  # analysis.quality_examples
    sessions: Evidence | None = None  # sessions by turn (analysis.session_turns); None without session turns
    trace: Evidence | None = None  # capacity in trace terms (analysis.trace_capacity); None without --trace
