"""Workloads people already have, as scenarios (llmload.scenarios.workload_request): chat JSONL, prompt JSONL,
CSV with a `prompt` column, ShareGPT JSON, and synthetic prompts of exact token lengths. `workload_source`
detects a source's format and loads it; every bad line is a one-line UsageError naming file and line.
"""
