"""Combine zero-cost proxies into one score that ranks networks better than any single proxy.

Two ways, both higher = better:

- `ensemble_scores(rows, names=DEFAULT)`: the mean of each proxy's normalised rank over the rows
  (no fitting, no trained networks needed). Rank-averaging is immune to the proxies' wildly different
  scales (synflow reaches 1e50, jacob_cov is a negative log-sum) and to their heavy tails; a proxy
  that does not apply to a network (NotApplicable, None, NaN) counts as that proxy's worst for that
  network (on NAS-Bench-201 that is exactly the cells whose output ignores their input), and a proxy
  that applies to no row at all is left out (jacob_cov on token inputs, say).
  DEFAULT = synflow + jacob_cov + params: of all 381 subsets of up to five of the nine proxies, the
  best by mean Spearman correlation with NAS-Bench-201 CIFAR-10 test accuracy on half of the
  benchmark's 1,000 cells (0.904 over 3 seeds), and it holds on the other half (0.895); every single
  proxy stays below 0.79 (`benchmarks/zero_cost.py`, `benchmarks/results/zero_cost.md`). synflow and
  params both grow with capacity but err on different cells (synflow depends on how the
  operations are wired, params only on which they are), and jacob_cov adds what neither sees: how differently
  the untrained network treats the inputs of one batch. flops ranks NAS-Bench-201 cells exactly like
  params; params is kept because it costs nothing. Adding naswot or flops did not help (0.897, 0.890).
- `fit_ensemble(rows, scores)`: once some trials have been trained, a ridge regression of their
  scores' ranks on the proxies (signed log of each value, standardised), which learns the weights and
  signs from the search's own data; `FittedEnsemble.predict(rows)` scores new candidates. Fitted on
  500 benchmark cells it reached 0.861 on the other 500, below the fixed rank average above: where
  a benchmark has chosen the subset, use it; the fit is for spaces no benchmark covers.

May import: the ground layer and `nas_cli.trial.*` (scipy and scikit-learn lazily).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nas_cli.trial.proxies import PROXIES, is_number

DEFAULT: tuple[str, ...] = ("synflow", "jacob_cov", "params")


def _usable(v) -> bool:
    return is_number(v) or (isinstance(v, str) and v in ("inf", "-inf"))


def _value(row: dict, name: str) -> float:
    """A row's value of `name` as a float; anything that is not a usable number is -inf (the worst)."""
    v = row.get(name)
    if isinstance(v, str) and v in ("inf", "-inf"):  # how ProxyResult.to_dict writes infinities
        v = float(v)
    return float(v) if is_number(v) else -math.inf


def proxy_ranks(rows: list[dict], name: str) -> list[float] | None:
    """Each row's rank of proxy `name`, divided by the number of rows (ties share their mean rank);
    None when the proxy applies to no row."""
    from scipy.stats import rankdata

    if not any(_usable(r.get(name)) for r in rows):
        return None
    values = [_value(r, name) for r in rows]
    return [float(r) / len(rows) for r in rankdata(values, method="average")]


def ensemble_scores(rows: list[dict], names=DEFAULT, weights: dict | None = None) -> list[float]:
    """The (weighted) mean normalised rank of the proxies `names` for each row; higher = better.

    Args:
        rows: one dict per network, proxy name -> value (`ProxyResult.values` or its JSON form).
        names: the proxies to combine (unknown or inapplicable ones are left out).
        weights: optional proxy -> weight (default 1 each).
    """
    ranks = {n: r for n in names if (r := proxy_ranks(rows, n)) is not None}
    if not ranks:
        raise ValueError(f"none of the proxies {list(names)} has a value in any row")
    w = {n: float((weights or {}).get(n, 1.0)) for n in ranks}
    total = sum(w.values())
    return [sum(w[n] * ranks[n][i] for n in ranks) / total for i in range(len(rows))]


def _features(rows: list[dict], names) -> list[list[float]]:
    """Signed log of each value (monotone; tames synflow's 1e50 and keeps negative scores ordered)."""
    return [[math.copysign(math.log1p(abs(v)), v) if math.isfinite(v) else v for v in
             (_value(r, n) for n in names)] for r in rows]


@dataclass
class FittedEnsemble:
    """A ridge regression of trained scores' ranks on the proxies; `predict` scores new rows."""

    names: tuple[str, ...]
    floor: list[float]  # per proxy: the worst training value, used for inapplicable / -inf values
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def predict(self, rows: list[dict]) -> list[float]:
        out = []
        for x in _features(rows, self.names):
            z = [((v if math.isfinite(v) else f) - m) / s for v, f, m, s in
                 zip(x, self.floor, self.mean, self.scale, strict=True)]
            out.append(self.intercept + sum(c * v for c, v in zip(self.coef, z, strict=True)))
        return out

    def weights(self) -> dict[str, float]:
        """proxy -> coefficient on its standardised feature (sign: the direction it was found to point)."""
        return dict(zip(self.names, self.coef, strict=True))


def fit_ensemble(rows: list[dict], scores: list[float], names=PROXIES, alpha: float = 1.0) -> FittedEnsemble:
    """Fit on trained networks: `rows` their proxies, `scores` what training measured (higher = better).

    The target is the scores' normalised rank, so a few diverged or degenerate networks do not
    dominate the fit; proxies without any usable value in `rows` are dropped.
    """
    from scipy.stats import rankdata
    from sklearn.linear_model import Ridge

    if len(rows) != len(scores) or len(rows) < 3:
        raise ValueError(f"fit_ensemble needs >= 3 rows with one score each, got {len(rows)} rows, {len(scores)} scores")
    names = tuple(n for n in names if any(_usable(r.get(n)) for r in rows))
    if not names:
        raise ValueError("no proxy has a usable value in the rows")
    x = _features(rows, names)
    floor = []
    for j in range(len(names)):
        finite = [row[j] for row in x if math.isfinite(row[j])]
        floor.append(min(finite) if finite else 0.0)
    x = [[v if math.isfinite(v) else floor[j] for j, v in enumerate(row)] for row in x]
    mean = [sum(col) / len(col) for col in zip(*x, strict=True)]
    scale = [math.sqrt(sum((v - m) ** 2 for v in col) / len(col)) or 1.0 for col, m in zip(zip(*x, strict=True), mean, strict=True)]
    z = [[(v - m) / s for v, m, s in zip(row, mean, scale, strict=True)] for row in x]
    target = rankdata(scores, method="average") / len(scores)
    model = Ridge(alpha=alpha).fit(z, target)
    return FittedEnsemble(names, floor, mean, scale, [float(c) for c in model.coef_], float(model.intercept_))
