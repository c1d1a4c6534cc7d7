"""The table transform: which columns are numbers or categories, what the training rows teach
(medians, means/stds, vocabularies, classes, target scale), and raw rows -> model inputs.

The learned `info` dict is saved as the export's preprocess.json table, and `transform_table` is
the very function `nas predict` runs on new rows, so training and serving cannot drift apart.
numpy and pandas only (no torch, not even lazily): the torch-free predictor imports this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nas_cli.errors import ConfigError

MOSTLY_NUMERIC = 0.95  # a column this share numbers is numeric with typos, not categorical
CLASSIFICATION_MAX_LEVELS = 20  # integer targets with at most this many values are classes (task=auto)


def describe_row(frame, label) -> str:
    """"line 7" (the file line of row `label`, header counted) when the frame says, else "row 5"."""
    lines, first = frame.attrs.get("line_numbers"), frame.attrs.get("first_line")
    if isinstance(label, (int, np.integer)) and first is not None:
        if lines is not None and 0 <= label < len(lines):
            return f"line {int(lines[label])}"
        return f"line {int(label) + int(first)}"
    return f"row {label!r}"


def as_strings(series: pd.Series) -> pd.Series:
    """Values as the strings a file would hold (integer-valued floats without ".0"); NaN stays NaN."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype("float64")
        finite = values.dropna()
        if len(finite) and np.all(np.mod(finite, 1) == 0) and np.all(np.abs(finite) < 2**53):
            return values.astype("Int64").astype("str").where(values.notna())
        return values.astype("str").where(values.notna())
    if pd.api.types.is_string_dtype(series) and series.dtype != object:
        return series
    return series.astype("str").where(series.notna())


def parse_numbers(series: pd.Series, column: str, where: str, frame=None) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values with NaN where missing, missing mask); a non-number is a ConfigError."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    missing = series.isna().to_numpy()
    bad = ~missing & ~np.isfinite(values)
    if bad.any():
        raise _bad_number(series, column, where, frame, bad)
    return values, missing


def _bad_number(series, column: str, where: str, frame, bad, forced: bool = False) -> ConfigError:
    first = int(np.flatnonzero(bad)[0])
    place = describe_row(series if frame is None else frame, series.index[first])
    kind = "is listed in dataset.numeric" if forced else "holds numbers"
    return ConfigError(f"{where}: column {column!r} {kind} but {place} has {series.iloc[first]!r} "
                       f"({int(bad.sum())} such value(s)); add it to dataset.na_values if it marks a missing "
                       f"value, or list the column in dataset.categorical=[{column}]")


def detect_columns(frame, target: str, drop=(), categorical=(), numeric=(), where: str = "dataset.path",
                   parsed: dict | None = None):
    """(numeric_cols, categorical_cols): every column but `target` and `drop`, in file order.

    `parsed`, when given, receives {numeric column: float64 values} (so callers need not parse again).
    """
    available = [str(c) for c in frame.columns]
    for key, names in (("target", [target]), ("drop", drop), ("categorical", categorical), ("numeric", numeric)):
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ConfigError(f"dataset.{key} names {unknown}, not column(s) of {where}; the columns are: "
                              f"{', '.join(available)}")
    both = sorted(set(categorical) & set(numeric))
    if both:
        raise ConfigError(f"column(s) {both} are listed in both dataset.categorical and dataset.numeric")
    if target in set(drop) | set(categorical) | set(numeric):
        raise ConfigError(f"dataset.target={target!r} is also listed in dataset.drop/categorical/numeric")
    features = [c for c in available if c != target and c not in set(drop)]
    numeric_cols, categorical_cols = [], []
    for col in features:
        series = frame[col]
        if col in categorical:
            categorical_cols.append(col)
            continue
        present = series.notna().to_numpy()
        if not present.any():
            raise ConfigError(f"{where}: column {col!r} has no values (every row missing); "
                              f"leave it out with dataset.drop=[{col}]")
        parsed_values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = present & ~np.isfinite(parsed_values)
        if col in numeric or not bad.any():
            if bad.any():
                raise _bad_number(series, col, where, frame, bad, forced=True)
            numeric_cols.append(col)
            if parsed is not None:
                parsed[col] = parsed_values
        elif 1.0 - bad.sum() / present.sum() >= MOSTLY_NUMERIC:
            raise _bad_number(series, col, where, frame, bad)
        else:
            categorical_cols.append(col)
    return numeric_cols, categorical_cols


