"""`llmload run` around the Locust process: the preflight request before any load, signals while Locust
runs, and the partial-run marks afterwards. No Locust import here (Locust is the child process).

Signals: Locust runs in its own process group, so a terminal's Ctrl-C reaches only llmload, which turns
the first SIGINT/SIGTERM into one SIGINT for Locust: users finish the request they are in (at most
``--stop-timeout``, 120 s), the records are closed and the report is written, marked partial. A second
signal kills Locust at once (records written so far stay: they are flushed line by line).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from llmload.client.preflight_request import preflight
from llmload.errors import UsageError
from llmload.exit_codes import ExitCode, interrupted
from llmload.load.failures import TARGET_LOST
from llmload.load.request_encoder import prepare
from llmload.load.settings import LoadSettings
from llmload.load.workload_setup import first_request
from llmload.rundir import read_meta, update_meta

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_run_id(run_id: str) -> str:
    """Run ids name a folder under reports/: letters, digits, '.', '_', '-' only, never '/' or '..'.
    (``--out``/``--run-dir`` are paths the operator chooses and may point anywhere.)"""
    if not RUN_ID.match(run_id) or ".." in run_id:
        raise UsageError(f"run id {run_id!r}: only letters, digits, '.', '_' and '-' (no '/' or '..')")
    return run_id


IGNORE_EOS_HINT = (
    "; this server does not take vLLM's ignore_eos: run without --ignore-eos (answers end at EOS or at "
    "--max-tokens), or fix the length its own way with --extra-body (transformers serve: --extra-body "
    "'{\"generation_config\": \"{\\\"min_new_tokens\\\": N}\"}')"
)


SYNTHETIC_IGNORE_EOS_HINT = (
    "; this server does not take vLLM's ignore_eos: add ignore_eos=0 to the synthetic spec (output lengths then "
    "end at EOS or at their max_tokens)"
)


def run_preflight(settings: LoadSettings) -> bool:
    """One real request before any load (the settings name the model). Returns False when the target cannot
    be reached (exit 3); raises UsageError (exit 2) with the server's own message when it rejects the request
    (4xx); warns and returns True for transient failures (5xx, 429, timeouts): the run measures those."""
    host, timeouts = settings.host, settings.timeouts
    first = prepare(settings, first_request(settings))
    body = json.loads(first.body)
    try:
        result = preflight(host, body, settings.api_key, timeouts.connect_s, timeouts.first_token_s, first.path)
    except OSError as exc:
        print(f"llmload: target unreachable: {host}: {exc}", file=sys.stderr)
        return False
    if result.rejected:
        hint = ""
        if body.get("ignore_eos") and "ignore_eos" in (result.problem or ""):
            hint = IGNORE_EOS_HINT if settings.ignore_eos else SYNTHETIC_IGNORE_EOS_HINT
        raise UsageError(f"{host} rejected the run's first request (preflight, no load sent): {result.problem}{hint}")
    if result.problem:
        print(
            f"llmload: warning: preflight request failed ({result.problem}); starting the load anyway",
            file=sys.stderr,
        )
    return True


def run_locust(argv: list[str], env: dict[str, str]) -> tuple[int, str | None]:
    """Runs Locust to the end; returns (its exit code, the name of the first signal llmload got or None)."""
    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        try:
            if len(received) == 1:
                proc.send_signal(signal.SIGINT)  # Locust's Ctrl-C: a graceful stop
            else:
                os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    if threading.current_thread() is not threading.main_thread():
        return proc.wait(), None
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code, (signal.Signals(received[0]).name if received else None)


def mark_stopped(run_dir: Path, locust_rc: int, signal_name: str | None) -> str | None:
    """Adds ``stopped_reason`` to meta.json when the run did not end by its plan; returns the reason."""
    reason = None
    if signal_name:
        reason = (
            f"interrupted by {signal_name}: users finished their requests, the rest of the plan was not run"
        )
    elif locust_rc < 0:
        reason = (
            f"the load generator was killed by {signal.Signals(-locust_rc).name}; requests in flight are lost"
        )
    if reason is None:  # the generator may have stopped the run itself (target lost)
        found = read_meta(run_dir).get("stopped_reason")
        return str(found) if found else None
    if run_dir.is_dir():
        update_meta(run_dir, stopped_reason=reason)
    return reason


def exit_code(report_code: int, reason: str | None, signal_name: str | None) -> int:
    """128 + signal for an interrupted run, UNREACHABLE for a target lost mid-run, else the report's code.
    A partial run says so on stderr (its summary.json has ``complete: false`` and ``stopped_reason``)."""
    if reason:
        print(f"llmload: partial run: {reason}", file=sys.stderr)
    if signal_name:
        return interrupted(signal.Signals[signal_name])
    if reason and reason.startswith(TARGET_LOST):
        return ExitCode.UNREACHABLE
    return report_code
