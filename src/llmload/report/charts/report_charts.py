"""Every chart of report.html, keyed by its id (report section `chart-<key>`); None = no data for it."""

from __future__ import annotations

import pandas as pd

from llmload.analysis.model import RunAnalysis
from llmload.report.charts import (
    curve_charts,
    jmeter_over_time,
    jmeter_response_times,
    jmeter_throughput,
    llm_charts,
    server_charts,
    time_charts,
    time_split_charts,
)

# the server series the report draws, and the names that carry them (newest vLLM name first)
SERVER_SERIES = {
    "running": ("vllm:num_requests_running",),
    "waiting": ("vllm:num_requests_waiting",),
    "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    "preemptions": ("vllm:num_preemptions_total", "vllm:num_preemptions"),
}
# the JMeter dashboard's charts (report section `jmeter`), in the order of its pages
JMETER_CHART_KEYS = (
    "jm-requests-summary",
    "jm-response-times-over-time",
    "jm-percentiles-over-time",
    "jm-bytes-over-time",
    "jm-latencies-over-time",
    "jm-connect-over-time",
    "jm-hits-per-second",
    "jm-codes-per-second",
    "jm-transactions-per-second",
    "jm-response-time-vs-request",
    "jm-latency-vs-request",
    "jm-percentiles",
    "jm-overview",
    "jm-time-vs-threads",
    "jm-distribution",
)
CHART_KEYS = (
    "knee",
    "by-name",
    "time-split-ttft",
    "time-split-e2e",
    "tps-over-time",
    "users-over-time",
    "latency-over-time",
    "latency-vs-users",
    "dist-ttft",
    "dist-ttfa",
    "dist-tpot",
    "dist-itl",
    "tokens-over-time",
    "tradeoff",
    "reasoning",
    "accuracy",
    "server",
    "gpu",
    *JMETER_CHART_KEYS,
)


def server_series(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Panel series indexed by t_s, summed over label sets; the preemption counter as count since the start."""
    out: dict[str, pd.Series] = {}
    if not len(frame):
        return out
    for series, names in SERVER_SERIES.items():
        for name in names:
            chosen = frame[frame["name"] == name]
            if len(chosen):
                values = chosen.groupby("t_s")["value"].sum().sort_index()
                out[series] = values - values.iloc[0] if series == "preemptions" else values
                break
    return out


def gpu_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """gpu.jsonl samples as t_s, device ("host:gpu"), util_percent, mem_used_gib, power_w."""
    if not len(frame) or "t_s" not in frame:
        return pd.DataFrame(columns=["t_s", "device", "util_percent", "mem_used_gib", "power_w"])

    def column(name: str) -> pd.Series:
        return (
            pd.to_numeric(frame[name], errors="coerce")
            if name in frame
            else pd.Series(float("nan"), index=frame.index)
        )

    host = frame["host"].astype(str) if "host" in frame else pd.Series("", index=frame.index)
    gpu = frame["gpu"].astype(str) if "gpu" in frame else pd.Series("0", index=frame.index)
    return pd.DataFrame(
        {
            "t_s": frame["t_s"].astype(float),
            "device": host + ":" + gpu,
            "util_percent": column("util_percent"),
            "mem_used_gib": column("mem_used_bytes") / 2**30,
            "power_w": column("power_w"),
        }
    )


def all_charts(analysis: RunAnalysis) -> dict[str, str | None]:
    run = analysis.run
    out: dict[str, str | None] = {
        "knee": curve_charts.knee_chart(analysis),
        "by-name": curve_charts.by_name_chart(analysis),
        "time-split-ttft": time_split_charts.time_split_chart(analysis, "ttft"),
        "time-split-e2e": time_split_charts.time_split_chart(analysis, "e2e"),
        "tps-over-time": time_charts.tps_over_time_chart(run),
        "users-over-time": time_charts.users_over_time_chart(run),
        "latency-over-time": time_charts.latency_over_time_chart(run),
        "latency-vs-users": curve_charts.latency_vs_users_chart(run, analysis.steps),
        "tokens-over-time": llm_charts.tokens_over_time_chart(run),
        "tradeoff": llm_charts.tradeoff_chart(analysis),
        "reasoning": llm_charts.reasoning_chart(run),
        "accuracy": llm_charts.accuracy_chart(analysis.steps),
        "server": server_charts.server_chart(run, server_series(run.server)),
        "gpu": server_charts.gpu_chart(run, gpu_frame(run.gpu)),
    }
    for key in llm_charts.DIST_METRICS:
        out[f"dist-{key}"] = llm_charts.distribution_chart(run, key)
    out.update(jmeter_charts(analysis))
    return {key: out[key] for key in CHART_KEYS}


def jmeter_charts(analysis: RunAnalysis) -> dict[str, str | None]:
    """The JMeter dashboard's charts (JMETER_CHART_KEYS); None where the records hold no such figure."""
    run, counts = analysis.run, analysis.requests
    return {
        "jm-requests-summary": jmeter_response_times.requests_summary_chart(counts.ok, counts.failed),
        "jm-response-times-over-time": jmeter_over_time.response_times_over_time_chart(run),
        "jm-percentiles-over-time": jmeter_over_time.percentiles_over_time_chart(run),
        "jm-bytes-over-time": jmeter_over_time.bytes_throughput_chart(run),
        "jm-latencies-over-time": jmeter_over_time.latencies_over_time_chart(run),
        "jm-connect-over-time": jmeter_over_time.connect_time_over_time_chart(run),
        "jm-hits-per-second": jmeter_throughput.hits_per_second_chart(run),
        "jm-codes-per-second": jmeter_throughput.codes_per_second_chart(run),
        "jm-transactions-per-second": jmeter_throughput.transactions_per_second_chart(run),
        "jm-response-time-vs-request": jmeter_throughput.response_time_vs_request_chart(run),
        "jm-latency-vs-request": jmeter_throughput.latency_vs_request_chart(run),
        "jm-percentiles": jmeter_response_times.percentiles_chart(run),
        "jm-overview": jmeter_response_times.overview_chart(analysis.apdex, counts.failed),
        "jm-time-vs-threads": jmeter_response_times.time_vs_threads_chart(run),
        "jm-distribution": jmeter_response_times.distribution_chart(run),
    }
