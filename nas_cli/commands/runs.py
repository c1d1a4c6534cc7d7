"""`nas ls [DIR]` (one line per run, newest first) and `nas show RUN_DIR` (a run's summary in the terminal)."""

from __future__ import annotations

import sys
from pathlib import Path

from nas_cli.errors import ConfigError, NasError
from nas_cli.report.runs import describe_run, format_rows, is_run_dir, list_runs, read_json_dict


def ls_command(args: list[str]) -> int:
    """`nas ls [DIR]`: one line per run under DIR (default: ./runs), newest first."""
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: nas ls [DIR]   (DIR defaults to ./runs, the default runs_dir)", file=sys.stderr)
        return 2
    root = Path(args[0] if args else "runs")
    try:
        if not root.is_dir():
            raise ConfigError(f"{root}: no such directory (nas ls DIR lists the runs under DIR; default ./runs)")
        rows = list_runs(root)
    except NasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if not rows:
        print(f"no runs under {root}")
        return 0
    print("\n".join(format_rows(rows)), flush=True)
    return 0


def show_command(args: list[str]) -> int:
    """`nas show RUN_DIR`: status, top trials, selected model, robustness, gate and files of one run."""
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: nas show RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(args[0])
    if not run_dir.is_dir() or not is_run_dir(run_dir):
        print(f"error: {run_dir} is not a nas run directory (no config.yaml or summary.json)", file=sys.stderr)
        return 2
    from nas_cli.report.show import show_run

    show_run(run_dir, describe_run(run_dir), read_json_dict(run_dir / "summary.json"))
    return 0
