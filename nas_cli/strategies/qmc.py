"""Quasi-Monte Carlo over distinct architectures: Optuna's QMCSampler (scrambled Sobol or Halton; a
categorical takes one coordinate, floored to a choice index), skipping the points whose
architecture was already evaluated or is running. In a cell space (nb201) many points are the same
network (ops on dead edges change nothing: `surrogate.cell_key`); elsewhere every point is new and
this is QMCSampler unchanged. Each skipped point is consumed from the sequence, which Optuna tracks
in the study, so the proposals stay deterministic under the seed and several workers with the same
seed still walk one sequence.
"""

from __future__ import annotations

from optuna.samplers import QMCSampler
from optuna.trial import TrialState

from nas_cli.strategies.cells import cell_key

MAX_SKIPS = 64  # then the point is taken anyway (a nearly exhausted space)


class DistinctQMCSampler(QMCSampler):
    def sample_relative(self, study, trial, search_space):
        if not search_space:
            return {}
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
        seen = {cell_key(t.params) for t in study._get_trials(deepcopy=False, states=states, use_cache=False)
                if t.number != trial.number and set(t.params) == set(search_space)}
        for _ in range(MAX_SKIPS):
            params = super().sample_relative(study, trial, search_space)
            if cell_key(params) not in seen:
                break
        return params
