"""report.html in headless Chromium (Debian `chromium`), driven over the DevTools protocol with aiohttp's
websocket: every section and chart is there, planted <script> text from the dataset and from model and
server answers is shown as text and never runs, no console error, no request leaves the file.
Also the end-to-end outputs of `llmload report` on the same hand-made run (summary keys, junit.xml,
requests.csv, the --baseline exit code)."""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from llmload.cli import main
from llmload.report.build import ReportResult, build_report
from llmload.report.charts.report_charts import CHART_KEYS
from report_fixture import OTHER_NAME, PLANT, planted_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECTIONS = (
    "verdict",
    "knee",
    "why-here",
    "why-time-split",
    "time-split",
    "time-split-steps",
    "slo",
    "baseline",
    "statistics",
    "apdex",
    "errors",
    "top-errors",
    "over-time",
    "llm",
    "quality",
    "server",
    "gpu",
    "capacity",
    "validity",
    "jmeter",
    "metadata",
)
# JMeter's HTML dashboard (bin/report-template: index.html and content/pages/*.html), page by page: the report
# must show each panel under JMeter's name, inside its page of the `jmeter` section
JMETER_PANELS = {
    "jmeter-dashboard": (
        "Test and Report information",
        "APDEX (Application Performance Index)",
        "Requests Summary",
        "Statistics",
        "Errors",
        "Top 5 Errors by sampler",
    ),
    "jmeter-over-time": (
        "Response Times Over Time",
        "Response Time Percentiles Over Time (successful responses)",
        "Active Threads Over Time",
        "Bytes Throughput Over Time",
        "Latencies Over Time",
        "Connect Time Over Time",
    ),
    "jmeter-throughput": (
        "Hits Per Second",
        "Codes Per Second",
        "Transactions Per Second",
        "Total Transactions Per Second",
        "Response Time Vs Request",
        "Latency Vs Request",
    ),
    "jmeter-response-times": (
        "Response Time Percentiles",
        "Response Time Overview",
        "Time Vs Threads",
        "Response Time Distribution",
    ),
}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
    "--window-size=1200,900",
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    return build_report(planted_run(tmp_path_factory.mktemp("run") / "run"))


