"""`nas report RUN_DIR`: write RUN_DIR/report/index.html (plots, tables, evaluations) and print its path."""

from __future__ import annotations

import sys
from pathlib import Path

from nas_cli.errors import NasError


def report_command(args: list[str]) -> int:
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: nas report RUN_DIR", file=sys.stderr)
        return 2
    from nas_cli.report.build import build_report

    try:
        path = build_report(Path(args[0]))
    except NasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"report: {path}")
    return 0
