"""The per-request record: raw timestamps and counts. THE contract between the load side and analysis.

One record is written per LLM request, as one JSON line, the moment the request ends. Only raw facts are
stored: wall-clock times (epoch seconds, taken from one monotonic clock anchored once per process) and the
counts the server reported. Everything derived (TTFT, TPOT, percentiles, steps) is recomputed from these.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from llmload.errors import UsageError

try:  # orjson: ~5x faster for the 1M-record report path and the per-request write; optional
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads

    def _dumps(obj: dict[str, Any]) -> str:
        return orjson.dumps(obj).decode()

except ImportError:  # pragma: no cover - exercised where orjson is not installed
    _loads = json.loads

    def _dumps(obj: dict[str, Any]) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

# The label (JMeter's) of llmload's own requests: Locust's request name; their records leave `name` empty
CHAT_REQUEST_NAME = "chat/completions"

# Failure categories (Record.error_kind). "ok" records carry None.
ERROR_KINDS = (
    "http_status",  # the server answered with a non-2xx status
    "connect",  # could not connect / connection refused / DNS
    "first_token_timeout",  # no content-bearing token within the first-token timeout
    "total_timeout",  # the whole request exceeded the total timeout
    "disconnect",  # the connection closed mid-stream
    "malformed",  # an SSE event was not valid JSON or not a chat completion chunk
    "incomplete",  # the stream ended without [DONE] / finish_reason
    "client",  # an exception inside the client (a bug or a local resource problem)
)


@dataclass(slots=True)
class Record:
    """One LLM request, as measured by the client. Times are epoch seconds (float)."""

    request_id: str
    user_id: int
    send_s: float  # when the request bytes were handed to the socket
    end_s: float  # when the client finished with the request (stream closed or error)
    ok: bool
    intended_send_s: float | None = None  # open-loop: when it should have left (coordinated omission)
    headers_s: float | None = None  # response status line + headers received
    first_token_s: float | None = None  # first content-bearing chunk (reasoning or answer)
    first_answer_s: float | None = None  # first chunk of the answer proper (after reasoning)
    last_token_s: float | None = None  # last content-bearing chunk; usage trailer and [DONE] excluded
    chunk_s: list[float] = field(default_factory=list)  # arrival times of content-bearing chunks
    last_byte_s: float | None = None  # when the response's last bytes arrived (kernel stamp; None without)
    read_lag_max_s: float | None = None  # longest wait of received bytes for the event loop (kernel stamps)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    token_source: str = "usage"  # "usage" (server's count) or "chunks" (fallback: one token per chunk)
    finish_reason: str | None = None
    http_status: int | None = None
    error_kind: str | None = None
    error: str | None = None
    worker: str = ""  # which load-generator process made the request
    name: str = ""  # the request's class of traffic: Locust's request name, JMeter's label of an imported sample
    # when the connection was established (None: a kept-alive connection was reused, or unknown), body bytes
    connect_s: float | None = None
    response_bytes: int | None = None
    # the scenario's own facts, {"kind": ..., ...}: what it asked for and how it scored the answer
    # (llmload.scenarios.workload_request); None where no scenario made the request (an imported sample)
    scenario: dict[str, Any] | None = None

    def to_json(self) -> str:
        """One compact JSON line (UTF-8 text kept as is). Shallow: no deep copy of the lists."""
        return _dumps({name: getattr(self, name) for name in _RECORD_FIELDS})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """A record from its JSON object; a record written before scenarios owned their facts (the plate
        fields at the top level) gets them as its scenario part."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if "scenario" not in data and any(key in data for key in LEGACY_PLATE_FIELDS):
            known["scenario"] = legacy_plate_facts(data)
        return cls(**known)


# the plate scenario's facts as top-level record fields, as records.jsonl held them before the scenario part
LEGACY_PLATE_FIELDS = ("batch_ids", "plates_expected", "plates_found")


def legacy_plate_facts(data: dict[str, Any]) -> dict[str, Any]:
    """The scenario part of an old plate record (its top-level batch_ids, plates_expected, plates_found)."""
    return {"kind": "plates", **{key: list(data.get(key) or []) for key in LEGACY_PLATE_FIELDS}}


def scenario_facts(data: dict[str, Any]) -> dict[str, Any]:
    """The scenario part of a record's JSON object, old (plate fields at the top level) or new; {} for none."""
    facts = data.get("scenario")
    if isinstance(facts, dict):
        return facts
    if any(key in data for key in LEGACY_PLATE_FIELDS):
        return legacy_plate_facts(data)
    return {}


_RECORD_FIELDS = tuple(f.name for f in fields(Record))


class RecordWriter:
    """Appends records to a JSONL file, flushed line by line so a killed run keeps what finished."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self.count = 0

    def write(self, record: Record) -> None:
        self.write_line(record.to_json())

    def write_line(self, line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()
        self.count += 1

    def fsync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.fsync()
            self._file.close()


def parse_json_line(line: str | bytes) -> Any:
    """One JSON line (orjson when installed: ~7x faster than the stdlib on 20 KB records)."""
    return _loads(line)


def iter_record_dicts(path: Path) -> Iterator[dict[str, Any]]:
    """Yields each record as a dict, streaming (never the whole file in memory). A truncated or corrupt
    LAST line (a killed writer) is skipped; a corrupt line elsewhere is an error naming file and line."""
    with path.open("rb") as f:
        pending: tuple[int, bytes] | None = None
        for number, line in enumerate(f, start=1):
            if pending is not None:
                data = _parse_line(path, *pending, last=False)
                if isinstance(data, dict):
                    yield data
            pending = (number, line) if line.strip() else None
        if pending is not None:
            data = _parse_line(path, *pending, last=True)
            if isinstance(data, dict):
                yield data


def _parse_line(path: Path, number: int, line: bytes, last: bool) -> Any:
    """Line `number` of records file `path`, decoded; the file's `last` line may be torn (None), any other
    corrupt line is a usage error naming file and line."""
    try:
        return _loads(line)
    except ValueError:
        pass
    try:  # invalid UTF-8 inside a string: decoded with replacement characters
        return json.loads(line.decode("utf-8", "replace"))
    except json.JSONDecodeError as exc:
        if last:
            return None  # the writer was killed mid-line: the request was in flight
        raise UsageError(f"{path}:{number}: corrupt record ({exc.msg})") from None


@dataclass(slots=True)
class StepMark:
    """A step of the load plan as it really happened: `users` target from start_s to end_s (epoch s)."""

    index: int
    users: int
    start_s: float
    end_s: float | None = None
    rate_rps: float | None = None  # open-loop steps: the arrival rate instead of a user count
    stop: dict[str, Any] | None = None  # `--step-duration auto`: why the step ended (llmload.step_stop)
    join_spread_s: float | None = None  # auto steps: the users it added joined over its first seconds (wall)

    def to_json(self) -> str:
        data = asdict(self)
        for optional in ("stop", "join_spread_s"):
            if data[optional] is None:
                del data[optional]
        return json.dumps(data, separators=(",", ":"))


def read_steps(path: Path) -> list[StepMark]:
    """Step marks; a step written twice (start, then end) keeps its last line."""
    by_index: dict[int, StepMark] = {}
    for data in iter_record_dicts(path):
        mark = StepMark(**{k: data[k] for k in StepMark.__dataclass_fields__ if k in data})
        by_index[mark.index] = mark
    return [by_index[i] for i in sorted(by_index)]
