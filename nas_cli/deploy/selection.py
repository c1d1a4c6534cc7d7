"""Which trials fine-tune takes: `finetune.select=pareto|knee|best:<metric>`; the Pareto front report."""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import ConfigError


def parse_select(select, metrics: dict[str, str]) -> tuple[str, str | None]:
    """'pareto' | 'knee' | 'best:<metric>' | 'auto' -> (kind, metric); `metrics`: the task's objectives."""

    text = "auto" if select is None else str(select).strip()
    if text in ("auto", "pareto", "knee"):
        return text, None
    kind, _, metric = text.partition(":")
    if kind == "best" and metric in metrics:
        return "best", metric
    raise ConfigError(f"finetune.select={select!r} is not allowed; choose auto, pareto, knee or best:<metric> "
                      f"with metric one of: {', '.join(metrics)}")


def feasible_complete(study) -> list:
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return [t for t in done if all(v <= 0 for v in t.constraints.values())]


def metric_of(trial, name: str) -> float:
    metrics = trial.user_attrs.get("metrics", {})
    if name in metrics:
        return float(metrics[name])
    return float(trial.user_attrs[name])


def pareto_trials(study, objectives) -> list:
    """The feasible Pareto front, ordered by the first objective (best first)."""
    front = list(study.best_trials) if len(objectives) > 1 else _single_best(study)
    reverse = objectives[0][1] == "maximize"
    return sorted(front, key=lambda t: (t.values[0], -t.number), reverse=reverse)


def _single_best(study) -> list:
    try:
        return [study.best_trial]
    except ValueError:
        return []


def knee_trial(front: list, objectives):
    """The front point farthest from the line through the two extremes (objectives scaled to [0, 1])."""
    import numpy as np

    if len(front) <= 2:
        return front[0]
    vals = np.array([t.values for t in front], dtype=float)
    vals *= [-1.0 if d == "maximize" else 1.0 for _, d in objectives]  # all minimised
    span = vals.max(0) - vals.min(0)
    norm = (vals - vals.min(0)) / np.where(span > 0, span, 1.0)
    a, b = norm[norm[:, 0].argmin()], norm[norm[:, 0].argmax()]
    direction = (b - a) / (np.linalg.norm(b - a) or 1.0)
    rel = norm - a
    dist = np.linalg.norm(rel - np.outer(rel @ direction, direction), axis=1)
    return front[int(dist.argmax())]


def spread(front: list, k: int) -> list:
    """At most k trials spread evenly along the front, both extremes included."""
    if len(front) <= k:
        return list(front)
    if k == 1:
        return [front[0]]
    idx = sorted({round(i * (len(front) - 1) / (k - 1)) for i in range(k)})
    return [front[i] for i in idx]


def select_for_finetune(study, objectives, select, top_k: int, metrics: dict[str, str]) -> tuple[str, list]:
    """Return (rule used, trials to fine-tune); each multi-objective pick is exported on its own.
    `metrics`: metric -> natural direction, the task's objectives (`Task.objectives()`)."""
    kind, metric = parse_select(select, metrics)
    if kind == "auto":
        kind = "pareto" if len(objectives) > 1 else "best"
        metric = objectives[0][0] if kind == "best" else None
    if kind == "best":
        direction = dict(objectives).get(metric, metrics[metric])
        trials = [t for t in feasible_complete(study) if _has(t, metric)]
        trials.sort(key=lambda t: (metric_of(t, metric), -t.number), reverse=direction == "maximize")
        return f"best:{metric}", trials[: max(1, top_k)]
    front = pareto_trials(study, objectives)
    if kind == "knee":
        return "knee", [knee_trial(front, objectives)] if front else []
    return "pareto", spread(front, max(1, top_k))


def _has(trial, metric: str) -> bool:
    return metric in trial.user_attrs.get("metrics", {}) or metric in trial.user_attrs


def pareto_rows(study, objectives) -> list[dict]:
    rows = []
    for t in pareto_trials(study, objectives):
        m = t.user_attrs.get("metrics", {})
        rows.append({"number": t.number, "values": dict(zip([n for n, _ in objectives], t.values, strict=True)),
                     "params": m.get("params", t.user_attrs.get("params")),
                     "flops": m.get("flops", t.user_attrs.get("flops")),
                     "latency_ms": m.get("latency_ms", t.user_attrs.get("latency_ms")),
                     "memory_mb": m.get("memory_mb", t.user_attrs.get("memory_mb")),
                     "arch": t.user_attrs.get("arch")})
    return rows


def report_pareto(study, objectives, run_dir: Path, summary: dict, reporter) -> None:
    """Pareto front: a table on the terminal, RUN_DIR/pareto.png, and summary['pareto_front']."""
    rows = pareto_rows(study, objectives)
    summary["pareto_front"] = rows
    reporter.info("early stopping: off in multi-objective studies (Optuna's pruners rank one objective); "
                  "every trial trains for train.epochs")
    names = [n for n, _ in objectives]
    reporter.table(f"Pareto front ({len(rows)} trial(s), feasible only)", ["trial", *names, "params", "latency_ms"],
                   [[r["number"], *[f"{r['values'][n]:.4g}" for n in names], r["params"],
                     "" if r["latency_ms"] is None else f"{r['latency_ms']:.4g}"] for r in rows])
    if rows:
        summary["pareto_plot"] = str(plot_pareto(study, objectives, run_dir / "pareto.png"))


def plot_pareto(study, objectives, path: Path) -> Path:
    """All feasible complete trials (grey) and the front (red) for the first two objectives."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nas_cli.rundir import atomic_save_with

    (x_name, x_dir), (y_name, y_dir) = objectives[1], objectives[0]
    done = feasible_complete(study)
    front = pareto_trials(study, objectives)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    ax.scatter([t.values[1] for t in done], [t.values[0] for t in done], s=14, c="0.65", label="trials")
    pts = sorted((t.values[1], t.values[0]) for t in front)
    ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", c="tab:red", lw=1)
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=28, c="tab:red", label="Pareto front")
    for t in front:
        ax.annotate(str(t.number), (t.values[1], t.values[0]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"{x_name} ({x_dir[:3]})")
    ax.set_ylabel(f"{y_name} ({y_dir[:3]})")
    ax.set_title(f"{len(front)} Pareto-optimal of {len(done)} feasible trials")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    atomic_save_with(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return path
