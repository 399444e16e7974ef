"""`llmload import jmx PLAN --out run.toml`: a JMeter test plan becomes a run.toml for `llmload run --config`
and, beside it, the request bodies as a chat dataset (NAME.chat.jsonl).

Mapped: the thread group holding the first HTTP Request (jmx_threads), that request's server and path
(jmx_http), its JSON body with the CSV Data Set variables (jmx_body), user-defined variables. Everything
else is listed on stdout and as comments in run.toml: llmload cannot do it as the plan did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmload.errors import UsageError
from llmload.jmeter.jmx_body import chat_bodies
from llmload.jmeter.jmx_http import csv_rows, header_notes, http_request
from llmload.jmeter.jmx_threads import THREAD_GROUPS, user_steps
from llmload.jmeter.jmx_tree import PlanElement, plan_variables, read_plan, substitute

MAPPED = ("TestPlan", "Arguments", "HeaderManager", "CSVDataSet")
# testclass fragment -> why it is not mapped (first match wins)
NOT_MAPPED = (
    ("Assertion", "assertions are not run (llmload records each request's status, stream errors and timeouts)"),
    ("Timer", "timers are not mapped (llmload's users send the next request when the last ends; --rate paces arrivals)"),
    ("Extractor", "llmload extracts nothing from answers"),
    ("Processor", "pre- and post-processors are not run"),
    ("ThreadGroup", "only the thread group holding the HTTP Request is mapped"),
    ("Sampler", "only one sampler, the chat completion's HTTP Request, is mapped"),
    ("TestAction", "only one sampler, the chat completion's HTTP Request, is mapped"),
    ("Controller", "logic controllers are not mapped (the HTTP Request inside is used as if directly in the group)"),
    ("ResultCollector", "listeners are not needed (llmload writes records.jsonl and its own report)"),
    ("Summariser", "listeners are not needed (llmload writes records.jsonl and its own report)"),
    ("Listener", "listeners are not needed (llmload writes records.jsonl and its own report)"),
    ("AuthManager", "credentials are not copied (give a key with --api-key or OPENAI_API_KEY)"),
)


@dataclass
class JmxImport:
    config_path: Path
    dataset_path: Path
    rows: int
    unmapped: list[str]


def import_jmx(plan_path: Path, config_path: Path) -> JmxImport:
    elements = read_plan(plan_path)
    dataset_path = config_path.with_name(config_path.stem + ".chat.jsonl")
    try:
        options, rows, unmapped = convert(elements, plan_path.parent)
    except UsageError as exc:
        raise UsageError(f"{plan_path}: {exc}") from None
    options.update(dataset=str(dataset_path), dataset_format="chat")
    config_path.parent.mkdir(parents=True, exist_ok=True)
    with dataset_path.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    config_path.write_text(toml_text(options, unmapped, plan_path), encoding="utf-8")
    return JmxImport(config_path, dataset_path, len(rows), unmapped)


def convert(elements: list[PlanElement], plan_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """(run options, dataset rows, what was not mapped) of a plan's elements."""
    variables = plan_variables(elements)
    enabled = [e for e in elements if e.enabled]
    sampler = next((e for e in enabled if e.testclass == "HTTPSamplerProxy"), None)
    if sampler is None:
        raise UsageError("the plan has no enabled HTTP Request (HTTPSamplerProxy) to take the chat completion from")
    position = elements.index(sampler)
    group = next((e for e in reversed(elements[:position]) if e.enabled and e.testclass in THREAD_GROUPS), None)
    if group is None:
        raise UsageError("the HTTP Request is not in a Thread Group, Stepping or Concurrency Thread Group")
    defaults = [e for e in enabled if e.testclass == "ConfigTestElement" and e.node.get("guiclass") == "HttpDefaultsGui"]
    request = http_request(sampler, defaults)
    host, unresolved = substitute(request.host, variables)
    if unresolved:
        raise UsageError(f"the HTTP Request's server {', '.join(sorted(unresolved))} is not a variable of the plan")
    steps = user_steps(group, variables)
    bodies = chat_bodies(request.body, variables, _data_rows(enabled, plan_dir))
    options: dict[str, Any] = {"host": host, **bodies.options, "users": steps.levels}
    if steps.step_s:
        options["step_duration"] = f"{steps.step_s:g}s"
    used = {id(sampler), id(group), *(id(e) for e in defaults)}
    notes = steps.notes + request.notes + header_notes([e for e in enabled if e.testclass == "HeaderManager"])
    return options, bodies.rows, notes + bodies.notes + _element_notes(elements, used)


def _data_rows(enabled: list[PlanElement], plan_dir: Path) -> list[dict[str, str]]:
    """The CSV Data Sets read side by side (each advances once per request; a shorter one starts over)."""
    sets = [csv_rows(e, plan_dir) for e in enabled if e.testclass == "CSVDataSet"]
    sets = [rows for rows in sets if rows]
    longest = max((len(rows) for rows in sets), default=0)
    merged: list[dict[str, str]] = []
    for i in range(longest):
        row: dict[str, str] = {}
        for rows in sets:
            row.update(rows[i % len(rows)])
        merged.append(row)
    return merged


def _element_notes(elements: list[PlanElement], used: set[int]) -> list[str]:
    notes = []
    for e in elements:
        if id(e) in used or e.enabled and e.testclass in MAPPED:
            continue
        label = f"{e.testclass} '{e.name}'"
        if not e.enabled and e.node.get("enabled") == "false":  # (what it holds is not listed again)
            notes.append(f"{label}: disabled in the plan, ignored with all it holds")
        elif not e.enabled:
            continue
        else:
            notes.append(f"{label}: " + next((why for part, why in NOT_MAPPED if part in e.testclass), "not mapped"))
    return notes


def toml_text(options: dict[str, Any], unmapped: list[str], plan_path: Path) -> str:
    lines = [f"# written by `llmload import jmx` from {_comment(str(plan_path))}", "# run it: llmload run --config THIS_FILE"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in options.items()]
    if "step_duration" not in options:
        lines.append("# step_duration: not in the plan (it runs by loop count): llmload's default applies")
    if unmapped:
        lines += ["", "# not mapped from the plan (llmload does not do these as the plan did):"]
        lines += [f"# - {_comment(note)}" for note in unmapped]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # TOML basic strings take JSON's escapes; numbers alike


def _comment(text: str) -> str:
    return " ".join(text.split())
