"""Kernel receive stamps of socket reads (Linux SO_TIMESTAMPNS): when the data reached the machine, not when
a busy event loop got round to reading it. Used by the streaming client and the benchmarks' fake server."""

from __future__ import annotations

import socket
import struct
import sys

# asm-generic/socket.h; Python has no constant. The kernel stamps each received segment and recvmsg() hands
# back the stamp of the last one read, CLOCK_REALTIME, as a struct timespec.
SO_TIMESTAMPNS = 35 if sys.platform == "linux" else None
_TIMESPEC = struct.Struct("qq")
ANCILLARY_BYTES = socket.CMSG_SPACE(_TIMESPEC.size) if SO_TIMESTAMPNS is not None else 0


def received_wall_s(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The receive stamp (epoch seconds) in recvmsg()'s ancillary data, or None when it carries none."""
    stamp = None
    for level, kind, raw in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(raw)
            stamp = seconds + nanoseconds * 1e-9
    return stamp
