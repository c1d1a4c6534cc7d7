"""A database storage shared by many workers on many machines: heartbeats and lost connections.

Optuna's RDBStorage records a heartbeat of every running trial (inside `study.optimize`), and any
process that starts a trial marks the RUNNING trials whose heartbeat is older than the grace
period FAIL (`optuna.storages.fail_stale_trials`): that works across machines, where a pid tells
nothing. `SharedRDBStorage` adds what nas needs on top:

- a stale trial gets `fail_reason` HEARTBEAT_LOST_REASON (it starts "interrupted") before it is
  marked FAIL, so `nas_cli.study.counting` leaves it out and the stale-trial callback
  (`nas_cli.study.recovery.retry_stale_trial`) retries it once with the same parameters;
- a lost connection (server restart, network down, "database is locked") is retried with
  exponential backoff; when the tries run out a `StorageUnavailable` (a NasError: one line, no
  traceback) names the storage, and later calls fail at once instead of waiting again. A write is
  retried too: if the server committed it but the answer was lost, the retry may repeat it (rare).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import time
import weakref
from contextlib import contextmanager

from optuna.storages import BaseStorage, RDBStorage

from nas_cli.errors import NasError
from nas_cli.signals import INTERRUPTED_PREFIX

HEARTBEAT_LOST_REASON = f"{INTERRUPTED_PREFIX}: process died (heartbeat lost)"
RESUME_HINT = ("the study in it is kept: run the same `nas search` again (same storage and study.name) "
               "to continue")
log = logging.getLogger("nas")
_NOT_DB_CALLS = {"check_trial_is_updatable", "remove_session", "get_heartbeat_interval",
                 "get_heartbeat_stale_trial_callback", "get_failed_trial_callback", "record_heartbeat"}
_PERMANENT = ("password authentication failed", "does not exist", "no pg_hba.conf entry",
              "unable to open database file")
_live_storages: weakref.WeakSet = weakref.WeakSet()


class StorageUnavailable(NasError):
    """The database did not answer after every retry; the study in it is untouched."""


def connection_lost(exc: BaseException | None) -> bool:
    """Whether `exc` (or what it wraps) is a lost or refused database connection: worth retrying."""
    from sqlalchemy import exc as sa_exc

    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, StorageUnavailable):
            return False
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError)):
            return not permanent(exc)
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def permanent(exc: BaseException) -> bool:
    """A refusal that no retry changes: bad password, unknown role or database."""
    text = str(exc).lower()
    return any(p in text for p in _PERMANENT)


def one_line(exc: BaseException) -> str:
    """The driver's message on one line (psycopg's span several; Optuna wraps them in its own)."""
    from sqlalchemy import exc as sa_exc

    inner, seen = exc, set()
    while inner is not None and id(inner) not in seen and not isinstance(inner, sa_exc.DBAPIError):
        seen.add(id(inner))
        inner = inner.__cause__ or inner.__context__
    if isinstance(inner, sa_exc.DBAPIError):
        inner = inner.orig if inner.orig is not None else inner
    else:
        inner = exc
    text = re.sub(r"\(Background on this error at: [^)]*\)", "", re.sub(r"\s+", " ", str(inner))).strip()
    return f"{type(inner).__name__}: {text[:300]}"


def call_with_retries(call, *args, retries: int, backoff: float, storage: str, hint: str = RESUME_HINT,
                      **kwargs):
    """`call(*args, **kwargs)`; after a lost connection wait `backoff` seconds (doubling) and try
    again, `retries` times; then StorageUnavailable naming `storage`, ending with `hint`. Other
    errors pass through."""
    for attempt in range(retries + 1):
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if not connection_lost(exc):
                raise
            last = exc
        if attempt < retries:
            time.sleep(backoff * 2 ** attempt)
    tries = f"{retries + 1} tr{'y' if retries == 0 else 'ies'}"
    raise StorageUnavailable(f"storage {storage}: no database connection after {tries} ({one_line(last)}); "
                             f"{hint}") from None


class SharedRDBStorage(RDBStorage):
    """RDBStorage that tags heartbeat-stale trials as interrupted and retries lost connections.

    Args (besides RDBStorage's):
        retries: further tries after a lost connection (0: fail at the first).
        backoff: seconds before the first retry, doubled for each next one.
        shown_url: the URL as error messages show it (password hidden).
    """

    def __init__(self, url: str, *, retries: int = 4, backoff: float = 1.0, shown_url: str | None = None,
                 **kwargs) -> None:
        self._retries, self._backoff, self._shown_url = int(retries), float(backoff), shown_url or url
        self._gave_up: StorageUnavailable | None = None
        super().__init__(url, **kwargs)
        _live_storages.add(self)

    def with_retries(self, call, *args, latch: bool = True, **kwargs):
        """`call(*args, **kwargs)`, tried again after a lost connection; StorageUnavailable at the end.
        Once the tries ran out (`latch`), later calls try once and repeat that error: a dying worker
        does not wait again in every clean-up step."""
        gave_up = self._gave_up
        try:
            result = call_with_retries(call, *args, retries=0 if gave_up else self._retries,
                                       backoff=self._backoff, storage=self._shown_url, **kwargs)
        except StorageUnavailable as exc:
            if gave_up:
                raise StorageUnavailable(str(gave_up)) from None
            if latch:
                self._gave_up = exc
            raise
        self._gave_up = None
        return result

    def record_heartbeat(self, trial_id: int) -> None:
        """Runs in Optuna's heartbeat thread: an outage is logged, not raised (the thread would die,
        and the trial would look dead to every other worker once the database is back)."""
        try:
            self.with_retries(super().record_heartbeat, trial_id, latch=False)
        except StorageUnavailable as exc:
            log.warning("heartbeat not recorded: %s", exc)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """Optuna marks these FAIL next: say why first, while the trial is still RUNNING (a finished
        trial's attributes cannot change). A reason the trial recorded itself is kept."""
        from optuna.exceptions import UpdateFinishedTrialError

        ids = self.with_retries(super()._get_stale_trial_ids, study_id)
        for trial_id in ids:
            try:
                if "fail_reason" not in self.get_trial(trial_id).user_attrs:
                    self.set_trial_user_attr(trial_id, "fail_reason", HEARTBEAT_LOST_REASON)
            except UpdateFinishedTrialError:  # it ended meanwhile, or another worker got there first
                pass
        return ids


def _retrying(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        return self.with_retries(method, self, *args, **kwargs)

    return call


# Every call of the storage interface, and the private ones Optuna's _CachedStorage (which wraps
# this storage inside every Study) calls instead; never a `*_without_commit` step inside a session.
_CACHED_STORAGE_CALLS = ("_create_new_trial", "_set_trial_param", "_get_best_trial_id", "_get_trials")
for _name in [n for n, m in vars(BaseStorage).items() if callable(m) and not n.startswith("_")] + [
        n for n in _CACHED_STORAGE_CALLS if hasattr(RDBStorage, n)]:
    if _name not in _NOT_DB_CALLS:
        setattr(SharedRDBStorage, _name, _retrying(getattr(RDBStorage, _name)))


def _forget_inherited_connections() -> None:
    """In a forked child: drop the parent's pooled connections without closing them (closing would
    end the parent's sessions on the shared sockets); the child opens its own on first use."""
    for storage in list(_live_storages):
        storage.engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_connections)


@contextmanager
def database_lock(engine, name: str, attempt=None):
    """Hold lock `name` across processes and machines while the block runs: a PostgreSQL advisory
    lock, released by the server if the holder dies. Other databases: no lock (the callers' work
    is then only safe on one machine, where they take a file lock instead). `attempt(fn)` runs the
    acquiring (e.g. `SharedRDBStorage.with_retries`)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    import sqlalchemy

    key = int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big", signed=True)

    def acquire():
        conn = engine.connect()
        try:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        except BaseException:
            conn.close()
            raise
        return conn

    conn = attempt(acquire) if attempt is not None else acquire()
    try:
        yield
    finally:
        try:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()
        except Exception:  # the connection is gone: so is the lock
            pass
        finally:
            conn.close()
