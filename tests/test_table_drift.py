"""Data drift for tables: same distribution -> no drift; a shifted column, new categories -> drift."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nas_cli.deploy.table_drift import FORMAT, compare_tables, table_reference
from nas_cli.errors import ConfigError

CITIES = ["paris", "lyon", "nice", "lille"]
INFO = {"kind": "table",
        "numeric": [{"name": "age", "median": 40.0, "mean": 40.0, "std": 10.0, "missing_indicator": True},
                    {"name": "income", "median": 3.0, "mean": 3.0, "std": 1.0, "missing_indicator": False},
                    {"name": "rooms", "median": 3.0, "mean": 3.0, "std": 1.5, "missing_indicator": False}],
        "categorical": [{"name": "city", "vocabulary": CITIES}],
        "target": {"name": "y"}}


def _rows(n: int, seed: int, age_shift: float = 0.0, new_city: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(40 + age_shift, 10, n)
    age[rng.random(n) < 0.05] = np.nan
    city = rng.choice(CITIES, size=n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    new = rng.random(n) < new_city
    city[new] = rng.choice(["rome", "oslo", "bern"], size=int(new.sum()))
    return pd.DataFrame({"age": age, "income": rng.lognormal(1, 0.5, n),
                         "rooms": rng.integers(1, 7, n), "city": city, "y": rng.integers(0, 2, n)})


@pytest.fixture(scope="module")
def reference():
    # Through JSON, as it is stored beside the export.
    return json.loads(json.dumps(table_reference(_rows(600, seed=0), INFO, max_samples=400)))


def test_same_distribution_reports_no_drift(reference):
    result = compare_tables(reference, _rows(500, seed=1))
    assert not result["drifted"], result["verdict"]
    assert result["verdict"].startswith("no drift detected (0 of 4 columns differ")
    assert result["drifted_features"] == []
    assert {c["column"] for c in result["columns"]} == {"age", "income", "rooms", "city"}
    assert all(c["psi"] < 0.1 and c["psi_reading"] == "none" for c in result["columns"])
    assert set(result) >= {"drifted", "verdict", "alpha", "count", "reference_count", "features",
                           "drifted_features", "columns"}
    assert (result["count"], result["reference_count"]) == (500, 600)
    # KS for each numeric column, chi-square for the categorical one, missing vs present for age.
    assert sorted(t["test"] for t in result["features"]) == ["chi-square", "ks", "ks", "ks", "missing"]
    json.dumps(result)


def test_shifted_numeric_column_reports_drift_naming_it(reference):
    result = compare_tables(reference, _rows(500, seed=2, age_shift=10.0))  # +1 training std
    assert result["drifted"]
    assert result["verdict"].startswith("drift: column age mean +"), result["verdict"]
    assert "training std" in result["verdict"] and "1 of 4 columns differ" in result["verdict"]
    assert result["drifted_features"] == ["age"]
    age = next(c for c in result["columns"] if c["column"] == "age")
    assert 0.8 < age["mean_shift_in_std"] < 1.2 and age["drifted"] and age["psi"] > 0.25


def test_new_categories_report_drift_and_their_rate(reference):
    result = compare_tables(reference, _rows(500, seed=3, new_city=0.3))
    city = next(c for c in result["columns"] if c["column"] == "city")
    assert result["drifted"] and city["drifted"] and "city" in result["drifted_features"]
    assert abs(city["new_category_rate"] - 0.3) < 0.06
    assert result["verdict"].startswith("drift: column city ") and "new categories" in result["verdict"]


def test_missing_column_and_empty_frame_raise(reference):
    with pytest.raises(ConfigError, match="income"):
        compare_tables(reference, _rows(50, seed=4).drop(columns=["income"]))
    with pytest.raises(ConfigError, match="at least one row"):
        compare_tables(reference, _rows(50, seed=4).iloc[:0])
    with pytest.raises(ConfigError, match="rooms"):
        table_reference(_rows(50, seed=4).drop(columns=["rooms"]), INFO)
    with pytest.raises(ConfigError, match="not a table drift reference"):
        compare_tables({"format": "nas-drift-reference-1"}, _rows(50, seed=4))


def test_reference_is_json_and_deterministic_for_a_seed():
    frame = _rows(600, seed=5)
    a, b = table_reference(frame, INFO, max_samples=100, seed=7), table_reference(frame, INFO, max_samples=100, seed=7)
    assert json.dumps(a) == json.dumps(b) and a["format"] == FORMAT
    assert json.dumps(a) != json.dumps(table_reference(frame, INFO, max_samples=100, seed=8))
    age = a["numeric"][0]
    assert len(age["sample"]) == 100 and len(age["quantiles"]) == 9 and 0.0 < age["missing_rate"] < 0.1
    assert a["categorical"][0]["vocabulary"] == CITIES and abs(sum(a["categorical"][0]["frequencies"]) - 1) < 1e-9


def test_discrete_column_against_itself_has_no_drift():
    # Integer levels and thirds (which only tie after the same rounding on both sides), more rows
    # than max_samples so both sides are different sub-samples.
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"age": rng.integers(0, 5, 3000) / 3, "income": rng.integers(0, 3, 3000),
                          "rooms": rng.integers(1, 4, 3000), "city": rng.choice(CITIES, 3000)})
    result = compare_tables(table_reference(frame, INFO, max_samples=500), frame)
    assert not result["drifted"], result["verdict"]


def test_csv_round_trip_text_cells(tmp_path, reference):
    frame = _rows(400, seed=12)
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    read = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", "?", "NA", "NaN"])
    assert isinstance(read["age"].iloc[0], str)  # text cells, parsed by the drift check itself
    result = compare_tables(reference, read)
    assert not result["drifted"], result["verdict"]
    city = next(c for c in result["columns"] if c["column"] == "city")
    age = next(c for c in result["columns"] if c["column"] == "age")
    assert city["new_category_rate"] == 0.0 and city["missing_rate"] == 0.0
    assert age["missing_rate"] == pytest.approx(frame["age"].isna().mean())  # empty cells read as missing
    # Blanks where training had none: drift in the missing rate, said so.
    frame.loc[frame.index[:100], "city"] = np.nan
    frame.to_csv(path, index=False)
    read = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", "?", "NA", "NaN"])
    result = compare_tables(reference, read)
    assert result["drifted_features"] == ["city (missing)"]
    assert result["verdict"].startswith("drift: column city missing 0% -> 25%"), result["verdict"]
    # A shifted CSV still drifts, in that column only.
    shifted = _rows(400, seed=9, age_shift=10.0)
    shifted.to_csv(path, index=False)
    read = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", "?", "NA", "NaN"])
    assert compare_tables(reference, read)["drifted_features"] == ["age"]


def test_number_and_text_cells_are_one_category():
    info = {"numeric": [], "categorical": [{"name": "code", "vocabulary": ["2", "1"]}], "target": {"name": "y"}}
    numbers = pd.DataFrame({"code": [1.0, 2.0, 2.0, np.nan] * 50})  # a built-in table's float codes
    reference = table_reference(numbers, info)
    assert reference["categorical"][0]["counts"] == [100, 50] and reference["categorical"][0]["missing"] == 50
    result = compare_tables(reference, pd.DataFrame({"code": ["1", "2", "2", "", "3"] * 40}))
    code = result["columns"][0]
    assert code["new_category_rate"] == pytest.approx(0.25) and code["missing_rate"] == pytest.approx(0.2)


def test_wider_spread_says_so(reference):
    rows = _rows(500, seed=13)
    rows["age"] = 40 + (rows["age"] - 40) * 1.6  # same mean, 1.6x the spread
    result = compare_tables(reference, rows)
    assert result["drifted_features"] == ["age"]
    assert result["verdict"].startswith("drift: column age mean ") and ", std x1." in result["verdict"]
    assert 1.4 < next(c for c in result["columns"] if c["column"] == "age")["std_ratio"] < 1.9
