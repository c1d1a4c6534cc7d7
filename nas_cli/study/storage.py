"""Where the study lives: a journal file in the run directory by default, or any Optuna storage URL."""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import ConfigError

JOURNAL_NAME = "study.journal"


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


def open_storage(spec: str):
    """Open the storage described by `spec` (as returned by `resolve_storage`)."""
    import optuna

    if "://" in spec:
        try:
            return optuna.storages.get_storage(spec)
        except Exception as exc:  # bad URL, driver missing, database down
            raise ConfigError(f"storage={spec!r} cannot be opened: {type(exc).__name__}: {exc}") from None
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = Path(spec)
    if path.is_dir():
        raise ConfigError(f"storage={spec!r} is a directory; give a journal file path or a database URL")
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(_signal_safe(JournalFileBackend)(str(path)))


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
