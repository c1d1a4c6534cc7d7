"""Model-guided local search: half of the proposals are unevaluated neighbours of the best trial that
still has some (best-first local search), half are the unevaluated configuration a ridge model with
pairwise interactions ranks highest. Evaluated configurations are never proposed again.

On NAS-Bench-201 local search is the strongest simple baseline (White et al., 2021); the model finds
the basin of the optimum quickly, the local moves search it exhaustively (benchmarks/strategies.py).
"""

from __future__ import annotations

import itertools

import numpy as np
from optuna.distributions import CategoricalDistribution, IntDistribution

from nas_cli.strategies._common import (
    PlannedSampler,
    completed,
    mutate_value,
    params_key,
    random_value,
    signed_value,
    to_unit,
)


class LocalSearchSampler(PlannedSampler):
    """Args:
        n_startup_trials: random (distinct) trials before local moves and the model start.
        model_fraction: share of proposals made by the model (0: pure best-first local search).
        alpha: ridge penalty of the model (on standardised values).
        max_enumerate: score every unevaluated configuration when the discrete space has at most
            this many; otherwise score neighbours of the top trials plus random configurations.
        seed: fixes the sequence of proposals.
    """

    def __init__(self, n_startup_trials: int = 10, model_fraction: float = 0.5, alpha: float = 1.0,
                 max_enumerate: int = 100_000, seed: int | None = None) -> None:
        super().__init__(seed)
        if not 0.0 <= model_fraction <= 1.0:
            raise ValueError(f"model_fraction must be in [0, 1], got {model_fraction}")
        self.n_startup_trials, self.model_fraction = int(n_startup_trials), float(model_fraction)
        self.alpha, self.max_enumerate = float(alpha), int(max_enumerate)

    def propose(self, study, trial, rng) -> dict:
        done = completed(study)
        seen = {params_key(t.params) for t in study.get_trials(deepcopy=False) if t.number != trial.number}
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
        return self._local_proposal(ranked, seen, rng) or _fresh(
            lambda: {n: random_value(d, rng) for n, d in dists.items()}, seen)

    def _local_proposal(self, ranked, seen, rng) -> dict | None:
        """A random unevaluated neighbour of the best trial that has one (one decision changed)."""
        for t in ranked:
            neighbours = [p for p in _neighbours(t.params, t.distributions, rng) if params_key(p) not in seen]
            if neighbours:
                return neighbours[rng.randint(len(neighbours))]
        return None

    def _model_proposal(self, study, done, ranked, dists, seen, rng) -> dict | None:
        encoder, candidates, cand_enc, cand_keys = self._space_cache(dists)
        y = np.array([signed_value(study, t) for t in done])
        y = (y - y.mean()) / (y.std() + 1e-12)
        weights = encoder.fit(encoder.encode_many([t.params for t in done]), y, self.alpha)
        if candidates is None:  # too large to enumerate: neighbours of the top trials plus random draws
            candidates = [p for t in ranked[:10] for p in _neighbours(t.params, t.distributions, rng)]
            candidates += [{n: random_value(d, rng) for n, d in dists.items()} for _ in range(200)]
            cand_enc, cand_keys = encoder.encode_many(candidates), [params_key(c) for c in candidates]
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
                                         [params_key(c) for c in configs])
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


def _fresh(draw, seen, tries: int = 100) -> dict:
    for _ in range(tries):
        plan = draw()
        if params_key(plan) not in seen:
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
