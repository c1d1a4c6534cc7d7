"""CI gates: thresholds on the selected model, checked after the run is saved; unmet -> exit code 3."""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import GateFailed
from nas_cli.rundir import atomic_write_json

# cost gate key -> (measured quantity, comparison); `max_` keys are upper bounds. The task adds its own
# score gate: `min_<score>` for a score to maximise (gate.min_accuracy), `max_<score>` otherwise.
COST_GATES = {
    "max_latency_ms": ("latency_ms", "<="),
    "max_params": ("params", "<="),
}


def gates_for(task) -> dict[str, tuple[str, str]]:
    """gate key -> (measured quantity, comparison) for a run of `task`."""
    from nas_cli.tasks import get_task

    task = task or get_task(None)
    up = task.metrics[task.score] == "maximize"
    key = task.score.replace("@", "_at_")  # ranking's ndcg@10: gate.min_ndcg_at_10 (Hydra keys have no "@")
    return {f"{'min' if up else 'max'}_{key}": (task.score, ">=" if up else "<="), **COST_GATES}


def measured_values(summary: dict, score: str) -> tuple[dict, str]:
    """The selected model's task score, latency and params, and where they come from.

    The held-out test accuracy and the fine-tuned model's cost when fine-tuning ran; otherwise the best
    search trial's validation metrics (said so in the source, so a CI log does not mislead).
    """
    ft = summary.get("finetune") or {}
    if ft.get("test") and ft.get("cost"):
        cost = ft["cost"]
        return ({score: ft["test"].get(score), "latency_ms": cost.get("latency_ms_batch1_torch"),
                 "params": cost.get("params")}, f"fine-tuned trial {ft.get('selected_trial')}, test split")
    best = (summary.get("best_trials") or [{}])[0]
    metrics = best.get("metrics") or {}
    return ({k: metrics.get(k) for k in (score, "latency_ms", "params")},
            f"search trial {best.get('number')}, validation split (fine-tuning was off)")


def check_gate(gate: dict | None, summary: dict, task=None) -> dict | None:
    """Compare the run against the non-null `gate.*` thresholds; None when no gate is set."""
    gates = gates_for(task)
    active = {k: v for k, v in (gate or {}).items() if k in gates and v is not None}
    if not active:
        return None
    score = next(m for m, op in gates.values() if m not in ("latency_ms", "params"))
    values, source = measured_values(summary, score)
    checks, reasons = [], []
    for key, threshold in active.items():
        metric, op = gates[key]
        value = values.get(metric)
        ok = value is not None and (value >= threshold if op == ">=" else value <= threshold)
        checks.append({"gate": key, "metric": metric, "threshold": threshold, "value": value, "passed": ok})
        if not ok:
            shown = "missing" if value is None else f"{value:.6g}"
            reasons.append(f"{metric} {shown} does not meet gate.{key}={threshold:g} (needs {op} {threshold:g})")
    return {"passed": not reasons, "source": source, "checks": checks, "reason": "; ".join(reasons)}


def enforce_gate(gate: dict | None, summary: dict, run_dir: Path, task=None) -> None:
    """Check the gate, record the result in summary.json, raise GateFailed (exit code 3) when unmet."""
    result = check_gate(gate, summary, task)
    if result is None:
        return
    summary["gate"] = result
    atomic_write_json(Path(run_dir) / "summary.json", summary)
    if not result["passed"]:
        raise GateFailed(f"gate failed ({result['source']}): {result['reason']}")
