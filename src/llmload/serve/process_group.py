"""A child started in its own session leads a process group (vLLM and its engine-core workers): whether a
process or group still exists, and stopping the whole group so that no worker is left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from typing import Any


def exists(pid: Any, group: bool = False) -> bool:
    """Whether a process (``group``: a process group) with this id exists; one we may not signal does."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_group(proc: subprocess.Popen[bytes], grace_s: float) -> int:
    """SIGTERM the group ``proc`` leads, SIGKILL what is left after ``grace_s``; returns the leader's exit
    status once no member of the group is left."""
    pgid = proc.pid  # start_new_session: the group id is the leader's pid
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        proc.poll()
        if proc.returncode is not None and not exists(pgid, group=True):
            break
        time.sleep(0.1)
    else:
        signal_group(pgid, signal.SIGKILL)
    code = proc.wait()
    while exists(pgid, group=True):  # SIGKILLed members vanish within moments
        signal_group(pgid, signal.SIGKILL)
        time.sleep(0.05)
    return code
