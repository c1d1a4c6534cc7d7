"""Tables end to end: search, export (named ONNX inputs), `nas evaluate` and `nas predict` on raw CSV
rows, on every built-in table and on a mixed-type CSV with missing values and categories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY


def search(compose_cfg, run: Path, overrides: list[str]) -> dict:
    from nas_cli.study.runner import run_study

    assert run_study(compose_cfg([*TINY, *overrides]), run) == 0
    return json.loads((run / "summary.json").read_text())


def pytorch_outputs(run: Path, x):
    import torch

    from nas_cli.deploy.export import load_checkpoint

    model, _ = load_checkpoint(run / "export" / "model.pt")
    with torch.inference_mode():
        return model(x).numpy()


@pytest.mark.parametrize("name", ["iris", "diabetes", pytest.param("breast_cancer", marks=pytest.mark.slow),
                                  pytest.param("wine", marks=pytest.mark.slow)])
def test_builtin_table_searches_exports_evaluates_and_predicts_raw_rows(compose_cfg, tmp_path, capsys, name):
    from nas_cli.commands.evaluate import evaluate_command
    from nas_cli.commands.predict import predict_command
    from nas_cli.data import load_dataset

    run = tmp_path / "run"
    summary = search(compose_cfg, run, [f"dataset={name}"])
    assert summary["search_space"] == "mlp"
    regression = name == "diabetes"
    assert summary["objectives"] == (["rmse:min"] if regression else ["accuracy:max"])
    info = json.loads((run / "export" / "preprocess.json").read_text())
    assert info["input"] == {"kind": "table", "names": ["numeric"]} and info["task"] == summary["task"]
    assert summary["export"]["onnx_max_abs_diff"] <= summary["export"]["tolerance"]
    rob = summary["robustness"]
    assert "not applicable" in rob["fgsm"] and rob[f"noise_{'rmse' if regression else 'accuracy'}"] is not None

    assert evaluate_command([str(run)]) == 0  # the run's test split through the exported ONNX model
    record = json.loads(next((run / "evaluations").glob("*/evaluation.json")).read_text())
    for key, value in summary["finetune"]["test"].items():
        assert record["result"]["metrics"][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    assert record["result"]["drift"]["drifted"] is False

    data = load_dataset(name)
    rows = data.raw["test"].drop(columns=[data.preprocess["target"]["name"]])
    csv = tmp_path / "rows.csv"
    rows.to_csv(csv, index=False)
    out = tmp_path / "pred.csv"
    capsys.readouterr()
    assert predict_command([str(run), str(csv), "--out", str(out)]) == 0
    import pandas as pd

    pred = pd.read_csv(out)
    assert len(pred) == len(rows) and list(pred.columns[:len(rows.columns)]) == list(rows.columns)
    expected = pytorch_outputs(run, data.test_x)
    if regression:
        assert np.allclose(pred["prediction"].to_numpy(), expected[:, 0], rtol=1e-4, atol=1e-3)
    else:
        classes = info["classes"]
        assert list(pred["prediction"]) == [classes[i] for i in expected.argmax(1)]
        assert np.allclose(pred[[f"p_{c}" for c in classes]].sum(axis=1), 1.0, atol=1e-5)


def write_mixed(path: Path, n: int, seed: int, shift: float = 0.0, label: bool = True, extra_city: str = "") -> Path:
    import pandas as pd

    rng = np.random.default_rng(seed)
    age = rng.normal(40 + 10 * shift, 10, n).round(1)
    city = rng.choice(["paris", "lyon", "nice", extra_city or "lille"], n, p=[0.4, 0.3, 0.2, 0.1])
    income = rng.normal(3000, 800, n).round(0)
    frame = pd.DataFrame({"id": range(n), "age": age, "city": city, "income": income})
    score = (age > 42) + (city == "paris") + (income > 3200) + rng.normal(0, 0.3, n)
    if label:
        frame["label"] = np.where(score > 1.5, "yes", "no")
    frame.loc[rng.random(n) < 0.05, "age"] = np.nan
    frame.loc[rng.random(n) < 0.05, "city"] = np.nan
    frame.to_csv(path, index=False, na_rep="?")
    return path


def test_a_mixed_csv_end_to_end_with_unseen_categories_missing_columns_and_drift(compose_cfg, tmp_path, capsys):
    from nas_cli.commands.evaluate import evaluate_command
    from nas_cli.commands.predict import predict_command

    train = write_mixed(tmp_path / "train.csv", 600, 0)
    run = tmp_path / "run"
    summary = search(compose_cfg, run, ["dataset=csv", f"dataset.path={train}", "dataset.target=label",
                                        "dataset.drop=[id]", "robustness.enabled=true"])
    assert summary["task"] == "classification" and summary["data"]["categorical"] == ["city"]
    info = json.loads((run / "export" / "preprocess.json").read_text())
    assert info["input"]["names"] == ["numeric", "categorical"] and info["read"]["delimiter"] == ","
    assert summary["robustness"]["flip_accuracy"] is not None

    rows = write_mixed(tmp_path / "rows.csv", 30, 5, label=False, extra_city="tokyo")  # an unseen category
    capsys.readouterr()
    assert predict_command([str(run), str(rows), "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 30 and {r["prediction"] for r in lines} <= {"no", "yes"}
    assert any(r["city"] == "tokyo" for r in lines)

    import pandas as pd

    pd.read_csv(rows).drop(columns=["income"]).to_csv(tmp_path / "short.csv", index=False)
    assert predict_command([str(run), str(tmp_path / "short.csv")]) == 2
    assert "income" in capsys.readouterr().err

    same = write_mixed(tmp_path / "same.csv", 400, 1)
    assert evaluate_command([str(run), f"dataset.path={same}", "gate.no_drift=true"]) == 0
    shifted = write_mixed(tmp_path / "shifted.csv", 400, 2, shift=1.5)
    assert evaluate_command([str(run), f"dataset.path={shifted}", "gate.no_drift=true"]) == 3
    record = json.loads(sorted((run / "evaluations").glob("*/evaluation.json"))[-1].read_text())
    drift = record["result"]["drift"]
    assert drift["drifted"] and [c["column"] for c in drift["columns"] if c["drifted"]] == ["age"]
    assert "| age | numeric | yes |" in sorted((run / "evaluations").glob("*/evaluation.md"))[-1].read_text()


def test_regression_gate_and_wrong_task_gate(compose_cfg, tmp_path, capsys):
    from nas_cli.study.runner import run_study

    run = tmp_path / "run"
    assert run_study(compose_cfg([*TINY, "dataset=diabetes", "gate.max_rmse=1"]), run) == 3
    assert json.loads((run / "summary.json").read_text())["gate"]["checks"][0]["gate"] == "max_rmse"
    assert run_study(compose_cfg([*TINY, "dataset=diabetes", "gate.min_accuracy=0.5"]), tmp_path / "r2") == 2
    assert "gate.min_accuracy does not apply to a regression run" in capsys.readouterr().err


def test_bad_csv_input_is_one_line_and_exit_2(nas, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,7,8\n", encoding="utf-8")
    proc = nas(["search", "dataset=csv", f"dataset.path={bad}", "dataset.target=label", *TINY], cwd=tmp_path)
    assert proc.returncode == 2 and "line 4" in proc.stderr and "Traceback" not in proc.stderr
    good = tmp_path / "good.csv"
    good.write_text("a,b,label\n1,2,x\n3,4,y\n", encoding="utf-8")
    proc = nas(["search", "dataset=csv", f"dataset.path={good}", "dataset.target=nope", *TINY], cwd=tmp_path)
    assert proc.returncode == 2 and "nope" in proc.stderr and "Traceback" not in proc.stderr
