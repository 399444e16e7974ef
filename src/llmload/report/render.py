"""Jinja2 rendering of the self-contained report (autoescape on: dataset and model text is data)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

_env = Environment(
    loader=PackageLoader("llmload.report", "templates"), autoescape=select_autoescape(["html"])
)


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _when(epoch_s: Any) -> str:
    if not isinstance(epoch_s, int | float):
        return "–"
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_env.filters["num"] = _num
_env.filters["when"] = _when


def render_html(summary: dict[str, Any], meta: dict[str, Any], charts: dict[str, str]) -> str:
    template = _env.get_template("report.html.j2")
    # charts are SVG made by our own code from numbers, not from dataset or model text
    safe_charts = {k: Markup(v) for k, v in charts.items()}  # noqa: S704
    return template.render(summary=summary, meta=meta, charts=safe_charts)
