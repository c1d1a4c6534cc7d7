"""One trial: sample an arch dict, build it, train it, measure it, return the objective values."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_cli import signals
from nas_cli.errors import TrialFailed
from nas_cli.rundir import append_jsonl, atomic_write_json, atomic_write_text, trial_dir
from nas_cli.trial.fit import Hparams


@dataclass
class TrialContext:
    """Everything a trial needs, as plain values (no config object)."""

    space: Any
    data: Any
    train: dict
    run_dir: Path
    seed: int
    objectives: list[tuple[str, str]]
    device: Any = None
    channels_last: bool = False
    autocast_dtype: Any = None
    on_epoch: Any = None  # progress hook: f(trial_number, epoch, epochs, record)
    on_batch: Any = None  # progress inside an epoch: f(trial_number, progress dict), at most every 0.5 s
    task: Any = None  # nas_cli.tasks.Task: loss, metrics, export signature (from data.spec.task)
    extra: dict = field(default_factory=dict)


def warm_up(task=None, onnx: bool = True) -> None:
    """Pay the one-time costs every trial needs (FLOP counter and the task's metric imports, the
    optimizer, and with `onnx` the ONNX exporter: about 2 s) once per process, during setup: not inside
    the first trial's measurements, and before worker processes are forked, so that none pays them
    again. `onnx=False` when trials do not export (latency timed on eager PyTorch): the final export
    then pays the exporter's first call once, and a search without export never does."""
    import torch

    from nas_cli.tasks import get_task
    from nas_cli.trial.cost import count_flops
    from nas_cli.trial.latency import export_onnx_bytes

    tiny = torch.nn.Linear(2, 2)
    count_flops(tiny, (2,))
    torch.optim.AdamW(tiny.parameters())
    if onnx:
        export_onnx_bytes(tiny, (2,))
    (task or get_task(None)).warm_up()


def sample_hparams(trial, train: dict, losses: tuple = (), negatives: tuple = ()) -> Hparams:
    """Each hyperparameter is fixed when `train.<name>` is set, otherwise searched in `train.search.<name>`;
    `loss` only exists when the task offers a choice (`losses`), searched among them."""
    search = train.get("search", {})

    def pick(name, suggest):
        return train[name] if train.get(name) is not None else suggest()

    optimizer = pick("optimizer", lambda: trial.suggest_categorical("optimizer", list(search["optimizer"])))
    lr = pick("lr", lambda: trial.suggest_float("lr", *search["lr"], log=True))
    wd = pick("weight_decay", lambda: trial.suggest_float("weight_decay", *search["weight_decay"], log=True))
    bs = pick("batch_size", lambda: trial.suggest_categorical("batch_size", list(search["batch_size"])))
    loss = "default"
    if losses:
        allowed = [v for v in (search.get("loss") or losses) if v in losses] or list(losses)
        loss = pick("loss", lambda: trial.suggest_categorical("loss", allowed))
    k = 0
    if negatives:  # ranking: sampled negatives per positive, fixed by train.negatives or searched
        k = pick("negatives", lambda: trial.suggest_categorical("negatives", list(search.get("negatives") or negatives)))
    return Hparams(lr=float(lr), optimizer=str(optimizer), weight_decay=float(wd), batch_size=int(bs),
                   momentum=float(train.get("momentum", 0.9)), loss=str(loss), negatives=int(k))


def build_model(space, arch: dict, spec, device, channels_last: bool):
    import torch

    model = space.build(arch, spec).to(device)
    if channels_last and len(spec.input_shape) == 3:
        model = model.to(memory_format=torch.channels_last)
    return model


def objective(trial, ctx: TrialContext):
    """Optuna objective; failures become TrialFailed with the reason saved in the trial directory."""
    import optuna

    from nas_cli.process import worker_id

    tdir = trial_dir(ctx.run_dir, trial.number)
    tdir.mkdir(parents=True, exist_ok=True)
    trial.set_user_attr("worker", worker_id())  # lets a later run tell a dead worker's RUNNING trial apart
    try:
        if signals.stop_requested():
            signals.trial_stopping()
            raise TrialFailed(signals.interrupt_reason())
        arch = ctx.space.sample(trial)
        hp = ctx.extra.get("fixed_hparams") or sample_hparams(trial, ctx.train, ctx.task.losses if ctx.task else (),
                                                              getattr(ctx.task, "negatives", ()))
        atomic_write_json(tdir / "arch.json", {"space": ctx.space.name, "arch": arch, "hparams": hp.to_dict(),
                                               "trial": trial.number})
        trial.set_user_attr("arch", arch)
        trial.set_user_attr("hparams", hp.to_dict())
        evaluate = ctx.extra.get("evaluate") or train_and_measure  # evaluator=zero_cost: trial/zero_cost.py
        metrics = evaluate(trial, ctx, arch, hp, tdir)
    except optuna.TrialPruned:
        raise
    except TrialFailed as exc:
        if getattr(exc, "where", None):  # stopped inside training: at which epoch and batch
            trial.set_user_attr("stopped_at", exc.where)
        _record_failure(trial, tdir, str(exc), traceback.format_exc())
        raise
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once, but say why this trial failed
        _record_failure(trial, tdir, f"{signals.INTERRUPTED_PREFIX}: second Ctrl-C", traceback.format_exc())
        raise
    except Exception as exc:  # a broken architecture, OOM, a bug: fail this trial, keep the study
        reason = f"{type(exc).__name__}: {exc}"
        if _is_out_of_memory(exc):
            reason = f"out of memory: {reason}"
            _free_accelerator_memory()
        _record_failure(trial, tdir, reason, traceback.format_exc())
        raise TrialFailed(reason) from exc
    values = [metrics[name] for name, _ in ctx.objectives]
    return values[0] if len(values) == 1 else tuple(values)


