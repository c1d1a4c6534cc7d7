"""Crash-safe studies: recover trials a dead process left behind, and repair a torn journal.

See `nas_cli.study.counting` for which trials count toward `study.n_trials`. A trial that was
*interrupted* (the process died, or Ctrl-C) is recorded as FAIL with a reason starting
"interrupted" and is retried once as a new trial with the same parameters (user attribute
`retry_of`). A trial that failed on its own (exception, NaN loss, OOM, timeout) is not retried:
the same parameters would fail again.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from nas_cli.process import worker_alive
from nas_cli.signals import is_interrupted_reason

DIED_REASON = "interrupted: process died"
MAX_RETRIES = 2  # a trial whose retries keep killing the process is not retried forever
NO_OWNER_GRACE_S = 120  # a RUNNING trial with no worker attribute this old is taken as dead


@contextmanager
def _recovery_lock(spec: str):
    """One recovering process at a time per journal file (flock: released if the process dies)."""
    if "://" in spec or not sys.platform.startswith(("linux", "darwin")):
        yield
        return
    import fcntl

    with open(spec + ".nas-recover.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def is_stale(trial, now: datetime | None = None) -> bool:
    """Whether a RUNNING trial belongs to a process known to be dead (or has no owner for too long)."""
    return _is_stale(trial, now or datetime.now(timezone.utc))


def _is_stale(trial, now: datetime) -> bool:
    worker = trial.user_attrs.get("worker")
    if worker:
        return worker_alive(worker) is False
    started = trial.datetime_start
    if started is None:
        return True
    if started.tzinfo is None:
        started = started.astimezone()  # Optuna's journal gives naive local times
    return (now - started).total_seconds() > NO_OWNER_GRACE_S


def recover_trials(study, spec: str, run_dir: Path) -> dict:
    """Mark RUNNING trials of dead processes FAIL ("interrupted: process died") and enqueue one retry
    of every interrupted trial not retried yet. Returns {"failed": [...], "retried": [...]}."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    from nas_cli.rundir import atomic_write_json, trial_dir

    out: dict = {"failed": [], "retried": []}
    with _recovery_lock(spec):
        now = datetime.now(timezone.utc)
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if not _is_stale(t, now):
                continue
            try:
                study._storage.set_trial_user_attr(t._trial_id, "fail_reason", DIED_REASON)
                study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            except UpdateFinishedTrialError:  # another process got there first
                continue
            out["failed"].append(t.number)
            tdir = trial_dir(run_dir, t.number)
            if tdir.is_dir():
                atomic_write_json(tdir / "result.json", {"state": "FAIL", "reason": DIED_REASON})
        trials = study.get_trials(deepcopy=False)
        retried = {t.user_attrs.get("retry_of") for t in trials}
        for t in trials:
            if (t.state != TrialState.FAIL or t.number in retried
                    or not is_interrupted_reason(t.user_attrs.get("fail_reason"))):
                continue
            retries = int(t.user_attrs.get("retries", 0))
            if retries >= MAX_RETRIES:
                continue
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number, "retries": retries + 1})
            out["retried"].append(t.number)
    return out


def repair_journal(spec: str) -> bool:
    """Drop a torn last record (no newline: the writer died mid-append) before anything is appended
    after it, which would make the whole journal unreadable. The torn bytes are kept beside it."""
    path = Path(spec)
    if "://" in spec or not path.is_file() or path.stat().st_size == 0:
        return False
    from optuna.storages.journal import JournalFileSymlinkLock

    from nas_cli.rundir import atomic_write_bytes

    lock = JournalFileSymlinkLock(str(path))  # the lock Optuna's writers hold while appending
    lock.acquire()
    try:
        with open(path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - 1))
            if fh.read(1) == b"\n":
                return False
            fh.seek(max(0, size - (1 << 20)))
            tail = fh.read()
            cut = size - len(tail) + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
            fh.seek(cut)
            torn = fh.read()
            atomic_write_bytes(f"{spec}.torn-{int(time.time())}", torn)
            fh.truncate(cut)
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        lock.release()
    return True
