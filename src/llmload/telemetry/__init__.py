"""Run-time telemetry: what the server and its accelerators did while the load ran.

Samplers (``sampler.Sampler``) write JSON lines into the run directory: the server's Prometheus /metrics
(``metrics_sampler``) into server_metrics.jsonl, the local NVIDIA GPUs (``gpu_sampler`` over ``nvml``) into
gpu.jsonl. ``run_telemetry.Telemetry`` ticks them on one cadence, inside a Locust process during
``llmload run`` or in the foreground for ``llmload telemetry``.
"""
