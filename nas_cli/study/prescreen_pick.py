"""How `prescreen` turns scored candidates into the trials it trains: a cost-aware pick, and the
hyperparameters the kept trials train with.

- `prescreen.cost_weight=W` (default 1): a candidate's pick score is its zero-cost score's rank
  among the scored candidates minus W times its FLOPs' rank (both normalised to (0, 1]). Zero-cost
  proxies, and the default ensemble most of all (it holds `params`), grow with a network's size, so
  without the penalty the kept trials are the largest sampled networks: the slowest to train and to
  fine-tune, and with a short `train.epochs` budget often the worst trained (benchmarks/prescreen.py).
  W=1 weighs a network's cost as much as its score: among two equally scored networks, the cheaper
  one first. W=0: the zero-cost score alone.
- `prescreen.hparams=default` (the default): the kept trials train with fixed, safe hyperparameters
  (those `evaluator=zero_cost` fine-tunes with: `trial/zero_cost.fixed_hparams`, moved into the
  searched ranges), not the random ones the candidate was sampled with: the proxies score an
  architecture and cannot see a learning rate, so a kept architecture with a sampled learning rate
  of 3e-2 under Adam or 3e-4 under SGD would waste its trial. `sampled`: keep the sampled ones.

May import what `nas_cli.study` may.
"""

from __future__ import annotations

import math

HPARAMS = ("default", "sampled")


def cost_aware(rows: list[dict], scores: list[float], weight: float, cost: str = "flops") -> list[float]:
    """rank(score) - weight * rank(cost), each rank divided by the number of rows; a row without a
    usable cost counts as the most costly."""
    from scipy.stats import rankdata

    if not rows or not weight:
        return list(scores)
    n = len(rows)

    def number(v) -> float:
        try:
            v = float(v)
        except (TypeError, ValueError):
            return math.inf
        return v if math.isfinite(v) else math.inf

    score_rank = rankdata([s if math.isfinite(s) else -math.inf for s in scores], method="average") / n
    cost_rank = rankdata([number(r["proxies"].get(cost)) for r in rows], method="average") / n
    return [float(s - weight * c) for s, c in zip(score_rank, cost_rank, strict=True)]


def _inside_log(value: float, low: float, high: float) -> float:
    """`value` when it lies in [low, high], else the range's geometric middle."""
    return value if low <= value <= high else math.sqrt(low * high)


def default_hparams(params: dict, train: dict, task) -> dict:
    """`params` with each searched hyperparameter it holds replaced by the fixed default (the
    architecture's parameters untouched); every value stays inside its searched range or choices."""
    from nas_cli.trial.zero_cost import fixed_hparams

    fixed = fixed_hparams(train, task)
    search = train.get("search") or {}
    out = dict(params)
    if "lr" in out:
        out["lr"] = _inside_log(fixed.lr, *map(float, search["lr"]))
    if "weight_decay" in out:
        out["weight_decay"] = _inside_log(fixed.weight_decay, *map(float, search["weight_decay"]))
    if "optimizer" in out:
        choices = list(search["optimizer"])
        out["optimizer"] = fixed.optimizer if fixed.optimizer in choices else choices[0]
    if "batch_size" in out:
        choices = sorted(int(b) for b in search["batch_size"])
        out["batch_size"] = fixed.batch_size if fixed.batch_size in choices else choices[len(choices) // 2]
    return out
