"""Crash-safe studies: recover trials a dead process left behind, and repair a torn journal.

See `nas_cli.study.counting` for which trials count toward `study.n_trials`. A trial that was
*interrupted* (the process died, or Ctrl-C) is recorded as FAIL with a reason starting
"interrupted" and is retried once as a new trial with the same parameters (user attributes
`retry_of` = the failed trial's number, `retries`). A trial that failed on its own (exception,
NaN loss, OOM, timeout) is not retried: the same parameters would fail again.

Two ways find a dead process's RUNNING trial: `recover_trials` when a run starts (its `worker`
attribute names a process of this host that is gone), and, on a database storage, the heartbeat
(`nas_cli.study.heartbeat`: any worker on any machine, once the trial was silent for the grace
period; Optuna then calls `retry_stale_trial`). Both retry under one lock per study (a file lock
beside a journal or SQLite file, a PostgreSQL advisory lock), so a trial is retried once.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from nas_cli.process import worker_alive
from nas_cli.signals import is_interrupted_reason

DIED_REASON = "interrupted: process died"
MAX_RETRIES = 2  # a trial whose retries keep killing the process is not retried forever
NO_OWNER_GRACE_S = 120  # a RUNNING trial with no worker attribute this old is taken as dead


_held = threading.local()  # locks this thread holds: the heartbeat callback may run inside recover_trials


@contextmanager
def _recovery_lock(spec: str | None, study):
    """One recovering process at a time per study: flock beside a journal or SQLite file (released
    if the process dies), a PostgreSQL advisory lock on a server; reentrant within a thread."""
    engine = getattr(study._storage, "engine", None)
    name = f"nas-recover:{study.study_name}"
    held = getattr(_held, "names", None) or set()
    _held.names = held
    if name in held:
        yield
        return
    held.add(name)
    try:
        path = spec if spec and "://" not in spec else None
        if engine is not None and engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            path = engine.url.database
        if engine is not None and engine.dialect.name == "postgresql":
            from nas_cli.study.heartbeat import database_lock

            with database_lock(engine, name, attempt=getattr(study._storage, "with_retries", None)):
                yield
        elif path is not None and sys.platform.startswith(("linux", "darwin")):
            with _file_lock(path + ".nas-recover.lock"):
                yield
        else:
            yield
    finally:
        held.discard(name)


@contextmanager
def _file_lock(path: str):
    import fcntl

    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def is_stale(trial, now: datetime | None = None) -> bool:
    """Whether RUNNING `trial` belongs to a process that is gone: its `worker` is a dead process of
    this host, or, with no worker recorded, it started over NO_OWNER_GRACE_S ago. A trial of
    another host is never stale here (the heartbeat of a database storage finds those)."""
    now = now or datetime.now(timezone.utc)
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
    """Mark RUNNING trials of dead processes FAIL ("interrupted: process died"; on a database with
    heartbeats also those silent for the grace period) and enqueue one retry of every interrupted
    trial not retried yet. Returns {"failed": [...], "retried": [...]}."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    from nas_cli.rundir import atomic_write_json, trial_dir

    out: dict = {"failed": [], "retried": []}
    silent = _fail_silent_trials(study)  # retried by Optuna's call of retry_stale_trial
    out["failed"] += silent
    with _recovery_lock(spec, study):
        now = datetime.now(timezone.utc)
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if not is_stale(t, now):
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
        retried = _retried(trials)
        out["retried"] += [n for n in silent if n in retried]
        for t in trials:
            if t.state == TrialState.FAIL and _enqueue_retry(study, t, retried):
                out["retried"].append(t.number)
    return out


def _fail_silent_trials(study) -> list[int]:
    """Optuna's heartbeat check, now rather than at the next trial: FAIL (and, through
    `retry_stale_trial`, retry) the trials whose heartbeat stopped. Their numbers."""
    import warnings

    import optuna
    from optuna.trial import TrialState

    from nas_cli.study.heartbeat import HEARTBEAT_LOST_REASON

    storage = study._storage
    if getattr(storage, "get_heartbeat_interval", lambda: None)() is None:
        return []
    running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    if not running:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fail_stale_trials is "experimental"
        optuna.storages.fail_stale_trials(study)
    return sorted(t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
                  if t.number in running and t.user_attrs.get("fail_reason") == HEARTBEAT_LOST_REASON)


def retry_stale_trial(study, trial) -> None:
    """Optuna's heartbeat-stale-trial callback (RDB storage): `trial`, a dead worker's trial Optuna
    has just marked FAIL, is retried once with the same parameters, as `recover_trials` does."""
    with _recovery_lock(None, study):
        _enqueue_retry(study, trial, _retried(study.get_trials(deepcopy=False)))


def _retried(trials) -> set:
    return {t.user_attrs.get("retry_of") for t in trials}


def _enqueue_retry(study, t, retried: set) -> bool:
    """Enqueue the retry of interrupted trial `t` unless it has one, or its retries used up MAX_RETRIES."""
    if t.number in retried or not is_interrupted_reason(t.user_attrs.get("fail_reason")):
        return False
    retries = int(t.user_attrs.get("retries", 0))
    if retries >= MAX_RETRIES:
        return False
    study.enqueue_trial(t.params, user_attrs={"retry_of": t.number, "retries": retries + 1})
    retried.add(t.number)
    return True


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
