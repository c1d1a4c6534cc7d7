"""Model-guided local search. A ridge model with pairwise interactions is fitted to the ranks of the
trials' values. A share (`model_fraction`) of the proposals is the unevaluated configuration the model
ranks highest; the rest are local moves: the model-best unevaluated one-decision neighbour of the
trial the model fits best that still has one. Equivalent configurations (see `_cell_key`) and
evaluated ones are never proposed again.

Choosing the incumbent by the model's fit rather than by its raw value is what keeps the search out of
lucky outliers: on NAS-Bench-201 a cell whose validation accuracy is far above what its neighbours
suggest (e.g. 91.15 valid, 93.51 test) used to hold the best-first search in its neighbourhood for
good (benchmarks/results/strategies.md).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
from optuna.distributions import CategoricalDistribution, IntDistribution

from nas_cli.strategies._common import (
    PlannedSampler,
    completed,
    mutate_value,
    random_value,
    signed_value,
    to_unit,
)


class LocalSearchSampler(PlannedSampler):
    """Args:
        n_startup_trials: random (distinct) trials before local moves and the model start.
        model_fraction: share of global model proposals (the rest are local moves).
        alpha: ridge penalty of the model (fitted to the standardised ranks of the trials' values).
        max_enumerate: score every unevaluated configuration when the discrete space has at most
            this many; otherwise score neighbours of the top trials plus random configurations.
        local_by_model: local moves start from the trial with the best model fit and take its
            best-scored neighbour (False: the best trial by value, a random neighbour).
        seed: fixes the sequence of proposals.
    """

    def __init__(self, n_startup_trials: int = 20, model_fraction: float = 0.25, alpha: float = 30.0,
                 max_enumerate: int = 100_000, local_by_model: bool = True, seed: int | None = None) -> None:
        super().__init__(seed)
        if not 0.0 <= model_fraction <= 1.0:
            raise ValueError(f"model_fraction must be in [0, 1], got {model_fraction}")
        self.n_startup_trials, self.model_fraction = int(n_startup_trials), float(model_fraction)
        self.alpha, self.max_enumerate = float(alpha), int(max_enumerate)
        self.local_by_model = bool(local_by_model)

    def propose(self, study, trial, rng) -> dict:
        done = completed(study)
        seen = {_cell_key(t.params) for t in study.get_trials(deepcopy=False) if t.number != trial.number}
        dists = {}
        for t in done:
            dists.update(t.distributions)
        if not dists:
            return {}
        if len(done) < self.n_startup_trials:
            return _fresh(lambda: {n: random_value(d, rng) for n, d in dists.items()}, seen)
        ranked = sorted(done, key=lambda t: (-signed_value(study, t), t.number))
        if rng.uniform() < self.model_fraction:
            plan = self._model_proposal(study, done, ranked, dists, seen, rng)
            if plan is not None:
                return plan
        return self._local_proposal(study, done, ranked, dists, seen, rng) or _fresh(
            lambda: {n: random_value(d, rng) for n, d in dists.items()}, seen)

    def _local_proposal(self, study, done, ranked, dists, seen, rng) -> dict | None:
        """The unevaluated neighbour (one decision changed) of the best trial that has one, the one
        the model ranks highest when `local_by_model`, else a random one."""
        if self.local_by_model:
            encoder = self._space_cache(dists)[0]
            weights = self._weights(study, done, encoder)
            fitted = encoder.predict(encoder.encode_many([t.params for t in done]), weights)
            ranked = [done[i] for i in np.argsort(-fitted, kind="stable")]
        for t in ranked:
            neighbours = [p for p in _neighbours(t.params, t.distributions, rng) if _cell_key(p) not in seen]
            if neighbours:
                if self.local_by_model:
                    scores = encoder.predict(encoder.encode_many(neighbours), weights)
                    return neighbours[int(np.argmax(scores))]
                return neighbours[rng.randint(len(neighbours))]
        return None

    def _weights(self, study, done, encoder) -> np.ndarray:
        y = _ranks(np.array([signed_value(study, t) for t in done]))
        y = (y - y.mean()) / (y.std() + 1e-12)
        return encoder.fit(encoder.encode_many([t.params for t in done]), y, self.alpha)

    def _model_proposal(self, study, done, ranked, dists, seen, rng) -> dict | None:
        encoder, candidates, cand_enc, cand_keys = self._space_cache(dists)
        weights = self._weights(study, done, encoder)
        if candidates is None:  # too large to enumerate: neighbours of the top trials plus random draws
            candidates = [p for t in ranked[:10] for p in _neighbours(t.params, t.distributions, rng)]
            candidates += [{n: random_value(d, rng) for n, d in dists.items()} for _ in range(200)]
            cand_enc, cand_keys = encoder.encode_many(candidates), [_cell_key(c) for c in candidates]
        scores = encoder.predict(cand_enc, weights)
        for i in np.argsort(-scores, kind="stable"):
            if cand_keys[i] not in seen:
                return dict(candidates[i])
        return None

    def _space_cache(self, dists):
        """(encoder, every configuration or None, their encodings, their keys), cached per space."""
        key = tuple(sorted((n, repr(d)) for n, d in dists.items()))
        if key not in _SPACE_CACHE:
            if len(_SPACE_CACHE) > 8:
                _SPACE_CACHE.clear()
            encoder = _Encoder(dists)
            values = {n: _choices(d) for n, d in dists.items()}
            size = 1
            for v in values.values():
                size = size * len(v) if v is not None else self.max_enumerate + 1
            if size > self.max_enumerate:
                _SPACE_CACHE[key] = (encoder, None, None, None)
            else:
                names = sorted(values)
                configs = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(values[n] for n in names))]
                _SPACE_CACHE[key] = (encoder, configs, encoder.encode_many(configs),
                                         [_cell_key(c) for c in configs])
        return _SPACE_CACHE[key]


# encodings of enumerated spaces, shared by sampler instances (one per seed in a benchmark)
_SPACE_CACHE: dict = {}


def _choices(dist) -> list | None:
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution) and not dist.log and (dist.high - dist.low) // dist.step < 64:
        return list(range(dist.low, dist.high + 1, dist.step))
    return None


def _neighbours(params: dict, dists: dict, rng) -> list[dict]:
    """Configurations that differ in one decision: every other choice of a categorical or small int,
    one random step of a float or large int."""
    out = []
    for name, dist in dists.items():
        values = _choices(dist)
        if values is None:
            out.append({**params, name: mutate_value(dist, params[name], rng)})
        else:
            out += [{**params, name: v} for v in values if v != params[name]]
    return out


_EDGE = re.compile(r"edge_(\d+)_(\d+)$")


def _cell_key(params: dict) -> tuple:
    """A key equal for equivalent configurations. Cell parameters named `edge_<to>_<from>` (the nb201
    space; an op `none` means no edge) count only on live edges, those on a path from the input node
    (the smallest) to the output node (the largest): the op on any other edge cannot change the
    network, so such configurations are the same architecture and are evaluated once."""
    every = {name: (int(m.group(2)), int(m.group(1))) for name in params if (m := _EDGE.match(name))}
    if not every:
        return tuple(sorted((k, repr(v)) for k, v in params.items()))
    edges = {name: e for name, e in every.items() if params[name] != "none"}
    src, dst = min(min(e) for e in every.values()), max(max(e) for e in every.values())
    fwd, bwd = {src}, {dst}
    for a, b in sorted(edges.values()):  # edges go from a lower to a higher node: one pass each way
        if a in fwd:
            fwd.add(b)
    for a, b in sorted(edges.values(), key=lambda e: -e[1]):
        if b in bwd:
            bwd.add(a)
    live = {n for n, (a, b) in edges.items() if a in fwd and b in bwd}
    return tuple(sorted((k, repr(v if k in live or not _EDGE.match(k) else "none")) for k, v in params.items()))


def _ranks(y: np.ndarray) -> np.ndarray:
    """Ranks of `y` (ties share their mean rank): the model learns the order of the trials, not
    their raw values, which a few failed configurations (10% accuracy) would otherwise dominate."""
    order = np.argsort(y, kind="stable")
    ranks = np.empty(len(y))
    ranks[order] = np.arange(len(y), dtype=float)
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def _fresh(draw, seen, tries: int = 100) -> dict:
    for _ in range(tries):
        plan = draw()
        if _cell_key(plan) not in seen:
            return plan
    return plan


class _Encoder:
    """One-hot features per choice plus one per pair of choices of two parameters; numeric
    parameters add their unit-interval value. A missing (conditional) parameter adds nothing."""

    def __init__(self, dists: dict) -> None:
        self.names = sorted(dists)
        self.dists = dists
        self.offsets, n = {}, 0
        for name in self.names:
            values = _choices(dists[name])
            self.offsets[name] = (n, values)
            n += len(values) if values is not None else 1
        self.n_unary = n
        self.cat = [nm for nm in self.names if self.offsets[nm][1] is not None]
        self.pair_offsets = {}
        for a, b in itertools.combinations(self.cat, 2):
            self.pair_offsets[(a, b)] = n
            n += len(self.offsets[a][1]) * len(self.offsets[b][1])
        self.n_features = n

    def encode_many(self, configs: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(index matrix of active one-hot features (-1: none), numeric columns, numeric values)."""
        n_idx = len(self.cat) + len(self.pair_offsets)
        idx = np.full((len(configs), n_idx), -1, dtype=np.int64)
        num_cols = [self.offsets[nm][0] for nm in self.names if self.offsets[nm][1] is None]
        num = np.zeros((len(configs), len(num_cols)))
        pos = {nm: i for i, nm in enumerate(self.cat)}
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
            for j, nm in enumerate(nm for nm in self.names if self.offsets[nm][1] is None):
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
        x = self.dense(enc)
        # ridge in its dual form: (n x n) instead of (features x features) while trials are few
        k = x @ x.T + alpha * np.eye(len(y))
        return x.T @ np.linalg.solve(k, y)

    def predict(self, enc, weights: np.ndarray) -> np.ndarray:
        idx, num_cols, num = enc
        w = np.append(weights, 0.0)
        return w[np.where(idx < 0, self.n_features, idx)].sum(axis=1) + num @ weights[num_cols]
