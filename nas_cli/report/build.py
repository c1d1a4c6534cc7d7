"""`nas report RUN_DIR`: a self-contained HTML report (and its PNGs) in RUN_DIR/report/."""

from __future__ import annotations

import json
from pathlib import Path

from nas_cli.errors import NasError
from nas_cli.report.plots import Skip, complete_trials, importance_evaluator, plot_list, png_bytes
from nas_cli.rundir import atomic_write_bytes, atomic_write_json, atomic_write_text, load_run


def run_storage(run_dir: Path, settings: dict) -> str:
    """The run's storage: summary.json's "storage", or the journal inside RUN_DIR wherever it now lies."""
    from nas_cli.study.storage import resolve_storage, storage_of

    return resolve_storage(storage_of(run_dir, settings), run_dir)


def load_run_study(run_dir: Path, settings: dict, spec: str):
    """Open the run's study from its storage spec (a journal path or a database URL)."""
    import warnings

    import optuna

    from nas_cli.study.storage import open_storage

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
    from nas_cli.study.validate import parse_objectives
    from nas_cli.tasks import task_of

    run_dir, settings = load_run(str(run_dir))
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    task = task_of(settings)
    objectives = parse_objectives(settings.get("objectives") or [task.default_objective], task.objectives())
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
        for name, title, draw in plot_list(study, objectives, run_dir, summary, importances, task.score):
            try:
                fig, caption = draw()
            except Skip as exc:
                notes.append(f"{title}: {exc}")
                continue
            atomic_write_bytes(out / name, png_bytes(fig))
            figures.append((name, title, caption))
    from nas_cli.report.test_plots import test_figures

    figures += test_figures(run_dir, out, notes)  # confusion matrix and ROC curves of the selected model
    atomic_write_json(out / "importances.json", importances)
    html = render_html(run_dir, settings, summary, objectives, study, figures, notes, importances, out)
    return atomic_write_text(out / "index.html", html)


def param_importances(study, objectives) -> dict:
    """fANOVA importances of the searched parameters for the first objective (non-negative, sum to 1)."""
    import optuna

    if len(complete_trials(study)) < 2:
        return {}
    kwargs = {} if len(objectives) == 1 else {"target": lambda t: t.values[0]}
    try:
        raw = optuna.importance.get_param_importances(study, evaluator=importance_evaluator(), normalize=True,
                                                      **kwargs)
    except (ValueError, RuntimeError):  # e.g. every completed trial has the same value
        return {}
    return {k: float(v) for k, v in raw.items()}


def render_html(run_dir, settings, summary, objectives, study, figures, notes, importances, out) -> str:
    from nas_cli.report.html import render
    from nas_cli.report.prescreen_html import prescreen_section

    return render(run_dir=run_dir, settings=settings, summary=summary, objectives=objectives,
                  n_trials=len(study.get_trials(deepcopy=False)), figures=figures, notes=notes,
                  importances=importances, out=out, sections=(prescreen_section(summary),))
