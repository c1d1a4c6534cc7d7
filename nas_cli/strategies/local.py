"""Model-guided local search. A ridge model with pairwise interactions is fitted to the ranks of the
trials' values. A share (`model_fraction`) of the proposals is the unevaluated configuration the model
ranks highest; the rest are local moves: the model-best unevaluated one-decision neighbour of the
trial the model fits best that still has one. Equivalent configurations (see `surrogate.cell_key`) and
evaluated ones are never proposed again.

Choosing the incumbent by the model's fit rather than by its raw value is what keeps the search out of
lucky outliers: on NAS-Bench-201 a cell whose validation accuracy is far above what its neighbours
suggest (e.g. 91.15 valid, 93.51 test) used to hold the best-first search in its neighbourhood for
good (benchmarks/results/strategies.md).
"""

from __future__ import annotations

import numpy as np

from nas_cli.strategies._common import PlannedSampler, random_value, signed_value
from nas_cli.strategies.surrogate import (
    candidates_near,
    cell_key,
    fresh,
    history,
    neighbours,
    space_cache,
    standardised_ranks,
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
        done, seen, dists = history(study, trial)
        if not dists:
            return {}
        if len(done) < self.n_startup_trials:
            return fresh(lambda: {n: random_value(d, rng) for n, d in dists.items()}, seen)
        ranked = sorted(done, key=lambda t: (-signed_value(study, t), t.number))
        if rng.uniform() < self.model_fraction:
            plan = self._model_proposal(study, done, ranked, dists, seen, rng)
            if plan is not None:
                return plan
        return self._local_proposal(study, done, ranked, dists, seen, rng) or fresh(
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
            near = [p for p in neighbours(t.params, t.distributions, rng) if cell_key(p) not in seen]
            if near:
                if self.local_by_model:
                    scores = encoder.predict(encoder.encode_many(near), weights)
                    return near[int(np.argmax(scores))]
                return near[rng.randint(len(near))]
        return None

    def _weights(self, study, done, encoder) -> np.ndarray:
        y = standardised_ranks([signed_value(study, t) for t in done])
        return encoder.fit(encoder.encode_many([t.params for t in done]), y, self.alpha)

    def _model_proposal(self, study, done, ranked, dists, seen, rng) -> dict | None:
        encoder, candidates, cand_enc, cand_keys = self._space_cache(dists)
        weights = self._weights(study, done, encoder)
        if candidates is None:  # too large to enumerate: neighbours of the top trials plus random draws
            candidates, cand_enc, cand_keys = candidates_near(ranked, dists, encoder, rng)
        scores = encoder.predict(cand_enc, weights)
        for i in np.argsort(-scores, kind="stable"):
            if cand_keys[i] not in seen:
                return dict(candidates[i])
        return None

    def _space_cache(self, dists):
        return space_cache(dists, self.max_enumerate)
