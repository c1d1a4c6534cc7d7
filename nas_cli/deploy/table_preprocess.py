"""export/preprocess.json for tables: how raw CSV rows become the exported model's named inputs.

It holds the table description the loader learned on the training split (column order, medians,
means/stds, category vocabularies, label names, target scaling), how to read a file (delimiter,
header, column names, missing-value markers, encoding) and the ONNX input/output names. Torch-free.
"""

from __future__ import annotations

from nas_cli.deploy.export_format import FORMAT, REEXPORT
from nas_cli.errors import ConfigError

TABLE_KEYS = ("numeric", "categorical", "target")


def table_preprocess(table: dict, signature, task: str) -> dict:
    """The preprocess.json dict of a table model: `table` is `Data.preprocess` of the table loader."""
    target = table["target"]
    info = {"format": FORMAT, "task": task,
            "input": {"kind": "table", "names": [t.name for t in signature.inputs]},
            "table": {k: table[k] for k in TABLE_KEYS}, "read": table.get("read"),
            "classes": [str(c) for c in target.get("classes") or []] or None,
            "output": {"name": signature.outputs[0].name,
                       "kind": "logits" if task == "classification" else "value"}}
    check_table_preprocess(info, "preprocess")
    return info


def check_table_preprocess(info: dict, where: str) -> None:
    """Raise ConfigError naming the first missing or malformed key."""
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{where}: key {key!r} {why}; {REEXPORT}")

    table = info.get("table")
    if not isinstance(table, dict):
        raise bad("table", "is missing or not an object")
    for key in ("numeric", "categorical"):
        if not isinstance(table.get(key), list):
            raise bad(f"table.{key}", "must be a list of columns")
    for col in table["numeric"]:
        if not isinstance(col, dict) or not {"name", "median", "mean", "std"} <= set(col):
            raise bad("table.numeric", f"entries need name, median, mean and std, got {col!r}")
    for col in table["categorical"]:
        if not isinstance(col, dict) or not isinstance(col.get("vocabulary"), list):
            raise bad("table.categorical", f"entries need name and vocabulary, got {col!r}")
    if not isinstance(table.get("target"), dict) or "name" not in table["target"]:
        raise bad("table.target", "must name the target column")
    names = info["input"].get("names")
    if not (isinstance(names, list) and names and all(n in ("numeric", "categorical") for n in names)):
        raise bad("input.names", f"must list numeric and/or categorical, got {names!r}")
    if info.get("task") == "classification" and not info.get("classes"):
        raise bad("classes", "must list the class names of a classifier")


def required_columns(info: dict) -> list[str]:
    table = info["table"]
    return [c["name"] for c in table["numeric"]] + [c["name"] for c in table["categorical"]]


def table_feeds(frame, info: dict, where: str) -> dict:
    """Raw rows (a DataFrame as read) -> {ONNX input name: array}, exactly the training transform."""
    from nas_cli.data.table_transform import transform_table

    numeric, categorical = transform_table(frame, info["table"], where=where)
    parts = {"numeric": numeric, "categorical": categorical}
    return {name: parts[name] for name in info["input"]["names"]}
