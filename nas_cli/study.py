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
        from nas_cli.validate import validate

        objectives = validate(settings)
        summary["timings"]["import_seconds"] = _import_libraries(settings)
        atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(settings))
        summary.update(_describe_run(settings, objectives))
        from nas_cli.progress import Reporter

        reporter = Reporter(int(settings["study"]["n_trials"]), verbosity=int(settings["verbosity"]))
        if settings.get("evaluator", {}).get("name", "train") == "tabular":  # table look-ups: no torch, no export
            from nas_cli.tabular import run_tabular_job

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
        from nas_cli.gate import enforce_gate

        try:
            enforce_gate(settings["gate"], summary, run_dir)
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
        "dataset": settings["dataset"]["name"], "search_space": settings["search_space"]["name"],
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


def make_sampler_and_pruner(settings: dict):
    from hydra.utils import instantiate

    try:
        sampler = instantiate(settings["strategy"]["sampler"])
    except Exception as exc:
        raise ConfigError(f"strategy={settings['strategy']['name']}: cannot build the sampler: {_root(exc)}") from None
    try:
        from nas_cli.pruners import guard

        pruner = guard(instantiate(settings["pruner"]["pruner"]), settings["pruner"])  # NaN/divergence guard
    except Exception as exc:
        raise ConfigError(f"pruner={settings['pruner']['name']}: cannot build the pruner: {_root(exc)}") from None
    return sampler, pruner


