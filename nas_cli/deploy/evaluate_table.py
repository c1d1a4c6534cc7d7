"""`nas evaluate` on a table model: the rows as read, the export's own transform (never statistics
of the new file), the task's metrics, per-column drift against the training split."""

from __future__ import annotations

from types import SimpleNamespace

from nas_cli.errors import ConfigError


def rows_of(data, split: str):
    """The raw rows of one split, or of all three (a DataFrame, target column included)."""
    import pandas as pd

    if not data.raw:
        raise ConfigError(f"dataset {data.spec.name!r} keeps no raw rows; nas evaluate needs a table dataset")
    names = ("train", "val", "test") if split == "all" else (split,)
    return pd.concat([data.raw[n] for n in names], ignore_index=True)


def evaluate_table_export(predictor, data, task, *, split: str, alpha: float = 0.01) -> dict:
    import json

    from nas_cli.data.table_transform import encode_target

    info = predictor.info
    table = info["table"]
    frame = rows_of(data, split)
    target = table["target"]["name"]
    if target not in frame.columns:
        raise ConfigError(f"the data has no target column {target!r} (the model was trained to predict it); "
                          "set dataset.target or add the column")
    where = f"dataset={data.spec.name}"
    truth = encode_target(frame[target], table, where)
    outputs = predictor.outputs(frame.drop(columns=[target]), where)
    if task.name == "regression":
        task = task.bind(SimpleNamespace(target_scale=(table["target"].get("mean") or 0.0,
                                                       table["target"].get("std") or 1.0)))
    result = {"count": int(len(truth)), "split": split, "metrics": task.evaluate_numpy(outputs, truth, full=True),
              "per_class": task.per_class(outputs, truth, predictor.classes) if predictor.classes else []}
    ref_path = predictor.export_dir / "drift_reference.json"
    if ref_path.is_file():
        from nas_cli.deploy.table_drift import compare_tables

        reference = json.loads(ref_path.read_text(encoding="utf-8"))
        result["drift"] = compare_tables(reference, frame.drop(columns=[target]), alpha=alpha)
    else:
        result["drift"] = None
        result["drift_note"] = f"{ref_path} is missing (export predates drift checks); re-export: nas export RUN_DIR"
    return result
