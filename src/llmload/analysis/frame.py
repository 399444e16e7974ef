"""Raw run files -> tidy frames, in the target's own time base.

All LLM metric definitions live here, once (docs/measurement.md "Metric definitions"):
  ttft_s   send -> first content-bearing chunk (reasoning or answer)
  ttfa_s   send -> first chunk of the answer proper (after the reasoning ends)
  e2e_s    send -> last content-bearing chunk (usage trailer and [DONE] excluded); failed requests: send -> failure
  tpot_s   (e2e_s - ttft_s) / (output_tokens - 1), vLLM's formula; undefined for one token
  open loop: ttft/ttfa/e2e are measured from the INTENDED send time (no coordinated omission);
           queue_s = send - intended is the client queue time
  itl      gaps between consecutive content-bearing chunks
  latency_s       send -> response headers (JMeter's Latency; from the intended send in open loop, as TTFT)
  connect_time_s  send -> connection set up (JMeter's Connect); NaN where a kept-alive connection was reused
  label    the record's name (JMeter's label), llmload's own requests: records.CHAT_REQUEST_NAME
  turn     a session turn's position; prompt_tokens_implied what its history implies (analysis.session_turns)
With the simulator's --time-scale, every duration is multiplied back by the scale and every timestamp is
mapped onto the profile's time base, so reported numbers are what the simulated deployment would show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmload import rundir
from llmload.analysis.record_arrow import ArrowColumns, PlateErrors, read_columns
from llmload.analysis.record_columns import SCENARIO_NUMBERS, ItlStore, RecordColumns, count_column
from llmload.analysis.server_evidence import load_gpu_samples, load_server_metrics
from llmload.analysis.step_windows import StepWindow, place_requests
from llmload.errors import UsageError
from llmload.records import CHAT_REQUEST_NAME, StepMark, iter_record_dicts, read_steps
from llmload.step_stop import INFLIGHT
from llmload.steps import parse_duration_s

RECORD_COLUMNS = [
    "request_id",
    "user_id",
    "worker",
    "ok",
    "error_kind",
    "error",
    "http_status",
    "send_s",
    "end_s",
    "ttft_s",
    "ttfa_s",
    "e2e_s",
    "tpot_s",
    "prompt_tokens",
    "output_tokens",
    "reasoning_tokens",
    "token_source",
    "finish_reason",
    "tp",
    "fp",
    "fn",
    "matched",
    "intended_send_s",
    "queue_s",
    "client_s",
    "last_byte_s",
    "read_lag_max_s",
    "label",
    "latency_s",
    "connect_time_s",
    "response_bytes",
    "turn",
    "prompt_tokens_implied",
]


@dataclass
class RunData:
    run_dir: Path
    meta: dict[str, Any]
    requests: pd.DataFrame  # one row per request, times relative to t0, in the target's time base, placed in
    # the steps (step_windows: step_index, steady)
    steps: list[StepMark]  # relative to t0, target time base
    windows: list[StepWindow]  # each step with its warm-up (--warmup, kept in meta.json)
    itl_s: ItlStore  # inter-chunk gaps (target time base): flat, by frame row
    time_scale: float
    t0_s: float  # epoch seconds (wall) of time 0
    generator: (
        pd.DataFrame
    )  # load-generator health samples: t_s (target time base), worker, cpu_percent, lags (wall s)
    server: pd.DataFrame = field(default_factory=pd.DataFrame)  # server_metrics.jsonl (analysis.server_evidence)
    gpu: pd.DataFrame = field(default_factory=pd.DataFrame)  # gpu.jsonl (analysis.server_evidence)
    # the commonest wrong and missed plates (analysis.quality_examples), when the fast reader had them
    plate_errors: PlateErrors | None = None


def load_run(run_dir: Path) -> RunData:
    run_dir = Path(run_dir)
    records_path = run_dir / rundir.RECORDS
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: not a run directory")
    if not records_path.exists():
        raise UsageError(f"{run_dir}: no records.jsonl (not an llmload run directory?)")
    meta = rundir.read_meta(run_dir, strict=True)
    scale = float((meta.get("target") or {}).get("time_scale") or 1.0)
    raw_steps = read_steps(run_dir / rundir.STEPS) if (run_dir / rundir.STEPS).exists() else []
    columns = _read_columns(records_path)
    t0 = _time_zero(raw_steps, columns)
    requests, itl = _requests_frame(columns, t0, scale)
    steps = [_scale_step(s, t0, scale, requests) for s in raw_steps]
    requests, windows = place_requests(requests, steps, _warmup(meta))
    generator = _generator_frame(run_dir / rundir.GENERATOR, t0, scale)
    server = load_server_metrics(run_dir / rundir.SERVER_METRICS, t0, scale)
    gpu = load_gpu_samples(run_dir / rundir.GPU, t0, scale)
    plate_errors = columns.plate_errors(QUALITY_EXAMPLES) if isinstance(columns, ArrowColumns) else None
    return RunData(run_dir, meta, requests, steps, windows, itl, scale, t0, generator, server, gpu, plate_errors)


QUALITY_EXAMPLES = 10  # plates listed per kind (false positive, miss) in the report


def _read_columns(records_path: Path) -> ArrowColumns | RecordColumns:
    """pyarrow's parallel reader when it can take the file exactly; else the streaming orjson pass."""
    fast = read_columns(records_path)
    return fast if fast is not None else RecordColumns().add_all(iter_record_dicts(records_path))


