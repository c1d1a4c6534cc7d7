"""Thompson sampling over a Bayesian linear surrogate (model-based search in the spirit of BANANAS,
White et al., 2021: a surrogate on an architecture encoding with path features, an acquisition that
balances exploring and exploiting, and no configuration evaluated twice).

After `n_startup_trials` random distinct configurations, each proposal draws one weight vector from
the posterior of a Bayesian linear regression on the trials' ranks, the best `top_fraction` of them
told apart (features: one-hot choices, pairs of choices and, for cell spaces, the op sequence on
every input-to-output path and op counts; see `surrogate.Encoder`) and proposes the unevaluated configuration that this draw scores highest. The
draw's spread shrinks where trials are dense, so proposals explore early and concentrate later. A
space small enough to enumerate (nb201: 15,625 cells) is scored whole; larger or continuous spaces
score neighbours of the best trials plus random configurations.
"""

from __future__ import annotations

import numpy as np

from nas_cli.strategies._common import PlannedSampler, random_value, signed_value
from nas_cli.strategies.surrogate import (
    candidates_near,
    fresh,
    history,
    posterior_sample,
    space_cache,
    standardised_ranks,
)


class ThompsonSampler(PlannedSampler):
    """Args:
        n_startup_trials: random (distinct) trials before the model proposes.
        alpha: prior precision of the weights (ridge penalty); smaller trusts the data more.
        top_fraction: the model tells apart only the best share of the trials by rank (the rest
            share one value), so it learns what makes the best ones best (see `standardised_ranks`).
        scale: spread of the posterior draws around the ridge fit (1: the posterior itself; larger
            explores more).
        cell_features: add path features and merge equivalent cells for `edge_<to>_<from>` spaces.
        max_enumerate: score every unevaluated configuration when the discrete space has at most this
            many; otherwise neighbours of the best trials plus random configurations.
        seed: fixes the sequence of proposals.
    """

    def __init__(self, n_startup_trials: int = 20, alpha: float = 30.0, top_fraction: float = 0.3,
                 scale: float = 1.5, cell_features: bool = True, max_enumerate: int = 100_000,
                 seed: int | None = None) -> None:
        super().__init__(seed)
        if not 0.0 < top_fraction <= 1.0:
            raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction}")
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        if not scale >= 0:
            raise ValueError(f"scale must be >= 0, got {scale}")
        self.n_startup_trials, self.alpha, self.scale = int(n_startup_trials), float(alpha), float(scale)
        self.top_fraction = float(top_fraction)
        self.cell_features, self.max_enumerate = bool(cell_features), int(max_enumerate)

    def propose(self, study, trial, rng) -> dict:
        done, seen, dists = history(study, trial)
        if not dists:
            return {}
        draw = lambda: {n: random_value(d, rng) for n, d in dists.items()}  # noqa: E731
        if len(done) < self.n_startup_trials:
            return fresh(draw, seen)
        encoder, candidates, cand_enc, cand_keys = space_cache(dists, self.max_enumerate, self.cell_features)
        values = [signed_value(study, t) for t in done]
        x = encoder.dense(encoder.encode_many([t.params for t in done]))
        weights = posterior_sample(x, standardised_ranks(values, self.top_fraction), self.alpha, rng, self.scale)
        if candidates is None:
            ranked = sorted(done, key=lambda t: (-signed_value(study, t), t.number))
            candidates, cand_enc, cand_keys = candidates_near(ranked, dists, encoder, rng)
        scores = encoder.predict(cand_enc, weights)
        for i in np.argsort(-scores, kind="stable"):
            if cand_keys[i] not in seen:
                return dict(candidates[i])
        return fresh(draw, seen)
