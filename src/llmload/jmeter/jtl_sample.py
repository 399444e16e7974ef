"""One JMeter sample as its result files store it, and the names of its fields.

JMeter writes a sample as a CSV row (columns named as CSVSaveService's header) or as an XML element
(`<httpSample t= lt= ...>`, short attribute names). Both are turned into a dict of CSV column name ->
text first, then into a JMeterSample here, so the two forms share one conversion and one set of errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmload.errors import UsageError

# jmeter.save.saveservice defaults (bin/jmeter.properties), in CSVSaveService's column order
DEFAULT_COLUMNS = (
    "timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType", "success",
    "failureMessage", "bytes", "sentBytes", "grpThreads", "allThreads", "URL", "Latency", "IdleTime", "Connect",
)  # fmt: skip
# every column JMeter can write (the optional ones: Filename, Encoding, SampleCount/ErrorCount, Hostname)
KNOWN_COLUMNS = frozenset(DEFAULT_COLUMNS) | {"Filename", "Encoding", "SampleCount", "ErrorCount", "Hostname"}
REQUIRED_COLUMNS = ("timeStamp", "elapsed")
# XML attributes (SampleResultConverter) -> CSV column names; "rs" is the old name of "rc"
XML_ATTRIBUTES = {
    "ts": "timeStamp", "t": "elapsed", "lb": "label", "rc": "responseCode", "rs": "responseCode",
    "rm": "responseMessage", "tn": "threadName", "dt": "dataType", "s": "success", "by": "bytes",
    "sby": "sentBytes", "ng": "grpThreads", "na": "allThreads", "lt": "Latency", "it": "IdleTime",
    "ct": "Connect", "de": "Encoding", "sc": "SampleCount", "ec": "ErrorCount", "hn": "Hostname",
}  # fmt: skip


@dataclass(slots=True)
class JMeterSample:
    """A sample's facts, in JMeter's units (epoch ms, ms, bytes); None where the file did not save them."""

    ts_ms: int  # the sample's start (sampleresult.timestamp.start=true, JMeter's shipped setting)
    elapsed_ms: int
    label: str = ""
    code: str = ""
    message: str = ""
    thread: str = ""
    success: bool = True
    failure: str = ""  # the first failing assertion's message
    bytes: int | None = None
    all_threads: int | None = None
    url: str = ""
    latency_ms: int | None = None  # to the response headers (JMeter's "Latency": not the first token)
    connect_ms: int | None = None  # 0 when a kept-alive connection was reused


def sample_from_fields(fields: dict[str, str], where: str) -> JMeterSample:
    """A sample from column name -> text; a value that is not what JMeter writes is a usage error naming
    `where` (FILE:LINE)."""
    return JMeterSample(
        ts_ms=_required_int(fields, "timeStamp", where),
        elapsed_ms=_required_int(fields, "elapsed", where),
        label=fields.get("label", ""),
        code=fields.get("responseCode", ""),
        message=fields.get("responseMessage", ""),
        thread=fields.get("threadName", ""),
        success=_boolean(fields.get("success", "true"), where),
        failure=fields.get("failureMessage", ""),
        bytes=_optional_int(fields, "bytes", where),
        all_threads=_optional_int(fields, "allThreads", where),
        url=fields.get("URL", ""),
        latency_ms=_optional_int(fields, "Latency", where),
        connect_ms=_optional_int(fields, "Connect", where),
    )


def _required_int(fields: dict[str, str], name: str, where: str) -> int:
    value = _optional_int(fields, name, where)
    if value is None:
        raise UsageError(f"{where}: {name} is empty (JMeter always writes it)")
    return value


def _optional_int(fields: dict[str, str], name: str, where: str) -> int | None:
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        unit = "epoch milliseconds (jmeter.save.saveservice.timestamp_format=ms)" if name == "timeStamp" else "a whole number"
        raise UsageError(f"{where}: {name} {text[:40]!r} is not {unit}") from None


def _boolean(text: str, where: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise UsageError(f"{where}: success {text[:40]!r} is not true or false")
    return value == "true"
