"""Text end to end: a search on a tiny CSV, the export (tokenizer.json, named int64 inputs), `nas
predict` on raw lines equal to PyTorch, `nas evaluate` with length/OOV drift, robustness; TREC real."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY

GOOD = ["a wonderful film", "truly great acting", "i loved it", "brilliant and moving", "great fun"]
BAD = ["a dull film", "truly awful acting", "i hated it", "boring and slow", "bad fun"]


def write_reviews(path: Path, n: int, seed: int) -> Path:
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = list(rng.choice(GOOD if label == "pos" else BAD, 2))
        rows.append({"text": " and ".join(words), "label": label})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_text_search_exports_predicts_and_evaluates_raw_text(compose_cfg, tmp_path, capsys):
    import torch

    from nas_cli.commands.evaluate import evaluate_command
    from nas_cli.commands.predict import predict_command
    from nas_cli.deploy.export import load_checkpoint
    from nas_cli.study.runner import run_study

    train = write_reviews(tmp_path / "reviews.csv", 300, 0)
    run = tmp_path / "run"
    assert run_study(compose_cfg([*TINY, "dataset=text_csv", f"dataset.path={train}", "robustness.enabled=true"]),
                     run) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["search_space"] == "textcnn"
    export = run / "export"
    info = json.loads((export / "preprocess.json").read_text())
    assert info["input"] == {"kind": "text", "names": ["input_ids", "attention_mask"]}
    assert (export / "tokenizer.json").read_text() == info["text"]["tokenizer"]
    rob = summary["robustness"]
    assert rob["delete_accuracy"] is not None and rob["typo_accuracy"] is not None and "not applicable" in rob["fgsm"]

    texts = ["a wonderful film and great fun", "boring and slow and a dull film", "i loved it"]
    lines = tmp_path / "new.txt"
    lines.write_text("\n".join(texts) + "\n\n", encoding="utf-8")
    capsys.readouterr()
    assert predict_command([str(run), str(lines), "--format", "jsonl"]) == 0
    rows = [json.loads(r) for r in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == texts

    from nas_cli.data.text_tokenizer import encode, tokenizer_from_json

    ids = torch.as_tensor(encode(tokenizer_from_json(info["text"]["tokenizer"]), texts, info["text"]["max_length"]))
    model, _ = load_checkpoint(export / "model.pt")
    with torch.inference_mode():
        expected = model(ids).argmax(1).tolist()
    assert [r["prediction"] for r in rows] == [info["classes"][i] for i in expected]

    assert evaluate_command([str(run)]) == 0  # the run's own test split
    record = json.loads(next((run / "evaluations").glob("*/evaluation.json")).read_text())
    assert record["result"]["metrics"]["accuracy"] == pytest.approx(summary["finetune"]["test"]["accuracy"], abs=1e-6)
    assert record["result"]["drift"]["drifted"] is False

    import pandas as pd

    long = tmp_path / "long.csv"  # much longer texts of unseen words: length and OOV drift
    pd.DataFrame({"text": [" ".join(["zebra quantum"] * 12 + ["great"]) for _ in range(60)],
                  "label": ["pos", "neg"] * 30}).to_csv(long, index=False)
    assert evaluate_command([str(run), f"dataset.path={long}", "dataset.test_path=null", "--split", "all",
                             "gate.no_drift=true"]) == 3
    drift = json.loads(sorted((run / "evaluations").glob("*/evaluation.json"))[-1].read_text())["result"]["drift"]
    assert set(drift["drifted_features"]) == {"length", "oov_rate"}


@pytest.mark.slow
def test_trec_loads_through_config_alone_and_beats_chance(compose_cfg, tmp_path):
    from nas_cli.study.runner import run_study

    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (shared / "text" / "trec" / "train_5500.label").is_file():
        pytest.skip(f"TREC files not found under {shared}")
    import os

    os.environ["NAS_SHARED_DATA"] = str(shared)
    try:
        run = tmp_path / "run"
        assert run_study(compose_cfg(["dataset=trec", "study.n_trials=2", "train.epochs=2", "finetune.epochs=2",
                                      "hardware=cpu", "verbosity=0", "robustness.enabled=false"]), run) == 0
    finally:
        os.environ.pop("NAS_SHARED_DATA")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["data"]["test"] == 500 and summary["finetune"]["test"]["accuracy"] > 0.5  # chance: ~0.23


def test_text_datasets_pick_the_text_training_recipe_unless_train_is_given(compose_cfg):
    for dataset in ("text_csv", "text_folder", "trec", "sst2"):
        train = compose_cfg([f"dataset={dataset}"]).train
        assert train.optimizer == "adam" and list(train.search.lr) == [1e-3, 1e-2], dataset
        assert train.epochs == compose_cfg([]).train.epochs  # the rest is train/default.yaml's
    assert compose_cfg(["dataset=trec", "train=default"]).train.optimizer is None  # searched again
    assert compose_cfg(["dataset=trec", "train.optimizer=sgd"]).train.optimizer == "sgd"
    assert compose_cfg([]).train.optimizer is None  # images keep the generic recipe
