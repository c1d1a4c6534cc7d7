"""The study runner: compose -> validate -> search (Optuna) -> fine-tune -> export -> summary.json."""

from __future__ import annotations

import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from nas_cli import signals
from nas_cli.errors import ConfigError, GateFailed, NasError, TrialFailed
from nas_cli.rundir import SUMMARY_SCHEMA_VERSION, atomic_write_json, atomic_write_text

log = logging.getLogger("nas")


def run_study(cfg, run_dir: Path) -> int:
    """Run one search job in `run_dir`; always writes summary.json; returns the process exit code."""
    from omegaconf import OmegaConf

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    summary: dict[str, Any] = {"schema_version": SUMMARY_SCHEMA_VERSION, "status": "running",
                               "run_dir": str(run_dir.resolve()), "started_at": started, "timings": {}}
    reporter = None
    code = 0
    try:
        try:
            settings = OmegaConf.to_container(cfg, resolve=True)
        except Exception as exc:
            raise ConfigError(f"config cannot be resolved: {exc}") from None
        from nas_cli.study.auto import resolve_auto
        from nas_cli.study.validate import validate

        objectives = validate(resolve_auto(settings))
        summary["timings"]["import_seconds"] = _import_libraries(settings)
        atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(settings))
        summary.update(_describe_run(settings, objectives))
        from nas_cli.study.progress import Reporter

        reporter = Reporter(int(settings["study"]["n_trials"]), verbosity=int(settings["verbosity"]),
                            every=float(settings.get("progress_every", 60)))
        if settings.get("evaluator", {}).get("name", "train") == "tabular":  # table look-ups: no torch, no export
            from nas_cli.study.tabular import run_tabular_job

            run_tabular_job(settings, run_dir, summary, reporter)
        else:
            run_search_job(settings, objectives, run_dir, summary, reporter)
        summary["status"] = "completed"
    except KeyboardInterrupt as exc:  # Ctrl-C (first: after the current epoch; second: at once) or SIGTERM
        summary["status"] = "interrupted"
        code = getattr(exc, "exit_code", 130)
    except Exception as exc:
        if not isinstance(exc, NasError) and signals.caused_by_interrupt(exc):  # raised while Ctrl-C unwound
            summary["status"] = "interrupted"
            code = 130
        elif isinstance(exc, NasError):
            summary["status"] = "config_error" if isinstance(exc, ConfigError) else "failed"
            summary["error"] = str(exc)
            code = exc.exit_code
        else:  # a bug or an environment failure: keep the run, log the traceback
            summary["status"] = "failed"
            summary["error"] = f"{type(exc).__name__}: {exc}"
            log.error("unexpected failure\n%s", traceback.format_exc())
            code = 1
    finally:
        if reporter is not None:
            reporter.stop()
        summary["timings"]["total_seconds"] = time.time() - started
        summary["finished_at"] = time.time()
        with signals.held():  # a Ctrl-C now must not leave the summary of a finished run unwritten
            atomic_write_json(run_dir / "summary.json", summary)
    if code == 0 and settings.get("gate"):  # after everything is saved, so CI keeps the artifacts
        from nas_cli.deploy.gate import enforce_gate

        try:
            from nas_cli.tasks import task_of

            enforce_gate(settings["gate"], summary, run_dir, task_of(settings))
        except GateFailed as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            code = exc.exit_code
    _print_outcome(summary, run_dir, code)
    return code


def _import_libraries(settings: dict) -> float:
    """Import the heavy libraries this job needs up front, timed apart (start-up, not search work)."""
    import importlib

    start = time.perf_counter()
    names = ["optuna"]
    if settings.get("evaluator", {}).get("name", "train") == "train":
        names += ["torch", "sklearn.metrics"]
    for name in names:
        importlib.import_module(name)
    return time.perf_counter() - start


def _describe_run(settings: dict, objectives) -> dict:
    return {
        "dataset": settings["dataset"]["name"], "task": settings["dataset"].get("task") or "classification",
        "search_space": settings["search_space"]["name"],
        "strategy": settings["strategy"]["name"], "pruner": settings["pruner"]["name"],
        "objectives": [f"{n}:{'max' if d == 'maximize' else 'min'}" for n, d in objectives],
        "seed": settings["seed"],
    }


def _print_outcome(summary: dict, run_dir: Path, code: int) -> None:
    import sys

    if code == 0:
        print(f"run directory: {run_dir}", flush=True)
        return
    if summary.get("error"):
        print(f"error: {summary['error']}", file=sys.stderr, flush=True)
    if code == 130:
        print("interrupted: finished trials are saved", file=sys.stderr, flush=True)
    print(f"run directory: {run_dir}", file=sys.stderr, flush=True)


