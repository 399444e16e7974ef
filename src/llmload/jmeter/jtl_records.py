"""A JMeter sample -> an llmload record (llmload.records.Record, the run directory's contract).

  send_s      timeStamp (the sample's start)            end_s      send + elapsed
  headers_s   send + Latency (time to the headers)      connect_s  send + Connect (None: connection reused)
  ok          success                                   http_status a numeric responseCode
  name        label                                     user_id    the thread's number (threadName "G 1-5": 5)
  response_bytes  bytes                                 worker     "jmeter"
Tokens stay None: JMeter saves no content chunks, so TTFT, TPOT and ITL are missing, not zero.
A failed sample's error_kind: "http_status" for a status >= 400; "connect" or "disconnect" where Java's
exception names that; else "client"; its error is the failing assertion's message or the response message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from llmload.jmeter.jtl_sample import JMeterSample
from llmload.records import Record

WORKER = "jmeter"
_CONNECT = ("ConnectException", "UnknownHostException", "NoRouteToHostException", "ConnectTimeoutException")
_DISCONNECT = ("NoHttpResponseException", "ConnectionClosedException", "SocketException", "EOFException")
_THREAD_NAME = re.compile(r"^(.*?)(\d+)-(\d+)$")  # JMeter's "<group name> <group number>-<thread number>"


def record_of(sample: JMeterSample, index: int, user_id: int) -> Record:
    send_s = sample.ts_ms / 1000.0
    status = http_status(sample.code)
    kind, error = error_of(sample, status)
    return Record(
        request_id=f"{WORKER}-{index}",
        user_id=user_id,
        send_s=send_s,
        end_s=send_s + sample.elapsed_ms / 1000.0,
        ok=sample.success,
        headers_s=_after(send_s, _headers_ms(sample, status)),
        http_status=status,
        error_kind=kind,
        error=error,
        worker=WORKER,
        name=sample.label,
        connect_s=_after(send_s, sample.connect_ms or None),
        response_bytes=sample.bytes,
    )


def _headers_ms(sample: JMeterSample, status: int | None) -> int | None:
    """Latency; None where no response came (JMeter writes 0 for a sample that got no status)."""
    return sample.latency_ms if status is not None or sample.latency_ms else None


def _after(send_s: float, ms: int | None) -> float | None:
    return None if ms is None else send_s + ms / 1000.0


def http_status(code: str) -> int | None:
    """A numeric HTTP status; None for JMeter's "Non HTTP response code: ..." and the like."""
    text = code.strip()
    return int(text) if text.isdigit() and 100 <= int(text) <= 599 else None


def error_of(sample: JMeterSample, status: int | None) -> tuple[str | None, str | None]:
    if sample.success:
        return None, None
    message = sample.failure or sample.message or sample.code
    if status is not None and status >= 400:
        return "http_status", message or str(status)
    cause = f"{sample.code} {sample.message}"
    if any(name in cause for name in _CONNECT):
        return "connect", message
    if any(name in cause for name in _DISCONNECT):
        return "disconnect", message
    return "client", message or "failed (JMeter saved no message)"


def user_ids(thread_names: Iterable[str]) -> dict[str, int]:
    """threadName -> user id: the thread's number, shifted past the numbers of the thread groups seen
    before it when there are several (group order: first appearance); names JMeter did not form are
    numbered after all of them."""
    highest: dict[str, int] = {}  # group -> its highest thread number, in order of first appearance
    parsed: dict[str, tuple[str, int]] = {}
    others: list[str] = []
    for name in dict.fromkeys(thread_names):
        match = _THREAD_NAME.match(name)
        if match is None:
            others.append(name)
            continue
        group, number = match.group(1) + match.group(2), int(match.group(3))
        parsed[name] = (group, number)
        highest[group] = max(highest.get(group, 0), number)
    offsets, total = {}, 0
    for group, top in highest.items():
        offsets[group], total = total, total + top
    ids = {name: offsets[group] + number for name, (group, number) in parsed.items()}
    ids.update({name: total + 1 + i for i, name in enumerate(others)})
    return ids


def to_records(samples: list[JMeterSample]) -> Iterable[Record]:
    ids = user_ids(s.thread for s in samples)
    for index, sample in enumerate(samples, start=1):
        yield record_of(sample, index, ids[sample.thread])
