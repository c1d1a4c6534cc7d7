"""Table datasets: `dataset=csv` (any CSV/TSV file) and scikit-learn's shipped tables
(breast_cancer, wine, iris, diabetes), through one path: read, split (seeded, stratified for
classes), learn the transform on the training rows only, turn every split into tensors.

Inputs are packed `[N, F + K]` float32: F standardised numeric features (missing indicators
included), then K category codes as exact small floats (0 = missing or unseen).
"""

from __future__ import annotations

from nas_cli.data import Data, DataSpec, split_indices
from nas_cli.data.table_read import READ_KEYS, config_list, read_cached, read_options
from nas_cli.errors import ConfigError

TASKS = ("auto", "classification", "regression")
BUILTIN_TASKS = {"breast_cancer": "classification", "wine": "classification", "iris": "classification",
                 "diabetes": "regression"}


def load_csv(path=None, target=None, test_path=None, delimiter="auto", header=True, columns=None,
             skipinitialspace=False, na_values=None, encoding="utf-8", drop=(), categorical=(), numeric=(),
             task="auto", val_fraction=0.2, test_fraction=0.2, seed=0, max_train=None, **_: object) -> Data:
    """A CSV/TSV file (and optionally its own test file) as train/val/test tensors."""
    _require(path, target)
    read = read_options(delimiter=delimiter, header=header, columns=columns, skipinitialspace=skipinitialspace,
                        na_values=na_values, encoding=encoding)
    frame = read_cached(path, "dataset.path", read)
    read["delimiter"] = frame.attrs["delimiter"]  # the one used, so a test or predict file reads the same
    test_frame = read_cached(test_path, "dataset.test_path", read) if test_path else None
    info = {"path": str(path), "test_path": str(test_path) if test_path else None, "delimiter": read["delimiter"]}
    return build_table_data(frame, str(target), test_frame, name="csv", task=task, drop=drop,
                            categorical=categorical, numeric=numeric, val_fraction=val_fraction,
                            test_fraction=test_fraction, seed=seed, max_train=max_train, read=read,
                            where=f"dataset.path={path}", test_where=f"dataset.test_path={test_path}", info=info)


def infer_task_of_options(options: dict) -> str:
    """`dataset.task=auto` resolved from the dataset options (reads the target column of dataset.path)."""
    from nas_cli.data.table_transform import infer_task

    if options.get("name") in BUILTIN_TASKS:
        return BUILTIN_TASKS[options["name"]]
    if not options.get("path") or not options.get("target"):
        raise ConfigError("dataset.task=auto looks at the target column of dataset.path: set dataset.path=FILE "
                          "and dataset.target=COLUMN, or dataset.task=classification|regression")
    read = read_options(**{k: options[k] for k in READ_KEYS if k in options})
    frame = read_cached(options["path"], "dataset.path", read)
    _check_target(frame, str(options["target"]), f"dataset.path={options['path']}")
    return infer_task(frame[str(options["target"])])


def load_breast_cancer(**options) -> Data:
    """569 tumours, 30 numeric measurements, malignant or benign."""
    return _load_builtin("breast_cancer", "load_breast_cancer", **options)


def load_wine(**options) -> Data:
    """178 wines, 13 chemical measurements, 3 cultivars."""
    return _load_builtin("wine", "load_wine", **options)


def load_iris(**options) -> Data:
    """150 irises, 4 measurements, 3 species."""
    return _load_builtin("iris", "load_iris", **options)


def load_diabetes(**options) -> Data:
    """442 patients, 10 baseline variables, disease progression a year later (regression)."""
    return _load_builtin("diabetes", "load_diabetes", **options)


