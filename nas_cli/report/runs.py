"""`nas ls [DIR]` (one line per run, newest first) and `nas show RUN_DIR` (a run's summary in the terminal)."""

from __future__ import annotations

import json
import time
from pathlib import Path

# A run with no summary.json whose files changed this recently is taken to be still running.
RUNNING_WINDOW_S = 600
COLUMNS = ["name", "date", "dataset", "space", "strategy", "trials", "best", "status"]


def read_json_dict(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, yaml.YAMLError):
        return {}


def is_run_dir(path: Path) -> bool:
    return (path / "config.yaml").is_file() or (path / "summary.json").is_file()


def find_runs(root: Path) -> list[Path]:
    """Run directories under `root`: its children, and the jobs of multirun sweeps one level further."""
    if is_run_dir(root):
        return [root]
    found = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if is_run_dir(child):
            found.append(child)
        else:
            found.extend(sorted(p for p in child.iterdir() if p.is_dir() and is_run_dir(p)))
    return found


def _objective(summary: dict, settings: dict) -> tuple[str, str]:
    from nas_cli.tasks import task_of

    spec = (summary.get("objectives") or settings.get("objectives") or [task_of(settings).default_objective])[0]
    name, _, direction = str(spec).partition(":")
    return name.strip(), "min" if direction.strip().startswith("min") else "max"


def _scan_trials(run_dir: Path, metric: str, direction: str) -> tuple[int, int, float | None]:
    """(trials that were trained, finished ones, best value of `metric`) from trials/<n>/result.json."""
    dirs = [p for p in (run_dir / "trials").glob("*") if p.is_dir()] if (run_dir / "trials").is_dir() else []
    finished, best, rejected = 0, None, 0
    for d in dirs:
        result = read_json_dict(d / "result.json")
        if result.get("state") == "INFEASIBLE":  # rejected by constraints.*, never trained
            rejected += 1
        elif result:
            finished += 1
        value = (result.get("metrics") or {}).get(metric) if result.get("state") == "COMPLETE" else None
        if isinstance(value, (int, float)) and (best is None or (value > best if direction == "max" else value < best)):
            best = float(value)
    return len(dirs) - rejected, finished, best


def _last_change(run_dir: Path) -> float:
    paths = [run_dir / n for n in ("nas.log", "study.journal", "config.yaml")] + list(run_dir.glob("trials/*/*"))
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def describe_run(run_dir: Path, root: Path | None = None) -> dict:
    """One row of `nas ls`: from summary.json, or from config.yaml + trials/ when the run has no final summary."""
    summary = read_json_dict(run_dir / "summary.json")
    settings = _read_yaml(run_dir / "config.yaml")
    metric, direction = _objective(summary, settings)
    status = summary.get("status")
    if not status:
        status = "running" if time.time() - _last_change(run_dir) < RUNNING_WINDOW_S else "incomplete"
    started = summary.get("started_at") or ((run_dir / "config.yaml").stat().st_mtime
                                            if (run_dir / "config.yaml").exists() else run_dir.stat().st_mtime)
    counts = summary.get("trials") or {}
    done = sum(int(counts.get(k, 0)) for k in ("complete", "pruned", "failed"))
    if "rejected" not in counts:  # older summaries counted architectures rejected by `constraints.*` as pruned
        done -= int((summary.get("constraints") or {}).get("rejected", 0))
    n_dirs, finished, scanned_best = _scan_trials(run_dir, metric, direction)
    if status not in ("completed", "failed", "config_error") or not counts:
        # The summary may predate the last trials: count what trials/ holds. A pruned trial has no
        # result.json; only the newest directory of a live run can be a trial still training.
        done = max(done, n_dirs - (1 if status == "running" and n_dirs > finished else 0))
    best_rows = summary.get("best_trials") or []
    best = best_rows[0].get("values", {}).get(metric) if best_rows else scanned_best
    gate = summary.get("gate")
    if gate and not gate.get("passed"):
        status = f"{status}, gate failed"
    return {
        "name": str(run_dir.relative_to(root)) if root is not None and run_dir != root else run_dir.name,
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)), "started": started,
        "dataset": summary.get("dataset") or (settings.get("dataset") or {}).get("name", "?"),
        "space": summary.get("search_space") or (settings.get("search_space") or {}).get("name", "?"),
        "strategy": summary.get("strategy") or (settings.get("strategy") or {}).get("name", "?"),
        "pruner": summary.get("pruner") or (settings.get("pruner") or {}).get("name", "?"),
        "objectives": summary.get("objectives") or list(settings.get("objectives") or []),
        "trials": f"{done}/{(settings.get('study') or {}).get('n_trials', '?')}",
        "best": "-" if best is None else f"{metric}={best:.4g}",
        "status": status, "path": str(run_dir),
    }


def list_runs(root: Path) -> list[dict]:
    rows = [describe_run(p, root) for p in find_runs(root)]
    return sorted(rows, key=lambda r: r["started"], reverse=True)


def format_rows(rows: list[dict]) -> list[str]:
    table = [COLUMNS, *[[str(r[c]) for c in COLUMNS] for r in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
