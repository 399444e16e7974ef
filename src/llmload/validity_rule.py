"""The bounds of the generator-health rule (analysis.validity), in a module without pandas so that the knee
rule (analysis.knee, also used live by the web UI) can name a step's cause and what to change."""

from __future__ import annotations

THROUGHPUT_ERROR_LIMIT = 0.01  # users' idle share between requests: half the knee's 2% plateau tolerance
LATENCY_ERROR_LIMIT = 0.05  # of the step's median TTFT: half the 10% by which despike tells noise from signal
GENERATOR_CPU_LIMIT = 90.0  # percent of a core at a peak: the generator's own CPU was the cause
GENERATOR_CPU_BUSY = 70.0  # mean percent of a core (client_overhead.py --curve: timing error grows from ~75%)
LOOP_LAG_SYMPTOM_S = 0.05  # an event loop this late is worth a caution, whatever the damage
SATURATED, CONTENDED = "generator saturated", "machine contended"
ADVICE = {
    SATURATED: "add load-generator processes (--workers N) or cores",
    CONTENDED: "keep the generator off the server's cores (--cpus; docs/serving.md, 'Sharing a machine with the server') "
    "or run it on another machine",
}