def infer_task(series) -> str:
    """`dataset.task=auto`: classification for text or few integer values, else regression."""
    present = series.dropna()
    values = pd.to_numeric(present, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if not np.isfinite(values).all():
        return "classification"
    integral = bool(np.all(np.mod(values, 1) == 0))
    return "classification" if integral and len(np.unique(values)) <= CLASSIFICATION_MAX_LEVELS else "regression"


def fit_table(train_frame, *, target: str, numeric, categorical, task: str, where: str = "training rows") -> dict:
    """What the training rows teach: the `info` dict (preprocess.json's table)."""
    num_info = []
    for col in numeric:
        values, missing = parse_numbers(train_frame[col], col, where, train_frame)
        if missing.all():
            raise ConfigError(f"{where}: column {col!r} has no values in the training split; "
                              f"leave it out with dataset.drop=[{col}]")
        median = float(np.median(values[~missing]))
        filled = np.where(missing, median, values)
        std = float(filled.std())
        num_info.append({"name": col, "median": median, "mean": float(filled.mean()),
                         "std": std if std > 0 and np.isfinite(std) else 1.0,
                         "missing_indicator": bool(missing.any())})
    cat_info = []
    for col in categorical:
        counts = as_strings(train_frame[col]).value_counts(dropna=True)
        order = pd.DataFrame({"value": counts.index.astype(str), "count": counts.to_numpy()})
        order = order.sort_values(["count", "value"], ascending=[False, True], kind="stable")
        cat_info.append({"name": col, "vocabulary": order["value"].tolist()})
    return {"kind": "table", "numeric": num_info, "categorical": cat_info,
            "target": _fit_target(train_frame[target], target, task, where)}


def _fit_target(series, name: str, task: str, where: str) -> dict:
    if task == "classification":
        labels = pd.unique(as_strings(series).dropna())
        numbers = pd.to_numeric(pd.Series(labels, dtype=object), errors="coerce").to_numpy(dtype="float64")
        if np.isfinite(numbers).all():  # numeric labels in number order: "2" before "10"
            order = sorted(range(len(labels)), key=lambda i: (numbers[i], labels[i]))
        else:
            order = sorted(range(len(labels)), key=lambda i: labels[i])
        return {"name": name, "task": task, "classes": [str(labels[i]) for i in order], "mean": None, "std": None}
    values, missing = parse_numbers(series, name, where)
    values = values[~missing]
    std = float(values.std()) if len(values) else 1.0
    return {"name": name, "task": task, "classes": None, "mean": float(values.mean()) if len(values) else 0.0,
            "std": std if std > 0 and np.isfinite(std) else 1.0}


def transform_table(frame, info: dict, where: str = "data") -> tuple[np.ndarray, np.ndarray]:
    """Raw rows -> (numeric float32 [N, F], category codes int64 [N, K]); extra columns are ignored."""
    num_info, cat_info = info["numeric"], info["categorical"]
    needed = [c["name"] for c in num_info] + [c["name"] for c in cat_info]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise ConfigError(f"{where}: missing column(s) {absent} that the model needs; it has: "
                          f"{', '.join(map(str, frame.columns))}")
    n = len(frame)
    numeric = np.empty((n, len(num_info)), dtype=np.float64)
    indicators = []
    for j, col in enumerate(num_info):
        values, missing = parse_numbers(frame[col["name"]], col["name"], where, frame)
        numeric[:, j] = (np.where(missing, col["median"], values) - col["mean"]) / col["std"]
        if col.get("missing_indicator"):
            indicators.append(missing)
    if indicators:
        numeric = np.concatenate([numeric, np.stack(indicators, axis=1)], axis=1)
    codes = np.zeros((n, len(cat_info)), dtype=np.int64)
    for j, col in enumerate(cat_info):
        codes[:, j] = pd.Index(col["vocabulary"]).get_indexer(as_strings(frame[col["name"]])) + 1
    return np.ascontiguousarray(numeric, dtype=np.float32), codes


def encode_target(series, info: dict, where: str) -> np.ndarray:
    """Targets as the model learns them: int64 class indices, or float32 values in the original units."""
    target = info["target"]
    missing = series.isna().to_numpy()
    if missing.any():
        first = describe_row(series, series.index[int(np.flatnonzero(missing)[0])])
        raise ConfigError(f"{where}: the target column {target['name']!r} is missing at {first} "
                          f"({int(missing.sum())} row(s)); fill or remove those rows")
    if target["task"] != "classification":
        values, _ = parse_numbers(series, target["name"], where)
        return values.astype(np.float32)
    labels = as_strings(series)
    index = pd.Index(target["classes"]).get_indexer(labels)
    unseen = index < 0
    if unseen.any():
        first = int(np.flatnonzero(unseen)[0])
        others = sorted(set(labels[unseen].tolist()))
        raise ConfigError(f"{where}: label {labels.iloc[first]!r} ({describe_row(series, series.index[first])}"
                          f"; unseen labels: {others[:10]}) is not one of the training split's classes "
                          f"{target['classes']}; it is not silently a new class: remove those rows or "
                          "retrain on data that has them")
    return index.astype(np.int64)


def table_spec(info: dict) -> dict:
    """DataSpec.table: numeric width F (indicators included), codes per categorical column, names."""
    indicated = [c["name"] for c in info["numeric"] if c.get("missing_indicator")]
    return {"n_numeric": len(info["numeric"]) + len(indicated),
            "cardinalities": [len(c["vocabulary"]) + 1 for c in info["categorical"]],
            "numeric_names": [c["name"] for c in info["numeric"]] + [f"{n}__missing" for n in indicated],
            "categorical_names": [c["name"] for c in info["categorical"]]}
