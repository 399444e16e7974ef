"""llmload inside Locust's web UI (the React UI of Locust 2.4x), through its supported extension points:

- two extra tabs ("LLM live", "LLM steps") declared in `web_ui.template_args` (extended_tabs/_tables)
  and filled by adding `extended_stats` to the /stats/requests JSON the UI polls every 2 s;
- links in the "Download Data" tab (extended_csv_files) to a live page and to the last run's report;
- Flask routes on `web_ui.app`: /llmload/ (live page), /llmload/live (JSON), /llmload/report.

The numbers come from a LiveStats fed with every recorded request (load.run_lifecycle), kept with the last
run's report state in this process's WebUiView (load.process).
Secret options (the API key) never reach the page: their defaults are blanked in the start form and a
key given on the command line moves to this process's OPENAI_API_KEY, where the run settings read it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gevent
from flask import Response, jsonify, make_response, request, send_file

from llmload.client.clock import wall_clock
from llmload.load.option_values import API_KEY_ENV
from llmload.load.process import Role, WebUiView, process_state
from llmload.rundir import REPORT_HTML, STEPS_CSV, SUMMARY

LIVE_TAB, STEPS_TAB = "llmload", "llmsteps"  # plain keys: the UI camel-cases template keys
PAGE = Path(__file__).with_name("webui_page.html")
SERVED_FILES = (REPORT_HTML, SUMMARY, STEPS_CSV)

LIVE_TABLE = [{"key": "metric", "title": "llmload"}, {"key": "value", "title": "now"}]
STEPS_TABLE = [
    {"key": "step", "title": "Step"},
    {"key": "users", "title": "Users / rate"},
    {"key": "ok", "title": "OK (steady)"},
    {"key": "failed", "title": "Failed"},
    {"key": "rps", "title": "Requests/s"},
    {"key": "tokens", "title": "Output tokens/s"},
    {"key": "ttft50", "title": "TTFT p50 (s)"},
    {"key": "ttft95", "title": "TTFT p95 (s)"},
    {"key": "e2e50", "title": "E2E p50 (s)"},
    {"key": "e2e95", "title": "E2E p95 (s)"},
]


def install(environment: Any) -> None:
    """events.init: extend the web UI when there is one (not on workers, not headless)."""
    web_ui = getattr(environment, "web_ui", None)
    if web_ui is None:
        return
    environment.events.quitting.add_listener(_on_quitting)
    _hide_secrets(environment, web_ui)
    _extend_template_args(web_ui, _base_path(environment))
    _add_routes(environment, web_ui, _base_path(environment))


def _base_path(environment: Any) -> str:
    options = environment.parsed_options
    return str(getattr(options, "web_base_path", "") or "").rstrip("/")


def _view(environment: Any) -> WebUiView:
    web = process_state(environment).web
    assert web is not None, "the web UI's view is attached with the process state (load.process.attach)"
    return web


def _on_quitting(environment: Any, **_: Any) -> None:
    _view(environment).quitting = True  # a run stopped by the shutdown builds its report before exit


def _hide_secrets(environment: Any, web_ui: Any) -> None:
    options = environment.parsed_options
    key = str(getattr(options, "api_key", "") or "")
    if key:
        os.environ[API_KEY_ENV] = key
        options.api_key = ""
    original = web_ui.update_template_args

    def update_template_args() -> None:
        original()
        for option in (web_ui.template_args.get("extra_options") or {}).values():
            if option.get("is_secret"):
                option["default_value"] = ""

    web_ui.update_template_args = update_template_args
    update_template_args()


def _extend_template_args(web_ui: Any, base: str) -> None:
    web_ui.template_args["extended_tabs"] = [
        {"title": "LLM live", "key": LIVE_TAB},
        {"title": "LLM steps", "key": STEPS_TAB},
    ]
    web_ui.template_args["extended_tables"] = [
        {"key": LIVE_TAB, "structure": LIVE_TABLE},
        {"key": STEPS_TAB, "structure": STEPS_TABLE},
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": f"{base}/llmload/", "title": "llmload live page (TTFT, tokens/s, knee so far)"},
        {"href": f"{base}/llmload/report", "title": "llmload report of the last finished run"},
        {"href": f"{base}/llmload/files/{SUMMARY}", "title": f"llmload {SUMMARY} of the last finished run"},
    ]


def _add_routes(environment: Any, web_ui: Any, base: str) -> None:
    app = web_ui.app
    auth = web_ui.auth_required_if_enabled

    @app.route(f"{base}/llmload/")
    @auth
    def llmload_page() -> Response:
        return make_response(PAGE.read_text(encoding="utf-8"))

    @app.route(f"{base}/llmload/live")
    @auth
    def llmload_live() -> Response:
        return jsonify(_clean(live_state(environment)))

    @app.route(f"{base}/llmload/report")
    @auth
    def llmload_report() -> Response:
        response: Response = llmload_file(REPORT_HTML)
        return response

    @app.route(f"{base}/llmload/files/<name>")
    @auth
    def llmload_file(name: str) -> Response:
        run_dir = _view(environment).last_run_dir
        path = None if run_dir is None or name not in SERVED_FILES else run_dir / name
        if path is None or not path.exists():
            return make_response(f"no {name} yet: it is built when a test stops\n", 404)
        return send_file(path.resolve())

    @app.after_request
    def add_llmload_stats(response: Response) -> Response:
        if request.path.endswith("/stats/requests") and response.is_json:
            data = response.get_json()
            state = live_state(environment)
            data["extended_stats"] = [
                {"key": LIVE_TAB, "data": live_rows(state)},
                {"key": STEPS_TAB, "data": step_rows(state)},
            ]
            response.set_data(json.dumps(_clean(data)))
        return response


def build_report_in_background(environment: Any, run_dir: Path) -> None:
    """test_stop with a web UI: `llmload report RUN_DIR` as a child process in a greenlet (Locust's
    gevent makes the wait cooperative), so the UI keeps answering while pandas works."""
    web = _view(environment)
    web.last_run_dir, web.report_state = run_dir, "building"

    def build() -> None:
        argv = [sys.executable, "-m", "llmload.cli", "report", str(run_dir)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        sys.stdout.write(result.stdout)
        if result.returncode == 0:
            web.report_state = "ready"
        else:
            lines = result.stderr.strip().splitlines() or [f"exit {result.returncode}"]
            web.report_state = f"failed: {lines[-1]}"
            sys.stderr.write(result.stderr)

    if web.quitting:
        build()
    else:
        gevent.spawn(build)


def live_state(environment: Any) -> dict[str, Any]:
    """The LiveStats snapshot plus what only the runner knows (state, users now, last report)."""
    process = process_state(environment)
    web = _view(environment)
    state = web.live.snapshot(wall_clock())
    runner = environment.runner
    ctx, last = process.run, web.last_run_dir
    state["runner_state"] = getattr(runner, "state", "missing")
    state["users_now"] = getattr(runner, "user_count", 0)
    state["workers"] = runner.worker_count if process.role is Role.MASTER else None
    state["step_count"] = None if ctx is None else ctx.settings.step_count
    state["step_duration_s"] = None if ctx is None else ctx.settings.step_duration_s
    state["running"] = ctx is not None
    state["last_run_dir"] = None if last is None else str(last)
    state["report_state"] = web.report_state
    state["report_ready"] = state["report_state"] == "ready"
    state["warnings"] = [] if ctx is None or ctx.recorder is None else list(ctx.recorder.warnings)
    return state


def live_rows(state: dict[str, Any]) -> list[dict[str, str]]:
    current = state.get("current") or {}
    knee = state["knee"]
    rows = [
        ("state", f"{state['runner_state']} ({'recording' if state['running'] else 'idle'})"),
        ("step", _step_text(state, current)),
        ("users now", str(state["users_now"])),
        ("TTFT p50 / p95 (step, steady)", _pair(current.get("ttft_s"))),
        ("E2E p50 / p95 (step, steady)", _pair(current.get("e2e_s"))),
        ("output tokens/s (last 10 s)", _num(state["output_tokens_per_s_now"], 1)),
        ("output tokens/s (step, steady)", _num(current.get("output_tokens_per_s"), 1)),
        ("requests/s (step, steady)", _num(current.get("rps"), 3)),
        ("requests recorded / failed", f"{state['requests']} / {state['failed']}"),
        ("knee so far", _knee_text(knee)),
        ("run directory", state["run_dir"] or "-"),
        ("report", _report_text(state)),
    ]
    rows += [("warning", text) for text in state["warnings"]]  # a step whose window held no answer
    if state["time_scale"] != 1.0:
        rows.append(("time base", f"simulated target x{state['time_scale']:g}: times in the target's base"))
    return [{"metric": name, "value": value} for name, value in rows]


def step_rows(state: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for s in state["steps"]:
        load = f"{s['rate_rps']:g}/s" if s["rate_rps"] is not None else str(s["users"])
        rows.append(
            {
                "step": f"{s['index'] + 1}" + ("" if s["finished"] else " (running)"),
                "users": load,
                "ok": str(s["requests_ok"]),
                "failed": str(s["failed"]),
                "rps": _num(s["rps"], 3),
                "tokens": _num(s["output_tokens_per_s"], 1),
                "ttft50": _num(s["ttft_s"]["p50"], 3),
                "ttft95": _num(s["ttft_s"]["p95"], 3),
                "e2e50": _num(s["e2e_s"]["p50"], 2),
                "e2e95": _num(s["e2e_s"]["p95"], 2),
            }
        )
    return rows


def _step_text(state: dict[str, Any], current: dict[str, Any]) -> str:
    if not current:
        return "-"
    total = state["step_count"] or "?"
    load = f"rate {current['rate_rps']:g}/s" if current["rate_rps"] is not None else f"{current['users']} users"
    return f"{current['index'] + 1}/{total}: {load}, {current['elapsed_s']:.0f} s in"


def _knee_text(knee: dict[str, Any]) -> str:
    if knee["users"] is None:
        return f"not yet ({knee['reason'] or 'no closed-loop steps'})"
    return (
        f"{knee['users']} users ({knee['rps']:.3f} req/s), limit {knee['limit_users']} users, "
        f"from {knee['finished_steps']} finished steps"
    )


def _report_text(state: dict[str, Any]) -> str:
    if state["report_ready"]:
        return f"Download Data tab, or /llmload/report ({state['last_run_dir']}/report.html)"
    if state["report_state"] and state["running"] is False:
        return f"{state['report_state']} ({state['last_run_dir']})"
    return "built when the test stops (Download Data tab, or /llmload/report)"


def _pair(values: dict[str, float | None] | None) -> str:
    if not values:
        return "-"
    return f"{_num(values.get('p50'), 3)} / {_num(values.get('p95'), 3)} s"


def _num(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def _clean(value: Any) -> Any:
    """JSON without NaN/inf (the browser's JSON.parse rejects them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
