"""REINFORCE policy gradient (Williams 1992; Zoph & Le 2017) as an Optuna sampler for any search space."""

from __future__ import annotations

import math

import numpy as np
from optuna.distributions import CategoricalDistribution

from nas_cli.strategies._common import PlannedSampler, completed, from_unit, signed_value, to_unit


class ReinforceSampler(PlannedSampler):
    """A controller with one independent policy per decision: softmax logits for a categorical,
    a Gaussian (mean and log-std on the unit interval, log scale where the range is) for an int or
    float. After each completed trial, REINFORCE with a moving-average reward baseline and an
    entropy bonus updates the policies of the decisions that trial made. Advantages are divided by
    a moving standard deviation of the reward, so the step size does not depend on the metric's scale.

    The policy is replayed from the completed trials (in trial-number order) and cached, so every
    process that shares the storage holds the same policy.

    Args:
        learning_rate: step size of the policy-gradient update.
        baseline_decay: weight of the old value in the moving-average baseline (0.95 in Zoph & Le).
        entropy_weight: weight of the entropy bonus that keeps the policy from collapsing early.
        seed: fixes the sequence of proposals.
    """

    def __init__(self, learning_rate: float = 0.3, baseline_decay: float = 0.9, entropy_weight: float = 0.02,
                 seed: int | None = None) -> None:
        super().__init__(seed)
        self.learning_rate = float(learning_rate)
        self.baseline_decay = float(baseline_decay)
        self.entropy_weight = float(entropy_weight)
        self._cache: dict[int, tuple[list[int], _Policy]] = {}

    def policy(self, study) -> _Policy:
        """The policy after learning from every completed trial (incremental when trials were only added)."""
        done = completed(study)
        numbers, policy = self._cache.get(study._study_id, ([], None))
        if policy is None or [t.number for t in done[:len(numbers)]] != numbers:
            numbers, policy = [], _Policy(self.learning_rate, self.baseline_decay, self.entropy_weight)
        for t in done[len(numbers):]:
            policy.learn(t, signed_value(study, t))
            numbers = [*numbers, t.number]
        self._cache[study._study_id] = (numbers, policy)
        return policy

    def propose(self, study, trial, rng) -> dict:
        return {"__policy__": self.policy(study), "__rng__": rng}

    def sample_independent(self, study, trial, param_name, param_distribution):
        plan = self._plans.get((study._study_id, trial.number))
        if plan is None or param_distribution.single():
            return super().sample_independent(study, trial, param_name, param_distribution)
        return plan["__policy__"].draw(param_name, param_distribution, plan["__rng__"])


class _Policy:
    def __init__(self, lr: float, decay: float, entropy: float) -> None:
        self.lr, self.decay, self.entropy = lr, decay, entropy
        self.baseline: float | None = None
        self.var = 0.0
        self.params: dict[str, tuple[object, np.ndarray]] = {}  # name -> (distribution, parameters)

    def _state(self, name: str, dist) -> np.ndarray:
        old = self.params.get(name)
        if old is None or old[0] != dist:  # new decision or a changed range: start uniform
            init = np.zeros(len(dist.choices)) if isinstance(dist, CategoricalDistribution) else np.array([0.5, math.log(0.3)])
            self.params[name] = (dist, init)
        return self.params[name][1]

    def draw(self, name: str, dist, rng: np.random.RandomState):
        theta = self._state(name, dist)
        if isinstance(dist, CategoricalDistribution):
            return dist.choices[rng.choice(len(theta), p=_softmax(theta))]
        mean, log_std = theta
        return from_unit(dist, mean + math.exp(log_std) * rng.normal())

    def learn(self, trial, reward: float) -> None:
        if self.baseline is None:
            self.baseline = reward
        advantage = reward - self.baseline
        self.var = self.decay * self.var + (1 - self.decay) * advantage ** 2
        self.baseline = self.decay * self.baseline + (1 - self.decay) * reward
        scaled = advantage / math.sqrt(self.var) if self.var > 0 else 0.0
        for name, dist in trial.distributions.items():
            if dist.single():
                continue
            theta = self._state(name, dist)
            if isinstance(dist, CategoricalDistribution):
                p = _softmax(theta)
                onehot = np.zeros_like(p)
                onehot[dist.choices.index(trial.params[name])] = 1.0
                log_p = np.log(p + 1e-12)
                entropy_grad = -p * (log_p + (-(p * log_p).sum()))
                theta += self.lr * (scaled * (onehot - p) + self.entropy * entropy_grad)
            else:
                u = to_unit(dist, trial.params[name])
                mean, log_std = theta
                std = math.exp(log_std)
                z = (u - mean) / std
                # d log N / d mean = z / std; d log N / d log_std = z^2 - 1; entropy grows with log_std
                theta[0] = min(max(mean + self.lr * scaled * z * std, 0.0), 1.0)  # natural-gradient step
                theta[1] = min(max(log_std + self.lr * (0.5 * scaled * (z * z - 1) + self.entropy), math.log(0.02)), 0.0)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()
