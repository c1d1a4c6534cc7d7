"""What the custom samplers share: per-trial randomness, random/mutated values for any distribution,
and a base class that proposes a whole parameter dict before a trial and hands it out param by param."""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState


def trial_rng(seed: int | None, number: int, salt: int = 0) -> np.random.RandomState:
    """Randomness for one trial: a function of (seed, trial number), so any process reproduces it."""
    if seed is None:
        return np.random.RandomState()
    return np.random.RandomState(np.random.SeedSequence([int(seed), int(number), salt]).generate_state(1)[0])


def random_value(dist: BaseDistribution, rng: np.random.RandomState) -> Any:
    """A uniform draw from `dist` (log-uniform for log distributions), as a plain Python value."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[rng.randint(len(dist.choices))]
    if isinstance(dist, (IntDistribution, FloatDistribution)):
        return from_unit(dist, rng.uniform())
    raise ValueError(f"unsupported distribution {dist!r}")


def to_unit(dist: BaseDistribution, value: Any) -> float:
    """Map a numeric value to [0, 1] (log scale for log distributions)."""
    lo, hi, v = float(dist.low), float(dist.high), float(value)
    if getattr(dist, "log", False):
        lo, hi, v = math.log(lo), math.log(hi), math.log(v)
    return 0.5 if hi <= lo else (v - lo) / (hi - lo)


def from_unit(dist: BaseDistribution, u: float) -> Any:
    """Inverse of `to_unit`, snapped to the distribution's step and type."""
    u = min(max(float(u), 0.0), 1.0)
    lo, hi = float(dist.low), float(dist.high)
    v = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if dist.log else lo + u * (hi - lo)
    if isinstance(dist, IntDistribution):
        v = dist.low + round((v - dist.low) / dist.step) * dist.step
        return int(min(max(v, dist.low), dist.high))
    if dist.step is not None:
        v = dist.low + round((v - dist.low) / dist.step) * dist.step
    return float(min(max(v, dist.low), dist.high))


def mutate_value(dist: BaseDistribution, value: Any, rng: np.random.RandomState, scale: float = 0.15) -> Any:
    """Another value of `dist`: a different choice for categoricals, a Gaussian step (unit scale) otherwise."""
    if isinstance(dist, CategoricalDistribution):
        others = [c for c in dist.choices if c != value]
        return others[rng.randint(len(others))] if others else value
    if dist.low == dist.high:
        return value
    for _ in range(10):  # a step that rounds back to the same value is no mutation: retry
        new = from_unit(dist, to_unit(dist, value) + rng.normal(0.0, scale))
        if new != value:
            return new
    return random_value(dist, rng)


def contains(dist: BaseDistribution, value: Any) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def signed_value(study, trial: FrozenTrial) -> float:
    """The trial's objective as "higher is better" (single-objective studies)."""
    value = float(trial.value)
    return value if study.direction == StudyDirection.MAXIMIZE else -value


def completed(study) -> list[FrozenTrial]:
    """Completed trials with a finite value, in trial-number order (the same in every process)."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return [t for t in trials if t.values is not None and len(t.values) == 1 and math.isfinite(t.values[0])]


def params_key(params: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


class PlannedSampler(BaseSampler):
    """Base class: `propose(study, trial, rng)` returns a parameter dict before the trial runs;
    `sample_independent` hands out its values and draws any parameter the plan lacks at random
    (a conditional parameter that appears for the first time, or a changed range)."""

    def __init__(self, seed: int | None = None) -> None:
        self._seed = seed
        self._plans: dict[tuple[int, int], dict] = {}

    def reseed_rng(self) -> None:
        pass  # randomness is a function of (seed, trial number): nothing to reseed

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        self._multi_objective_check(study)
        return {}

    def _multi_objective_check(self, study) -> None:
        if len(study.directions) > 1:
            raise ValueError(f"{type(self).__name__} supports single-objective studies only")

    def before_trial(self, study, trial: FrozenTrial) -> None:
        self._multi_objective_check(study)
        rng = trial_rng(self._seed, trial.number, salt=1)
        self._plans[(study._study_id, trial.number)] = self.propose(study, trial, rng) or {}

    def propose(self, study, trial: FrozenTrial, rng: np.random.RandomState) -> dict:
        raise NotImplementedError

    def sample_independent(self, study, trial, param_name, param_distribution):
        self._multi_objective_check(study)
        plan = self._plans.get((study._study_id, trial.number), {})
        if param_name in plan and contains(param_distribution, plan[param_name]):
            return plan[param_name]
        # salt by name so that the draw does not depend on the order parameters are suggested in
        salt = 2 + zlib.crc32(param_name.encode())
        return random_value(param_distribution, trial_rng(self._seed, trial.number, salt=salt))

    def after_trial(self, study, trial, state, values) -> None:
        self._plans.pop((study._study_id, trial.number), None)
