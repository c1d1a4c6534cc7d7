"""`nas report RUN_DIR`: a self-contained HTML report (and its PNGs) in RUN_DIR/report/."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nas_cli.errors import NasError
from nas_cli.rundir import atomic_write_bytes, atomic_write_json, atomic_write_text

# x-axis metric of a trade-off plot -> label; accuracy (validation, higher is better) is always the y-axis.
TRADEOFFS = {"params": "parameters", "latency_ms": "latency, batch 1 (ms)"}
TOP_CURVES = 5


def report_command(args: list[str]) -> int:
    """`nas report RUN_DIR`: write RUN_DIR/report/index.html and print its path."""
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: nas report RUN_DIR", file=sys.stderr)
        return 2
    try:
        path = build_report(Path(args[0]))
    except NasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"report: {path}")
    return 0


def run_storage(run_dir: Path, settings: dict) -> str:
    """The run's storage: summary.json's "storage", or the journal inside RUN_DIR wherever it now lies."""
    from nas_cli.resume import storage_of
    from nas_cli.storage import resolve_storage

    return resolve_storage(storage_of(run_dir, settings), run_dir)


def load_run_study(run_dir: Path, settings: dict, spec: str):
    """Open the run's study from its storage spec (a journal path or a database URL)."""
    import warnings

    import optuna

    from nas_cli.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if "://" not in spec and not Path(spec).is_file():
        raise NasError(f"{run_dir}: the study storage {spec} does not exist")
    name = str((settings.get("study") or {}).get("name", "nas"))
    try:
        return optuna.load_study(study_name=name, storage=open_storage(spec))
    except KeyError:
        raise NasError(f"{run_dir}: no study named {name!r} in {spec}") from None


def build_report(run_dir: Path) -> Path:
    """Draw every plot into RUN_DIR/report/ and write index.html that embeds them; returns its path."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from nas_cli.commands import load_run
    from nas_cli.validate import parse_objectives

    run_dir, settings = load_run(str(run_dir))
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    objectives = parse_objectives(settings.get("objectives") or ["accuracy:max"])
    spec = run_storage(run_dir, settings)
    summary = {**summary, "storage": spec}  # shown in the report (the dashboard command); not saved
    study = load_run_study(run_dir, settings, spec)
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    figures: list[tuple[str, str, str]] = []  # (file name, title, caption)
    notes: list[str] = []
    with warnings.catch_warnings():  # Optuna warns about small samples; the report states the trial count
        warnings.simplefilter("ignore")
        importances = param_importances(study, objectives)
        for name, title, draw in _plots(study, objectives, run_dir, summary, importances):
            try:
                fig, caption = draw()
            except _Skip as exc:
                notes.append(f"{title}: {exc}")
                continue
            atomic_write_bytes(out / name, _png(fig))
            figures.append((name, title, caption))
    atomic_write_json(out / "importances.json", importances)
    html = render_html(run_dir, settings, summary, objectives, study, figures, notes, importances, out)
    return atomic_write_text(out / "index.html", html)


class _Skip(Exception):
    """A plot that this run has too little data for; the report says why instead."""


def _complete(study):
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _target(objectives):
    """Single objective: Optuna's default; several: the first objective, named."""
    if len(objectives) == 1:
        return {"target_name": objectives[0][0]}
    return {"target": lambda t: t.values[0], "target_name": objectives[0][0]}


def param_importances(study, objectives) -> dict:
    """fANOVA importances of the searched parameters for the first objective (non-negative, sum to 1)."""
    import optuna

    if len(_complete(study)) < 2:
        return {}
    kwargs = {} if len(objectives) == 1 else {"target": lambda t: t.values[0]}
    try:
        raw = optuna.importance.get_param_importances(study, evaluator=importance_evaluator(), normalize=True,
                                                      **kwargs)
    except (ValueError, RuntimeError):  # e.g. every completed trial has the same value
        return {}
    return {k: float(v) for k, v in raw.items()}


