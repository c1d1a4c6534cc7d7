"""A guard that prunes a trial whose reported value is NaN/infinite or diverging, in front of any pruner.

Optuna's pruners compare a trial with the others; none of them stops a single trial that blew up.
`GuardedPruner` checks the trial's own curve first, then asks the wrapped pruner. Every
`configs/pruner/*.yaml` carries `nan_guard` and `divergence_factor`, so the guard combines with any
of them: `pruner=hyperband pruner.nan_guard=true pruner.divergence_factor=3`.
"""

from __future__ import annotations

import math

from optuna.pruners import BasePruner
from optuna.study import StudyDirection


class GuardedPruner(BasePruner):
    """Prune when the last reported value is not finite, or when it diverged: `divergence_factor` times
    worse than the trial's own best so far (above it for a minimised value, below best / factor for a
    maximised one). Otherwise the wrapped pruner decides.

    Args:
        pruner: the pruner to consult after the guard (None: the guard alone).
        nan_guard: prune on a NaN or infinite value.
        divergence_factor: > 1 to prune diverging curves; None to skip the check.
    """

    def __init__(self, pruner: BasePruner | None = None, nan_guard: bool = True,
                 divergence_factor: float | None = None) -> None:
        if divergence_factor is not None and not divergence_factor > 1:
            raise ValueError(f"divergence_factor must be > 1 or null, got {divergence_factor}")
        self.pruner, self.nan_guard, self.divergence_factor = pruner, bool(nan_guard), divergence_factor

    def prune(self, study, trial) -> bool:
        values = trial.intermediate_values
        if values:
            step = trial.last_step
            value = values[step]
            if self.nan_guard and not math.isfinite(value):
                trial_reason(study, trial, f"reported value {value} at step {step}")
                return True
            if self.divergence_factor is not None and math.isfinite(value) and self._diverged(study, values, value):
                trial_reason(study, trial, f"diverged: {value:.4g} at step {step}")
                return True
        return bool(self.pruner.prune(study, trial)) if self.pruner is not None else False

    def _diverged(self, study, values: dict, value: float) -> bool:
        finite = [v for v in values.values() if math.isfinite(v)]
        if len(finite) < 2:
            return False
        if study.direction == StudyDirection.MINIMIZE:
            best = min(finite)
            return best > 0 and value > self.divergence_factor * best
        best = max(finite)
        return best > 0 and value * self.divergence_factor < best


def trial_reason(study, trial, reason: str) -> None:
    """Record why the guard pruned (shown in the trial's user attributes)."""
    try:
        study._storage.set_trial_user_attr(trial._trial_id, "guard_reason", reason)
    except Exception:  # a read-only or foreign storage: the pruning itself still happens
        pass


def guard(pruner: BasePruner, options: dict) -> BasePruner:
    """Wrap `pruner` as the `pruner` config group asks (`nan_guard`, `divergence_factor`)."""
    if not options.get("nan_guard") and options.get("divergence_factor") is None:
        return pruner
    return GuardedPruner(pruner, nan_guard=bool(options.get("nan_guard")),
                         divergence_factor=options.get("divergence_factor"))
