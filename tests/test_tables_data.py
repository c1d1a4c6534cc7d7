"""Table datasets (`dataset=csv` and the shipped scikit-learn tables): reading, splitting, the
transform learned on training rows, and the errors a user gets for bad files and options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nas_cli.data import DATASETS, load_dataset, resolve_task
from nas_cli.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "dataset"


def write(path: Path, rows: list[str], sep: str = ",", encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(sep.join(r) if isinstance(r, (list, tuple)) else r for r in rows) + "\n")
                     .encode(encoding))
    return path


@pytest.fixture
def mixed_csv(tmp_path) -> Path:
    """40 rows: a numeric column with "?" and empty cells, a category with gaps, a numeric one, a label."""
    rows = [["age", "colour", "income", "label"]]
    colours = ["red", "red", "blue", "green", ""]
    for i in range(40):
        age = "?" if i % 10 == 3 else ("" if i % 10 == 7 else str(20 + i))
        rows.append([age, colours[i % 5], f"{1000 + 10 * i}.5", "yes" if i % 2 else "no"])
    return write(tmp_path / "mixed.csv", rows)


def test_mixed_csv_types_missing_values_and_indicators(mixed_csv):
    data = load_dataset("csv", path=str(mixed_csv), target="label")
    pre, table = data.preprocess, data.spec.table
    assert data.info["numeric"] == ["age", "income"] and data.info["categorical"] == ["colour"]
    assert [c["missing_indicator"] for c in pre["numeric"]] == [True, False]
    assert table["numeric_names"] == ["age", "income", "age__missing"] and table["n_numeric"] == 3
    assert pre["categorical"][0]["vocabulary"][:1] == ["red"]  # most frequent first
    assert table["cardinalities"] == [len(pre["categorical"][0]["vocabulary"]) + 1]
    assert data.spec.input_shape == (4,) and data.spec.num_classes == 2
    assert data.train_x.dtype.is_floating_point and data.train_x.shape == (data.info["train"], 4)
    assert data.info["train"] + data.info["val"] + data.info["test"] == 40
    assert pre["target"]["classes"] == ["no", "yes"] and pre["read"]["delimiter"] == ","
    raw = data.raw["train"]
    missing = raw["age"].isna().to_numpy().copy()
    assert missing.any() and np.array_equal(data.train_x[:, 2].numpy(), missing.astype(np.float32))
    median = pre["numeric"][0]["median"]
    assert median == pytest.approx(pd.to_numeric(raw["age"]).median())
    filled = (median - pre["numeric"][0]["mean"]) / pre["numeric"][0]["std"]
    assert np.allclose(data.train_x[missing, 0].numpy(), filled)
    assert (data.train_x[raw["colour"].isna().to_numpy().copy(), 3] == 0).all()  # missing category: code 0


def test_headerless_tsv_with_column_names(tmp_path):
    rows = [[str(i), "ab"[i % 2], str(i % 3)] for i in range(30)]
    path = write(tmp_path / "plain.tsv", rows, sep="\t")
    data = load_dataset("csv", path=str(path), target="y", header=False, columns=["x", "kind", "y"])
    assert data.info["delimiter"] == "\t" and data.info["numeric"] == ["x"] and data.info["categorical"] == ["kind"]
    assert data.preprocess["target"]["classes"] == ["0", "1", "2"]
    with pytest.raises(ConfigError, match="gives 2 names but .* has 3 columns"):
        load_dataset("csv", path=str(path), target="y", header=False, columns=["x", "y"])
    unnamed = load_dataset("csv", path=str(path), target="c2", header=False)
    assert unnamed.info["numeric"] == ["c0"]


@pytest.mark.parametrize("sep", [";", "|"])
def test_semicolon_and_pipe_are_detected(tmp_path, sep):
    rows = [["a", "b", "label"]] + [[f"{i},5", str(i), "xy"[i % 2]] for i in range(20)]
    path = write(tmp_path / "t.csv", rows, sep=sep)
    data = load_dataset("csv", path=str(path), target="label", categorical=["a"])
    assert data.info["delimiter"] == sep and data.info["categorical"] == ["a"]


def test_test_file_unseen_category_gets_code_zero_and_unseen_label_is_an_error(tmp_path):
    rows = [["x", "kind", "label"]] + [[str(i), "ab"[i % 2], "pq"[i % 2]] for i in range(30)]
    train = write(tmp_path / "train.csv", rows)
    test = write(tmp_path / "test.csv", [["label", "kind", "x", "extra"], ["p", "zebra", "3", "1"],
                                         ["q", "a", "1000000", "2"]])
    data = load_dataset("csv", path=str(train), target="label", test_path=str(test))
    assert data.info["test"] == 2 and data.info["train"] + data.info["val"] == 30
    assert data.test_x[0, -1] == 0 and data.test_x[1, -1] == 1  # "zebra" unseen; "a" is a known code
    train_x = pd.to_numeric(data.raw["train"]["x"])
    assert data.preprocess["numeric"][0]["mean"] == pytest.approx(train_x.mean())  # test value not seen
    assert data.preprocess["numeric"][0]["mean"] < 30
    bad = write(tmp_path / "bad.csv", [["x", "kind", "label"], ["1", "a", "p"], ["2", "b", "new"]])
    with pytest.raises(ConfigError, match=r"test_path=.*label 'new' \(line 3.*not silently a new class"):
        load_dataset("csv", path=str(train), target="label", test_path=str(bad))


def test_regression_target_in_original_units(tmp_path):
    rows = [["x", "price"]] + [[str(i), f"{100 + 2.5 * i}"] for i in range(50)]
    path = write(tmp_path / "r.csv", rows)
    options = {"name": "csv", "path": str(path), "target": "price", "task": "auto"}
    assert resolve_task(options) == "regression"
    data = load_dataset("csv", path=str(path), target="price")
    assert data.spec.task == "regression" and data.spec.num_classes == 1
    assert data.train_y.dtype.is_floating_point and float(data.train_y.min()) >= 100.0
    mean, std = data.spec.target_scale
    assert mean == pytest.approx(float(data.train_y.double().mean())) and std > 1
    assert data.preprocess["target"]["classes"] is None


def test_numeric_labels_sort_as_numbers(tmp_path):
    rows = [["x", "y"]] + [[str(i), ["2", "10", "1"][i % 3]] for i in range(30)]
    data = load_dataset("csv", path=str(write(tmp_path / "n.csv", rows)), target="y")
    assert data.preprocess["target"]["classes"] == ["1", "2", "10"]


def test_bad_target_options(tmp_path, mixed_csv):
    with pytest.raises(ConfigError, match="dataset.target='price' is not a column .*age, colour, income, label"):
        load_dataset("csv", path=str(mixed_csv), target="price")
    one = write(tmp_path / "one.csv", [["x", "y"]] + [[str(i), "a"] for i in range(10)])
    with pytest.raises(ConfigError, match="one class"):
        load_dataset("csv", path=str(one), target="y")
    gap = write(tmp_path / "gap.csv", [["x", "y"], ["1", "a"], ["2", ""], ["3", "b"]])
    with pytest.raises(ConfigError, match="target column 'y' is missing at line 3"):
        load_dataset("csv", path=str(gap), target="y")
    with pytest.raises(ConfigError, match="dataset.drop names \\['nope'\\].*the columns are"):
        load_dataset("csv", path=str(mixed_csv), target="label", drop=["nope"])
    with pytest.raises(ConfigError, match="dataset.path"):
        load_dataset("csv", target="label")


def test_bad_files_name_the_file_and_line(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_dataset("csv", path=str(tmp_path / "nope.csv"), target="y")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ConfigError, match="empty.csv is empty"):
        load_dataset("csv", path=str(tmp_path / "empty.csv"), target="y")
    ragged = write(tmp_path / "ragged.csv", [["x", "y"], ["1", "a"], ["2", "b"], ["3", "c", "oops"]])
    with pytest.raises(ConfigError, match="ragged.csv: line 4 has 3 fields"):
        load_dataset("csv", path=str(ragged), target="y")
    dupes = write(tmp_path / "dupes.csv", [["x", "x", "y"], ["1", "2", "a"]])
    with pytest.raises(ConfigError, match="repeats column name"):
        load_dataset("csv", path=str(dupes), target="y")
    rows = [["x", "y"]] + [[str(i), "ab"[i % 2]] for i in range(30)]
    latin = write(tmp_path / "latin.csv", [*rows, ["2", "café"]], encoding="latin-1")
    with pytest.raises(ConfigError, match="line 32 is not valid utf-8.*dataset.encoding=latin-1"):
        load_dataset("csv", path=str(latin), target="y")
    assert "café" in load_dataset("csv", path=str(latin), target="y", encoding="latin-1").preprocess["target"]["classes"]
    rows[12][0] = "n/a"
    rows.insert(5, [""])  # a blank line before the bad value still counts in its line number
    typo = write(tmp_path / "typo.csv", rows)
    with pytest.raises(ConfigError, match="column 'x' holds numbers but line 14 has 'n/a'.*na_values"):
        load_dataset("csv", path=str(typo), target="y")
    assert load_dataset("csv", path=str(typo), target="y", na_values=["", "n/a"]).info["numeric"] == ["x"]


def test_transform_needs_every_column_and_ignores_extras(mixed_csv):
    from nas_cli.data.table_transform import transform_table

    data = load_dataset("csv", path=str(mixed_csv), target="label")
    rows = data.raw["test"].drop(columns=["label"]).assign(extra="zzz")
    numeric, codes = transform_table(rows, data.preprocess, where="new.csv")
    assert numeric.dtype == np.float32 and codes.dtype == np.int64
    assert np.allclose(numeric, data.test_x[:, :3].numpy()) and np.array_equal(codes[:, 0], data.test_x[:, 3])
    with pytest.raises(ConfigError, match=r"new.csv: missing column\(s\) \['income'\]"):
        transform_table(rows.drop(columns=["income"]), data.preprocess, where="new.csv")
    with pytest.raises(ConfigError, match="column 'age' holds numbers but .* 'old'"):
        transform_table(rows.assign(age="old"), data.preprocess, where="new.csv")


@pytest.mark.parametrize(("name", "rows", "width", "classes"),
                         [("breast_cancer", 569, 30, 2), ("wine", 178, 13, 3), ("iris", 150, 4, 3),
                          ("diabetes", 442, 10, 1)])
def test_builtin_tables(name, rows, width, classes):
    data = load_dataset(name)
    assert data.info["train"] + data.info["val"] + data.info["test"] == rows
    assert data.spec.input_shape == (width,) and data.spec.num_classes == classes
    assert data.spec.task == ("regression" if name == "diabetes" else "classification")
    assert data.train_x.shape == (data.info["train"], width) and len(data.val_y) == data.info["val"]
    if name == "iris":
        assert data.preprocess["target"]["classes"] == ["setosa", "versicolor", "virginica"]


def test_dataset_yaml_files_match_the_builders():
    import inspect

    from nas_cli.data import tables

    for name in ("csv", "breast_cancer", "wine", "iris", "diabetes"):
        config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
        assert config["name"] == name and name in DATASETS
        assert config["task"] == ("auto" if name == "csv" else tables.BUILTIN_TASKS[name])
    params = set(inspect.signature(tables.load_csv).parameters) - {"_"}
    assert set(yaml.safe_load((CONFIGS / "csv.yaml").read_text())) - {"name", "defaults"} == params


def test_table_transform_does_not_import_torch():
    code = "import sys, nas_cli.data.table_transform, nas_cli.data.table_read; assert 'torch' not in sys.modules"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
