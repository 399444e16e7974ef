"""CPU cores for a server and a load generator that share one machine (Linux CPU affinity).

A vLLM CPU build takes every core it may use, and a load generator whose event loop waits for a core reads
and sends late. Where both run on one machine, each gets its own cores: by default the first allowed core
for the generator and the rest for the server (`cpus = "auto"` in a serve profile, `--cpus` on `llmload run`).
Core lists are written as Linux does ("0", "1-3", "0,2-5").
"""

from __future__ import annotations

import os

from llmload.errors import UsageError

AUTO = "auto"


def parse_cpu_list(text: str, what: str = "--cpus") -> list[int]:
    """'0,2-4' -> [0, 2, 3, 4]; every core must be one this process may run on."""
    cores: set[int] = set()
    for part in str(text).split(","):
        bounds = part.strip().split("-")
        try:
            low, high = int(bounds[0]), int(bounds[-1])
        except ValueError:
            raise UsageError(f"{what}: {text!r} is not a core list (examples: 0, 1-3, 0,2-5)") from None
        if len(bounds) > 2 or low < 0 or high < low:
            raise UsageError(f"{what}: {part.strip()!r} in {text!r} is not a core or a rising range")
        cores.update(range(low, high + 1))
    allowed = allowed_cpus()
    if allowed and not cores <= set(allowed):
        raise UsageError(
            f"{what}: cores {format_cpu_list(sorted(cores - set(allowed)))} are not available here "
            f"(this process may use {format_cpu_list(allowed)})"
        )
    return sorted(cores)


def format_cpu_list(cores: list[int]) -> str:
    """[0, 2, 3, 4] -> '0,2-4'."""
    runs: list[list[int]] = []
    for core in sorted(set(cores)):
        if runs and runs[-1][1] == core - 1:
            runs[-1][1] = core
        else:
            runs.append([core, core])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def allowed_cpus() -> list[int]:
    """The cores this process may run on ([] where the OS has no affinity call)."""
    getter = getattr(os, "sched_getaffinity", None)
    return sorted(getter(0)) if getter is not None else []


def colocated_split(cores: list[int] | None = None) -> tuple[list[int], list[int]] | None:
    """(generator cores, server cores) on one machine: the first core for the generator, the rest for the
    server; None with fewer than two cores (nothing to split) or no affinity call."""
    cores = sorted(cores if cores is not None else allowed_cpus())
    if len(cores) < 2:
        return None
    return cores[:1], cores[1:]


def server_cpus(spec: str | None) -> list[int] | None:
    """A serve profile's `cpus`: None (not pinned), "auto" (all but the generator's core) or a core list."""
    if not spec:
        return None
    if spec == AUTO:
        split = colocated_split()
        return split[1] if split else None
    return parse_cpu_list(spec, "cpus")


def generator_cpus_beside(server: list[int] | None) -> list[int] | None:
    """The allowed cores a server pinned to `server` leaves to the load generator (None: no pinning)."""
    if not server:
        return None
    left = [core for core in allowed_cpus() if core not in server]
    return left or None


def pin_process(cores: list[int], pid: int = 0) -> None:
    """Restricts a process (0: this one; its children inherit) to `cores`."""
    setter = getattr(os, "sched_setaffinity", None)
    if setter is not None:
        setter(pid, cores)
