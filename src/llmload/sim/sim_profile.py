"""Simulator profiles: a frozen dataclass loaded from TOML (package data or a path).

A profile describes one simulated server: which engine model ("vllm" batching scheduler or "fixed"
per-request timing), the served model name, the KV-cache budget, the step-time model and the shape of the
generated answers. Every key is flat except the optional ``[faults]`` table (llmload.sim.faults); unknown
keys and bad values raise UsageError naming the file, line and key.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from llmload.errors import UsageError
from llmload.kvbudget import kv_budget_tokens
from llmload.sim.faults import FaultPlan, build_plan, table_items

HARDWARE_KEYS = ("gpu_memory_gib", "num_gpus", "gpu_memory_utilization", "weights_gib", "overhead_gib",
                 "kv_bytes_per_token")


@dataclass(frozen=True)
class SimProfile:
    """One simulated server. Times are in the profile's own (virtual) seconds unless named ``*_wall_s``."""

    name: str
    model: str
    engine: str = "vllm"  # "vllm" | "fixed"
    description: str = ""
    max_model_len: int = 32768
    max_num_seqs: int = 256
    block_size: int = 16
    kv_budget_tokens: int | None = None  # None = unlimited
    # decode step: step_base_s + step_per_seq_s*batch + step_per_kv_token_s*total_context_tokens
    step_base_s: float = 0.01
    step_per_seq_s: float = 0.0
    step_per_kv_token_s: float = 0.0
    prefill_s_per_token: float = 0.0
    # calibration term: extra virtual seconds added to a step per preemption in it (costs the model lacks:
    # block eviction/reallocation, lost prefix-cache hits, scheduler stalls); 0 = pure recompute cost
    preemption_penalty_s: float = 0.0
    # output length when ignore_eos is false: normal(mean, cv*mean) clipped to [1, max_tokens]
    output_mean_tokens: int = 64
    output_cv: float = 0.0
    # prompt token estimate (llmload.scenarios.prompt_tokens): tokens_per_char per CJK character, ASCII and
    # digits at its own rates, + tokens_per_message per message + the reply primer
    tokens_per_char: float = 0.6
    tokens_per_message: int = 5
    workload_prompt_tokens: int = 128  # typical prompt used by predict_closed_loop
    time_scale: float = 1.0
    stream_min_interval_wall_s: float = 0.002
    # wake this much early and sleep the rest precisely (asyncio timers round up to 1 ms: up to 1 ms late);
    # blocks the event loop for up to this long per wake-up, so only timing-exact profiles set it
    precise_wake_wall_s: float = 0.0
    # engine "fixed": every request independent, exact absolute deadlines
    ttft_s: float = 0.1
    itl_s: float = 0.02
    output_tokens: int = 64
    # hardware the KV budget was derived from (informational once the budget is computed)
    gpu_memory_gib: float | None = None
    num_gpus: int | None = None
    gpu_memory_utilization: float | None = None
    weights_gib: float | None = None
    overhead_gib: float | None = None
    kv_bytes_per_token: int | None = None
    # injected faults ([faults] table; `llmload sim --fault` flags override it per kind)
    faults: FaultPlan = FaultPlan()

    @property
    def num_gpu_blocks(self) -> int | None:
        return None if self.kv_budget_tokens is None else self.kv_budget_tokens // self.block_size


_FIELDS = {f.name: f for f in dataclasses.fields(SimProfile)}
_POSITIVE = {"max_model_len", "max_num_seqs", "block_size", "output_mean_tokens", "tokens_per_char",
             "workload_prompt_tokens", "time_scale", "output_tokens", "num_gpus", "gpu_memory_gib",
             "kv_bytes_per_token", "itl_s"}


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return 1


def _check_value(key: str, value: Any) -> Any:
    """Return the value converted to the field's type or raise ValueError with the reason."""
    kind = str(_FIELDS[key].type)
    if key == "kv_budget_tokens":
        if value == "unlimited":
            return None
        kind = "int"
    if "str" in kind:
        if not isinstance(value, str) or not value:
            raise ValueError("expected a non-empty string")
        return value
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if kind.startswith("int"):
        if not isinstance(value, int):
            raise ValueError(f"expected an integer, got {value!r}")
    elif not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a number, got {value!r}")
    if value < 0 or (key in _POSITIVE and value == 0):
        raise ValueError(f"must be {'> 0' if key in _POSITIVE else '>= 0'}, got {value}")
    return float(value) if kind.startswith("float") else value


def _resolve_budget(values: dict[str, Any], where: str) -> None:
    given = [k for k in HARDWARE_KEYS if k in values]
    if not given:
        return
    if "kv_budget_tokens" in values:
        raise UsageError(f"{where}: give either kv_budget_tokens or the hardware keys, not both")
    missing = [k for k in HARDWARE_KEYS if k not in values]
    if missing:
        raise UsageError(f"{where}: hardware KV budget needs {', '.join(missing)}")
    try:
        values["kv_budget_tokens"] = kv_budget_tokens(*(values[k] for k in HARDWARE_KEYS))
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from exc


def parse_profile(text: str, source: str, default_name: str) -> SimProfile:
    """Parse TOML text into a SimProfile; ``source`` names the file in error messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: invalid TOML: {exc}") from exc
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{source}:{_line_of(text, key)}"
        if key not in _FIELDS:
            raise UsageError(f"{where}: unknown key {key!r}")
        if key == "faults":
            values[key] = build_plan(table_items(value, source, lambda k: _line_of(text, k)))
            continue
        try:
            values[key] = _check_value(key, value)
        except ValueError as exc:
            raise UsageError(f"{where}: bad value for {key!r}: {exc}") from exc
    values.setdefault("name", default_name)
    if "model" not in values:
        raise UsageError(f"{source}:1: missing required key 'model'")
    if values.get("engine", "vllm") not in ("vllm", "fixed"):
        raise UsageError(f"{source}:{_line_of(text, 'engine')}: engine must be 'vllm' or 'fixed'")
    if values.get("gpu_memory_utilization", 0.5) > 1:
        raise UsageError(f"{source}:{_line_of(text, 'gpu_memory_utilization')}: must be <= 1")
    _resolve_budget(values, source)
    profile = SimProfile(**values)
    nb = profile.num_gpu_blocks
    if nb is not None and nb < 1:
        raise UsageError(f"{source}: KV budget {profile.kv_budget_tokens} tokens is less than one block")
    return profile


def list_profiles() -> list[str]:
    """Names of the profiles shipped with llmload (package data)."""
    folder = resources.files("llmload.sim").joinpath("profiles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str) -> SimProfile:
    """Load a shipped profile by name, or a TOML file by path."""
    if name_or_path in list_profiles():
        res = resources.files("llmload.sim").joinpath("profiles", f"{name_or_path}.toml")
        return parse_profile(res.read_text(encoding="utf-8"), f"{name_or_path}.toml", name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise UsageError(f"{name_or_path}: no such sim profile (shipped: {', '.join(list_profiles())})")
    return parse_profile(path.read_text(encoding="utf-8"), str(path), path.stem)
