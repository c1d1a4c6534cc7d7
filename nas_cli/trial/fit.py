"""Training and evaluation over preloaded tensors: no DataLoader, no per-batch Python beyond a plain loop.
The loss and the metrics are the task's (`nas_cli.tasks`, from `data.spec.task`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from nas_cli.errors import TrialFailed, TrialStopped
from nas_cli.trial.batch_checks import CHECK_SECONDS, Checker

__all__ = ["CHECK_SECONDS", "Hparams", "evaluate", "fit", "make_optimizer", "predict"]


@dataclass
class Hparams:
    """Training hyperparameters of one trial (searched or fixed)."""

    lr: float
    optimizer: str = "adam"
    weight_decay: float = 0.0
    batch_size: int = 128
    momentum: float = 0.9
    loss: str = "default"  # the task's training loss when it has a choice (regression: mse|huber)
    negatives: int = 0  # ranking: sampled negatives per positive (0: none, or the data's default)

    def to_dict(self) -> dict:
        return asdict(self)


def make_optimizer(model, hp: Hparams):
    import torch

    if hp.optimizer == "adam":
        return torch.optim.AdamW(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    if hp.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay, nesterov=True
        )
    raise TrialFailed(f"unknown optimizer {hp.optimizer!r} (allowed: adam, sgd)")


def fit(
    model,
    data,
    hp: Hparams,
    epochs: int,
    *,
    seed: int = 0,
    schedule: str = "none",
    max_batches: int | None = None,
    deadline: float | None = None,
    on_epoch: Callable[[int, dict], None] | None = None,
    on_batch: Callable[[int, int, int, float], None] | None = None,
    layer_checks: bool = False,
    autocast_dtype=None,
    label_smoothing: float = 0.0,
    task=None,
    full_val: bool = False,
) -> list[dict]:
    """Train `model` on `data.train_*`, evaluating on `data.val_*` after every epoch.

    `on_epoch(epoch, record)` is called with the epoch's metrics; it may raise to stop (pruning).
    `on_batch(epoch, batches_done, batches_per_epoch, seconds_into_epoch)` is called inside an epoch at most every
    CHECK_SECONDS (progress, a Ctrl-C); it may raise to stop mid-epoch; with `layer_checks` (a network
    whose one batch takes longer than that) also between its layers (trial/batch_checks.py). Raises
    TrialFailed when the loss is not finite, TrialStopped when `deadline` (time.monotonic()) passes,
    mid-epoch too. `full_val`: every metric of the task after each epoch, not only its `epoch_metrics`.
    """
    import torch

    from nas_cli.tasks import task_for

    task = task or task_for(data.spec)
    device = data.train_x.device
    gen = torch.Generator(device=device).manual_seed(seed)
    opt = make_optimizer(model, hp)
    n = data.train_x.shape[0]
    bs = max(1, min(int(hp.batch_size), n))
    steps_per_epoch = math.ceil(n / bs) if max_batches is None else min(math.ceil(n / bs), max_batches)
    sched = None
    if schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * steps_per_epoch))
    autocast = (
        torch.autocast(device_type=device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else torch.autocast(device_type=device.type, enabled=False)
    )
    history = []
    augment = data.augment
    if hasattr(augment, "bind"):  # a hook that depends on the trial (implicit feedback: negatives per positive)
        augment = augment.bind(hp)
    if hasattr(model, "observe"):  # a network that reads its training split (ncf's autorec: the rating matrix)
        model.observe(data.train_x, data.train_y)
    checker = Checker(on_batch, deadline, steps_per_epoch)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        checker.start_epoch(epoch)
        model.train()
        perm = torch.randperm(n, generator=gen, device=device)
        loss_sum = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            idx = perm[step * bs : (step + 1) * bs]
            xb, yb = data.train_x[idx], data.train_y[idx]
            if augment is not None:
                xb = augment(xb, gen)
            with checker.inside_layers(model, layer_checks):
                with autocast:
                    loss = task.loss(model(xb), yb, label_smoothing=label_smoothing, loss=hp.loss)
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            loss_sum += loss.detach()
            checker.done = step + 1
            if checker.active and checker.due():
                checker.check()
        train_loss = float(loss_sum) / steps_per_epoch
        if not math.isfinite(train_loss):
            raise TrialFailed(f"training loss is {train_loss} at epoch {epoch} (diverged)")
        with checker.validation(model):
            val = evaluate(model, data.val_x, data.val_y, full=full_val, autocast_dtype=autocast_dtype, task=task)
        record = {"epoch": epoch, "train_loss": train_loss, **{f"val_{k}": v for k, v in val.items()},
                  "epoch_seconds": time.perf_counter() - start}
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
        if deadline is not None and time.monotonic() > deadline:
            raise TrialStopped(f"trial exceeded train.trial_timeout after epoch {epoch}",
                               {"epoch": epoch, "batch": steps_per_epoch, "batches": steps_per_epoch})
    return history


def predict(model, x, batch_size: int = 2048, autocast_dtype=None):
    """Logits for `x`, in eval mode, without building a graph."""
    import torch

    model.eval()
    outs = []
    with torch.inference_mode():
        for i in range(0, x.shape[0], batch_size):
            if autocast_dtype is not None:
                with torch.autocast(device_type=x.device.type, dtype=autocast_dtype):
                    outs.append(model(x[i : i + batch_size]).float())
            else:
                outs.append(model(x[i : i + batch_size]))
    return torch.cat(outs)


def evaluate(model, x, y, *, full: bool = False, autocast_dtype=None, task=None) -> dict:
    """The task's metrics of `model` on (x, y): the per-epoch ones, or with `full` all of them."""
    from nas_cli.tasks import get_task

    task = task or get_task(None)
    return task.evaluate(predict(model, x, autocast_dtype=autocast_dtype), y, full=full)
