"""The synthetic workload's spec: `synthetic:prompt_tokens=512,output_tokens=128` and optional keys.

Each length may vary: `<length>_stdev` (normal distribution), `<length>_min`, `<length>_max` (clipped);
`prompts` distinct prompts are built (default 1000; requests repeat them in turn after that many; 1: every
request the same prompt, on purpose), `seed` makes them reproducible, `ignore_eos=0` for a server that does
not take vLLM's ignore_eos (output lengths then end at EOS or at max_tokens)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from llmload.errors import UsageError
from llmload.scenarios.datasets.spec_keys import require, spec_flag, spec_number, spec_values

KIND = "synthetic"
PREFIX = KIND + ":"
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
    values = spec_values(source, KIND, KEYS, "prompt_tokens=512", what)
    require(values, LENGTHS, KIND, "prompt_tokens=512,output_tokens=128", what)
    numbers = {key: _number(key, value, what) for key, value in values.items() if key != "ignore_eos"}
    return SyntheticSpec(
        prompt=_length("prompt_tokens", numbers, what),
        output=_length("output_tokens", numbers, what),
        prompts=int(numbers.get("prompts", DEFAULT_PROMPTS)),
        seed=int(numbers.get("seed", 0)),
        ignore_eos=spec_flag(KIND, "ignore_eos", values.get("ignore_eos", "1"), what),
    )


def _number(key: str, value: str, what: str) -> float:
    real = key.endswith("_stdev")
    return spec_number(KIND, key, value, what, low=0 if real or key == "seed" else 1, real=real)


def _length(name: str, numbers: dict[str, float], what: str) -> LengthSpec:
    spec = LengthSpec(
        int(numbers[name]), float(numbers.get(f"{name}_stdev", 0.0)), int(numbers.get(f"{name}_min", 1)),
        int(numbers[f"{name}_max"]) if f"{name}_max" in numbers else None,
    )  # fmt: skip
    if spec.max is not None and spec.max < spec.min:
        raise UsageError(f"{what}: synthetic: {name}_max={spec.max} is below {name}_min={spec.min}")
    return spec