def train_and_measure(trial, ctx: TrialContext, arch: dict, hp: Hparams, tdir: Path) -> dict:
    import optuna
    import torch

    from nas_cli.trial import epoch_timing
    from nas_cli.trial.constraints import check_trial
    from nas_cli.trial.fit import evaluate, fit
    from nas_cli.trial.measure import measure_trial_cost

    torch.manual_seed(ctx.seed * 100_003 + trial.number)
    spec = ctx.data.spec
    model = build_model(ctx.space, arch, spec, ctx.device, ctx.channels_last)
    cost = measure_trial_cost(trial, ctx, model)  # before training: params, FLOPs, memory, latency
    timing = epoch_timing.estimate(trial, ctx, cost, hp)  # seconds per epoch here, from the FLOPs
    check_trial(trial, ctx, cost, tdir)  # over a constraint: TrialPruned now, in milliseconds
    params, flops = cost["params"], cost["flops"]
    train_model = model
    if ctx.extra.get("compile"):
        train_model = torch.compile(model)  # the checkpointed module stays the uncompiled one
    single = len(ctx.objectives) == 1
    report_metric = ctx.task.pruning_metric(ctx.objectives[0][0])
    metrics_path = tdir / "metrics.jsonl"
    metrics_path.unlink(missing_ok=True)
    epochs = int(ctx.train["epochs"])
    history: list[dict] = []

    def on_epoch(epoch: int, record: dict) -> None:
        history.append(record)
        append_jsonl(metrics_path, record)
        if ctx.on_epoch is not None:
            ctx.on_epoch(trial.number, epoch, epochs, record)
        if signals.stop_requested():  # first Ctrl-C: end this trial cleanly after the epoch just saved
            signals.trial_stopping()
            raise TrialFailed(signals.interrupt_reason(epoch))
        if single:
            trial.report(record[report_metric], epoch)
            if trial.should_prune():
                trial.set_user_attr("pruned_at_epoch", epoch)
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

    timeout = ctx.train.get("trial_timeout")
    deadline = time.monotonic() + float(timeout) if timeout else None
    start = time.perf_counter()
    try:
        fit(train_model, ctx.data, hp, epochs, seed=ctx.seed + trial.number, max_batches=ctx.train.get("max_batches"),
            deadline=deadline, on_epoch=on_epoch, on_batch=epoch_timing.batch_hook(trial, ctx, epochs, hp.batch_size, timing),
            layer_checks=epoch_timing.slow_batches(timing),
            autocast_dtype=ctx.autocast_dtype, label_smoothing=float(ctx.train.get("label_smoothing", 0.0)),
            task=ctx.task, full_val=single and ctx.task.epoch_full(ctx.objectives[0][0]))
    finally:  # pruned or stopped too: its whole epochs calibrate the next trial's estimate
        timing_metrics = epoch_timing.record(trial, ctx, history, timing)
    train_seconds = time.perf_counter() - start
    val = evaluate(model, ctx.data.val_x, ctx.data.val_y, full=True, autocast_dtype=ctx.autocast_dtype,
                   task=ctx.task)
    # The task's score first, then its other metrics (the key order summary.json has always had).
    ordered = {ctx.task.score: val[ctx.task.score], **{k: v for k, v in val.items() if k != "loss"}, "loss": val["loss"]}
    metrics = {**ordered, **cost, "params": params, "flops": flops, "train_seconds": train_seconds, "epochs": epochs,
               **timing_metrics}
    trial.set_user_attr("metrics", metrics)
    atomic_write_json(tdir / "result.json", {"state": "COMPLETE", "metrics": metrics})
    return metrics


def _record_failure(trial, tdir: Path, reason: str, tb: str) -> None:
    trial.set_user_attr("fail_reason", reason)
    atomic_write_json(tdir / "result.json", {"state": "FAIL", "reason": reason})
    atomic_write_text(tdir / "error.txt", reason + "\n\n" + tb)


def _is_out_of_memory(exc: BaseException) -> bool:
    """CUDA (torch.cuda.OutOfMemoryError), MPS, CPU allocator failures and Python's MemoryError."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def _free_accelerator_memory() -> None:
    import gc

    import torch

    gc.collect()  # drop the failed trial's tensors before the next trial allocates
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
