"""Where the study lives: a journal file in the run directory by default, or any Optuna storage URL.

A database URL (`postgresql://user:pw@host:5432/db`, `sqlite:///nas.db`, ...) opens a
`nas_cli.study.heartbeat.SharedRDBStorage`: one study for many workers on many machines. Its
heartbeat is on by default, for SQLite too (it works there for processes on one machine sharing the
file): a running trial records a heartbeat every HEARTBEAT_INTERVAL_S seconds, and a trial silent for
GRACE_PERIOD_S is taken as dead (FAIL, "interrupted: process died (heartbeat lost)") and retried once
with the same parameters by whichever worker starts a trial next. Environment overrides:
NAS_HEARTBEAT_INTERVAL (0: heartbeat off), NAS_GRACE_PERIOD, NAS_STORAGE_RETRIES, NAS_STORAGE_BACKOFF
(seconds before the first retry of a lost connection, doubled for each next one).
"""

from __future__ import annotations

import os
from pathlib import Path

from nas_cli.errors import ConfigError, NasError

JOURNAL_NAME = "study.journal"
HEARTBEAT_INTERVAL_S = 30  # a heartbeat costs one small write: cheap at this rate even with many workers
GRACE_PERIOD_S = 120  # longer than any pause of a live worker (a slow epoch start, a GC, a busy database)
STORAGE_RETRIES = 4  # a lost connection is tried 4 more times: 1 + 2 + 4 + 8 = 15 s of waiting
STORAGE_BACKOFF_S = 1.0
CONNECT_TIMEOUT_S = 10  # an unreachable host fails in seconds, not after the system's TCP timeout


def resolve_storage(storage: str | None, run_dir: Path) -> str:
    """Return a storage spec string: an Optuna URL, or an absolute journal-file path."""
    if storage is None or str(storage).strip() == "":
        return str((run_dir / JOURNAL_NAME).resolve())
    storage = str(storage)
    if "://" in storage:
        return storage
    return str(Path(storage).expanduser().resolve())


def storage_of(run_dir: Path, settings: dict) -> str | None:
    """The storage the run used; None for the default journal inside RUN_DIR (wherever RUN_DIR now is)."""
    import json

    configured = settings.get("storage")
    if configured is None or not str(configured).strip():
        return None
    if "://" in str(configured):
        return str(configured)
    try:  # a file path was resolved against the directory `nas search` ran in: summary.json has it
        recorded = json.loads((run_dir / "summary.json").read_text(encoding="utf-8")).get("storage")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded and Path(str(recorded)).is_file():
        return str(recorded)
    path = Path(str(configured)).expanduser()
    return str(path if path.is_absolute() else (run_dir / path).resolve())


def open_storage(spec: str, *, heartbeat_interval: int | None = None, grace_period: int | None = None,
                 retries: int | None = None, backoff: float | None = None):
    """Open the storage described by `spec` (as returned by `resolve_storage`).

    For a database URL the other arguments override the defaults and the environment (see the
    module docstring); a journal file ignores them.
    """
    if "://" in spec:
        return _open_database(spec, heartbeat_settings(heartbeat_interval, grace_period),
                              _env_int("NAS_STORAGE_RETRIES", STORAGE_RETRIES, retries, minimum=0),
                              _env_float("NAS_STORAGE_BACKOFF", STORAGE_BACKOFF_S, backoff))
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = Path(spec)
    if path.is_dir():
        raise ConfigError(f"storage={spec!r} is a directory; give a journal file path or a database URL")
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(_signal_safe(JournalFileBackend)(str(path)))


def database_url(url: str) -> str:
    """The SQLAlchemy URL for a storage URL: a plain `postgresql://` (or Heroku-style `postgres://`)
    URL is rewritten to `postgresql+psycopg://` when psycopg 3 is importable (`pip install
    'nas-cli[postgres]'`): SQLAlchemy alone would look for psycopg2, and rejects `postgres://`.
    Every other URL, and one naming its driver (`postgresql+psycopg2://`), is used as given."""
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return ("postgresql+psycopg" if importlib.util.find_spec("psycopg") else "postgresql") + sep + rest
    return url


