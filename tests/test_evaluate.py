"""`nas evaluate`: the exported model on labelled data loaded through the dataset configs, metrics
beside the run's, drift against the training split, evaluation files, gates (exit 3 after writing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY


def write_digit_folder(root: Path, shift: int = 0, count: int = 600) -> Path:
    """scikit-learn's digits as 8x8 grey PNGs in ROOT/<class>/ (the flat image-folder layout)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (img, label) in enumerate(zip(digits.images[:count], digits.target[:count], strict=True)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.clip(np.round(img / 16 * 255) + shift, 0, 255).astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(folder / f"{i:04d}.png")
    return root


def folder_overrides(root: Path) -> list[str]:
    return ["dataset=image_folder", f"dataset.root={root}", "dataset.image_size=8", "dataset.channels=1"]


@pytest.fixture(scope="module")
def digit_run(tmp_path_factory):
    """A tiny real search on the PNG folder, with its export (shared by the tests of this module)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from nas_cli.commands.search import register_resolvers
    from nas_cli.study.runner import run_study

    base = tmp_path_factory.mktemp("evaluate")
    orig = write_digit_folder(base / "orig")
    bright = write_digit_folder(base / "bright", shift=70)
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="nas_cli.configs", version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*TINY, *folder_overrides(orig), "robustness.enabled=false"])
    GlobalHydra.instance().clear()
    assert run_study(cfg, base / "run") == 0
    return base / "run", orig, bright


def evaluations(run: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run / "evaluations").glob("*/evaluation.json"))]


def test_the_run_s_own_test_split_gives_its_test_metrics_and_no_drift(digit_run, capsys):
    from nas_cli.commands.evaluate import evaluate_command

    run, _, _ = digit_run
    assert evaluate_command([str(run)]) == 0
    record = evaluations(run)[-1]
    summary = json.loads((run / "summary.json").read_text())
    assert record["result"]["split"] == "test" and record["result"]["count"] == summary["data"]["test"]
    # The exported ONNX model on the same split reproduces the fine-tuned model's test metrics.
    for key in ("accuracy", "f1", "precision", "recall"):
        assert record["result"]["metrics"][key] == pytest.approx(summary["finetune"]["test"][key], abs=1e-6)
    assert record["result"]["drift"]["drifted"] is False
    assert record["run_metrics_source"].endswith("test split")
    assert (run / "evaluations").glob("*/evaluation.md")
    out = capsys.readouterr().out
    assert "no drift detected" in out and "accuracy" in out


def test_brighter_images_drift_and_a_failing_gate_exits_3_after_writing(digit_run, capsys):
    from nas_cli.commands.evaluate import evaluate_command

    run, _, bright = digit_run
    before = len(evaluations(run))
    code = evaluate_command([str(run), f"dataset.root={bright}", "gate.min_accuracy=1.01", "gate.no_drift=true"])
    assert code == 3
    records = evaluations(run)
    assert len(records) == before + 1  # written before the exit code
    record = records[-1]
    drift = record["result"]["drift"]
    assert drift["drifted"] and drift["channels"][0]["mean_shift"] > 0.2
    assert record["result"]["split"] == "all" and record["result"]["count"] == 600
    assert not record["gate"]["passed"] and {c["gate"] for c in record["gate"]["checks"]} == {"min_accuracy", "no_drift"}
    md = sorted((run / "evaluations").glob("*/evaluation.md"))[-1].read_text()
    assert "## Drift" in md and "**failed**" in md
    assert "gate failed" in capsys.readouterr().err


def test_every_image_of_the_training_folder_shows_no_drift(digit_run):
    from nas_cli.commands.evaluate import evaluate_command

    run, orig, _ = digit_run
    assert evaluate_command([str(run), *folder_overrides(orig)]) == 0  # a composed dataset group
    record = evaluations(run)[-1]
    assert record["result"]["count"] == 600 and record["result"]["drift"]["drifted_features"] == []


def test_report_lists_the_evaluations(digit_run):
    from nas_cli.commands.evaluate import evaluate_command
    from nas_cli.report.build import build_report

    run, _, _ = digit_run
    assert evaluate_command([str(run)]) == 0
    html = build_report(run).read_text()
    assert "<h2>Evaluations</h2>" in html and "evaluation.json" in html


@pytest.mark.parametrize("args, message", [
    (["dataset.image_size=16"], "trained with [8, 8]"),
    (["gate.max_params=3"], "cannot be checked by nas evaluate"),
    (["train.epochs=3"], "dataset.KEY"),
    (["--split", "every"], "--split 'every'"),
    (["dataset.root=/no/such/folder"], "does not exist"),
    (["dataset.no_such_key=1"], "no config key"),
])
def test_bad_arguments_exit_2_with_one_line(digit_run, capsys, args, message):
    from nas_cli.commands.evaluate import evaluate_command

    run, _, _ = digit_run
    before = len(evaluations(run))
    assert evaluate_command([str(run), *args]) == 2
    assert message in capsys.readouterr().err
    assert len(evaluations(run)) == before


def test_an_export_without_drift_reference_still_evaluates(digit_run, tmp_path):
    import shutil

    from nas_cli.commands.evaluate import evaluate_command

    run, _, _ = digit_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("evaluations", "report"))
    (copy / "export" / "drift_reference.json").unlink()
    assert evaluate_command([str(copy)]) == 0
    record = evaluations(copy)[-1]
    assert record["result"]["drift"] is None and "drift_reference.json is missing" in record["result"]["drift_note"]
    (copy / "export" / "preprocess.json").unlink()
    assert evaluate_command([str(copy)]) == 2


def test_unknown_class_names_are_named(tmp_path):
    from nas_cli.deploy.evaluate import class_map
    from nas_cli.errors import ConfigError

    assert class_map(["b", "a"], ["a", "b", "c"]).tolist() == [1, 0]
    with pytest.raises(ConfigError, match="class\\(es\\) zebra"):
        class_map(["a", "zebra"], ["a", "b"])


@pytest.mark.slow
def test_re_optimise_on_new_data_starts_from_the_old_run_s_best(digit_run, tmp_path):
    """The documented loop: evaluate shows the slip, then a search on the new data enqueues the old bests."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from nas_cli.study.runner import run_study

    run, _, bright = digit_run
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="nas_cli.configs", version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*TINY, *folder_overrides(bright), f"study.enqueue={run}",
                                                       "robustness.enabled=false"])
    GlobalHydra.instance().clear()
    assert run_study(cfg, tmp_path / "again") == 0
    old = json.loads((run / "summary.json").read_text())
    new = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert new["enqueue"]["enqueued"] == 2
    old_params = {json.dumps(t["params"], sort_keys=True) for t in old["best_trials"]}
    new_params = {json.dumps(t["params"], sort_keys=True) for t in new["best_trials"]}
    assert old_params == new_params  # the same two architectures, retrained and scored on the new data