@dataclass
class PageLog:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Cdp:
    """The few DevTools calls the test needs, over one page's websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, log: PageLog) -> None:
        self.ws, self.log, self.next_id = ws, log, 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: dict[str, asyncio.Event] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
                continue
            self._event(data.get("method", ""), data.get("params") or {})

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.log.console_errors.append(json.dumps(params.get("args"))[:300])
        elif method == "Runtime.exceptionThrown":
            self.log.console_errors.append(json.dumps(params.get("exceptionDetails"))[:300])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.log.console_errors.append(params["entry"].get("text", "")[:300])
        elif method == "Network.requestWillBeSent":
            self.log.requests.append(params["request"]["url"][:200])
        self.events.setdefault(method, asyncio.Event()).set()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, 30)
        assert "error" not in reply, reply
        result: dict[str, Any] = reply.get("result") or {}
        return result

    async def wait_event(self, method: str, timeout_s: float = 30) -> None:
        await asyncio.wait_for(self.events.setdefault(method, asyncio.Event()).wait(), timeout_s)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[int]:
    """A fresh headless Chromium on a DevTools port; yields the port."""
    if CHROMIUM is None:
        pytest.skip("chromium not installed (make browser-deps)")
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, "chromium exited before opening its DevTools port"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port in 60 s"
            time.sleep(0.1)
        yield int(port_file.read_text().split()[0])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


PROBE = """(() => {
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const charts = [...document.querySelectorAll('figure.chart')].map(f => [f.id, f.querySelectorAll('svg').length,
      Math.round(f.getBoundingClientRect().height)]);
  const pages = Object.fromEntries([...document.querySelectorAll('#jmeter > div[id]')].map(d => [d.id,
      [...d.querySelectorAll('h4')].filter(h => h.offsetHeight > 0).map(h => h.textContent)]));
  const order = [...document.querySelectorAll('section[id]')].map(s => s.id);
  const statistics = (document.querySelector('#jm-statistics') || {}).innerText || '';
  return {ids, charts, pages, order, statistics, title: document.title, scripts: document.querySelectorAll('script').length,
          text: document.body.innerText, height: document.documentElement.scrollHeight,
          planted: [...document.querySelectorAll('td, pre')].filter(e => e.textContent.includes(%s)).length};
})()"""


async def _inspect(port: int, html: Path, screenshot: Path) -> tuple[dict[str, Any], PageLog]:
    log = PageLog()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t.get("type") == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            cdp = Cdp(ws, log)
            for domain in ("Runtime", "Log", "Network", "Page"):
                await cdp.call(f"{domain}.enable")
            await cdp.call("Page.navigate", url=html.as_uri())
            await cdp.wait_event("Page.loadEventFired")
            await asyncio.sleep(0.5)  # anything a script would have done by now, it did
            info = await cdp.evaluate(PROBE % json.dumps(PLANT))
            height = min(int(info["height"]), 16000)
            await cdp.call(
                "Emulation.setDeviceMetricsOverride",
                width=1200,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            shot = await cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            cdp.reader.cancel()
    return info, log


def test_report_in_chromium(built: ReportResult, chromium: int, tmp_path: Path) -> None:
    screenshot = built.html_path.parent / "report.png"
    info, log = asyncio.run(_inspect(chromium, built.html_path, screenshot))
    missing = [s for s in SECTIONS if s not in info["ids"]]
    assert not missing, f"sections missing: {missing}"
    charts = {c[0]: c for c in info["charts"]}
    for key in CHART_KEYS:
        chart = charts.get(f"chart-{key}")
        assert chart is not None, f"chart {key} missing"
        assert chart[1] >= 1 and chart[2] > 100, f"chart {key} has no visible svg: {chart}"
    # the planted markup is text in the page (errors table, quality tables, metadata) and did not run
    assert info["scripts"] == 0
    assert info["title"] == "llmload report test"
    assert PLANT in info["text"]
    assert info["planted"] >= 3  # error example, false-positive plate, batch id, dataset path
    assert log.console_errors == []
    leaving = [u for u in log.requests if not u.startswith(("file:", "data:", "about:"))]
    assert leaving == [], f"requests left the file: {leaving}"
    assert screenshot.stat().st_size > 50_000
    keep = os.environ.get("LLMLOAD_SCREENSHOT_DIR")  # to look at it: LLMLOAD_SCREENSHOT_DIR=/tmp pytest ...
    if keep:
        shutil.copy(screenshot, Path(keep) / "report-browser.png")


def test_jmeter_dashboard_in_chromium(built: ReportResult, chromium: int, tmp_path: Path) -> None:
    """Every panel of JMeter's dashboard pages is there under JMeter's name, below the LLM-first sections; a
    JMeter user's Connect, Latency and bytes panels are drawn (the fixture measured them)."""
    info, log = asyncio.run(_inspect(chromium, built.html_path, tmp_path / "jmeter.png"))
    for page, names in JMETER_PANELS.items():
        shown = info["pages"].get(page, [])
        assert [n for n in names if n not in shown] == [], f"{page}: missing panels; shown: {shown}"
    order = info["order"]
    assert order.index("jmeter") > order.index("validity") and order[-1] == "metadata"
    charts = {c[0] for c in info["charts"]}
    for key in ("jm-connect-over-time", "jm-latencies-over-time", "jm-bytes-over-time", "jm-requests-summary"):
        assert f"chart-{key}" in charts
    # Statistics: a row per request name (one planted markup, shown as text) and Total; the fixture counted
    # received bytes, never sent ones
    stats = info["statistics"]
    assert stats.count("\nplates\t") == 1 and stats.count(OTHER_NAME) == 1 and stats.count("\nTotal\t") == 1
    assert stats.count("not measured") == 3
    assert log.console_errors == []


