"""`hardware.n_jobs > 1`: trials in separate worker processes that share the study storage.

On Linux a CPU worker is forked from the parent: torch already imported and warm, and the data
the parent loaded shared copy-on-write (one copy in memory, not one per worker), no start-up
cost. Elsewhere, after CUDA was initialised (a forked child cannot use it), or with
NAS_WORKER_START=spawn, it is `python -m nas_cli.study.workers RUN_DIR INDEX N_TRIALS`, which loads
the data itself. Either way it opens the study with its own sampler seed and runs trials with
cores / n_jobs threads (two single-threaded workers beat one two-threaded on 2 cores:
FACTS.md). The parent only watches the
storage, reports each finished trial, then fine-tunes and exports. Ctrl-C reaches the workers,
whose running trials are recorded as FAIL; a trial left RUNNING by a worker that died is marked
FAIL with the reason, so every trial is accounted for.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from nas_cli.errors import NasError
from nas_cli.study.workers import start_worker, stop_workers

POLL_SECONDS = 0.5


def worker_caps(n: int, n_jobs: int) -> list[int]:
    """Each worker may run up to all `n` trials: they pull from one pool (the study's total, checked
    through the shared storage by `StudyTotal` after every trial), so a worker that drew fast trials
    takes more of them instead of idling while a fixed share of slow ones runs on the other worker."""
    return [n] * max(0, min(n_jobs, n))


def worker_gpus(n: int, ctx) -> list[str | None]:
    """One GPU per worker on CUDA (round robin over the visible ones); None on other devices."""
    from nas_cli.hardware import gpu_assignment, visible_gpus

    device = getattr(getattr(ctx, "device", None), "type", None)
    return gpu_assignment(n, visible_gpus() if device == "cuda" else [])


def run_workers(study, run_dir: Path, n_run: int, n_jobs: int, threads: int, reporter, budget=None,
                ctx=None, joined_at: int | None = None) -> None:
    """Start `n_jobs` workers over `n_run` trials, report progress from the storage, wait for all.
    `ctx` (the parent's prepared trial context) is handed to forked workers instead of preparing again;
    `joined_at` (the parent's join index in the study) and the worker index derive each worker's sampler stream."""
    from optuna.trial import TrialState

    from nas_cli import signals
    from nas_cli.study.streams import JOINED_AT_ENV

    joined = 0 if joined_at is None else int(joined_at)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "NAS_WORKER_THREADS": str(threads), JOINED_AT_ENV: str(joined)}
    shares = worker_caps(n_run, n_jobs)
    procs, logs = [], []
    finished_states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    seen = {t.number for t in study.get_trials(deepcopy=False, states=finished_states)}
    try:
        gpus = worker_gpus(len(shares), ctx)
        for i, share in enumerate(shares):
            log_path = run_dir / f"worker_{i}.log"
            logs.append(log_path)
            own = env if gpus[i] is None else {**env, "CUDA_VISIBLE_DEVICES": gpus[i]}
            procs.append(start_worker(run_dir, i, share, log_path, own, ctx))
        reporter.info(f"parallel: {len(procs)} worker process(es) x {threads} thread(s) sharing {n_run} trial(s)")
        forwarded = False
        while True:
            if signals.stop_requested() and not forwarded:  # first Ctrl-C/SIGTERM: workers finish their epoch
                forwarded = True
                for p in procs:
                    if p.poll() is None:
                        p.send_signal(signal.SIGINT)
            alive = [p for p in procs if p.poll() is None]
            for t in study.get_trials(deepcopy=False, states=finished_states):
                if t.number not in seen:
                    seen.add(t.number)
                    reporter.trial_done(study, t)
                    if budget is not None:
                        _check_budget(budget, study, t, procs)
            if not alive:
                break
            _sleep_while_alive(procs, POLL_SECONDS)
    except KeyboardInterrupt:
        stop_workers(procs)
        close_orphans(study)
        raise
    orphans = close_orphans(study)
    import torch

    torch.set_num_threads(max(1, threads * n_jobs))  # fine-tune and export in the parent get every core again
    bad = [(i, p.returncode) for i, p in enumerate(procs) if p.returncode not in (0, 130)]
    if bad:
        tails = "; ".join(f"worker {i} exit {rc}: {_tail(logs[i])}" for i, rc in bad)
        reporter.warn(f"parallel: {len(bad)} worker(s) failed ({orphans} trial(s) closed as FAIL): {tails}")
        if all(p.returncode != 0 for p in procs) and not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            raise NasError(f"all workers failed; see {logs[0]}: {tails}")


def _sleep_while_alive(procs, seconds: float, step: float = 0.02) -> None:
    """Sleep up to `seconds` (the progress-reporting period), but return as soon as every worker has
    exited or a stop is requested: the run does not idle up to a whole period after its last trial."""
    from nas_cli import signals

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if signals.stop_requested() or all(p.poll() is not None for p in procs):
            return
        time.sleep(step)


def _check_budget(budget, study, trial, procs) -> None:
    """The study's failure budget, applied from the parent: a tripped budget stops every worker."""
    try:
        budget(study, trial)
    except RuntimeError:  # study.stop() outside optimize(); `tripped` is already set
        pass
    if budget.tripped:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)


def close_orphans(study) -> int:
    """Mark trials still RUNNING (every worker has exited) as FAIL: interrupted, so resume retries them."""
    from optuna.trial import TrialState

    from nas_cli.study.recovery import DIED_REASON

    reason = DIED_REASON
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(t._trial_id, "fail_reason", reason)
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        n += 1
    return n


def _tail(path: Path, n: int = 400) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n:].strip().replace("\n", " | ")
    except OSError:
        return "(no log)"
