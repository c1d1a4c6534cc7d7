"""Training-free trials (`evaluator=zero_cost`) and the scoring `prescreen` uses: an untrained network
scored by zero-cost proxies (trial/proxies.py) on one seeded training minibatch, the same for every
network of a run.

The score is `zero_cost.proxy`: one proxy's value, or `ensemble` (trial/proxy_ensemble.py: the mean
normalised rank of the proxies in `proxy_ensemble.DEFAULT`). A rank needs a field to rank in: the
field is `zero_cost.reference` random architectures of the same space, scored once at setup (not
trials), so a trial's `zero_cost` value means the same thing in trial 1 and trial 500 and the
sampler optimises a fixed target. A trial beyond every reference network on every proxy would tie at
1.0: a term under half the smallest rank step (its standardised signed-log proxies against the reference)
orders those without reordering any others.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError, TrialFailed
from nas_cli.rundir import atomic_write_json

SCORE = "zero_cost"


def proxy_choices() -> tuple[str, ...]:
    from nas_cli.trial.proxies import PROXIES

    return ("ensemble", *PROXIES)


def proxy_names(proxy: str) -> list[str]:
    """The proxies to compute for score `proxy` (params and flops always: they are nearly free)."""
    from nas_cli.trial.proxy_ensemble import DEFAULT

    if proxy not in proxy_choices():
        raise ConfigError(f"zero_cost.proxy={proxy!r} is not a proxy; allowed: {', '.join(proxy_choices())}")
    wanted = list(DEFAULT) if proxy == "ensemble" else [proxy]
    return list(dict.fromkeys([*wanted, "params", "flops"]))


def fixed_hparams(train: dict, task):
    """The hyperparameters fine-tune trains a zero-cost winner with: proxies do not see them, so they
    are not searched: `train.<name>` when set, else AdamW, lr 1e-3, weight decay 1e-4, the middle
    `train.search.batch_size`."""
    from nas_cli.trial.fit import Hparams

    sizes = sorted(int(b) for b in (train.get("search") or {}).get("batch_size") or [64])
    losses = task.losses if task is not None else ()
    return Hparams(lr=float(train.get("lr") or 1e-3), optimizer=str(train.get("optimizer") or "adam"),
                   weight_decay=float(train.get("weight_decay") if train.get("weight_decay") is not None else 1e-4),
                   batch_size=int(train.get("batch_size") or sizes[len(sizes) // 2]),
                   momentum=float(train.get("momentum", 0.9)),
                   loss=str(train.get("loss") or (losses[0] if losses else "default")))


def minibatch(data, batch_size: int, seed: int):
    """One seeded minibatch of the training split (the same for every network of a run)."""
    import torch

    n = int(data.train_x.shape[0])
    gen = torch.Generator().manual_seed(int(seed))
    idx = torch.randperm(n, generator=gen)[: max(1, min(int(batch_size), n))].to(data.train_x.device)
    return data.train_x[idx], data.train_y[idx]


def score(model, ctx, names: list[str]):
    """The proxies of `model` (a ProxyResult) on the run's minibatch."""
    from nas_cli.trial.proxies import compute_proxies

    opts = ctx.extra.get("zero_cost") or {}
    if "batch" not in ctx.extra:
        ctx.extra["batch"] = minibatch(ctx.data, int(opts.get("batch_size", 64)), ctx.seed)
    x, y = ctx.extra["batch"]
    return compute_proxies(model, x, y, task=ctx.task, names=names, seed=ctx.seed)


def as_json(values: dict) -> dict:
    """Proxy values for JSON and trial attributes: numbers as floats, the rest as their reason."""
    from nas_cli.trial.proxies import is_number

    out = {}
    for name, v in values.items():
        if is_number(v):
            out[name] = float(v) if abs(float(v)) != float("inf") else str(float(v))
        else:
            out[name] = str(getattr(v, "reason", v))
    return out


def _number(v) -> float | None:
    from nas_cli.trial.proxies import is_number

    if isinstance(v, str) and v in ("inf", "-inf"):
        v = float(v)
    return float(v) if is_number(v) else None


def value_of(proxy: str, row: dict, reference: list[dict]) -> float:
    """The trial's score: the proxy's value, or its ensemble rank in the reference field."""
    import math

    from nas_cli.trial.proxy_ensemble import DEFAULT

    if proxy != "ensemble":
        v = _number(row.get(proxy))
        if v is None:
            raise TrialFailed(f"zero_cost.proxy={proxy} does not apply to this network: {row.get(proxy)}")
        return v
    ranks, spread = [], []
    for name in DEFAULT:
        ref = [x for r in reference if (x := _number(r.get(name))) is not None and math.isfinite(x)]
        if not ref:
            continue
        v = _number(row.get(name))
        if v is None:  # does not apply: the proxy's worst, as in proxy_ensemble
            ranks.append(0.0)
            spread.append(-1.0)
            continue
        ranks.append((sum(x < v for x in ref) + 0.5 * sum(x == v for x in ref)) / len(ref))
        logs = [math.copysign(math.log1p(abs(x)), x) for x in ref]
        mean, std = sum(logs) / len(logs), (sum((x - sum(logs) / len(logs)) ** 2 for x in logs) / len(logs)) ** 0.5
        lv = math.copysign(math.log1p(abs(v)), v) if math.isfinite(v) else math.copysign(1e300, v)
        spread.append(math.tanh((lv - mean) / std) if std > 0 else 0.0)
    if not ranks:
        raise TrialFailed("zero_cost.proxy=ensemble: none of its proxies applies to the reference networks")
    tie_break = 0.05 / max(1, len(reference)) * (sum(spread) / len(spread))  # < half a rank step (0.125 / R)
    return sum(ranks) / len(ranks) + tie_break


def score_and_measure(trial, ctx, arch: dict, hp, tdir) -> dict:
    """`evaluator=zero_cost`'s trial: build, measure the cost (constraints apply), score; no training."""
    import torch

    from nas_cli.trial.constraints import check_trial
    from nas_cli.trial.measure import measure_trial_cost
    from nas_cli.trial.objective import build_model

    torch.manual_seed(ctx.seed * 100_003 + trial.number)
    model = build_model(ctx.space, arch, ctx.data.spec, ctx.device, ctx.channels_last)
    cost = measure_trial_cost(trial, ctx, model)
    check_trial(trial, ctx, cost, tdir)
    proxy = str((ctx.extra.get("zero_cost") or {}).get("proxy", "ensemble"))
    result = score(model, ctx, proxy_names(proxy))
    values = as_json(result.values)
    trial.set_user_attr("proxies", values)
    trial.set_user_attr("proxy_seconds", {k: round(v, 5) for k, v in result.seconds.items()})
    value = value_of(proxy, values, ctx.extra.get("zero_cost_reference") or [])
    numbers = {k: v for k, v in values.items() if isinstance(v, float)}
    metrics = {SCORE: value, **numbers, **cost, "proxy_seconds": round(result.total_seconds, 5), "epochs": 0}
    trial.set_user_attr("metrics", metrics)
    atomic_write_json(tdir / "result.json", {"state": "COMPLETE", "metrics": metrics})
    return metrics
