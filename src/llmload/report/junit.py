"""junit.xml for CI: one test case per SLO clause (judged at the operating point, see gates.py), one per
regression check when a baseline was given, and one saying whether the run completed.
Failures carry the measured value and the bound. ElementTree escapes all text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any


def _suite(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, "testsuite", name=name)


def _case(suite: ET.Element, classname: str, name: str, failure: str | None, detail: str = "") -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
    if failure is not None:
        node = ET.SubElement(case, "failure", message=failure, type="threshold")
        node.text = detail or failure
    elif detail:
        ET.SubElement(case, "system-out").text = detail


def _count(root: ET.Element) -> None:
    total_tests = total_failures = 0
    for suite in root.iter("testsuite"):
        tests = len(suite.findall("testcase"))
        failures = len(suite.findall("testcase/failure"))
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        total_tests, total_failures = total_tests + tests, total_failures + failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))


def _slo_cases(root: ET.Element, slo: dict[str, Any]) -> None:
    suite = _suite(root, "llmload.slo")
    where = f"at {slo['users']} users, {slo['at']}"
    for c in slo["clauses"]:
        text = f"{c['clause']}: measured {c['measured']} {where}"
        _case(suite, "llmload.slo", c["clause"], None if c["passed"] else text, text)


def _regression_cases(root: ET.Element, base: dict[str, Any]) -> None:
    suite = _suite(root, "llmload.regression")
    tolerance = base["max_regression"]
    groups: dict[str, list[str]] = {}
    for row in base["steps"]:
        for name, cell in row["metrics"].items():
            if cell["regressed"]:
                groups.setdefault(name, []).append(_cell_text(f"{row['key']} {row['level']}", cell))
            else:
                groups.setdefault(name, [])
    for name, failures in groups.items():
        _case(
            suite,
            "llmload.regression.steps",
            name,
            f"{len(failures)} step(s) regressed beyond {tolerance:.0%}" if failures else None,
            "\n".join(failures),
        )
    for point in ("knee", "limit"):
        for name, cell in base[point].items():
            text = _cell_text(point, cell)
            _case(
                suite,
                f"llmload.regression.{point}",
                f"{point}.{name}",
                text if cell["regressed"] else None,
                text,
            )


def _cell_text(where: str, cell: dict[str, Any]) -> str:
    change = "–" if cell.get("change") is None else f"{cell['change']:+.1%}"
    return f"{where}: {cell['label']} baseline {cell['base']} -> new {cell['new']} ({change})"


def junit_xml(summary: dict[str, Any]) -> str:
    root = ET.Element("testsuites", name=f"llmload {summary.get('run_id') or ''}".strip())
    run = _suite(root, "llmload.run")
    reason = summary.get("stopped_reason") or "the run did not complete"
    _case(run, "llmload.run", "run completed", None if summary.get("complete", True) else str(reason))
    gate = summary.get("gate") or {}
    if gate.get("slo"):
        _slo_cases(root, gate["slo"])
    if gate.get("baseline"):
        _regression_cases(root, gate["baseline"])
    _count(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