def test_report_outputs(built: ReportResult) -> None:
    s, run_dir = built.summary, built.html_path.parent
    assert s["schema"] == "llmload.summary/1"
    assert (s["knee"]["users"], s["limit"]["users"]) == (8, 12)
    # APDEX: T = the SLO's e2e bound (12 s), F = 48 s; E2E 10 s up to 8 users -> 1.0; 15 s at 12 users
    # -> all tolerating -> 0.5; 20 s at 16 users with every 5th request failed (frustrated)
    ap = {r["users"]: r for r in s["apdex"]["per_step"]}
    assert (s["apdex"]["t_s"], s["apdex"]["f_s"], s["apdex"]["t_source"]) == (12.0, 48.0, "slo")
    assert ap[8]["score"] == 1.0 and ap[12]["score"] == 0.5
    r16 = ap[16]
    assert r16["satisfied"] == 0 and r16["score"] == pytest.approx(r16["tolerating"] / 2 / r16["samples"])
    assert r16["frustrated"] > 0
    # the server's queue holds the extra E2E past 8 users; the rest is the network both ways (2 x 25 ms)
    split = {step["users"]: step["time_split"] for step in s["steps"]}
    assert split[4]["queue_s"]["mean"] == 0.0 and split[12]["queue_s"]["mean"] == pytest.approx(5.0)
    assert split[16]["ttft_remainder_s"] == pytest.approx(0.05) and split[16]["e2e_remainder_s"] == pytest.approx(0.05)
    assert s["time_split"]["why_here"].startswith("from 12 users on, requests wait for a slot")
    (err,) = s["errors"]["by_type"]
    assert err["type"] == "http_status 500" and err["example"] == f"HTTP 500: {PLANT}"
    assert s["gate"]["passed"] and s["gate"]["slo"]["users"] == 8
    suites = {x.get("name"): x for x in ET.parse(run_dir / "junit.xml").getroot()}
    cases = suites["llmload.slo"].findall("testcase")
    assert [c.get("name") for c in cases] == ["ttft_p95<=2s", "e2e_p95<=12s", "error_rate<=1%"]
    assert suites["llmload.slo"].get("failures") == "0"
    with (run_dir / "requests.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == s["requests"]["total"]
    failed = [r for r in rows if r["ok"] == "False"]
    assert failed and all(r["users"] == "16" and r["error"].startswith("HTTP 500") for r in failed)


def test_report_baseline_exit_codes(
    built: ReportResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = built.html_path.parent
    same = tmp_path / "same.json"
    same.write_text(json.dumps(built.summary))
    assert main(["report", str(run_dir), "--baseline", str(same)]) == 0
    faster = json.loads(json.dumps(built.summary))
    for step in faster["steps"]:  # the baseline was 25% faster: the new run regressed
        step["rps"] = step["rps"] / 0.8 if step["rps"] else step["rps"]
    base = tmp_path / "fast.json"
    base.write_text(json.dumps(faster))
    capsys.readouterr()
    assert main(["report", str(run_dir), "--baseline", str(base), "--max-regression", "10%"]) == 1
    out = capsys.readouterr().out
    assert "Regression against" in out and "TPS (req/s)" in out and "-20.0%" in out
    junit = ET.parse(run_dir / "junit.xml").getroot()
    regression = next(s for s in junit if s.get("name") == "llmload.regression")
    assert int(regression.get("failures") or 0) >= 1
    # kept in meta.json: a plain rebuild judges against the same baseline
    assert main(["report", str(run_dir)]) == 1


def test_slo_failure_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = planted_run(tmp_path / "run", slo="e2e_p95<=5s,error_rate<=1%", telemetry=False)
    assert main(["report", str(run_dir)]) == 1
    out = capsys.readouterr().out
    assert "SLO failed at 8 users" in out and "10.000 s" in out
    case = next(
        c
        for c in ET.parse(run_dir / "junit.xml").getroot().iter("testcase")
        if c.get("name") == "e2e_p95<=5s"
    )
    failure = case.find("failure")
    assert failure is not None and "measured 10.000 s" in (failure.get("message") or "")


def test_compare_report_in_chromium(built: ReportResult, chromium: int, tmp_path: Path) -> None:
    base = json.loads(json.dumps(built.summary))
    for step in base["steps"]:  # the baseline was 25% faster at every level
        step["rps"] = step["rps"] / 0.8 if step["rps"] else step["rps"]
    base["run_id"] = f"base {PLANT}"
    (tmp_path / "base.json").write_text(json.dumps(base))
    out = tmp_path / "cmp"
    assert main(["compare", str(tmp_path / "base.json"), str(built.summary_path), "--out", str(out)]) == 1
    assert json.loads((out / "compare.json").read_text())["regressed"] is True
    info, log = asyncio.run(_inspect(chromium, out / "compare.html", tmp_path / "compare.png"))
    for section in (
        "compare-verdict",
        "compare-chart",
        "compare-knee",
        "compare-steps",
        "compare-regressions",
    ):
        assert section in info["ids"], section
    assert [c[0] for c in info["charts"]] == ["chart-compare"] and info["charts"][0][1] == 1
    assert info["scripts"] == 0 and PLANT in info["text"] and "REGRESSED" in info["text"]
    assert log.console_errors == []
    assert [u for u in log.requests if not u.startswith(("file:", "data:", "about:"))] == []
