"""What summary.json says about the search: trial counts, the best trials, the failure budget."""

from __future__ import annotations


class FailureBudget:
    """Stops the study when more than `rate` of at least 5 finished trials failed."""

    def __init__(self, rate: float, min_trials: int = 5) -> None:
        self.rate, self.min_trials, self.tripped, self.message = rate, min_trials, False, ""

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        from nas_cli.study.counting import counted

        trials = [t for t in trials if counted(t)]  # interrupted trials are retried, not the trial's fault
        failed = [t for t in trials if t.state == TrialState.FAIL]
        if len(trials) >= self.min_trials and len(failed) / len(trials) > self.rate:
            self.tripped = True
            last = failed[-1].user_attrs.get("fail_reason", "unknown")
            self.message = (f"stopped: {len(failed)} of {len(trials)} trials failed, more than "
                            f"study.max_failure_rate={self.rate}; last reason: {last}")
            study.stop()


def count_trials(study) -> dict:
    """Trial counts by state. An architecture `constraints.*` rejected before training ends PRUNED in
    Optuna but is counted as `rejected` here, so `pruned` means stopped early by the pruner only."""
    from nas_cli.trial.constraints import is_infeasible

    counts = {"total": 0, "complete": 0, "pruned": 0, "rejected": 0, "failed": 0, "running": 0}
    for t in study.get_trials(deepcopy=False):
        counts["total"] += 1
        key = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running"}.get(t.state.name)
        if key == "pruned" and is_infeasible(t):
            key = "rejected"
        if key:
            counts[key] += 1
    return counts


def best_trials(study, objectives, space, k: int) -> list[dict]:
    from nas_cli.deploy.finetune import select_candidates

    rows = []
    for t in select_candidates(study, objectives, k) if any_complete(study) else []:
        rows.append({"number": t.number, "values": dict(zip([n for n, _ in objectives], t.values, strict=True)),
                     "params": t.params, "arch": t.user_attrs.get("arch"), "hparams": t.user_attrs.get("hparams"),
                     "metrics": t.user_attrs.get("metrics", {}),
                     "description": space.describe(t.user_attrs["arch"]) if t.user_attrs.get("arch") else ""})
    return rows


def any_complete(study) -> bool:
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def show_top_table(reporter, rows: list[dict], objectives) -> None:
    from nas_cli.tasks.score_columns import cell, score_columns

    names = score_columns([n for n, _ in objectives], [r["metrics"] for r in rows])
    cols = ["trial", *names, "params", "MFLOPs", "latency ms", "memory MiB", "architecture"]
    table = [[r["number"], *[_fmt(cell(r, n)) for n in names], r["metrics"].get("params", ""),
              f"{r['metrics'].get('flops', 0) / 1e6:.2f}", _fmt(r["metrics"].get("latency_ms")),
              _fmt(r["metrics"].get("memory_mb")), r["description"]] for r in rows]
    reporter.table("Top trials (validation)", cols, table)


def _fmt(value) -> str:
    return "" if value is None else f"{value:.4g}"
