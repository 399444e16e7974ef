"""JMeter's XML results: `<testResults>` holding one `<httpSample>` or `<sample>` per sample.

Attributes carry the numbers (t, lt, ct, ts, s, lb, rc, rm, tn, by, ng, na, ...: jtl_sample.XML_ATTRIBUTES),
child elements the URL (`<java.net.URL>`) and assertion results. A sample nested in another (a redirect's
hops, a Transaction Controller's requests) is part of its parent's time: only the outermost samples become
records, the nested ones are counted. Read as a stream (expat), so line numbers name bad elements. A file
that ends inside a sample (JMeter killed) keeps every complete sample and skips the cut one with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from llmload.errors import UsageError
from llmload.jmeter.jtl_csv import JtlRead
from llmload.jmeter.jtl_sample import XML_ATTRIBUTES, sample_from_fields

SAMPLE_TAGS = ("httpSample", "sample")
ROOT_TAG = "testResults"


@dataclass
class _Open:
    """The outermost sample being read: its fields, where it started, the text being collected."""

    fields: dict[str, str]
    line: int
    depth: int = 0  # samples nested inside it, open now
    assertion: dict[str, str] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.out = JtlRead()
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = True
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.characters
        self.parser.EntityDeclHandler = self.entity
        self.open: _Open | None = None
        self.level = 0  # element depth
        self.last_end_byte = 0  # where the last complete outermost sample's end tag begins

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.level += 1
        line = self.parser.CurrentLineNumber
        if self.level == 1 and tag != ROOT_TAG:
            raise UsageError(f"{self.path}:{line}: <{tag}> is not JMeter results (<{ROOT_TAG}>)")
        if tag in SAMPLE_TAGS:
            if self.open is None:
                fields = {XML_ATTRIBUTES[k]: v for k, v in attrs.items() if k in XML_ATTRIBUTES}
                self.open = _Open(fields, line)
            else:
                self.open.depth += 1
                self.out.nested += 1
        elif self.open is not None:
            self.open.text = []

    def characters(self, data: str) -> None:
        if self.open is not None:
            self.open.text.append(data)

    def end(self, tag: str) -> None:
        self.level -= 1
        current = self.open
        if current is None:
            return
        if tag in SAMPLE_TAGS:
            if current.depth:
                current.depth -= 1
                return
            self.out.samples.append(sample_from_fields(current.fields, f"{self.path}:{current.line}"))
            self.open = None
            self.last_end_byte = self.parser.CurrentByteIndex
        elif current.depth == 0:
            self._child(current, tag, "".join(current.text))

    def _child(self, current: _Open, tag: str, text: str) -> None:
        """The outermost sample's own children: its URL, its first failing assertion's message."""
        if tag == "java.net.URL":
            current.fields["URL"] = text.strip()
        elif tag in ("failure", "error", "failureMessage"):
            current.assertion[tag] = text
        elif tag == "assertionResult":
            failed = "true" in (current.assertion.get("failure"), current.assertion.get("error"))
            if failed and "failureMessage" not in current.fields:
                current.fields["failureMessage"] = current.assertion.get("failureMessage", "")
            current.assertion = {}

    def entity(self, *_: object) -> None:
        raise UsageError(f"{self.path}:{self.parser.CurrentLineNumber}: entity declarations are not JMeter results")


def read_xml(path: Path) -> JtlRead:
    reader = _Reader(path)
    with path.open("rb") as f:
        try:
            reader.parser.ParseFile(f)
        except expat.ExpatError as exc:
            _ended_early(reader, exc)
    return reader.out


def _ended_early(reader: _Reader, exc: expat.ExpatError) -> None:
    """A file cut at its end (JMeter killed) keeps its complete samples; an error before the end is fatal."""
    path, out = reader.path, reader.out
    if exc.lineno < _last_line(path) or reader.level == 0:
        raise UsageError(f"{path}:{exc.lineno}: not valid XML ({expat.errors.messages[exc.code]})") from None
    if reader.open is not None or _sample_begun_after(path, reader.last_end_byte):
        out.skipped += 1
        line = reader.open.line if reader.open is not None else exc.lineno
        out.warnings.append(f"{path}:{line}: truncated last sample skipped (JMeter stopped while writing it?)")
    else:
        out.warnings.append(f"{path}: no closing </{ROOT_TAG}> (JMeter stopped before closing the file?)")


def _sample_begun_after(path: Path, byte: int) -> bool:
    """Whether a sample's start tag was begun (and cut) after the last complete sample's end tag."""
    with path.open("rb") as f:
        f.seek(byte)
        tail = f.read()
    return re.search(rb"<(httpSample|sample)\b", tail[tail.find(b">") + 1 :]) is not None


def _last_line(path: Path) -> int:
    """The number of the file's last line that holds anything."""
    with path.open("rb") as f:
        data = f.read()
    return data.rstrip().count(b"\n") + 1
