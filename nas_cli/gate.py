"""CI gates: thresholds on the selected model, checked after the run is saved; unmet -> exit code 3."""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import GateFailed
from nas_cli.rundir import atomic_write_json

# gate key -> (measured quantity, comparison); `min_` keys are lower bounds, `max_` keys upper bounds.
GATES = {
    "min_accuracy": ("accuracy", ">="),
    "max_latency_ms": ("latency_ms", "<="),
    "max_params": ("params", "<="),
}


def measured_values(summary: dict) -> tuple[dict, str]:
    """The selected model's accuracy, latency and params, and where they come from.

    The held-out test accuracy and the fine-tuned model's cost when fine-tuning ran; otherwise the best
    search trial's validation metrics (said so in the source, so a CI log does not mislead).
    """
    ft = summary.get("finetune") or {}
    if ft.get("test") and ft.get("cost"):
        cost = ft["cost"]
        return ({"accuracy": ft["test"].get("accuracy"), "latency_ms": cost.get("latency_ms_batch1_torch"),
                 "params": cost.get("params")}, f"fine-tuned trial {ft.get('selected_trial')}, test split")
    best = (summary.get("best_trials") or [{}])[0]
    metrics = best.get("metrics") or {}
    return ({k: metrics.get(k) for k in ("accuracy", "latency_ms", "params")},
            f"search trial {best.get('number')}, validation split (fine-tuning was off)")


def check_gate(gate: dict | None, summary: dict) -> dict | None:
    """Compare the run against the non-null `gate.*` thresholds; None when no gate is set."""
    active = {k: v for k, v in (gate or {}).items() if k in GATES and v is not None}
    if not active:
        return None
    values, source = measured_values(summary)
    checks, reasons = [], []
    for key, threshold in active.items():
        metric, op = GATES[key]
        value = values.get(metric)
        ok = value is not None and (value >= threshold if op == ">=" else value <= threshold)
        checks.append({"gate": key, "metric": metric, "threshold": threshold, "value": value, "passed": ok})
        if not ok:
            shown = "missing" if value is None else f"{value:.6g}"
            reasons.append(f"{metric} {shown} does not meet gate.{key}={threshold:g} (needs {op} {threshold:g})")
    return {"passed": not reasons, "source": source, "checks": checks, "reason": "; ".join(reasons)}


def enforce_gate(gate: dict | None, summary: dict, run_dir: Path) -> None:
    """Check the gate, record the result in summary.json, raise GateFailed (exit code 3) when unmet."""
    result = check_gate(gate, summary)
    if result is None:
        return
    summary["gate"] = result
    atomic_write_json(Path(run_dir) / "summary.json", summary)
    if not result["passed"]:
        raise GateFailed(f"gate failed ({result['source']}): {result['reason']}")
