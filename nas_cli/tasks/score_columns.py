"""Which scores a results table shows beside the objectives: ROC AUC and balanced accuracy next to
accuracy (medical and other imbalanced sets are read by them), when the trials measured them."""

from __future__ import annotations

BESIDE = ("accuracy", "auc", "balanced_accuracy")


def score_columns(names: list[str], metrics_rows: list[dict]) -> list[str]:
    """`names` (the objectives) followed by the BESIDE scores every row has and `names` lacks."""
    if not metrics_rows:
        return list(names)
    extra = [m for m in BESIDE if m not in names and all(m in (row or {}) for row in metrics_rows)]
    return [*names, *extra]


def cell(row: dict, name: str):
    """A table row's value of `name`: the objective value when it is one, else the trial's metric."""
    values = row.get("values") or {}
    return values[name] if name in values else (row.get("metrics") or {}).get(name)