def _plots(study, objectives, run_dir: Path, summary: dict, imp: dict):
    """(file name, title, draw) for each plot; draw() -> (figure, caption) or raises _Skip."""
    from optuna.visualization import matplotlib as ov

    def need(n: int) -> None:
        if len(_complete(study)) < n:
            raise _Skip(f"needs at least {n} completed trials")

    def history():
        need(1)
        ax = ov.plot_optimization_history(study, **_target(objectives))
        if len(objectives) > 1:  # Optuna draws the best-so-far line only without a custom target
            _best_so_far(ax, study, objectives[0][1])
        return ax.figure, f"{objectives[0][0]} of every completed trial and the best so far."

    def importances():
        need(2)
        if not imp:
            raise _Skip("Optuna could not compute importances (all completed trials may score the same)")
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
        *[(f"accuracy_vs_{m}.png", f"Accuracy vs {label}", _tradeoff_drawer(study, m, label))
          for m, label in TRADEOFFS.items()],
        ("learning_curves.png", "Learning curves", lambda: _learning_curves(study, run_dir, summary)),
    ]


def importance_evaluator():
    """fANOVA with a fixed seed: the standard measure, and the same numbers on every `nas report`."""
    import optuna

    return optuna.importance.FanovaImportanceEvaluator(seed=0)


def _best_so_far(ax, study, direction: str) -> None:
    import numpy as np

    trials = _complete(study)
    values = np.array([t.values[0] for t in trials])
    acc = np.maximum.accumulate(values) if direction == "maximize" else np.minimum.accumulate(values)
    ax.plot([t.number for t in trials], acc, color="tab:red", label="best so far")
    ax.legend()


def pareto_front(points: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Points (cost, accuracy, trial) that no other point beats on both: lower cost and higher accuracy."""
    front, best = [], float("-inf")
    for cost, acc, num in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((cost, acc, num))
            best = acc
    return front


def _tradeoff_drawer(study, metric: str, label: str):
    def draw():
        import matplotlib.pyplot as plt

        pts = [(float(t.user_attrs["metrics"][metric]), float(t.user_attrs["metrics"]["accuracy"]), t.number)
               for t in _complete(study) if {metric, "accuracy"} <= set(t.user_attrs.get("metrics") or {})]
        if not pts:
            raise _Skip(f"no completed trial recorded {metric}")
        front = pareto_front(pts)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, alpha=0.5, label="trials")
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="tab:red", marker="o",
                label="Pareto front")
        for cost, acc, num in front:
            ax.annotate(str(num), (cost, acc), textcoords="offset points", xytext=(4, -10), fontsize=8)
        if max(p[0] for p in pts) > 10 * max(min(p[0] for p in pts), 1e-12):
            ax.set_xscale("log")
        ax.set(xlabel=label, ylabel="validation accuracy", title=f"Accuracy vs {label}")
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
        return fig, (f"Every completed trial; the red steps join the trials no other trial beats on both "
                     f"accuracy and {label} (numbers are trial ids).")

    return draw


def _learning_curves(study, run_dir: Path, summary: dict):
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
        raise _Skip("no trial wrote trials/<n>/metrics.jsonl")
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
    for num, rows in curves.items():
        epochs = [r["epoch"] for r in rows]
        style = {"label": f"trial {num}", "lw": 2} if num in top else {"color": "0.8", "lw": 0.8}
        ax_acc.plot(epochs, [r.get("val_accuracy") for r in rows], **style)
        ax_loss.plot(epochs, [r.get("train_loss") for r in rows], **style)
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy", title="Validation accuracy")
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="Training loss")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if top:
        ax_acc.legend(fontsize=8)
    return fig, f"Top {len(top)} trials in colour, every other trial (pruned ones included) in grey."


def _png(fig) -> bytes:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def render_html(run_dir, settings, summary, objectives, study, figures, notes, importances, out) -> str:
    from nas_cli.report_html import render

    return render(run_dir=run_dir, settings=settings, summary=summary, objectives=objectives,
                  n_trials=len(study.get_trials(deepcopy=False)), figures=figures, notes=notes,
                  importances=importances, out=out)
