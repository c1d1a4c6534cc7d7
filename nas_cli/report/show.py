"""The terminal view of `nas show RUN_DIR`, drawn with rich (plain text when not a terminal)."""

from __future__ import annotations

import time
from pathlib import Path

from nas_cli.report.html import robustness_metric


def _f(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _table(title: str, columns: list[str], rows: list[list], header: bool = True):
    import sys

    from rich.table import Table

    boxed = {} if sys.stdout.isatty() else {"box": None}  # piped: aligned plain lines, no box drawing
    table = Table(title=title, title_justify="left", show_header=header, **boxed)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*[_f(c) for c in row])
    return table


def show_run(run_dir: Path, row: dict, summary: dict) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    status_style = {"completed": "green", "interrupted": "yellow", "running": "cyan"}.get(row["status"], "red")
    timings = summary.get("timings") or {}
    console.print(f"[bold]{run_dir.name}[/]  [{status_style}]{row['status']}[/]")
    facts = [
        ["path", str(run_dir.resolve())], ["started", row["date"]],
        ["dataset / space", f"{row['dataset']} / {row['space']}"],
        ["strategy / pruner", f"{row['strategy']} / {row['pruner']}"],
        ["objectives", ", ".join(map(str, row["objectives"]))],
        ["trials", f"{row['trials']} done" + "".join(f", {v} {k}" for k, v in (summary.get("trials") or {}).items()
                                                      if k != "total" and v)],
        ["best (validation)", row["best"]],
        ["wall time", " · ".join(f"{k.removesuffix('_seconds')} {v:.1f}s" for k, v in timings.items()) or "-"],
        ["storage", summary.get("storage", "-")],
    ]
    if summary.get("error"):
        facts.append(["error", summary["error"]])
    console.print(_table("Run", ["", ""], facts, header=False))
    best = summary.get("best_trials") or []
    if best:
        from nas_cli.tasks.score_columns import cell, score_columns

        names = [o.split(":")[0] for o in summary.get("objectives") or []] or list(best[0]["values"])
        names = score_columns(names, [r.get("metrics") or {} for r in best])
        console.print(_table("Top trials (validation)", ["trial", *names, "params", "MFLOPs", "architecture"], [
            [r["number"], *[cell(r, n) for n in names], r["metrics"].get("params"),
             (r["metrics"].get("flops") or 0) / 1e6, r.get("description", "")] for r in best]))
    ft = summary.get("finetune")
    if ft:
        rows = [[k, v] for k, v in {**(ft.get("test") or {}), **(ft.get("cost") or {})}.items()]
        console.print(_table(f"Selected model: trial {ft.get('selected_trial')} (held-out test split)",
                             ["measure", "value"], rows))
    rob = summary.get("robustness")
    if rob and rob.get("applies", True):
        m = robustness_metric(rob)
        from nas_cli.deploy.robustness import robustness_rows

        console.print(_table(f"Robustness ({rob['samples']} test inputs)", ["condition", m],
                             [list(row) for row in robustness_rows(rob, m)]))
    gate = summary.get("gate")
    if gate:
        verdict = "[green]passed[/]" if gate["passed"] else f"[red]FAILED[/]: {gate['reason']}"
        console.print(f"gate {verdict} ({gate.get('source', '')})")
    files = (summary.get("export") or {}).get("files") or {}
    if files:
        console.print(_table("Exported files", ["kind", "file"], [[k, v] for k, v in files.items()]))
    report = run_dir / "report" / "index.html"
    if report.is_file():
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.stat().st_mtime))
        console.print(f"report: {report} (written {when})")
    else:
        console.print(f"report: none yet; write it with: nas report {run_dir}")
