"""Hardware / cost profiles for `llmload plan`: flat TOML, one replica described (see profiles/*.toml).

Required: gpus_per_replica, lifetime_years, rent_per_month, gpu_price. Optional: KV facts (gpu_memory_gib,
gpu_memory_utilization, weights_gib, overhead_gib, and kv_bytes_per_token or num_layers + num_kv_heads +
head_dim [+ kv_dtype_bytes]), or kv_budget_tokens given directly (from vLLM's log line "GPU KV cache size:
N tokens" or /metrics cache_config_info num_gpu_blocks x block_size), max_num_seqs, machine_price, power_w,
electricity_per_kwh, duty_cycle, currency, description, gpu_name.
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
from llmload.kvbudget import kv_budget_tokens, kv_bytes_per_token


@dataclass(frozen=True)
class HardwareProfile:
    name: str
    gpus_per_replica: int
    lifetime_years: float
    rent_per_month: float  # per replica
    gpu_price: float  # per GPU
    machine_price: float = 0.0  # per replica, beyond the GPUs
    power_w: float = 0.0  # per replica at load
    electricity_per_kwh: float = 0.0
    duty_cycle: float = 1.0
    currency: str = "CNY"
    description: str = ""
    gpu_name: str = ""
    gpu_memory_gib: float | None = None
    gpu_memory_utilization: float | None = None
    weights_gib: float | None = None
    overhead_gib: float | None = None
    kv_bytes_per_token: int | None = None
    num_layers: int | None = None
    num_kv_heads: int | None = None
    head_dim: int | None = None
    kv_dtype_bytes: int = 2
    kv_budget_tokens: int | None = None
    max_num_seqs: int | None = None

    def kv_tokens(self) -> tuple[int | None, str]:
        """KV-cache tokens per replica and where the number comes from."""
        if self.kv_budget_tokens is not None:
            return self.kv_budget_tokens, "kv_budget_tokens (given)"
        per_token = self.kv_bytes_per_token
        if per_token is None and None not in (self.num_layers, self.num_kv_heads, self.head_dim):
            per_token = kv_bytes_per_token(self.num_layers, self.num_kv_heads, self.head_dim,  # type: ignore[arg-type]
                                           self.kv_dtype_bytes)
        facts = (self.gpu_memory_gib, self.gpu_memory_utilization, self.weights_gib, self.overhead_gib)
        if per_token is None or any(f is None for f in facts):
            return None, "not enough hardware facts"
        tokens = kv_budget_tokens(self.gpu_memory_gib, self.gpus_per_replica,  # type: ignore[arg-type]
                                  self.gpu_memory_utilization, self.weights_gib,  # type: ignore[arg-type]
                                  self.overhead_gib, per_token)  # type: ignore[arg-type]
        return tokens, "GPU memory x utilization - weights - overhead"


_FIELDS = {f.name: f for f in dataclasses.fields(HardwareProfile)}
_REQUIRED = ("gpus_per_replica", "lifetime_years", "rent_per_month", "gpu_price")
_INTS = {"gpus_per_replica", "kv_bytes_per_token", "num_layers", "num_kv_heads", "head_dim", "kv_dtype_bytes",
         "kv_budget_tokens", "max_num_seqs"}
_STRS = {"currency", "description", "gpu_name"}
_POSITIVE = {"gpus_per_replica", "lifetime_years", "gpu_memory_gib", "kv_bytes_per_token", "num_layers",
             "num_kv_heads", "head_dim", "kv_dtype_bytes", "kv_budget_tokens", "max_num_seqs"}


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return 1


def _check(key: str, value: Any) -> Any:
    if key in _STRS:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a number, got {value!r}")
    if key in _INTS and not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    if value < 0 or (key in _POSITIVE and value == 0):
        raise ValueError(f"must be {'> 0' if key in _POSITIVE else '>= 0'}, got {value}")
    if key in ("gpu_memory_utilization", "duty_cycle") and not 0 < value <= 1:
        raise ValueError(f"must be in (0, 1], got {value}")
    return value if key in _INTS else float(value)


def parse_hardware(text: str, source: str, name: str) -> HardwareProfile:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: invalid TOML: {exc}") from exc
    values: dict[str, Any] = {"name": name}
    for key, value in raw.items():
        where = f"{source}:{_line_of(text, key)}"
        if key not in _FIELDS or key == "name":
            raise UsageError(f"{where}: unknown key {key!r}")
        try:
            values[key] = _check(key, value)
        except ValueError as exc:
            raise UsageError(f"{where}: {key}: {exc}") from None
    missing = [k for k in _REQUIRED if k not in values]
    if missing:
        raise UsageError(f"{source}: missing {', '.join(missing)}")
    profile = HardwareProfile(**values)
    try:
        profile.kv_tokens()
    except ValueError as exc:
        raise UsageError(f"{source}: {exc}") from None
    return profile


def load_hardware(spec: str) -> HardwareProfile:
    """A TOML path, or the name of a shipped profile (src/llmload/capacity/profiles/NAME.toml)."""
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise UsageError(f"{spec}: no such hardware profile")
        return parse_hardware(path.read_text(encoding="utf-8"), str(path), path.stem)
    shipped = resources.files("llmload.capacity") / "profiles" / f"{spec}.toml"
    if not shipped.is_file():
        raise UsageError(f"--hardware: no profile named {spec!r} (give a .toml path or seed-2x4090)")
    return parse_hardware(shipped.read_text(encoding="utf-8"), f"{spec}.toml", spec)