def _root(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return f"{type(exc).__name__}: {exc}"


def open_study(settings: dict, objectives, run_dir: Path, summary: dict):
    import warnings

    import optuna

    from nas_cli.storage import open_storage, resolve_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    spec = resolve_storage(settings.get("storage"), run_dir)
    summary["storage"] = spec
    from nas_cli.resume import repair_journal

    repair_journal(spec)  # a torn last record from a killed writer would poison every later append
    sampler, pruner = make_sampler_and_pruner(settings)
    if len(objectives) > 1:
        pruner = optuna.pruners.NopPruner()  # Optuna's pruners are single-objective
        summary["pruning"] = "off: multi-objective study"
    try:
        study = optuna.create_study(storage=open_storage(spec), study_name=str(settings["study"]["name"]),
                                    sampler=sampler, pruner=pruner, directions=[d for _, d in objectives],
                                    load_if_exists=True)
    except (ValueError, UnicodeDecodeError) as exc:  # a journal damaged by something other than nas
        raise NasError(f"storage {spec} cannot be read ({type(exc).__name__}: {exc}); "
                       "restore it from a backup or start a new study") from None
    if list(study.directions) != [optuna.study.StudyDirection[d.upper()] for _, d in objectives]:
        raise ConfigError(f"study.name={study.study_name!r} already exists in {spec} with other directions; "
                          "use another study.name or the same objectives")
    study.set_metric_names([n for n, _ in objectives])
    return study


def prepare(settings: dict, objectives, run_dir: Path, summary: dict, reporter):
    """Hardware, data (preloaded once), space and study: everything trials share."""
    from nas_cli.data import load_dataset
    from nas_cli.hardware import setup_hardware
    from nas_cli.spaces import build_space
    from nas_cli.trial import TrialContext

    hw = setup_hardware(settings["hardware"])
    summary["hardware"] = hw.describe()
    ds = dict(settings["dataset"])
    try:
        data = load_dataset(ds.pop("name"), **ds).to(hw.device)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:  # an option of the wrong type or value
        raise ConfigError(f"dataset={settings['dataset']['name']}: bad option ({type(exc).__name__}: {exc}); "
                          "see configs/dataset/ for the allowed values") from None
    if hw.channels_last and data.train_x.dim() == 4:
        import torch

        for name in ("train_x", "val_x", "test_x"):
            setattr(data, name, getattr(data, name).contiguous(memory_format=torch.channels_last))
    summary["data"] = {"input_shape": list(data.spec.input_shape), "num_classes": data.spec.num_classes,
                       **data.info}
    sp = dict(settings["search_space"])
    try:
        space = build_space(sp.pop("name"), spec=data.spec, **sp)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ConfigError(f"search_space={settings['search_space']['name']}: bad option "
                          f"({type(exc).__name__}: {exc}); see configs/search_space/ for the allowed values") from None
    study = open_study(settings, objectives, run_dir, summary)
    ctx = TrialContext(space=space, data=data, train=settings["train"], run_dir=run_dir, seed=int(settings["seed"]),
                       objectives=objectives, device=hw.device, channels_last=hw.channels_last,
                       autocast_dtype=hw.autocast_dtype, on_epoch=reporter.epoch)
    from nas_cli.cost import configure_trial_cost

    configure_trial_cost(ctx, settings, hw)  # latency runtime, batch size, threads; constraint limits
    from nas_cli.trial import warm_up

    warm_up()  # one-time import costs here, in setup, not in the first trial (nor once per forked worker)
    return ctx, study


def run_search_job(settings: dict, objectives, run_dir: Path, summary: dict, reporter) -> None:
    from nas_cli.trial import objective

    t0 = time.perf_counter()
    ctx, study = prepare(settings, objectives, run_dir, summary, reporter)
    summary["timings"]["setup_seconds"] = time.perf_counter() - t0
    n_total = int(settings["study"]["n_trials"])
    from nas_cli.resume import StudyTotal, counted_trials, recover_trials

    summary["recovered"] = recover_trials(study, summary["storage"], run_dir)  # dead workers' trials: FAIL + retry
    atomic_write_json(run_dir / "summary.json", summary)  # status "running" and the storage, for `nas resume`
    if summary["recovered"]["failed"] or summary["recovered"]["retried"]:
        reporter.info(f"recovered: trial(s) {summary['recovered']['failed']} of a dead process marked FAIL; "
                      f"retrying interrupted trial(s) {summary['recovered']['retried']} with the same parameters")
    done = counted_trials(study)  # interrupted trials do not count: they are retried
    remaining = max(0, n_total - done)
    n_run, total_cb = remaining, StudyTotal(n_total)
    if ctx.extra.get("limits"):  # rejected architectures cost milliseconds: they do not use up study.n_trials
        from nas_cli.constraints import trained_plan

        done, n_run, total_cb = trained_plan(study, n_total, settings)
        remaining = max(0, n_total - done)
    if settings["study"].get("enqueue") is not None:  # given parameter sets first, before any worker starts
        from nas_cli.enqueue import enqueue_from_config, sample_trial_params

        summary["enqueue"] = enqueue_from_config(settings, study, sample_trial_params(ctx), remaining, reporter)
    budget = FailureBudget(float(settings["study"]["max_failure_rate"]))
    reporter.info(f"search: {summary['search_space']} space on {summary['dataset']} with {summary['strategy']}, "
                  f"{remaining} trial(s) to run ({done} already in the study), device {ctx.device}")
    t1 = time.perf_counter()
    reporter.start(done)
    try:
        if remaining and int(summary["hardware"].get("n_jobs", 1)) > 1:  # worker processes share the storage
            from nas_cli.parallel import run_workers

            with signals.graceful_stop():
                run_workers(study, run_dir, n_run, int(summary["hardware"]["n_jobs"]),
                            int(summary["hardware"]["threads"]), reporter, budget, ctx=ctx)
        elif remaining:
            with signals.graceful_stop():
                signals.optimize(study, lambda t: objective(t, ctx), n_trials=n_run,
                                 timeout=settings["study"]["timeout"], catch=(TrialFailed,),
                                 callbacks=[reporter.trial_done, budget, total_cb, signals.stop_callback],
                                 gc_after_trial=False, show_progress_bar=False)
    finally:
        reporter.stop()
        summary["timings"]["search_seconds"] = time.perf_counter() - t1
        summary["trials"] = count_trials(study)
        summary["best_trials"] = best_trials(study, objectives, ctx.space, k=5)
        if ctx.extra.get("limits"):
            from nas_cli.constraints import summarize

            summary["constraints"] = summarize(study, ctx.extra["limits"])
    signals.raise_if_stopped()
    if budget.tripped:
        raise NasError(budget.message)
    if not summary["best_trials"] and summary.get("constraints", {}).get("rejected"):
        from nas_cli.constraints import nothing_feasible_message

        raise NasError(nothing_feasible_message(summary["constraints"]))
    if len(objectives) > 1:
        from nas_cli.selection import report_pareto

        report_pareto(study, objectives, run_dir, summary, reporter)
    if not summary["best_trials"]:
        raise NasError("no trial completed: see trials/*/error.txt in the run directory")
    show_top_table(reporter, summary["best_trials"], objectives)
    finish(settings, study, objectives, ctx, run_dir, summary, reporter)


def reexport(settings: dict, run_dir: Path) -> int:
    """`nas export RUN_DIR`: reopen the run's study, fine-tune its best trials and export again."""
    import json

    from nas_cli.progress import Reporter
    from nas_cli.validate import validate

    summary_path = run_dir / "summary.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {"schema_version": SUMMARY_SCHEMA_VERSION, "run_dir": str(run_dir.resolve()), "timings": {}}
    objectives = validate(settings)
    settings = {**settings, "storage": summary.get("storage") or settings.get("storage")}
    reporter = Reporter(int(settings["study"]["n_trials"]), verbosity=int(settings.get("verbosity", 1)))
    ctx, study = prepare(settings, objectives, run_dir, summary, reporter)
    if not _any_complete(study):
        raise NasError(f"{run_dir}: the study has no completed trial to export")
    settings["finetune"] = {**settings["finetune"], "enabled": True}
    settings["export"] = {**settings["export"], "enabled": True}
    finish(settings, study, objectives, ctx, run_dir, summary, reporter)
    atomic_write_json(summary_path, summary)
    print(f"run directory: {run_dir}", flush=True)
    return 0


class FailureBudget:
    """Stops the study when more than `rate` of at least 5 finished trials failed."""

    def __init__(self, rate: float, min_trials: int = 5) -> None:
        self.rate, self.min_trials, self.tripped, self.message = rate, min_trials, False, ""

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        from nas_cli.resume import counted

        trials = [t for t in trials if counted(t)]  # interrupted trials are retried, not the trial's fault
        failed = [t for t in trials if t.state == TrialState.FAIL]
        if len(trials) >= self.min_trials and len(failed) / len(trials) > self.rate:
            self.tripped = True
            last = failed[-1].user_attrs.get("fail_reason", "unknown")
            self.message = (f"stopped: {len(failed)} of {len(trials)} trials failed, more than "
                            f"study.max_failure_rate={self.rate}; last reason: {last}")
            study.stop()


def count_trials(study) -> dict:
    """Trial counts by state. An architecture `constraints.*` rejected before training ends PRUNED in
    Optuna but is counted as `rejected` here, so `pruned` means stopped early by the pruner only."""
    from nas_cli.constraints import is_infeasible

    counts = {"total": 0, "complete": 0, "pruned": 0, "rejected": 0, "failed": 0, "running": 0}
    for t in study.get_trials(deepcopy=False):
        counts["total"] += 1
        key = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running"}.get(t.state.name)
        if key == "pruned" and is_infeasible(t):
            key = "rejected"
        if key:
            counts[key] += 1
    return counts


def best_trials(study, objectives, space, k: int) -> list[dict]:
    from nas_cli.finetune import select_candidates

    rows = []
    for t in select_candidates(study, objectives, k) if _any_complete(study) else []:
        rows.append({"number": t.number, "values": dict(zip([n for n, _ in objectives], t.values, strict=True)),
                     "params": t.params, "arch": t.user_attrs.get("arch"), "hparams": t.user_attrs.get("hparams"),
                     "metrics": t.user_attrs.get("metrics", {}),
                     "description": space.describe(t.user_attrs["arch"]) if t.user_attrs.get("arch") else ""})
    return rows


def _any_complete(study) -> bool:
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def show_top_table(reporter, rows: list[dict], objectives) -> None:
    names = [n for n, _ in objectives]
    cols = ["trial", *names, "params", "MFLOPs", "latency ms", "memory MiB", "architecture"]
    table = [[r["number"], *[f"{r['values'][n]:.4g}" for n in names], r["metrics"].get("params", ""),
              f"{r['metrics'].get('flops', 0) / 1e6:.2f}", _fmt(r["metrics"].get("latency_ms")),
              _fmt(r["metrics"].get("memory_mb")), r["description"]] for r in rows]
    reporter.table("Top trials (validation)", cols, table)


def _fmt(value) -> str:
    return "" if value is None else f"{value:.4g}"


def finish(settings: dict, study, objectives, ctx, run_dir: Path, summary: dict, reporter) -> None:
    """Fine-tune the top-k, test the winner once, export and verify it, write the model card."""
    from nas_cli.cost import final_cost
    from nas_cli.finetune import finetune, select_candidates

    ft = settings["finetune"]
    if not ft["enabled"]:
        return
    if len(objectives) > 1:  # every chosen trade-off is fine-tuned and exported on its own
        from nas_cli.finish_many import finish_pareto

        return finish_pareto(settings, study, objectives, ctx, run_dir, summary, reporter)
    t0 = time.perf_counter()
    candidates = select_candidates(study, objectives, int(ft["top_k"]))
    if str(ft.get("select") or "auto") != "auto":
        from nas_cli.selection import select_for_finetune

        candidates = select_for_finetune(study, objectives, ft["select"], int(ft["top_k"]))[1]
    reporter.info(f"fine-tune: top {len(candidates)} trial(s) for {ft['epochs']} epochs")
    out = finetune(candidates, ctx, int(ft["epochs"]), reporter, refit=bool(ft.get("refit", False)))
    summary["finetune"] = {"epochs": int(ft["epochs"]), "selected_trial": out["selected"], "test": out["test"],
                           "refit": out["refit"],
                           "candidates": [{k: v for k, v in r.items() if k != "history"} for r in out["results"]]}
    summary["timings"]["finetune_seconds"] = time.perf_counter() - t0
    model = out["model"]
    cost = final_cost(model, ctx)
    summary["finetune"]["cost"] = cost
    test = out["test"]
    reporter.table("Selected model (held-out test split)", ["trial", "accuracy", "precision", "recall", "f1", "params"],
                   [[out["selected"], f"{test['accuracy']:.4f}", f"{test['precision']:.4f}", f"{test['recall']:.4f}",
                     f"{test['f1']:.4f}", cost["params"]]])
    if not settings["export"]["enabled"]:
        return
    t1 = time.perf_counter()
    export_dir = run_dir / "export"
    result = export_selected(settings, ctx, out, cost, export_dir, summary["dataset"], reporter)
    summary["export"] = result
    summary["timings"]["export_seconds"] = time.perf_counter() - t1
    reporter.info(f"exported: {export_dir} (ONNX max abs diff {result.get('onnx_max_abs_diff', float('nan')):.2e})")
    from nas_cli.robustness import robustness_step

    robustness_step(settings, model, ctx.data, summary, reporter)


def export_selected(settings: dict, ctx, out: dict, cost: dict, export_dir: Path, dataset: str, reporter) -> dict:
    """Export one fine-tuned model (files, verification, model card, compressed variants) into `export_dir`."""
    from nas_cli.compress import compress_step
    from nas_cli.export import export_all, write_model_card

    ex, model = settings["export"], out["model"]
    result = export_all(model, space_name=ctx.space.name, arch=out["arch"], hparams=out["hparams"].to_dict(),
                        spec=ctx.data.spec, config=settings, inputs=ctx.data.test_x[:256], out_dir=export_dir,
                        tolerance=float(ex["tolerance"]), onnx=bool(ex["onnx"]), torch_export=bool(ex["torch_export"]))
    card = write_model_card(export_dir / "model_card.md", space_name=ctx.space.name,
                            description=ctx.space.describe(out["arch"]), arch=out["arch"],
                            hparams=out["hparams"].to_dict(), test=out["test"], cost=cost, export=result,
                            dataset=dataset)
    result["files"]["model_card"] = str(card)
    compress_step(settings, model, ctx, out["hparams"], result, export_dir, reporter)
    return result