def run_search_job(settings: dict, objectives, run_dir: Path, summary: dict, reporter) -> None:
    from nas_cli.deploy.finish import finish
    from nas_cli.study.setup import prepare
    from nas_cli.study.summary import FailureBudget, best_trials, count_trials, show_top_table
    from nas_cli.trial.objective import objective

    t0 = time.perf_counter()
    ctx, study = prepare(settings, objectives, run_dir, summary, reporter)
    summary["timings"]["setup_seconds"] = time.perf_counter() - t0
    n_total = int(settings["study"]["n_trials"])
    from nas_cli.study.counting import StudyTotal, counted_trials
    from nas_cli.study.recovery import recover_trials
    summary["recovered"] = recover_trials(study, summary["storage"], run_dir)  # dead workers' trials: FAIL + retry
    atomic_write_json(run_dir / "summary.json", summary)  # status "running" and the storage, for `nas resume`
    if summary["recovered"]["failed"] or summary["recovered"]["retried"]:
        reporter.info(f"recovered: trial(s) {summary['recovered']['failed']} of a dead process marked FAIL; "
                      f"retrying interrupted trial(s) {summary['recovered']['retried']} with the same parameters")
    done = counted_trials(study)  # interrupted trials do not count: they are retried
    remaining = max(0, n_total - done)
    n_run, total_cb = remaining, StudyTotal(n_total)
    if ctx.extra.get("limits"):  # rejected architectures cost milliseconds: they do not use up study.n_trials
        from nas_cli.study.counting import trained_plan

        done, n_run, total_cb = trained_plan(study, n_total, settings)
        remaining = max(0, n_total - done)
    if (settings.get("prescreen") or {}).get("candidates"):  # zero-cost scores pick the first trials
        from nas_cli.study.prescreen import run_prescreen

        summary["prescreen"] = run_prescreen(settings, study, ctx, remaining, reporter)
    if settings["study"].get("enqueue") is not None:  # given parameter sets first, before any worker starts
        from nas_cli.study.enqueue import enqueue_from_config, sample_trial_params

        summary["enqueue"] = enqueue_from_config(settings, study, sample_trial_params(ctx), remaining, reporter)
    budget = FailureBudget(float(settings["study"]["max_failure_rate"]))
    reporter.info(f"search: {summary['search_space']} space on {summary['dataset']} with {summary['strategy']}, "
                  f"{remaining} trial(s) to run ({done} already in the study), device {ctx.device}")
    t1 = time.perf_counter()
    reporter.start(done)
    try:
        if remaining and int(summary["hardware"].get("n_jobs", 1)) > 1:  # worker processes share the storage
            from nas_cli.study.parallel import run_workers

            with signals.graceful_stop():
                run_workers(study, run_dir, n_run, int(summary["hardware"]["n_jobs"]),
                            int(summary["hardware"]["threads"]), reporter, budget, ctx=ctx,
                            joined_at=summary["sampler_stream"]["join_index"])
        elif remaining:
            def run_more(n: int) -> None:
                with signals.graceful_stop():
                    signals.optimize(study, lambda t: objective(t, ctx), n_trials=n,
                                     timeout=settings["study"]["timeout"], catch=(TrialFailed,),
                                     callbacks=[reporter.trial_done, budget, total_cb, signals.stop_callback],
                                     gc_after_trial=False, show_progress_bar=False)

            run_more(n_run)
            if (not signals.stop_requested() and not budget.tripped and settings["study"]["timeout"] is None
                    and not ctx.extra.get("limits")):  # a dead worker's trial, retried here
                from nas_cli.study.finisher import top_up

                top_up(study, n_total, run_more)
    finally:
        reporter.stop()
        summary["timings"]["search_seconds"] = time.perf_counter() - t1
        if (summary.get("prescreen") or {}).get("seconds") is not None:  # the pre-screen's share of the search
            pre = summary["prescreen"]["seconds"]
            summary["prescreen"]["share_of_search"] = round(pre / max(1e-9, pre + summary["timings"]["search_seconds"]), 4)
        summary["trials"] = count_trials(study)
        summary["best_trials"] = best_trials(study, objectives, ctx.space, k=5)
        if ctx.extra.get("limits"):
            from nas_cli.trial.constraints import summarize

            summary["constraints"] = summarize(study, ctx.extra["limits"])
    signals.raise_if_stopped()
    if budget.tripped:
        raise NasError(budget.message)
    if not summary["best_trials"] and summary.get("constraints", {}).get("rejected"):
        from nas_cli.trial.constraints import nothing_feasible_message

        raise NasError(nothing_feasible_message(summary["constraints"]))
    if len(objectives) > 1:
        from nas_cli.deploy.selection import report_pareto

        report_pareto(study, objectives, run_dir, summary, reporter)
    if not summary["best_trials"]:
        raise NasError("no trial completed: see trials/*/error.txt in the run directory")
    show_top_table(reporter, summary["best_trials"], objectives)
    from nas_cli.study.finisher import finish_decision, shared_storage

    if shared_storage(summary["storage"], run_dir):
        reason = finish_decision(study, n_total, run_dir)
        if reason is not None:
            summary["finish"] = {"skipped": reason}
            reporter.info(f"not exporting: {reason}")
            return
    finish(settings, study, objectives, ctx, run_dir, summary, reporter)
