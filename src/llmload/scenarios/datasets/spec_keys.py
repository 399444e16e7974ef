"""The `kind:key=value,...` specs of the generated workloads (synthetic:, shared-prefix:, sessions:): their
items and numbers, each wrong one a UsageError naming the kind and the key."""

from __future__ import annotations

from llmload.errors import UsageError


def spec_values(source: str, kind: str, keys: tuple[str, ...], example: str, what: str) -> dict[str, str]:
    """The key=value items of `kind:...`; `example` is shown where an item is not key=value."""
    values: dict[str, str] = {}
    for item in source.removeprefix(kind + ":").split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise UsageError(f"{what}: {kind}: {item.strip()!r} is not key=value (e.g. {example})")
        if key not in keys:
            raise UsageError(f"{what}: {kind}: unknown key {key!r} (keys: {', '.join(keys)})")
        values[key] = value.strip()
    return values


def require(values: dict[str, str], keys: tuple[str, ...], kind: str, example: str, what: str) -> None:
    missing = [key for key in keys if key not in values]
    if missing:
        raise UsageError(f"{what}: {kind}: {missing[0]} is required (e.g. {kind}:{example})")


def spec_number(kind: str, key: str, value: str, what: str, low: float = 1, real: bool = False) -> float:
    """An integer (a float with `real`) of at least `low`; a UsageError naming the key otherwise."""
    try:
        number = float(value) if real else int(value)
    except ValueError:
        raise UsageError(f"{what}: {kind}: {key}={value!r} is not {'a number' if real else 'an integer'}") from None
    if number < low or number != number:
        raise UsageError(f"{what}: {kind}: {key}={value} must be >= {low:g}")
    return number


def spec_flag(kind: str, key: str, value: str, what: str) -> bool:
    """A 0/1 switch such as ignore_eos."""
    if value not in ("0", "1"):
        raise UsageError(f"{what}: {kind}: {key}={value} must be 0 or 1")
    return value == "1"
