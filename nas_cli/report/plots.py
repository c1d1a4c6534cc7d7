"""The plots of `nas report`: Optuna's history, importances and parallel coordinates, trade-offs, learning curves."""

from __future__ import annotations

import json
from pathlib import Path

# x-axis metric of a trade-off plot -> label; the task's score (validation) is always the y-axis.
TRADEOFFS = {"params": "parameters", "latency_ms": "latency, batch 1 (ms)"}
TOP_CURVES = 5


class Skip(Exception):
    """A plot that this run has too little data for; the report says why instead."""


def complete_trials(study):
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _target(objectives):
    """Single objective: Optuna's default; several: the first objective, named."""
    if len(objectives) == 1:
        return {"target_name": objectives[0][0]}
    return {"target": lambda t: t.values[0], "target_name": objectives[0][0]}


def importance_evaluator():
    """fANOVA with a fixed seed: the standard measure, and the same numbers on every `nas report`."""
    import optuna

    return optuna.importance.FanovaImportanceEvaluator(seed=0)


def plot_list(study, objectives, run_dir: Path, summary: dict, imp: dict, score: str):
    """(file name, title, draw) for each plot; draw() -> (figure, caption) or raises Skip."""
    from optuna.visualization import matplotlib as ov

    def need(n: int) -> None:
        if len(complete_trials(study)) < n:
            raise Skip(f"needs at least {n} completed trials")

    def history():
        need(1)
        ax = ov.plot_optimization_history(study, **_target(objectives))
        if len(objectives) > 1:  # Optuna draws the best-so-far line only without a custom target
            _best_so_far(ax, study, objectives[0][1])
        return ax.figure, f"{objectives[0][0]} of every completed trial and the best so far."

    def importances():
        need(2)
        if not imp:
            raise Skip("Optuna could not compute importances (all completed trials may score the same)")
        ax = ov.plot_param_importances(study, evaluator=importance_evaluator(), **_target(objectives))
        return ax.figure, (f"How much of the variance of {objectives[0][0]} each searched decision explains "
                           "(fANOVA, optuna.importance); the importances sum to 1.")

    def parallel():
        need(2)
        params = list(imp)[:8] or None  # the most important decisions, to keep the axes readable
        ax = ov.plot_parallel_coordinate(study, params=params, **_target(objectives))
        ax.figure.set_size_inches(max(8, 1.3 * len(params or [0] * 8)), 5)
        return ax.figure, "Each line is a trial; colour is the objective value."

    return [
        ("history.png", "Optimization history", history),
        ("importances.png", "Parameter importances", importances),
        ("parallel_coordinates.png", "Parallel coordinates", parallel),
        *[(f"{score}_vs_{m}.png", f"{score.capitalize()} vs {label}", _tradeoff_drawer(study, m, label, score))
          for m, label in TRADEOFFS.items()],
        ("learning_curves.png", "Learning curves", lambda: _learning_curves(study, run_dir, summary, score)),
    ]


def _best_so_far(ax, study, direction: str) -> None:
    import numpy as np

    trials = complete_trials(study)
    values = np.array([t.values[0] for t in trials])
    acc = np.maximum.accumulate(values) if direction == "maximize" else np.minimum.accumulate(values)
    ax.plot([t.number for t in trials], acc, color="tab:red", label="best so far")
    ax.legend()


def pareto_front(points: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Points (cost, score, trial) that no other point beats on both: lower cost and higher score."""
    front, best = [], float("-inf")
    for cost, value, num in sorted(points, key=lambda p: (p[0], -p[1])):
        if value > best:
            front.append((cost, value, num))
            best = value
    return front


def _tradeoff_drawer(study, metric: str, label: str, score: str):
    def draw():
        import matplotlib.pyplot as plt

        pts = [(float(t.user_attrs["metrics"][metric]), float(t.user_attrs["metrics"][score]), t.number)
               for t in complete_trials(study) if {metric, score} <= set(t.user_attrs.get("metrics") or {})]
        if not pts:
            raise Skip(f"no completed trial recorded {metric}")
        front = pareto_front(pts)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, alpha=0.5, label="trials")
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="tab:red", marker="o",
                label="Pareto front")
        for cost, acc, num in front:
            ax.annotate(str(num), (cost, acc), textcoords="offset points", xytext=(4, -10), fontsize=8)
        if max(p[0] for p in pts) > 10 * max(min(p[0] for p in pts), 1e-12):
            ax.set_xscale("log")
        ax.set(xlabel=label, ylabel=f"validation {score}", title=f"{score.capitalize()} vs {label}")
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
        return fig, (f"Every completed trial; the red steps join the trials no other trial beats on both "
                     f"{score} and {label} (numbers are trial ids).")

    return draw


def _learning_curves(study, run_dir: Path, summary: dict, score: str):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from nas_cli.rundir import trial_dir

    top = [r["number"] for r in summary.get("best_trials") or []][:TOP_CURVES]
    curves = {}
    for t in study.get_trials(deepcopy=False):
        path = trial_dir(run_dir, t.number) / "metrics.jsonl"
        if path.is_file():
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if rows:
                curves[t.number] = rows
    if not curves:
        raise Skip("no trial wrote trials/<n>/metrics.jsonl")
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
    for num, rows in curves.items():
        epochs = [r["epoch"] for r in rows]
        style = {"label": f"trial {num}", "lw": 2} if num in top else {"color": "0.8", "lw": 0.8}
        ax_acc.plot(epochs, [r.get(f"val_{score}") for r in rows], **style)
        ax_loss.plot(epochs, [r.get("train_loss") for r in rows], **style)
    ax_acc.set(xlabel="epoch", ylabel=f"validation {score}", title=f"Validation {score}")
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="Training loss")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if top:
        ax_acc.legend(fontsize=8)
    return fig, f"Top {len(top)} trials in colour, every other trial (pruned ones included) in grey."


def png_bytes(fig) -> bytes:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
