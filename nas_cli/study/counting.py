"""Which trials count toward `study.n_trials`, and the callbacks that stop a study at its total.

Counting rule: `study.n_trials` is the number of finished trials the study should hold (COMPLETE,
PRUNED or FAIL), over every call and every worker. An *interrupted* trial (the process died, or
Ctrl-C; its reason starts "interrupted") counts neither toward it nor toward
`study.max_failure_rate`: it is retried (`nas_cli.study.recovery`). With `constraints.*` set,
architectures rejected before training do not count either: they cost milliseconds.
"""

from __future__ import annotations

from nas_cli.signals import is_interrupted_reason
from nas_cli.trial.constraints import is_infeasible


def counted(trial) -> bool:
    """Whether a finished trial counts toward study.n_trials and the failure rate."""
    from optuna.trial import TrialState

    if trial.state == TrialState.FAIL:
        return not is_interrupted_reason(trial.user_attrs.get("fail_reason"))
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED)


def counted_trials(study) -> int:
    return sum(counted(t) for t in study.get_trials(deepcopy=False))


class StudyTotal:
    """Optuna callback: stop once counted + still-running trials (any worker) reach study.n_trials."""

    def __init__(self, n_trials: int) -> None:
        self.n_trials = n_trials

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        if sum(counted(t) for t in trials) + running >= self.n_trials:
            study.stop()


class TrainedTrialsTarget:
    """Optuna callback: stop once trained + still-running trials (any worker) reach `target`.

    Rejected architectures cost milliseconds, so they do not use up `study.n_trials`; the run is
    still capped at `constraints.max_rejected` rejections so an impossible limit cannot loop forever.
    """

    def __init__(self, target: int) -> None:
        self.target = target

    def __call__(self, study, trial) -> None:
        if count_trained(study, running=True) >= self.target:
            study.stop()


def count_trained(study, running: bool = False) -> int:
    """Finished trials that count toward study.n_trials (nas_cli.resume's rule), minus rejected ones."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    n = sum(1 for t in trials if counted(t) and not is_infeasible(t))
    return n + (sum(t.state == TrialState.RUNNING for t in trials) if running else 0)


def trained_plan(study, n_total: int, settings: dict) -> tuple[int, int, TrainedTrialsTarget]:
    """(trials already trained, most trials to start, the stop callback) when constraints are set."""
    done = count_trained(study)
    cap = int((settings.get("constraints") or {}).get("max_rejected", 1000))
    return done, max(0, n_total - done) + cap, TrainedTrialsTarget(n_total)
