"""Crash-safe studies: recover trials a dead process left behind, count the study's total, `nas resume`.

Counting rule: `study.n_trials` is the number of finished trials the study should hold (COMPLETE,
PRUNED or FAIL), over every call and every worker. A trial that was *interrupted* (the process died,
or Ctrl-C) is recorded as FAIL with a reason starting "interrupted", does not count toward
`study.n_trials` nor toward `study.max_failure_rate`, and is retried once as a new trial with the same
parameters (user attribute `retry_of`). A trial that failed on its own (exception, NaN loss, OOM,
timeout) counts and is not retried: the same parameters would fail again.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from nas_cli.errors import ConfigError, NasError
from nas_cli.signals import is_interrupted_reason

DIED_REASON = "interrupted: process died"
MAX_RETRIES = 2  # a trial whose retries keep killing the process is not retried forever
NO_OWNER_GRACE_S = 120  # a RUNNING trial with no worker attribute this old is taken as dead


# -- which process runs a trial ---------------------------------------------------------------
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


# -- counting ---------------------------------------------------------------------------------
def counted(trial) -> bool:
    """Whether a finished trial counts toward study.n_trials and the failure rate."""
    from optuna.trial import TrialState

    if trial.state == TrialState.FAIL:
        return not is_interrupted_reason(trial.user_attrs.get("fail_reason"))
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED)


def counted_trials(study) -> int:
    return sum(counted(t) for t in study.get_trials(deepcopy=False))


class StudyTotal:
    """Optuna callback: stop once counted + still-running trials (any worker) reach study.n_trials."""

    def __init__(self, n_trials: int) -> None:
        self.n_trials = n_trials

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        if sum(counted(t) for t in trials) + running >= self.n_trials:
            study.stop()


# -- recovery ---------------------------------------------------------------------------------
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


# -- nas resume RUN_DIR -----------------------------------------------------------------------
USAGE = "usage: nas resume RUN_DIR [key=value ...]   (e.g. nas resume runs/2026-... study.n_trials=50)"


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


def apply_overrides(settings: dict, overrides: list[str]) -> dict:
    """`key=value` on existing keys only (the run's config is already resolved)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(settings)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like key=value (e.g. study.n_trials=50)")
        missing = OmegaConf.select(cfg, key, default="__missing__") == "__missing__"
        if missing and not _in_current_defaults(key):
            raise ConfigError(f"override {item!r}: no config key {key!r} in this run")
        try:
            parsed = OmegaConf.to_container(OmegaConf.from_dotlist([item]))
            # A key this version of nas knows but the run's config predates is added (merge=True creates it).
            OmegaConf.update(cfg, key, OmegaConf.select(OmegaConf.create(parsed), key), merge=missing)
        except Exception as exc:
            raise ConfigError(f"override {item!r} cannot be applied: {exc}") from None
    return OmegaConf.to_container(cfg)


def _in_current_defaults(key: str) -> bool:
    """Whether `key` is in this version's default config: a run made before the key existed can still set it."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from nas_cli.search import register_resolvers

    register_resolvers()
    with initialize_config_module(config_module="nas_cli.configs", version_base="1.3"):
        cfg = compose(config_name="config")
    return OmegaConf.select(cfg, key, default="__missing__") != "__missing__"


def _log_to_run_dir(run_dir: Path):
    import logging

    handler = logging.FileHandler(run_dir / "nas.log", mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    return handler


def resume_command(args: list[str]) -> int:
    """`nas resume RUN_DIR [key=value ...]`: continue the run's study in the same run directory."""
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if not args or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        from nas_cli.commands import load_run

        run_dir, settings = load_run(args[0])
        settings = apply_overrides(settings, args[1:])
        from nas_cli.validate import validate

        validate(settings)  # a bad override is a clear ConfigError before anything is opened
        from nas_cli.storage import resolve_storage

        settings["storage"] = storage_of(run_dir, settings)
        spec = resolve_storage(settings["storage"], run_dir)
        if "://" not in spec and not Path(spec).is_file():
            print(f"note: {spec} does not exist yet: the study starts from its first trial", file=sys.stderr)
        elif _complete(run_dir, settings):
            return 0
        import logging

        from omegaconf import OmegaConf

        from nas_cli.study import run_study

        handler = _log_to_run_dir(run_dir)
        try:
            return run_study(OmegaConf.create(settings), run_dir)
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
    except NasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        return unexpected_failure(exc, args[0])


def _complete(run_dir: Path, settings: dict) -> bool:
    """A finished run with nothing left to do: say so instead of fine-tuning and exporting again."""
    import json

    try:
        status = json.loads((run_dir / "summary.json").read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return False
    if status != "completed":
        return False
    import optuna

    from nas_cli.storage import open_storage, resolve_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec = resolve_storage(settings["storage"], run_dir)
    try:
        study = optuna.load_study(study_name=str(settings["study"]["name"]), storage=open_storage(spec))
    except KeyError:
        return False
    except (ValueError, UnicodeDecodeError) as exc:  # same wording as nas_cli.study.open_study
        raise NasError(f"storage {spec} cannot be read ({type(exc).__name__}: {exc}); "
                       "restore it from a backup or start a new study") from None
    have, want = counted_trials(study), int(settings["study"]["n_trials"])
    if have < want:
        return False
    print(f"nothing to resume: {run_dir} is complete ({have} of study.n_trials={want} trials); "
          f"to run more: nas resume {run_dir} study.n_trials={want + 10}")
    return True


def unexpected_failure(exc: BaseException, run_dir: str | Path | None = None) -> int:
    """A bug or environment failure in a subcommand: one clear line on stderr, the traceback in the log."""
    import traceback

    where = ""
    if run_dir is not None and Path(run_dir).is_dir():
        try:
            with open(Path(run_dir) / "nas.log", "a", encoding="utf-8") as fh:
                fh.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}][nas][ERROR] unexpected failure\n"
                         f"{traceback.format_exc()}\n")
            where = f" (traceback in {Path(run_dir) / 'nas.log'})"
        except OSError:
            pass
    print(f"error: unexpected failure: {type(exc).__name__}: {exc}{where}", file=sys.stderr, flush=True)
    return 1
