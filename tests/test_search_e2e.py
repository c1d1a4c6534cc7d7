"""End to end through the `nas` console script, as a user runs it."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TINY, only_run_dir


def test_tiny_search_writes_every_artifact(nas, tmp_path):
    proc = nas(["search", *TINY], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    run = only_run_dir(tmp_path)
    assert "Traceback" not in proc.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["schema_version"] == 1
    assert summary["trials"]["total"] == 2
    assert (run / "config.yaml").is_file() and (run / "nas.log").is_file()
    assert (run / "study.journal").stat().st_size > 0
    for t in ("0", "1"):
        arch = json.loads((run / "trials" / t / "arch.json").read_text())
        assert arch["space"] == "cnn" and arch["arch"]["layers"]
    lines = (run / "trials" / "0" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "val_accuracy" in json.loads(lines[0])
    export = summary["export"]
    for key in ("checkpoint", "onnx", "torch_export", "model_card"):
        assert (run / "export").joinpath(export["files"][key].rsplit("/", 1)[-1]).is_file()
    assert export["onnx_max_abs_diff"] <= 1e-4
    test = summary["finetune"]["test"]
    assert set(test) >= {"accuracy", "precision", "recall", "f1", "loss"}
    assert str(run.name) in proc.stdout


@pytest.mark.parametrize(
    "override, needle",
    [
        ("strategy=nope", "strategy"),
        ("study.n_trials=abc", "study.n_trials"),
        ("study.n_trials=0", "study.n_trials"),
        ("train.optimizer=rmsprop", "train.optimizer"),
        ("objectives=[accuracy:up]", "objectives"),
        ("no_such_key=1", "no_such_key"),
    ],
)
def test_bad_config_exits_2_with_a_message(nas, tmp_path, override, needle):
    proc = nas(["search", override, "verbosity=0"], cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_help_lists_groups_and_options(nas, tmp_path):
    proc = nas(["search", "--help"], cwd=tmp_path)
    assert proc.returncode == 0
    for group in ("dataset", "search_space", "strategy", "pruner", "hardware"):
        assert group in proc.stdout
    assert "tpe" in proc.stdout and "digits" in proc.stdout
