"""Simulated vLLM server: a virtual-time scheduler model behind vLLM's OpenAI API.

``engine`` (vLLM's batching scheduler) and ``fixed`` (per-request timing) are pure virtual-time engines;
``predict`` runs them closed-loop without a clock; ``realtime`` drives one against the wall clock for
``app``, the aiohttp server (``chat_completions``, ``metrics_exposition``, ``faults``); ``sim_profile``
describes one simulated deployment.
"""
