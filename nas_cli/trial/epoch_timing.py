"""A trial's epoch time: estimated before training (`estimate`), checked inside every epoch (`batch_hook`:
progress, Ctrl-C) and measured after (`record`), which calibrates the next trial's estimate."""

from __future__ import annotations

import statistics

from nas_cli import signals
from nas_cli.errors import TrialStopped
from nas_cli.trial.epoch_estimate import epoch_work, from_study


def _estimator(trial, ctx):
    est = ctx.extra.get("epoch_estimator")
    if est is None and ctx.extra.get("epoch_probe"):
        from nas_cli.process import worker_id

        est = from_study(ctx.extra["epoch_probe"], trial.study, worker_id().split(":")[0])
        ctx.extra["epoch_estimator"] = est  # one per process, calibrated by every trial it trains
    return est


def estimate(trial, ctx, cost: dict, hp) -> dict | None:
    """The trial's estimated epoch seconds on this machine (None without a probe, e.g. in tests that
    build a context by hand); sets `cost['epoch_seconds_est']` for `constraints.max_epoch_seconds`."""
    est = _estimator(trial, ctx)
    if est is None:
        return None
    data = ctx.data
    work = epoch_work(cost["flops"], int(data.train_x.shape[0]), int(data.val_x.shape[0]), hp.batch_size,
                      ctx.train.get("max_batches"))
    seconds = est.estimate(work)
    how = est.coefficients()[2]
    cost["epoch_seconds_est"] = round(seconds, 4)
    timing = {"work": work, "estimated_seconds": round(seconds, 4), "calibration": how}
    trial.set_user_attr("epoch_timing", timing)
    return timing


def slow_batches(timing: dict | None) -> bool:
    """Whether one estimated batch takes longer than the check interval: then `fit` checks between layers."""
    from nas_cli.trial.batch_checks import CHECK_SECONDS

    if not timing or not timing["work"]["batches"]:
        return False
    return timing["estimated_seconds"] / timing["work"]["batches"] > CHECK_SECONDS


def batch_hook(trial, ctx, epochs: int, batch_size: int, timing: dict | None):
    """`fit`'s on_batch: stop mid-epoch on a first Ctrl-C (the batch recorded), report progress."""
    estimated = (timing or {}).get("estimated_seconds")

    def on_batch(epoch: int, done: int, batches: int, seconds: float) -> None:
        if signals.stop_requested():
            signals.trial_stopping()
            raise TrialStopped(signals.interrupt_reason(epoch, done, batches),
                               {"epoch": epoch, "batch": done, "batches": batches})
        if ctx.on_batch is not None:
            ctx.on_batch(trial.number, {"epoch": epoch, "epochs": epochs, "batch": done, "batches": batches,
                                        "seconds": seconds, "estimate": estimated,
                                        "batch_size": batch_size})

    return on_batch


def record(trial, ctx, history: list[dict], timing: dict | None) -> dict:
    """Measured epoch seconds (median over the trial's epochs) beside the estimate; calibrates this
    process's estimator. Returns the metrics to add to the trial's result."""
    if not history:
        return {}
    measured = statistics.median(r["epoch_seconds"] for r in history)
    out = {"epoch_seconds": round(measured, 4)}
    if timing is not None:
        est = ctx.extra.get("epoch_estimator")
        timing = {**timing, "measured_seconds": round(measured, 4),
                  "error": round(timing["estimated_seconds"] / measured - 1.0, 4) if measured > 0 else None}
        trial.set_user_attr("epoch_timing", timing)
        if est is not None:
            est.observe(timing["work"], measured)
        out["epoch_seconds_est"] = timing["estimated_seconds"]
    return out