GENERATOR_COLUMNS = [
    "t_s", "worker", "cpu_percent", "runqueue_wait_percent", "system_cpu_percent", "loop_lag_max_s",
    "loop_lag_mean_s", "cpu_warning",
]  # fmt: skip


def _generator_frame(path: Path, t0: float, scale: float) -> pd.DataFrame:
    rows = []
    if path.exists():
        for d in iter_record_dicts(path):
            rows.append(
                (
                    _rel(d.get("t_s"), t0, scale),
                    d.get("worker", ""),
                    d.get("cpu_percent"),
                    d.get("runqueue_wait_percent", np.nan),
                    d.get("system_cpu_percent", np.nan),
                    d.get("loop_lag_max_s"),
                    d.get("loop_lag_mean_s"),
                    bool(d.get("cpu_warning", False)),
                )
            )
    return pd.DataFrame.from_records(rows, columns=GENERATOR_COLUMNS)


def _warmup(meta: dict[str, Any]) -> str | float:
    """--warmup of the run: "auto" or seconds; "inflight" for `auto` with auto steps (llmload.step_stop)."""
    options = meta.get("options") or {}
    warmup = options.get("warmup", "auto")
    if warmup == "auto":
        return INFLIGHT if options.get("step_stop") else "auto"
    return parse_duration_s(str(warmup), "warmup")


def _time_zero(steps: list[StepMark], columns: ArrowColumns | RecordColumns) -> float:
    if steps:
        return steps[0].start_s
    if columns.n:
        return float(np.nanmin(columns.column("send_s")))
    return 0.0


def _scale_step(step: StepMark, t0: float, scale: float, requests: pd.DataFrame) -> StepMark:
    end = step.end_s
    if end is None:  # the run was killed during this step: it ends at the last thing we saw
        end = float(requests["end_s"].max()) / scale + t0 if len(requests) else step.start_s
    spread = None if step.join_spread_s is None else step.join_spread_s * scale
    return StepMark(
        step.index, step.users, (step.start_s - t0) * scale, (end - t0) * scale, step.rate_rps, step.stop, spread
    )


def _rel(value: Any, t0: float, scale: float) -> float:
    return np.nan if value is None else (float(value) - t0) * scale


def _requests_frame(
    columns: ArrowColumns | RecordColumns, t0: float, scale: float
) -> tuple[pd.DataFrame, ItlStore]:
    """The metric definitions (module docstring), vectorised over all records."""

    def rel(name: str) -> np.ndarray:
        return (columns.column(name) - t0) * scale

    ok = columns.ok_mask()
    send, end, first, last, intended = (
        rel(n) for n in ("send_s", "end_s", "first_token_s", "last_token_s", "intended_send_s")
    )
    origin = np.where(np.isnan(intended), send, intended)  # open loop: from the intended send time
    ttft = first - origin
    e2e = np.where(ok & ~np.isnan(last), last - origin, end - origin)
    out_tokens = columns.column("output_tokens")
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(ok & (out_tokens > 1), (e2e - ttft) / (out_tokens - 1), np.nan)
    plates, texts = columns.plate_counts(), columns.texts
    data: dict[str, Any] = _sample_columns(columns, rel, send, origin) | _session_columns(columns) | {
        "request_id": texts["request_id"],
        "user_id": count_column(columns.column("user_id")),
        "worker": texts["worker"],
        "ok": ok,
        "error_kind": texts["error_kind"],
        "error": texts["error"],
        "http_status": count_column(columns.column("http_status")),
        "send_s": send,
        "end_s": end,
        "ttft_s": ttft,
        "ttfa_s": rel("first_answer_s") - origin,
        "e2e_s": e2e,
        "tpot_s": tpot,
        "prompt_tokens": count_column(columns.column("prompt_tokens")),
        "output_tokens": count_column(out_tokens),
        "reasoning_tokens": count_column(columns.column("reasoning_tokens")),
        "token_source": texts["token_source"],
        "finish_reason": texts["finish_reason"],
        "tp": plates[:, 0],
        "fp": plates[:, 1],
        "fn": plates[:, 2],
        "matched": columns.matched_column(),  # an expected answer: 1 matched, 0 missed, NaN not scored
        "intended_send_s": intended,
        "queue_s": send - intended,
        "client_s": end - send,
        "last_byte_s": rel("last_byte_s"),
        "read_lag_max_s": columns.column("read_lag_max_s") * scale,
    }
    frame = pd.DataFrame({name: data[name] for name in RECORD_COLUMNS})
    return frame, columns.itl(scale)


def _session_columns(columns: ArrowColumns | RecordColumns) -> dict[str, np.ndarray]:
    """A session turn's position and the prompt tokens its history implies; NaN outside sessions."""
    return {name: columns.scenario_column(name) for name in SCENARIO_NUMBERS}


def _sample_columns(
    columns: ArrowColumns | RecordColumns, rel: Callable[[str], np.ndarray], send: np.ndarray, origin: np.ndarray
) -> dict[str, Any]:
    """JMeter's figures of a sample: label, Latency (to the headers), Connect and bytes (module docstring)."""
    return {
        "label": [name or CHAT_REQUEST_NAME for name in columns.texts["name"]],
        "latency_s": rel("headers_s") - origin,
        "connect_time_s": rel("connect_s") - send,
        "response_bytes": count_column(columns.column("response_bytes")),
    }