def shown_url(url: str) -> str:
    """`url` with its password hidden, for messages."""
    import re

    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def heartbeat_settings(interval: int | None = None, grace: int | None = None) -> tuple[int | None, int | None]:
    """(heartbeat_interval, grace_period) in seconds: arguments, else NAS_HEARTBEAT_INTERVAL and
    NAS_GRACE_PERIOD, else the defaults; (None, None) when the interval is 0 (heartbeat off)."""
    interval = _env_int("NAS_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL_S, interval, minimum=0)
    if interval == 0:
        return None, None
    grace = _env_int("NAS_GRACE_PERIOD", max(GRACE_PERIOD_S, 2 * interval), grace, minimum=1)
    if grace <= interval:
        raise ConfigError(f"grace period {grace} s must be longer than the heartbeat interval {interval} s "
                          "(NAS_GRACE_PERIOD, NAS_HEARTBEAT_INTERVAL): live trials would be taken as dead")
    return interval, grace


def _env_int(name: str, default: int, given: int | None, minimum: int) -> int:
    raw = os.environ.get(name, "").strip() if given is None else given
    if raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={raw!r}: expected a whole number of seconds (or tries)") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def _env_float(name: str, default: float, given: float | None) -> float:
    raw = os.environ.get(name, "").strip() if given is None else given
    if raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={raw!r}: expected seconds") from None
    if not value >= 0:
        raise ConfigError(f"{name}={raw!r}: must be at least 0")
    return value


def _open_database(spec: str, heartbeat: tuple[int | None, int | None], retries: int, backoff: float):
    """A SharedRDBStorage on `spec`, its tables created under a database lock (workers starting at
    once on an empty PostgreSQL database would otherwise race on CREATE TABLE)."""
    import inspect
    import warnings

    import sqlalchemy
    from optuna.storages import RDBStorage

    from nas_cli.study.heartbeat import SharedRDBStorage, call_with_retries, database_lock, one_line
    from nas_cli.study.recovery import retry_stale_trial

    url, shown = database_url(spec), shown_url(spec)
    try:
        parsed = sqlalchemy.engine.make_url(url)
        parsed.get_dialect()
    except ImportError as exc:
        raise ConfigError(f"storage={shown!r} needs a database driver ({exc}); for PostgreSQL: "
                          "pip install 'nas-cli[postgres]'") from None
    except Exception as exc:  # not a URL, or a dialect SQLAlchemy does not know
        raise ConfigError(f"storage={shown!r} is not a database URL SQLAlchemy can open "
                          f"({type(exc).__name__}: {exc})") from None
    engine_kwargs: dict = {"pool_pre_ping": True}  # a connection the server dropped is replaced, not used
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    interval, grace = heartbeat
    kwargs = {"engine_kwargs": engine_kwargs, "retries": retries, "backoff": backoff, "shown_url": shown,
              "heartbeat_interval": interval, "grace_period": grace}
    if interval is not None:  # Optuna 4.9 renamed the callback argument
        callback_arg = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback"
                        in inspect.signature(RDBStorage.__init__).parameters else "failed_trial_callback")
        kwargs[callback_arg] = retry_stale_trial

    def create():
        lock_engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool,
                                               connect_args=engine_kwargs.get("connect_args", {}))
        try:
            with database_lock(lock_engine, "nas-create-tables"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeat_interval is an "experimental" argument
                return SharedRDBStorage(url, **kwargs)
        finally:
            lock_engine.dispose()

    try:
        return call_with_retries(create, retries=retries, backoff=backoff, storage=shown,
                                 hint="is the database server running and reachable from here?")
    except NasError:
        raise
    except Exception as exc:  # refused for good (password, unknown database), or an incompatible schema
        raise ConfigError(f"storage={shown!r} cannot be opened: {one_line(exc)}") from None


def _signal_safe(backend_cls):
    """The journal backend with SIGINT/SIGTERM held back while it appends: Optuna takes a lock file,
    writes and releases it in several steps, and a second Ctrl-C (KeyboardInterrupt at the next
    bytecode) landing between them left the lock half released. Held back, the signal arrives right
    after the append, outside the lock, and stops the run at once all the same."""
    from nas_cli.signals import held

    class SignalSafeJournalFileBackend(backend_cls):
        def append_logs(self, logs):
            with held():
                super().append_logs(logs)

    return SignalSafeJournalFileBackend
