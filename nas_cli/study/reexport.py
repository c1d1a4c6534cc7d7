"""`nas export RUN_DIR`: reopen a finished run's study, fine-tune its best trials and export again."""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import NasError
from nas_cli.rundir import SUMMARY_SCHEMA_VERSION, atomic_write_json


def reexport(settings: dict, run_dir: Path) -> int:
    """`nas export RUN_DIR`: reopen the run's study, fine-tune its best trials and export again."""
    import json

    from nas_cli.deploy.finish import finish
    from nas_cli.study.progress import Reporter
    from nas_cli.study.setup import prepare
    from nas_cli.study.summary import any_complete
    from nas_cli.study.validate import validate

    summary_path = run_dir / "summary.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {"schema_version": SUMMARY_SCHEMA_VERSION, "run_dir": str(run_dir.resolve()), "timings": {}}
    objectives = validate(settings)
    settings = {**settings, "storage": summary.get("storage") or settings.get("storage")}
    reporter = Reporter(int(settings["study"]["n_trials"]), verbosity=int(settings.get("verbosity", 1)))
    ctx, study = prepare(settings, objectives, run_dir, summary, reporter)
    if not any_complete(study):
        raise NasError(f"{run_dir}: the study has no completed trial to export")
    settings["finetune"] = {**settings["finetune"], "enabled": True}
    settings["export"] = {**settings["export"], "enabled": True}
    finish(settings, study, objectives, ctx, run_dir, summary, reporter)
    atomic_write_json(summary_path, summary)
    print(f"run directory: {run_dir}", flush=True)
    return 0