def _load_builtin(name: str, loader: str, task="auto", val_fraction=0.2, test_fraction=0.2, seed=0,
                  max_train=None, **_: object) -> Data:
    from sklearn import datasets

    if task not in ("auto", BUILTIN_TASKS[name]):
        raise ConfigError(f"dataset={name} is a {BUILTIN_TASKS[name]} table; dataset.task={task!r} is not "
                          f"allowed (use {BUILTIN_TASKS[name]} or auto)")
    options = {"scaled": False} if name == "diabetes" else {}
    bunch = getattr(datasets, loader)(as_frame=True, **options)  # shipped with scikit-learn: no download
    frame = bunch.data.copy()
    if BUILTIN_TASKS[name] == "classification":
        frame["target"] = [str(c) for c in bunch.target_names[bunch.target.to_numpy()]]
    else:
        frame["target"] = bunch.target.to_numpy(dtype="float64")
    return build_table_data(frame, "target", None, name=name, task=BUILTIN_TASKS[name], val_fraction=val_fraction,
                            test_fraction=test_fraction, seed=seed, max_train=max_train, read=None,
                            where=f"dataset={name}", info={"path": f"sklearn.datasets.{loader}"})


def build_table_data(frame, target: str, test_frame=None, *, name: str, task="auto", drop=(), categorical=(),
                     numeric=(), val_fraction=0.2, test_fraction=0.2, seed=0, max_train=None, read=None,
                     where: str = "dataset.path", test_where: str = "dataset.test_path", info=None) -> Data:
    """Split `frame` (and take `test_frame` as the test split), fit on the training rows, build `Data`."""
    from nas_cli.data.table_transform import detect_columns, fit_table, infer_task, table_spec

    if task not in TASKS:
        raise ConfigError(f"dataset.task={task!r} is not allowed; choose one of: {', '.join(TASKS)}")
    drop, categorical, numeric = config_list(drop), config_list(categorical), config_list(numeric)
    _check_target(frame, target, where)
    if test_frame is not None:
        _check_target(test_frame, target, test_where)
    task = infer_task(frame[target]) if task == "auto" else task
    labels = _check_labels(frame[target], target, task, where)
    parsed: dict = {}
    numeric_cols, categorical_cols = detect_columns(frame, target, drop, categorical, numeric, where, parsed)
    train, val, test = _split_rows(len(frame), labels, val_fraction, test_fraction, int(seed), test_frame is None)
    train = _cap(train, max_train, int(seed))
    numbers = frame.copy(deep=False)  # numeric columns parsed once: fit and transform skip parsing
    for col, values in parsed.items():
        numbers[col] = values
    positions = {"train": train, "val": val, "test": test}
    parts = {split: frame.iloc[rows] for split, rows in positions.items()}  # as read, for Data.raw
    inputs = {split: numbers.iloc[rows] for split, rows in positions.items()}
    wheres = {split: f"{where} ({split} split)" for split in positions}
    if test_frame is not None:
        parts["test"] = inputs["test"] = test_frame
        wheres["test"] = test_where
    fitted = fit_table(inputs["train"], target=target, numeric=numeric_cols, categorical=categorical_cols,
                       task=task, where=wheres["train"])
    classes = fitted["target"]["classes"]
    if task == "classification" and len(classes) < 2:
        raise ConfigError(f"dataset.target={target!r}: the training split has one class ({classes[0]!r}); "
                          "a classifier needs at least two")
    tensors = {split: _tensors(rows, fitted, wheres[split]) for split, rows in inputs.items()}
    raw = {split: rows.copy(deep=False) for split, rows in parts.items()}
    for split, rows in raw.items():  # distinct attrs: a concat of splits drops their line numbers
        rows.attrs["split"] = split
    target_info = fitted["target"]
    spec = DataSpec(name=name, input_shape=(tensors["train"][0].shape[1],),
                    num_classes=len(classes) if task == "classification" else 1, task=task,
                    table=table_spec(fitted),
                    target_scale=(target_info["mean"], target_info["std"]) if task == "regression" else None)
    summary = {"train": len(parts["train"]), "val": len(parts["val"]), "test": len(parts["test"]),
               "target": target, "task": task, "classes": classes, "numeric": numeric_cols,
               "categorical": categorical_cols, "features": int(spec.input_shape[0]), "dropped": drop,
               **(info or {})}
    return Data(spec=spec, train_x=tensors["train"][0], train_y=tensors["train"][1], val_x=tensors["val"][0],
                val_y=tensors["val"][1], test_x=tensors["test"][0], test_y=tensors["test"][1], info=summary,
                preprocess={**fitted, "read": read, "dropped": drop}, raw=raw)


