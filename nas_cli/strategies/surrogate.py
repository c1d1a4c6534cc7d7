"""The surrogate model shared by the model-based samplers (`local`, `thompson`): an encoding of any
Optuna search space as sparse one-hot features (plus pairwise and, for cell spaces, path features),
a ridge / Bayesian linear regression on it fitted to the trials' ranks, and the helpers that keep a
search from evaluating equivalent configurations twice.
"""

from __future__ import annotations

import itertools

import numpy as np
from optuna.distributions import CategoricalDistribution, IntDistribution

from nas_cli.strategies._common import completed, mutate_value, random_value, to_unit
from nas_cli.strategies.cells import EDGE_NAME, canonical, cell_key, cell_paths

__all__ = ["Encoder", "canonical", "cell_key", "cell_paths", "posterior_sample", "standardised_ranks"]

def choices(dist) -> list | None:
    """The values of a categorical or small integer distribution, else None (treated as numeric)."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution) and not dist.log and (dist.high - dist.low) // dist.step < 64:
        return list(range(dist.low, dist.high + 1, dist.step))
    return None


def neighbours(params: dict, dists: dict, rng) -> list[dict]:
    """Configurations that differ in one decision: every other choice of a categorical or small int,
    one random step of a float or large int."""
    out = []
    for name, dist in dists.items():
        values = choices(dist)
        if values is None:
            out.append({**params, name: mutate_value(dist, params[name], rng)})
        else:
            out += [{**params, name: v} for v in values if v != params[name]]
    return out


def ranks(y: np.ndarray) -> np.ndarray:
    """Ranks of `y` (ties share their mean rank): the model learns the order of the trials, not
    their raw values, which a few failed configurations (10% accuracy) would otherwise dominate."""
    order = np.argsort(y, kind="stable")
    r = np.empty(len(y))
    r[order] = np.arange(len(y), dtype=float)
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=r)
    return sums[inverse] / counts[inverse]


def standardised_ranks(values, top: float = 1.0) -> np.ndarray:
    """Ranks of `values` scaled to [0, 1], standardised. With `top` < 1 only the best `top` share of
    the trials is told apart (the rest share the value 0): the model then learns what makes the best
    trials best rather than what separates mediocre from bad ones, as TPE splits good from bad."""
    y = ranks(np.asarray(values, dtype=float))
    y = np.maximum(y / max(len(y) - 1, 1) - (1.0 - top), 0.0)
    return (y - y.mean()) / (y.std() + 1e-12)


def history(study, trial) -> tuple[list, set, dict]:
    """(completed trials, `cell_key`s of every other trial, running ones included, and the union of
    the completed trials' distributions): what a model-based proposal starts from."""
    done = completed(study)
    seen = {cell_key(t.params) for t in study.get_trials(deepcopy=False) if t.number != trial.number}
    dists: dict = {}
    for t in done:
        dists.update(t.distributions)
    return done, seen, dists


def fresh(draw, seen, tries: int = 100) -> dict:
    """A draw whose `cell_key` is not in `seen` (the last draw if none is, after `tries`)."""
    for _ in range(tries):
        plan = draw()
        if cell_key(plan) not in seen:
            return plan
    return plan


class Encoder:
    """One-hot features per choice plus one per pair of choices of two parameters; numeric
    parameters add their unit-interval value. A missing (conditional) parameter adds nothing.

    `cells=True` adds, for cell spaces (`edge_<to>_<from>` parameters), one one-hot feature per
    input-to-output path and sequence of ops along it (a path through a `none` edge adds nothing)
    and one per op and how many edges carry it, and encodes a configuration by its canonical
    form (dead edges as `none`), so that equivalent cells share one encoding. Other spaces are
    encoded the same either way."""

    def __init__(self, dists: dict, cells: bool = False) -> None:
        self.names = sorted(dists)
        self.dists = dists
        self.cells = cells
        self.offsets, n = {}, 0
        for name in self.names:
            values = choices(dists[name])
            self.offsets[name] = (n, values)
            n += len(values) if values is not None else 1
        self.n_unary = n
        self.cat = [nm for nm in self.names if self.offsets[nm][1] is not None]
        self.pair_offsets = {}
        for a, b in itertools.combinations(self.cat, 2):
            self.pair_offsets[(a, b)] = n
            n += len(self.offsets[a][1]) * len(self.offsets[b][1])
        self.path_offsets, self.count_offsets = {}, {}
        if cells:
            for path in cell_paths(self.cat):
                self.path_offsets[path] = n
                n += int(np.prod([len(self.offsets[e][1]) for e in path]))
            self.edges = [nm for nm in self.cat if EDGE_NAME.match(nm)]
            for op in sorted({repr(v) for e in self.edges for v in self.offsets[e][1]}):
                self.count_offsets[op] = n  # then one feature per count 0..len(edges)
                n += len(self.edges) + 1
        self.n_features = n

    def encode_many(self, configs: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(index matrix of active one-hot features (-1: none), numeric columns, numeric values)."""
        if self.cells:
            configs = [canonical(c) for c in configs]
        n_idx = len(self.cat) + len(self.pair_offsets) + len(self.path_offsets) + len(self.count_offsets)
        idx = np.full((len(configs), n_idx), -1, dtype=np.int64)
        num_names = [nm for nm in self.names if self.offsets[nm][1] is None]
        num_cols = [self.offsets[nm][0] for nm in num_names]
        num = np.zeros((len(configs), len(num_cols)))
        pos = {nm: i for i, nm in enumerate(self.cat)}
        first_path = len(self.cat) + len(self.pair_offsets)
        first_count = first_path + len(self.path_offsets)
        for r, cfg in enumerate(configs):
            choice = {}
            for nm in self.cat:
                start, values = self.offsets[nm]
                if nm in cfg and cfg[nm] in values:
                    choice[nm] = values.index(cfg[nm])
                    idx[r, pos[nm]] = start + choice[nm]
            for j, ((a, b), start) in enumerate(self.pair_offsets.items()):
                if a in choice and b in choice:
                    idx[r, len(self.cat) + j] = start + choice[a] * len(self.offsets[b][1]) + choice[b]
            for j, (path, start) in enumerate(self.path_offsets.items()):
                if all(e in choice and cfg[e] != "none" for e in path):
                    k = 0
                    for e in path:
                        k = k * len(self.offsets[e][1]) + choice[e]
                    idx[r, first_path + j] = start + k
            if self.count_offsets:
                ops = [repr(cfg.get(e)) for e in self.edges]  # `none` counted too: dead edges are `none` here
                for j, (op, start) in enumerate(self.count_offsets.items()):
                    idx[r, first_count + j] = start + ops.count(op)
            for j, nm in enumerate(num_names):
                if nm in cfg:
                    num[r, j] = to_unit(self.dists[nm], cfg[nm])
        return idx, np.array(num_cols, dtype=np.int64), num

    def dense(self, enc) -> np.ndarray:
        idx, num_cols, num = enc
        x = np.zeros((idx.shape[0], self.n_features + 1))  # the last column absorbs "missing" (-1)
        np.put_along_axis(x, np.where(idx < 0, self.n_features, idx), 1.0, axis=1)
        x[:, num_cols] = num
        return x[:, :-1]

    def fit(self, enc, y: np.ndarray, alpha: float) -> np.ndarray:
        """Ridge weights (the posterior mean of `BayesianRidge`)."""
        x = self.dense(enc)
        # ridge in its dual form: (n x n) instead of (features x features) while trials are few
        k = x @ x.T + alpha * np.eye(len(y))
        return x.T @ np.linalg.solve(k, y)

    def predict(self, enc, weights: np.ndarray) -> np.ndarray:
        idx, num_cols, num = enc
        w = np.append(weights, 0.0)
        return w[np.where(idx < 0, self.n_features, idx)].sum(axis=1) + num @ weights[num_cols]


def posterior_sample(x: np.ndarray, y: np.ndarray, alpha: float, rng, scale: float = 1.0,
                     min_noise: float = 0.05) -> np.ndarray:
    """One weight vector drawn from the posterior of Bayesian linear regression y = x w + noise, with
    prior w ~ N(0, s2 / alpha I) and noise N(0, s2), s2 the residual variance of the ridge fit (at
    least `min_noise`). Drawn exactly in the (n x n) dual form (Matheron's rule: a prior draw
    corrected by the data), so its cost grows with the trials, not with the features. `scale`
    widens (> 1) or narrows (< 1) the spread around the ridge weights (the posterior mean)."""
    n, d = x.shape
    k = x @ x.T + alpha * np.eye(n)
    mean = x.T @ np.linalg.solve(k, y)
    resid = y - x @ mean
    s2 = max(float(resid @ resid) / max(n - 1, 1), min_noise)
    z = rng.standard_normal(d) / np.sqrt(alpha)
    e = rng.standard_normal(n)
    return mean + scale * np.sqrt(s2) * (z - x.T @ np.linalg.solve(k, x @ z + e))


def space_cache(dists: dict, max_enumerate: int, cells: bool = False):
    """(encoder, every configuration or None, their encodings, their keys), cached per space: a space
    of at most `max_enumerate` discrete configurations is listed once, larger ones give None."""
    key = (cells, max_enumerate, *sorted((n, repr(d)) for n, d in dists.items()))
    if key not in _SPACE_CACHE:
        if len(_SPACE_CACHE) > 8:
            _SPACE_CACHE.clear()
        encoder = Encoder(dists, cells=cells)
        values = {n: choices(d) for n, d in dists.items()}
        size = 1
        for v in values.values():
            size = size * len(v) if v is not None else max_enumerate + 1
        if size > max_enumerate:
            _SPACE_CACHE[key] = (encoder, None, None, None)
        else:
            names = sorted(values)
            configs = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(values[n] for n in names))]
            _SPACE_CACHE[key] = (encoder, configs, encoder.encode_many(configs), [cell_key(c) for c in configs])
    return _SPACE_CACHE[key]


def candidates_near(ranked, dists: dict, encoder, rng, n_random: int = 200):
    """Candidates for a space too large to enumerate: neighbours of the 10 best trials plus random
    configurations, with their encodings and keys."""
    configs = [p for t in ranked[:10] for p in neighbours(t.params, t.distributions, rng)]
    configs += [{n: random_value(d, rng) for n, d in dists.items()} for _ in range(n_random)]
    return configs, encoder.encode_many(configs), [cell_key(c) for c in configs]


# encodings of enumerated spaces, shared by sampler instances (one per seed in a benchmark)
_SPACE_CACHE: dict = {}
