"""The synthetic workload's spec: `synthetic:prompt_tokens=512,output_tokens=128` and optional keys.

Each length may vary: `<length>_stdev` (normal distribution), `<length>_min`, `<length>_max` (clipped);
`prompts` distinct prompts are built (default 1000; requests repeat them in turn after that many; 1: every
request the same prompt, on purpose), `seed` makes them reproducible, `ignore_eos=0` for a server that does
not take vLLM's ignore_eos (output lengths then end at EOS or at max_tokens)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from llmload.errors import UsageError

PREFIX = "synthetic:"
LENGTHS = ("prompt_tokens", "output_tokens")
DEFAULT_PROMPTS = 1000
_SPREAD = ("stdev", "min", "max")
KEYS = (*LENGTHS, *(f"{length}_{s}" for length in LENGTHS for s in _SPREAD), "prompts", "seed", "ignore_eos")


@dataclass(frozen=True, slots=True)
class LengthSpec:
    mean: int
    stdev: float = 0.0
    min: int = 1
    max: int | None = None

    def draw(self, rng: random.Random) -> int:
        value = round(rng.gauss(self.mean, self.stdev)) if self.stdev else self.mean
        value = max(self.min, value)
        return min(self.max, value) if self.max is not None else value


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    prompt: LengthSpec
    output: LengthSpec
    prompts: int = DEFAULT_PROMPTS
    seed: int = 0
    ignore_eos: bool = True


def is_synthetic(source: str) -> bool:
    return source.startswith(PREFIX)


def parse_synthetic(source: str, what: str = "--dataset") -> SyntheticSpec:
    """The spec of `synthetic:key=value,...`; a UsageError naming the key that is wrong."""
    values: dict[str, str] = {}
    for item in source.removeprefix(PREFIX).split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise UsageError(f"{what}: synthetic: {item.strip()!r} is not key=value (e.g. prompt_tokens=512)")
        if key not in KEYS:
            raise UsageError(f"{what}: synthetic: unknown key {key!r} (keys: {', '.join(KEYS)})")
        values[key] = value.strip()
    missing = [key for key in LENGTHS if key not in values]
    if missing:
        raise UsageError(
            f"{what}: synthetic: {missing[0]} is required (e.g. {PREFIX}prompt_tokens=512,output_tokens=128)"
        )
    numbers = {key: _number(key, value, what) for key, value in values.items()}
    return SyntheticSpec(
        prompt=_length("prompt_tokens", numbers, what),
        output=_length("output_tokens", numbers, what),
        prompts=int(numbers.get("prompts", DEFAULT_PROMPTS)),
        seed=int(numbers.get("seed", 0)),
        ignore_eos=bool(numbers.get("ignore_eos", 1)),
    )


def _number(key: str, value: str, what: str) -> float:
    try:
        number = float(value) if key.endswith("_stdev") else int(value)
    except ValueError:
        kind = "a number" if key.endswith("_stdev") else "an integer"
        raise UsageError(f"{what}: synthetic: {key}={value!r} is not {kind}") from None
    low = 0 if key.endswith("_stdev") or key in ("seed", "ignore_eos") else 1
    if number < low or (key == "ignore_eos" and number > 1):
        raise UsageError(
            f"{what}: synthetic: {key}={value} must be {'0 or 1' if key == 'ignore_eos' else f'>= {low}'}"
        )
    return number


def _length(name: str, numbers: dict[str, float], what: str) -> LengthSpec:
    spec = LengthSpec(
        int(numbers[name]), float(numbers.get(f"{name}_stdev", 0.0)), int(numbers.get(f"{name}_min", 1)),
        int(numbers[f"{name}_max"]) if f"{name}_max" in numbers else None,
    )  # fmt: skip
    if spec.max is not None and spec.max < spec.min:
        raise UsageError(f"{what}: synthetic: {name}_max={spec.max} is below {name}_min={spec.min}")
    return spec
