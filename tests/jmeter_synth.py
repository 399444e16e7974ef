"""Synthetic JMeter results with the seed study's shape: a Stepping Thread Group adds one thread every
STEP_S seconds up to 40, each thread posts its next request when the last one ends (no think time), and
responses take ~40 s. The server's capacity is CAPACITY threads: up to it each request takes 30 s plus
0.414 s per thread (41.99 s at 29, the seed's figure), throughput rising; past it requests queue and the
server degrades (8% more time per extra thread), so throughput peaks at 29 and falls.

Rows are written the way JMeter writes them: in the order samples END, timeStamp = the sample's start,
allThreads = the threads running when it ended. Seeded: the same seed gives the same file.
"""

from __future__ import annotations

import csv
import heapq
import math
import random
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from llmload.jmeter.jtl_sample import DEFAULT_COLUMNS

LEVELS = 40
STEP_S = 240.0
CAPACITY = 29
T0_MS = 1_767_862_911_000
URL = "http://10.0.0.8:8000/v1/chat/completions"
GROUP = "jp@gc - Stepping Thread Group 1-"


def response_s(threads: int) -> float:
    base = 30.0 + 0.414 * min(threads, CAPACITY)
    if threads <= CAPACITY:
        return base
    return base * threads / CAPACITY * (1 + 0.08 * (threads - CAPACITY))


def threads_at(t_s: float) -> int:
    return min(LEVELS, int(t_s // STEP_S) + 1)


def samples(seed: int = 20, levels: int = LEVELS) -> list[dict[str, Any]]:
    """One dict per sample (CSV column -> value), in the order JMeter writes them (by end)."""
    rng = random.Random(seed)
    end_s = levels * STEP_S
    pending = [((thread - 1) * STEP_S, thread, 0) for thread in range(1, levels + 1)]  # (send, thread, n)
    heapq.heapify(pending)
    rows: list[tuple[float, dict[str, Any]]] = []
    while pending:
        send, thread, n = heapq.heappop(pending)
        elapsed = response_s(threads_at(send)) * math.exp(rng.gauss(0.0, 0.08))
        if send + elapsed > end_s:
            continue  # the test ended while it ran: JMeter stopped the thread
        rows.append((send + elapsed, _row(rng, send, elapsed, thread, n, threads_at(send + elapsed))))
        heapq.heappush(pending, (send + elapsed, thread, n + 1))
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def _row(rng: random.Random, send: float, elapsed: float, thread: int, n: int, all_threads: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "timeStamp": T0_MS + round(send * 1000), "elapsed": round(elapsed * 1000), "label": "chat/completions",
        "responseCode": "200", "responseMessage": "OK", "threadName": f"{GROUP}{thread}", "dataType": "text",
        "success": "true", "failureMessage": "", "bytes": 20_000 + rng.randrange(4000), "sentBytes": 9_100,
        "grpThreads": all_threads, "allThreads": all_threads, "URL": URL, "Latency": 40 + rng.randrange(40),
        "IdleTime": 0, "Connect": 3 if n == 0 else 0,
    }  # fmt: skip
    if all_threads >= 36 and rng.random() < 0.03:
        if rng.random() < 0.5:
            row.update(responseCode="504", responseMessage="Gateway Time-out", success="false", bytes=160,
                       failureMessage="Test failed: code expected to contain /200/, got 504")  # fmt: skip
        else:
            row.update(responseCode="Non HTTP response code: java.net.SocketTimeoutException", Latency=0,
                       responseMessage="Non HTTP response message: Read timed out", success="false", bytes=0)  # fmt: skip
    return row


def write_csv(path: Path, rows: list[dict[str, Any]], header: bool = True) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        if header:
            writer.writerow(DEFAULT_COLUMNS)
        writer.writerows([row[c] for c in DEFAULT_COLUMNS] for row in rows)
    return path


_XML = {"t": "elapsed", "it": "IdleTime", "lt": "Latency", "ct": "Connect", "ts": "timeStamp", "s": "success",
        "lb": "label", "rc": "responseCode", "rm": "responseMessage", "tn": "threadName", "dt": "dataType",
        "by": "bytes", "sby": "sentBytes", "ng": "grpThreads", "na": "allThreads"}  # fmt: skip


def xml_sample(row: dict[str, Any], children: str = "", tag: str = "httpSample") -> str:
    attrs = " ".join(f"{a}={quoteattr(str(row[c]))}" for a, c in _XML.items())
    url = f'<java.net.URL>{row["URL"]}</java.net.URL>'
    return f"<{tag} {attrs}>{children}{url}</{tag}>\n"


def write_xml(path: Path, rows: list[dict[str, Any]], close: bool = True) -> Path:
    body = "".join(xml_sample(row, _assertion(row)) for row in rows)
    tail = "</testResults>\n" if close else ""
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<testResults version="1.2">\n{body}{tail}', "utf-8")
    return path


def _assertion(row: dict[str, Any]) -> str:
    if not row["failureMessage"]:
        return ""
    return (
        "<assertionResult><name>Response Assertion</name><failure>true</failure><error>false</error>"
        f"<failureMessage>{row['failureMessage']}</failureMessage></assertionResult>"
    )
