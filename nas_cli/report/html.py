"""The HTML of `nas report`: one file, PNGs embedded as data URIs and linked beside it."""

from __future__ import annotations

import base64
import time
from html import escape
from pathlib import Path

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}figure{margin:1.5em 0}img{max-width:100%}figcaption{color:#555;font-size:.9em}
.pass{color:#176f2c;font-weight:bold}.fail{color:#b00020;font-weight:bold}code{background:#f6f6f6}
.card{border:1px solid #ddd;padding:0 1em;background:#fcfcfc}"""


def robustness_metric(rob: dict) -> str:
    """The metric a robustness result reports (`clean_<metric>`, ...): the task's score."""
    return next(k[len("clean_"):] for k in rob if k.startswith("clean_"))


def _table(columns: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _when(ts) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "?"


def _overview(run_dir: Path, summary: dict, settings: dict, objectives, n_trials: int) -> str:
    counts = summary.get("trials") or {}
    rows = [
        ["run", run_dir.name], ["status", summary.get("status", "unknown (no summary.json)")],
        ["started", _when(summary.get("started_at"))],
        ["dataset", summary.get("dataset") or (settings.get("dataset") or {}).get("name")],
        ["search space", summary.get("search_space") or (settings.get("search_space") or {}).get("name")],
        ["strategy / pruner", f"{summary.get('strategy', '?')} / {summary.get('pruner', '?')}"],
        ["objectives", ", ".join(f"{n} ({d})" for n, d in objectives)],
        ["trials", f"{n_trials} in the study: " + ", ".join(f"{v} {k}" for k, v in counts.items() if k != "total")],
        ["wall time", f"{summary.get('timings', {}).get('total_seconds', 0):.1f} s"],
        ["storage", summary.get("storage", "")],
    ]
    return "<h2>Run</h2>" + _table(["field", "value"], rows) + (
        f"<p>Open the study in optuna-dashboard: <code>optuna-dashboard {escape(summary['storage'])}</code></p>"
        if summary.get("storage") else "")


def _selected(summary: dict) -> str:
    ft = summary.get("finetune")
    if not ft:
        return "<h2>Selected model</h2><p>Fine-tuning did not run: no test metrics.</p>"
    rows = [[k, v] for k, v in (ft.get("test") or {}).items()]
    rows += [[k, v] for k, v in (ft.get("cost") or {}).items()]
    html = (f"<h2>Selected model: trial {ft.get('selected_trial')}</h2>"
            f"<p>Fine-tuned for {ft.get('epochs')} epochs; held-out test split, evaluated once.</p>"
            + _table(["measure", "value"], rows))
    rob = summary.get("robustness")
    if rob and rob.get("applies", True):
        m = robustness_metric(rob)
        from nas_cli.deploy.robustness import robustness_rows

        html += "<h3>Robustness (test split)</h3>" + _table(["condition", m], [
            list(row) for row in robustness_rows(rob, m)
        ]) + f"<p>{rob['samples']} test inputs; perturbations are in the model's input units.</p>"
        if isinstance(rob.get("fgsm"), str):
            html += f"<p>FGSM: {escape(rob['fgsm'])}.</p>"
    elif rob:
        html += f"<h3>Robustness</h3><p>{escape(rob.get('reason', 'not measured'))}</p>"
    gate = summary.get("gate")
    if gate:
        verdict = '<span class="pass">PASSED</span>' if gate["passed"] else '<span class="fail">FAILED</span>'
        html += f"<h3>Gate: {verdict}</h3><p>{escape(gate.get('source', ''))}</p>" + _table(
            ["gate", "threshold", "value", "passed"],
            [[f"gate.{c['gate']}", c["threshold"], c["value"], "yes" if c["passed"] else "NO"] for c in gate["checks"]])
    return html


def _top_table(summary: dict, objectives) -> str:
    rows = summary.get("best_trials") or []
    if not rows:
        return "<h2>Top trials</h2><p>No completed trial.</p>"
    from nas_cli.tasks.score_columns import cell, score_columns

    names = score_columns([n for n, _ in objectives], [r.get("metrics") or {} for r in rows])
    cols = ["trial", *names, "params", "MFLOPs", "latency ms", "architecture"]
    body = [[r["number"], *[cell(r, n) for n in names], r["metrics"].get("params"),
             (r["metrics"].get("flops") or 0) / 1e6, r["metrics"].get("latency_ms"), r.get("description", "")]
            for r in rows]
    return "<h2>Top trials (validation)</h2>" + _table(cols, body)


def _importances(importances: dict) -> str:
    if not importances:
        return ""
    return "<h3>Importance values</h3>" + _table(["parameter", "importance"], [[k, v] for k, v in importances.items()])


def _model_card(run_dir: Path) -> str:
    path = run_dir / "export" / "model_card.md"
    if not path.is_file():
        return "<h2>Model card</h2><p>No exported model (export/model_card.md is missing).</p>"
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(path.read_text(encoding="utf-8"))
    return f'<h2>Model card</h2><div class="card">{body}</div><p><a href="../export/model_card.md">model_card.md</a></p>'


def _evaluations(run_dir: Path) -> str:
    """One row per `nas evaluate` of this run: when, which data, the score and the drift verdict."""
    from nas_cli.deploy.evaluation_record import list_evaluations

    records = list_evaluations(run_dir)
    if not records:
        return ("<h2>Evaluations</h2><p>None yet: <code>nas evaluate RUN_DIR dataset.root=NEW_DATA</code> "
                "measures the exported model on new labelled data.</p>")
    rows = []
    for r in records:
        result, drift, gate = r["result"], r["result"].get("drift"), r.get("gate")
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in result["metrics"].items() if k != "loss")
        data = r["data"].get("root") or r["data"].get("path") or r["data"].get("name")
        rows.append([r["time"], data, f"{result['count']} ({result['split']})", metrics,
                     drift["verdict"] if drift else "not measured",
                     "" if not gate else ("passed" if gate["passed"] else "failed"),
                     str(Path(r["path"]).relative_to(run_dir))])
    return "<h2>Evaluations</h2>" + _table(["when", "data", "examples", "metrics", "drift", "gate", "file"], rows)


def _figure(out: Path, name: str, title: str, caption: str) -> str:
    data = base64.b64encode((out / name).read_bytes()).decode("ascii")
    return (f'<figure id="{escape(name)}"><h3>{escape(title)}</h3>'
            f'<img alt="{escape(title)}" src="data:image/png;base64,{data}">'
            f'<figcaption>{escape(caption)} <a href="{escape(name)}">{escape(name)}</a></figcaption></figure>')


def render(*, run_dir: Path, settings: dict, summary: dict, objectives, n_trials: int, figures, notes,
           importances: dict, out: Path, sections: tuple[str, ...] = ()) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>nas report: {escape(run_dir.name)}</title>"
             f"<style>{CSS}</style></head><body><h1>nas report: {escape(run_dir.name)}</h1>",
             _overview(run_dir, summary, settings, objectives, n_trials), _selected(summary),
             _top_table(summary, objectives), *sections, "<h2>Search</h2>"]
    for name, title, caption in figures:
        parts.append(_figure(out, name, title, caption))
        if name == "importances.png":
            parts.append(_importances(importances))
    if notes:
        parts.append("<h3>Plots not drawn</h3><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    parts += [_evaluations(run_dir), _model_card(run_dir), f"<p><small>written {_when(time.time())} by nas report</small></p></body></html>"]
    return "\n".join(parts)
