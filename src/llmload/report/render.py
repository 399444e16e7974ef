"""Jinja2 rendering of the self-contained report (autoescape on: dataset and model text is data).

Charts are SVG made by our own code from numbers (no dataset or model text) and are the only markup
passed through unescaped. Everything else, including error messages, plates and metadata, is escaped.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from llmload.capacity.command import format_plan
from llmload.target_time import target_time_text

# autoescape=True, not select_autoescape(["html"]): that one keys on the file name, and "report.html.j2"
# does not end in ".html", so it would leave escaping off
_env = Environment(loader=PackageLoader("llmload.report", "templates"), autoescape=True)


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _pct(value: Any, digits: int = 1) -> str:
    return "–" if not isinstance(value, int | float) else f"{value * 100:.{digits}f}%"


def _ms(value: Any) -> str:
    return "–" if not isinstance(value, int | float) else f"{value * 1000:,.1f}"


def _when(epoch_s: Any) -> str:
    if not isinstance(epoch_s, int | float):
        return "–"
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _plain(value: Any) -> str:
    """A short plain-text rendering of a value of any shape (escaped by the template afterwards)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)[:400]
    return "–" if value is None else str(value)


def _plan_text(plan: dict[str, Any] | None) -> str | None:
    if not plan:
        return None
    try:
        return format_plan(plan)
    except Exception:  # noqa: BLE001 - a plan of another shape is still shown, as JSON
        return json.dumps(plan, indent=2, ensure_ascii=False, default=str)


_env.filters.update(num=_num, when=_when, pct=_pct, ms=_ms, plain=_plain, target_time=target_time_text)


def render_html(
    summary: dict[str, Any],
    meta: dict[str, Any],
    charts: dict[str, str | None],
    plan: dict[str, Any] | None = None,
) -> str:
    template = _env.get_template("report.html.j2")
    safe_charts = {k: Markup(v) if v else None for k, v in charts.items()}  # noqa: S704 - our own SVG
    return template.render(
        summary=summary, meta=meta, charts=safe_charts, plan_text=_plan_text(plan), plan=plan
    )


def render_compare_html(result: dict[str, Any], chart: str) -> str:
    template = _env.get_template("compare.html.j2")
    return template.render(c=result, chart=Markup(chart))  # noqa: S704 - our own SVG
