"""The plan's HTTP Request (HTTPSamplerProxy) -> llmload's host, its headers and its CSV data sets.

llmload posts to HOST/v1/chat/completions, HOST may carry a path prefix: a request to
http://gw:80/llm/v1/chat/completions gives host "http://gw:80/llm". Empty domain, port or protocol come
from an HTTP Request Defaults element as in JMeter. Header values are never copied anywhere (an
Authorization or API-key header holds a secret): headers are listed by name only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from llmload.errors import UsageError
from llmload.jmeter.jmx_tree import PlanElement, collection_items, element_prop, prop

CHAT_PATH = "/v1/chat/completions"
MAPPED_HEADERS = ("content-type", "accept")  # llmload sends JSON and reads an event stream itself
_URL_PROPS = ("HTTPSampler.protocol", "HTTPSampler.domain", "HTTPSampler.port")


@dataclass
class HttpRequest:
    host: str
    body: str  # the raw body, ${variables} not substituted yet
    notes: list[str] = field(default_factory=list)


def http_request(sampler: PlanElement, defaults: list[PlanElement]) -> HttpRequest:
    node = sampler.node
    url = {name: prop(node, name).strip() for name in _URL_PROPS}
    for element in defaults:  # HTTP Request Defaults fill what the sampler leaves empty
        url = {name: url[name] or prop(element.node, name).strip() for name in _URL_PROPS}
    path = prop(node, "HTTPSampler.path").strip()
    if path.startswith(("http://", "https://")):  # JMeter accepts a whole URL as the path
        parts = urlsplit(path)
        url = {"HTTPSampler.protocol": parts.scheme, "HTTPSampler.domain": parts.hostname or "",
               "HTTPSampler.port": str(parts.port or "")}  # fmt: skip
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not url["HTTPSampler.domain"]:
        raise UsageError(f"HTTP Request '{sampler.name}': no server name (HTTPSampler.domain) in it or in HTTP Request Defaults")
    request = HttpRequest(_host(url, path), _body(sampler))
    request.notes += _path_notes(sampler, path)
    return request


def _host(url: dict[str, str], path: str) -> str:
    scheme = url["HTTPSampler.protocol"] or "http"
    port = f":{url['HTTPSampler.port']}" if url["HTTPSampler.port"] else ""
    bare = path.split("?")[0].rstrip("/")
    prefix = bare.removesuffix(CHAT_PATH) if bare.endswith(CHAT_PATH) else ""
    return f"{scheme}://{url['HTTPSampler.domain']}{port}{prefix}"


def _path_notes(sampler: PlanElement, path: str) -> list[str]:
    notes = []
    if not path.split("?")[0].rstrip("/").endswith(CHAT_PATH):
        notes.append(f"path {path!r}: llmload posts to {CHAT_PATH} (host set to the server's root)")
    if "?" in path:
        notes.append("query string of the path not mapped")
    method = prop(sampler.node, "HTTPSampler.method").strip().upper() or "GET"
    if method != "POST":
        notes.append(f"method {method}: llmload always POSTs")
    return notes


def _body(sampler: PlanElement) -> str:
    items = collection_items(element_prop(sampler.node, "HTTPsampler.Arguments"), "Arguments.arguments")
    if prop(sampler.node, "HTTPSampler.postBodyRaw") != "true" or len(items) != 1:
        raise UsageError(
            f"HTTP Request '{sampler.name}': no raw body (Body Data tab) to read the chat completion from; "
            "llmload imports requests that post a JSON body"
        )
    return prop(items[0], "Argument.value")


def header_notes(managers: list[PlanElement]) -> list[str]:
    """What the plan's headers would need: names only, values never (they may be keys)."""
    notes = []
    for manager in managers:
        for item in collection_items(manager.node, "HeaderManager.headers"):
            name = prop(item, "Header.name").strip()
            if name.lower() == "authorization" or "key" in name.lower() or "token" in name.lower():
                notes.append(f"header {name}: not copied (a secret: give it with --api-key or OPENAI_API_KEY)")
            elif name.lower() not in MAPPED_HEADERS:
                notes.append(f"header {name}: not sent by llmload")
    return notes


def csv_rows(data_set: PlanElement, plan_dir: Path) -> list[dict[str, str]]:
    """A CSV Data Set's rows as variable -> value (file relative to the plan, as JMeter resolves it)."""
    node = data_set.node
    path = plan_dir / prop(node, "filename").strip()
    if not path.is_file():
        raise UsageError(f"CSV Data Set '{data_set.name}': {path}: no such file")
    delimiter = prop(node, "delimiter") or ","
    delimiter = "\t" if delimiter == "\\t" else delimiter
    encoding = prop(node, "fileEncoding").strip() or "utf-8"
    quoted = prop(node, "quotedData") == "true"
    with path.open(encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter[0], quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE)
        rows = [row for row in reader if row]
    names = [n.strip() for n in prop(node, "variableNames").split(",") if n.strip()]
    if not names:  # JMeter reads the names from the file's first line
        names, rows = rows[0] if rows else [], rows[1:]
    elif prop(node, "ignoreFirstLine") == "true":
        rows = rows[1:]
    return [dict(zip(names, row, strict=False)) for row in rows]
