"""Worker processes of `hardware.n_jobs > 1`: fork (or spawn) them, stop them, and what each one runs.

A forked worker (Linux, CUDA not initialised) starts with torch warm and the parent's data shared
copy-on-write; otherwise `python -m nas_cli.study.workers RUN_DIR INDEX N_TRIALS` loads the data
itself. Each opens the study with its own sampler seed and runs trials until the study's total.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


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
    loaded: no start-up cost), otherwise a fresh `python -m nas_cli.study.workers` process. The parent runs torch
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
        return subprocess.Popen([sys.executable, "-m", "nas_cli.study.workers", str(run_dir), str(index), str(share)],
                                env=env, stdout=log_file, stderr=subprocess.STDOUT)


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


def worker_main(run_dir: Path, index: int, n_trials: int, prepared=None) -> int:
    """One worker: the run's resolved config, its own sampler seed, `n_trials` trials. `prepared` is the
    parent's trial context in a forked worker (data, space, cost options); otherwise it prepares its own."""
    import dataclasses

    import yaml

    from nas_cli.errors import TrialFailed
    from nas_cli.study.progress import Reporter
    from nas_cli.study.setup import open_study, prepare
    from nas_cli.study.summary import FailureBudget
    from nas_cli.study.validate import validate
    from nas_cli.trial.objective import objective

    settings = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    settings["study"]["worker_index"] = index  # its own sampler stream (nas_cli.study.streams)
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
    from nas_cli.study.counting import StudyTotal

    n_total = int(settings["study"]["n_trials"])
    total = StudyTotal(n_total)
    if ctx.extra.get("limits"):
        from nas_cli.study.counting import TrainedTrialsTarget

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
