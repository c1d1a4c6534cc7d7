"""Which process runs a trial: `host:pid:start-time`, and whether such a process is still alive."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _start_ticks(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: start time, tells a reused pid apart


def worker_id() -> str:
    """host:pid:start-time of this process (saved on every trial it runs)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or ''}"


def worker_alive(worker: str) -> bool | None:
    """True/False for a worker on this host; None when it ran elsewhere (cannot tell)."""
    host, _, rest = worker.partition(":")
    pid_s, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid_s.isdigit():
        return None
    pid = int(pid_s)
    if Path("/proc").is_dir():
        now = _start_ticks(pid)
        return now is not None and (not ticks or now == ticks)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
