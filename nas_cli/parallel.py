"""`hardware.n_jobs > 1`: trials in separate worker processes that share the study storage.

On Linux a CPU worker is forked from the parent: torch already imported and warm, and the data
the parent loaded shared copy-on-write (one copy in memory, not one per worker), no start-up
cost. Elsewhere, after CUDA was initialised (a forked child cannot use it), or with
NAS_WORKER_START=spawn, it is `python -m nas_cli.parallel RUN_DIR INDEX N_TRIALS`, which loads
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
import subprocess
import sys
import time
from pathlib import Path

from nas_cli.errors import NasError

POLL_SECONDS = 0.5
# Samplers that walk one seeded sequence whose position Optuna keeps in the study (grid ids, QMC sample
# ids): every worker needs the same seed, or trial numbers would index different shuffles/sequences.
ONE_SEQUENCE = ("nas_cli.strategies.grid.make_grid_sampler", "nas_cli.strategies.qmc.DistinctQMCSampler",
                "optuna.samplers.GridSampler", "optuna.samplers.QMCSampler")


def worker_caps(n: int, n_jobs: int) -> list[int]:
    """Each worker may run up to all `n` trials: they pull from one pool (the study's total, checked
    through the shared storage by `StudyTotal` after every trial), so a worker that drew fast trials
    takes more of them instead of idling while a fixed share of slow ones runs on the other worker."""
    return [n] * max(0, min(n_jobs, n))


def run_workers(study, run_dir: Path, n_run: int, n_jobs: int, threads: int, reporter, budget=None,
                ctx=None) -> None:
    """Start `n_jobs` workers over `n_run` trials, report progress from the storage, wait for all.
    `ctx` (the parent's prepared trial context) is handed to forked workers instead of preparing again."""
    from optuna.trial import TrialState

    from nas_cli import signals

    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "NAS_WORKER_THREADS": str(threads)}
    shares = worker_caps(n_run, n_jobs)
    procs, logs = [], []
    finished_states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    seen = {t.number for t in study.get_trials(deepcopy=False, states=finished_states)}
    try:
        for i, share in enumerate(shares):
            log_path = run_dir / f"worker_{i}.log"
            logs.append(log_path)
            procs.append(start_worker(run_dir, i, share, log_path, env, ctx))
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


class _Forked:
    """A forked worker with the parts of the Popen interface the parent uses."""

    def __init__(self, pid: int) -> None:
        self.pid, self.returncode = pid, None

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, sig) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def can_fork() -> bool:
    """Fork on Linux unless told otherwise or CUDA is initialised here (a forked child cannot use it)."""
    if not sys.platform.startswith("linux") or os.environ.get("NAS_WORKER_START", "fork") != "fork":
        return False
    torch = sys.modules.get("torch")
    return torch is None or not torch.cuda.is_initialized()


def start_worker(run_dir: Path, index: int, share: int, log_path: Path, env: dict, ctx=None):
    """Fork where `can_fork()` (torch, the data in `ctx` and the caches `trial.warm_up` filled are already
    loaded: no start-up cost), otherwise a fresh `python -m nas_cli.parallel` process. The parent runs torch
    single-threaded here (threads = cores / n_jobs), so no OpenMP pool exists to break in the child."""
    if can_fork():
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the parent's code
            code = 1
            try:
                fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.environ.update(env)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                code = worker_main(run_dir, index, share, prepared=ctx)
            except KeyboardInterrupt:
                code = 130
            except BaseException as exc:
                from nas_cli.signals import caused_by_interrupt

                if caused_by_interrupt(exc):  # raised while a Ctrl-C unwound: still a stop
                    code = 130
                else:
                    import traceback

                    traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        return _Forked(pid)
    with open(log_path, "ab") as log_file:
        return subprocess.Popen([sys.executable, "-m", "nas_cli.parallel", str(run_dir), str(index), str(share)],
                                env=env, stdout=log_file, stderr=subprocess.STDOUT)


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


def stop_workers(procs, grace: float = 10.0) -> None:
    """SIGINT each live worker (their trials end as FAIL), then kill those still alive after `grace`."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def close_orphans(study) -> int:
    """Mark trials still RUNNING (every worker has exited) as FAIL: interrupted, so resume retries them."""
    from optuna.trial import TrialState

    from nas_cli.resume import DIED_REASON

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


def worker_seed(sampler: dict, index: int) -> None:
    """Give worker `index` its own sampler seed (the same seed everywhere would repeat the same trials),
    except for samplers that walk one sequence kept in the study (`ONE_SEQUENCE`)."""
    if isinstance(sampler.get("seed"), int) and sampler.get("_target_") not in ONE_SEQUENCE:
        sampler["seed"] = sampler["seed"] + 7919 * index


def worker_main(run_dir: Path, index: int, n_trials: int, prepared=None) -> int:
    """One worker: the run's resolved config, its own sampler seed, `n_trials` trials. `prepared` is the
    parent's trial context in a forked worker (data, space, cost options); otherwise it prepares its own."""
    import dataclasses

    import yaml

    from nas_cli.errors import TrialFailed
    from nas_cli.progress import Reporter
    from nas_cli.study import FailureBudget, open_study, prepare
    from nas_cli.trial import objective
    from nas_cli.validate import validate

    settings = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    worker_seed(settings["strategy"].get("sampler") or {}, index)
    settings["hardware"]["threads"] = int(os.environ.get("NAS_WORKER_THREADS", "1"))
    objectives = validate(settings)
    summary: dict = {"timings": {}}
    reporter = Reporter(n_trials, verbosity=-1, live=False)
    if prepared is None:
        ctx, study = prepare(settings, objectives, run_dir, summary, reporter)
    else:
        ctx = dataclasses.replace(prepared, on_epoch=reporter.epoch, extra=dict(prepared.extra))
        study = open_study(settings, objectives, run_dir, summary)
    from nas_cli import signals
    from nas_cli.resume import StudyTotal

    n_total = int(settings["study"]["n_trials"])
    total = StudyTotal(n_total)
    if ctx.extra.get("limits"):
        from nas_cli.constraints import TrainedTrialsTarget

        total = TrainedTrialsTarget(n_total)
    callbacks = [FailureBudget(float(settings["study"]["max_failure_rate"])), total, signals.stop_callback]
    with signals.graceful_stop():
        signals.optimize(study, lambda t: objective(t, ctx), n_trials=n_trials, timeout=settings["study"]["timeout"],
                         catch=(TrialFailed,), callbacks=callbacks, gc_after_trial=False, show_progress_bar=False)
    return 130 if signals.stop_requested() else 0


if __name__ == "__main__":
    try:
        sys.exit(worker_main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
    except KeyboardInterrupt:
        sys.exit(130)
