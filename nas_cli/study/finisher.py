"""Fine-tune and export once per study, whichever process ends it.

With the default storage (a journal inside the run directory) the run's own process always
finishes. On a shared storage (a database URL, or a journal file several `nas search` processes
point at, on one machine or many) the process that ends its search when no trial of the study
is still running (the study holds its `study.n_trials`, or its time is up) claims the study's single finish slot (a
user attribute `nas_finish:0:<id>`) and fine-tunes and exports; a process that ends earlier, or
that loses the claim, says who finishes instead of exporting twice. `nas export RUN_DIR` re-exports
by hand at any time.
"""

from __future__ import annotations

from pathlib import Path


def shared_storage(spec: str, run_dir: Path) -> bool:
    """Whether other processes may work on this study: anything but the journal inside RUN_DIR."""
    if "://" in spec:
        return True
    try:
        return Path(spec).resolve().parent != Path(run_dir).resolve()
    except OSError:
        return True


def finish_decision(study, n_total: int, run_dir: Path) -> str | None:
    """None when this process should fine-tune and export; otherwise the reason it does not."""
    from optuna.trial import TrialState

    from nas_cli.study.counting import counted_trials
    from nas_cli.study.recovery import is_stale
    from nas_cli.study.streams import claim_slot

    running = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if not is_stale(t)]
    if running:
        return (f"other processes are still working on study {study.study_name!r} ({counted_trials(study)} of "
                f"{n_total} trials counted, trials {running} running); the one that ends it fine-tunes and "
                "exports (or: nas export RUN_DIR)")
    _, winner = claim_slot(study, "nas_finish", only_first=True)
    if winner is not None:
        return (f"study {study.study_name!r} is already being fine-tuned and exported by process "
                f"{winner.get('pid')} on {winner.get('host')}; nothing to do here")
    study.set_user_attr("nas_finished_by", {"run_dir": str(Path(run_dir).resolve())})
    return None


def top_up(study, n_total: int, run_more) -> int:
    """On a storage with heartbeats, wait while other processes' trials are still running; a dead
    worker's trial is failed once its grace period passes (its retry enqueued), and `run_more(n)`
    runs what the study then still lacks, so the study ends with its `study.n_trials`. Returns how
    many trials were run here. A journal storage returns at once (its recovery runs at start-up)."""
    import time

    from optuna.storages import fail_stale_trials
    from optuna.storages._heartbeat import is_heartbeat_enabled
    from optuna.trial import TrialState

    from nas_cli.study.counting import counted_trials

    storage = study._storage
    if not is_heartbeat_enabled(storage):
        return 0
    backend = getattr(storage, "_backend", storage)  # Optuna wraps an RDB storage in a cache
    interval = float(getattr(backend, "heartbeat_interval", None) or 30)
    grace = float(getattr(backend, "grace_period", None) or 2 * interval)
    deadline, ran = time.monotonic() + 2 * grace + 10 * interval, 0
    while time.monotonic() < deadline:
        fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        missing = n_total - counted_trials(study)
        if missing <= 0 and not waiting:
            return ran
        if running:
            time.sleep(min(interval, 2.0))
            continue
        n = max(missing, waiting)
        run_more(n)
        ran += n
    return ran