def _require(path, target) -> None:
    if path in (None, "", "???"):
        raise ConfigError("dataset=csv needs dataset.path=FILE (a CSV/TSV file), e.g. "
                          "dataset=csv dataset.path=data/train.csv dataset.target=label")
    if target in (None, "", "???"):
        raise ConfigError(f"dataset=csv needs dataset.target=COLUMN, the column of {path} to predict")


def _check_target(frame, target: str, where: str) -> None:
    from nas_cli.data.table_transform import describe_row

    if target not in frame.columns:
        raise ConfigError(f"dataset.target={target!r} is not a column of {where}; the columns are: "
                          f"{', '.join(map(str, frame.columns))}")
    missing = frame[target].isna().to_numpy()
    if missing.any():
        first = describe_row(frame, frame.index[int(missing.argmax())])
        raise ConfigError(f"{where}: the target column {target!r} is missing at {first} "
                          f"({int(missing.sum())} row(s)); fill or remove those rows")


def _check_labels(series, target: str, task: str, where: str):
    """Class codes for stratified splits (classification), None for regression (after checking it)."""
    import numpy as np
    import pandas as pd

    from nas_cli.data.table_transform import as_strings, describe_row

    if task == "regression":
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            first = int(bad.argmax())
            raise ConfigError(f"dataset.task=regression needs a numeric target, but column {target!r} of {where} "
                              f"has {series.iloc[first]!r} at {describe_row(series, series.index[first])}; "
                              "use dataset.task=classification for labels")
        return None
    codes, uniques = pd.factorize(as_strings(series))
    if len(uniques) < 2:
        raise ConfigError(f"dataset.target={target!r} of {where} has one class ({str(uniques[0])!r}); "
                          "a classifier needs at least two (dataset.task=regression for a numeric target)")
    return codes


def _fraction(key: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = -1.0
    if not 0.0 < value <= 0.5:
        raise ConfigError(f"dataset.{key} must be a number in (0, 0.5], got {value!r}")
    return value


def _split_rows(n: int, labels, val_fraction, test_fraction, seed: int, carve_test: bool):
    """(train, val, test) row positions: test first (when the file has none), then validation."""
    import numpy as np

    rest, test = np.arange(n), np.empty(0, dtype=np.int64)
    if carve_test:
        rest, test = _carve(rest, labels, _fraction("test_fraction", test_fraction), seed, "test_fraction")
    train, val = _carve(rest, labels, _fraction("val_fraction", val_fraction), seed + 1, "val_fraction")
    return train, val, test


def _carve(rows, labels, fraction: float, seed: int, key: str):
    """(kept, held) subsets of `rows`: stratified by class, or plain when classes are too small."""
    sub = None if labels is None else labels[rows]
    kept, held = split_indices(len(rows), (fraction,), seed, labels=sub)
    if len(held) == 0 and sub is not None:
        kept, held = split_indices(len(rows), (fraction,), seed)
    if len(held) == 0 or len(kept) == 0:
        raise ConfigError(f"dataset.{key}={fraction} of {len(rows)} rows leaves an empty split; "
                          "add rows or change the fraction")
    return rows[kept], rows[held]


def _cap(train, max_train, seed: int):
    """At most `max_train` training rows (a seeded random subset, file order kept)."""
    import numpy as np

    if max_train is None:
        return train
    if isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 1:
        raise ConfigError(f"dataset.max_train must be a positive integer or null, got {max_train!r}")
    if max_train >= len(train):
        return train
    return np.sort(train[np.random.default_rng(seed + 7).permutation(len(train))[:max_train]])


def _tensors(rows, fitted: dict, where: str):
    """(x float32 [N, F + K] numeric then codes, y) torch tensors of one split."""
    import numpy as np
    import torch

    from nas_cli.data.table_transform import encode_target, transform_table

    numeric, codes = transform_table(rows, fitted, where=where)
    x = np.ascontiguousarray(np.concatenate([numeric, codes.astype(np.float32)], axis=1))
    y = encode_target(rows[fitted["target"]["name"]], fitted, where)
    return torch.from_numpy(x), torch.from_numpy(y)
