"""RUN_DIR/evaluations/<time>/evaluation.json and evaluation.md: what `nas evaluate` found, kept with
the run (written atomically; `nas report` lists them)."""

from __future__ import annotations

import json
import time
from pathlib import Path

FORMAT = "nas-evaluation-1"


def new_evaluation_dir(base: Path) -> Path:
    """base/evaluations/<YYYY-mm-dd_HH-MM-SS>, with a suffix when two start in the same second."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    root = Path(base) / "evaluations"
    out, n = root / stamp, 1
    while out.exists():
        n += 1
        out = root / f"{stamp}_{n}"
    out.mkdir(parents=True)
    return out


def write_evaluation(out_dir: Path, record: dict) -> tuple[Path, Path]:
    from nas_cli.rundir import atomic_write_json, atomic_write_text

    record = {"format": FORMAT, **record}
    json_path = atomic_write_json(Path(out_dir) / "evaluation.json", record)
    md_path = atomic_write_text(Path(out_dir) / "evaluation.md", evaluation_markdown(record))
    return json_path, md_path


def comparison_rows(record: dict) -> list[tuple[str, float | None, float | None]]:
    """(metric, on this data, the run's own) for every metric either side has."""
    new, old = record["result"]["metrics"], record.get("run_metrics") or {}
    names = list(new) + [k for k in old if k not in new]
    return [(k, new.get(k), old.get(k)) for k in names]


def _num(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def evaluation_markdown(record: dict) -> str:
    result = record["result"]
    lines = [f"# nas evaluate: {record['run']}", "",
             f"- data: `{record['data']['name']}` ({result['count']} labelled examples, split `{result['split']}`)",
             f"- model: `{record['export_dir']}`", f"- when: {record['time']}",
             f"- compared with: {record['run_metrics_source']}", "",
             "| metric | this data | run | change |", "|---|---|---|---|"]
    for name, new, old in comparison_rows(record):
        change = "-" if new is None or old is None else f"{new - old:+.4f}"
        lines.append(f"| {name} | {_num(new)} | {_num(old)} | {change} |")
    if result.get("per_class"):
        auc = all("auc" in r for r in result["per_class"])  # multi-label: positives, recall and AUC per label
        lines += ["", "| class | examples | recall |" + (" AUC |" if auc else ""), "|---|---|---|" + ("---|" if auc else "")]
        lines += [f"| {r['class']} | {r['count']} | {r['recall']:.4f} |" + (f" {r['auc']:.4f} |" if auc else "")
                  for r in result["per_class"]]
    drift = result.get("drift")
    lines += ["", "## Drift", ""]
    if drift is None:
        lines.append(result.get("drift_note", "not measured"))
    else:
        lines += [f"**{drift['verdict']}**", ""]
        if "channels" in drift:
            lines += _image_drift(drift)
        elif "columns" in drift:
            lines += _table_drift(drift)
        else:
            lines += [f"{drift['count']} texts against {drift['reference_count']} training texts.", "",
                      "| feature | test | statistic | p (Bonferroni) |", "|---|---|---|---|"]
            lines += [f"| {t['feature']} | {t['test']} | {t['statistic']:.4f} | {t['p_corrected']:.3g} |"
                      for t in drift["features"]]
        if drift["drifted_features"]:
            lines += ["", "Features that differ: " + ", ".join(f"`{f}`" for f in drift["drifted_features"])]
    gate = record.get("gate")
    if gate:
        lines += ["", "## Gate", "", "passed" if gate["passed"] else f"**failed**: {gate['reason']}"]
    return "\n".join(lines) + "\n"


def _image_drift(drift: dict) -> list[str]:
    lines = [f"{drift['count']} images against {drift['reference_count']} training images.", "",
             "| channel | mean | mean shift | in training std | std ratio |", "|---|---|---|---|---|"]
    return lines + [f"| {c['channel']} | {c['mean']:.4f} | {c['mean_shift']:+.4f} | {c['mean_shift_in_std']:+.2f} "
                    f"| {c['std_ratio']:.3f} |" for c in drift["channels"]]


def _table_drift(drift: dict) -> list[str]:
    lines = [f"{drift['count']} rows against {drift['reference_count']} training rows.", "",
             "| column | kind | drifted | PSI | mean shift (training std) | new categories | missing rate change |",
             "|---|---|---|---|---|---|---|"]
    for c in drift.get("columns", []):
        shift = c.get("mean_shift_in_std")
        new = c.get("new_category_rate")
        lines.append(f"| {c['column']} | {c['kind']} | {'yes' if c['drifted'] else 'no'} | {_num(c.get('psi'))} "
                     f"| {'-' if shift is None else f'{shift:+.2f}'} | {'-' if new is None else f'{new:.1%}'} "
                     f"| {_num(c.get('missing_rate_change'))} |")
    return lines


def list_evaluations(run_dir: Path) -> list[dict]:
    """The run's evaluation records, oldest first (unreadable ones skipped)."""
    root = Path(run_dir) / "evaluations"
    out = []
    for path in sorted(root.glob("*/evaluation.json")) if root.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("format") == FORMAT:
            out.append({**record, "path": str(path)})
    return out
