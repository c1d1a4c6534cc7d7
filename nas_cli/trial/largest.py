"""The slowest corner of a search space, found before the search: on a CPU-only machine a space's
largest architectures can take hours per epoch, and the user should hear so before the first trial.

The candidates are the space's "all at the top" architecture (every number at its high end, every
list choice at its largest number, or its first entry when the choices are not numbers, such as
`pool: none`, the default that keeps feature maps large) and a few random samples; each is built and
its FLOPs counted (a few hundred milliseconds in all), then timed with the run's epoch estimator.
"""

from __future__ import annotations

HINT_SECONDS = 600.0
MAX_INT = 4096  # integer choices (layer counts) are looked at up to low + this: a space allowing a million layers still gets a hint in a second
BUDGET_SECONDS = 3.0  # the candidates are built and counted within about this much time


class _TopTrial:
    """An Optuna-like trial that answers every suggestion with its largest value."""

    number = 0

    def suggest_int(self, name, low, high, step=1, log=False):
        return int(min(high, low + MAX_INT))

    def suggest_float(self, name, low, high, step=None, log=False):
        return float(high)

    def suggest_categorical(self, name, choices):
        choices = list(choices)
        if all(isinstance(c, (int, float)) for c in choices):
            return max(choices)
        return choices[0]


class _RandomTrial(_TopTrial):
    """Uniform random answers (seeded), for the random candidates."""

    def __init__(self, rng) -> None:
        self.rng = rng

    def suggest_int(self, name, low, high, step=1, log=False):
        return self.rng.randrange(int(low), int(min(high, low + MAX_INT)) + 1, int(step or 1))

    def suggest_float(self, name, low, high, step=None, log=False):
        return self.rng.uniform(float(low), float(high))

    def suggest_categorical(self, name, choices):
        return self.rng.choice(list(choices))


def candidate_architectures(space, n_random: int = 6, seed: int = 0) -> list[dict]:
    import random

    rng, archs = random.Random(seed), []
    for trial in [_TopTrial(), *(_RandomTrial(rng) for _ in range(n_random))]:
        try:
            archs.append(space.sample(trial))
        except Exception:  # a space that needs a real Optuna trial: no candidates from it
            pass
    return archs


def slowest_epoch(ctx, estimator, batch_size: int) -> tuple[float, dict] | None:
    """(estimated seconds, arch) of the slowest candidate, or None when none builds."""
    from nas_cli.trial.cost import count_flops
    from nas_cli.trial.epoch_estimate import epoch_work
    from nas_cli.trial.measure import trial_example

    spec, worst = ctx.data.spec, None
    n_train, n_val = int(ctx.data.train_x.shape[0]), int(ctx.data.val_x.shape[0])
    import time

    import torch

    deadline = time.monotonic() + BUDGET_SECONDS
    for arch in candidate_architectures(ctx.space, seed=ctx.seed):
        if time.monotonic() > deadline:
            break
        try:  # on the meta device: shapes and FLOPs without allocating a byte (a huge corner cannot OOM)
            with torch.device("meta"):
                model = ctx.space.build(arch, spec)
            flops = count_flops(model, trial_example(ctx))
        except Exception:  # an invalid corner (e.g. too much pooling for the input): not a candidate
            continue
        seconds = estimator.estimate(epoch_work(flops, n_train, n_val, batch_size, ctx.train.get("max_batches")))
        if worst is None or seconds > worst[0]:
            worst = (seconds, arch)
    return worst


def cpu_hint(ctx, estimator, batch_size: int) -> str | None:
    """One line when the space's slowest candidate would take over 10 minutes per epoch, else None."""
    from nas_cli.trial.epoch_estimate import human_seconds

    worst = slowest_epoch(ctx, estimator, batch_size)
    if worst is None or worst[0] <= HINT_SECONDS:
        return None
    limits = ctx.extra.get("limits") or {}
    if limits.get("max_epoch_seconds", float("inf")) <= HINT_SECONDS:
        return None  # already limited
    return (f"hint: on this CPU the largest architectures of search_space={ctx.space.name} would take about "
            f"{human_seconds(worst[0])} per epoch ({ctx.space.describe(worst[1])}); set "
            f"constraints.max_epoch_seconds=600 to reject those before training, or shrink the space")


def largest_space_hint(ctx, settings: dict) -> str | None:
    """On a CPU-only machine (hardware=cpu, or auto that found no GPU): a hint when the space's largest
    architectures would take over 10 minutes per epoch (trial/largest.py)."""
    from nas_cli.trial.epoch_estimate import EpochEstimator

    if str(ctx.device) != "cpu" or settings["hardware"].get("device", "auto") not in ("cpu", "auto"):
        return None
    train = settings["train"]
    try:  # a hint: an odd config (checked and reported where it is used) must not end the run here
        batch = train.get("batch_size") or max(int(b) for b in (train.get("search") or {}).get("batch_size") or [64])
        return cpu_hint(ctx, EpochEstimator(**ctx.extra["epoch_probe"]), int(batch))
    except Exception:
        return None
