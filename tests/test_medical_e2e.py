"""Medical end to end: each loader (medmnist binary and multi-label, npz with own keys, dicom_folder)
through search, fine-tune, export (ONNX checked against PyTorch), `nas predict` on raw files equal to
PyTorch, `nas evaluate` equal to the run's test metrics, and the report's confusion matrix and ROC."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from tests.conftest import TINY
from tests.medical_files import SMALL_CNN, write_dicom_folder, write_medmnist


def _search(compose_cfg, run, overrides):
    from nas_cli.study.runner import run_study

    assert run_study(compose_cfg([*TINY, *SMALL_CNN, "robustness.enabled=false", *overrides]), run) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["export"]["onnx_max_abs_diff"] < 1e-4  # ONNX Runtime matches PyTorch
    return summary


def _torch_logits(run, x):
    import torch

    from nas_cli.deploy.export import load_checkpoint

    model, _ = load_checkpoint(run / "export" / "model.pt")
    with torch.inference_mode():
        return model(torch.as_tensor(x, dtype=torch.float32)).numpy()


def _write_pngs(folder, images):
    from PIL import Image

    folder.mkdir()
    paths = []
    for i, img in enumerate(images):
        paths.append(folder / f"{i:02d}.png")
        Image.fromarray(img).save(paths[-1])
    return paths


@pytest.mark.slow
def test_medmnist_binary_searches_on_auc_with_balanced_weights_and_reports_roc(compose_cfg, tmp_path, capsys):
    from nas_cli.commands.evaluate import evaluate_command
    from nas_cli.commands.predict import predict_command
    from nas_cli.data import load_dataset
    from nas_cli.report.build import build_report

    write_medmnist(tmp_path / "pneumoniamnist.npz", "binary")
    run = tmp_path / "run"
    summary = _search(compose_cfg, run, ["dataset=medmnist", "dataset.flag=pneumoniamnist", f"dataset.root={tmp_path}",
                                         "objectives=[auc:max]", "train.class_weights=balanced"])
    assert list(summary["best_trials"][0]["values"]) == ["auc"]
    test = summary["finetune"]["test"]
    assert {"accuracy", "auc", "balanced_accuracy"} <= set(test)
    card = (run / "export" / "model_card.md").read_text()
    assert "| auc |" in card and "| balanced_accuracy |" in card

    data = load_dataset("medmnist", flag="pneumoniamnist", root=str(tmp_path))
    raw = np.load(tmp_path / "pneumoniamnist.npz")["test_images"][:6]
    paths = _write_pngs(tmp_path / "png", raw)
    capsys.readouterr()
    assert predict_command([str(run), *map(str, paths), "--format", "jsonl"]) == 0
    rows = [json.loads(r) for r in capsys.readouterr().out.splitlines()]
    logits = _torch_logits(run, data.test_x[:6])
    prob = np.exp(logits - logits.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    assert [r["class"] for r in rows] == [["normal", "pneumonia"][k] for k in prob.argmax(1)]
    assert [r["probability"] for r in rows] == pytest.approx(prob.max(1).tolist(), abs=1e-4)

    assert evaluate_command([str(run)]) == 0
    record = json.loads(next((run / "evaluations").glob("*/evaluation.json")).read_text())
    for key in ("accuracy", "auc", "balanced_accuracy"):
        assert record["result"]["metrics"][key] == pytest.approx(test[key], abs=1e-5)

    report = build_report(run)
    html = report.read_text()
    assert "Confusion matrix (test split)" in html and "ROC curves (test split)" in html
    assert (run / "report" / "roc_curves.png").stat().st_size > 1000


def test_chestmnist_multilabel_predicts_a_probability_per_label(compose_cfg, tmp_path, capsys):
    from nas_cli.commands.evaluate import evaluate_command
    from nas_cli.commands.predict import predict_command
    from nas_cli.data import load_dataset

    write_medmnist(tmp_path / "chestmnist.npz", "multilabel", labels=14)
    run = tmp_path / "run"
    summary = _search(compose_cfg, run, ["dataset=medmnist", "dataset.flag=chestmnist", f"dataset.root={tmp_path}",
                                         "train.class_weights=balanced"])
    assert list(summary["best_trials"][0]["values"]) == ["auc"]  # the multi-label task's default objective
    test = summary["finetune"]["test"]
    assert {"auc", "accuracy", "balanced_accuracy", "f1"} <= set(test)

    data = load_dataset("medmnist", flag="chestmnist", root=str(tmp_path))
    raw = np.load(tmp_path / "chestmnist.npz")["test_images"][:5]
    paths = _write_pngs(tmp_path / "png", raw)
    capsys.readouterr()
    assert predict_command([str(run), *map(str, paths)]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    header, body = table[0], table[1:]
    assert header[0] == "path" and header[1] == "atelectasis" and header[-1] == "labels" and len(header) == 16
    expected = 1 / (1 + np.exp(-_torch_logits(run, data.test_x[:5])))
    got = np.array([[float(v) for v in row[1:15]] for row in body])
    assert got == pytest.approx(expected, abs=1e-4)
    assert [row[15] for row in body] == [";".join(h for h, p in zip(header[1:15], probs, strict=True) if p >= 0.5)
                                         for probs in got]

    assert predict_command([str(run), str(tmp_path / "chestmnist.npz")]) == 0  # the decoded arrays themselves
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]
    assert len(rows) == 100 and rows[80][0].endswith("chestmnist.npz:test_images[0]")
    assert [float(v) for v in rows[80][1:15]] == pytest.approx(got[0].tolist(), abs=1e-6)

    assert evaluate_command([str(run)]) == 0
    record = json.loads(next((run / "evaluations").glob("*/evaluation.json")).read_text())
    assert record["result"]["metrics"]["auc"] == pytest.approx(test["auc"], abs=1e-5)
    assert len(record["result"]["per_class"]) == 14
    assert "| class | examples | recall | AUC |" in next((run / "evaluations").glob("*/evaluation.md")).read_text()


@pytest.mark.slow
def test_npz_with_own_keys_evaluates_a_new_npz_file(compose_cfg, tmp_path, capsys):
    from nas_cli.commands.evaluate import evaluate_command

    keys = {"train_images": "x_tr", "train_labels": "y_tr", "val_images": "x_va", "val_labels": "y_va",
            "test_images": "x_te", "test_labels": "y_te"}
    path = write_medmnist(tmp_path / "cells.npz", "multiclass", rgb=True, labels=3, keys=keys)
    run = tmp_path / "run"
    opts = [f"dataset.{k}={v}" for k, v in keys.items()]
    summary = _search(compose_cfg, run, ["dataset=npz", f"dataset.path={path}", *opts, "dataset.label_names=[a,b,c]"])
    assert summary["data"]["input_shape"] == [3, 28, 28] and summary["data"]["num_classes"] == 3

    from nas_cli.commands.predict import predict_command
    from nas_cli.data import load_dataset

    pngs = _write_pngs(tmp_path / "png", np.load(path)["x_te"][:4])  # RGB files through the image path
    capsys.readouterr()
    assert predict_command([str(run), *map(str, pngs), "--format", "jsonl"]) == 0
    rows = [json.loads(r) for r in capsys.readouterr().out.splitlines()]
    data = load_dataset("npz", path=str(path), **keys, label_names=["a", "b", "c"])
    assert [r["class"] for r in rows] == [["a", "b", "c"][k] for k in _torch_logits(run, data.test_x[:4]).argmax(1)]

    new = write_medmnist(tmp_path / "june.npz", "multiclass", rgb=True, labels=3, keys=keys, seed=5, n=(30, 10, 10))
    assert evaluate_command([str(run), f"dataset.path={new}", "--split", "all"]) == 0
    record = json.loads(next((run / "evaluations").glob("*/evaluation.json")).read_text())
    assert record["result"]["count"] == 50 and "auc" in record["result"]["metrics"]
    capsys.readouterr()
    assert evaluate_command([str(run), f"dataset.path={new}", "dataset.train_labels=labels"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no array 'labels'" in err[0] and "x_te, x_tr, x_va, y_te, y_tr, y_va" in err[0]
    assert predict_command([str(run), str(new)]) == 2  # its arrays are x_*: no *images* array to predict
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no array named *images*" in err[0]


def test_dicom_folder_searches_exports_and_predicts_dcm_files(compose_cfg, tmp_path, capsys):
    from nas_cli.commands.evaluate import evaluate_command
    from nas_cli.commands.predict import predict_command
    from nas_cli.data.dicom_folder import read_dicom
    from nas_cli.deploy.preprocess import to_model_input

    root = write_dicom_folder(tmp_path / "ct", per_class=10, size=20)
    run = tmp_path / "run"
    summary = _search(compose_cfg, run, ["dataset=dicom_folder", f"dataset.root={root}", "dataset.image_size=16",
                                         "dataset.window=[40,400]"])
    info = json.loads((run / "export" / "preprocess.json").read_text())
    assert info["dicom"] == {"window": [40.0, 400.0]} and info["image"]["size"] == [16, 16]
    assert {"auc", "balanced_accuracy"} <= set(summary["finetune"]["test"])

    files = sorted((root / "lesion").glob("*.dcm"))[:3] + sorted((root / "normal").glob("*.dcm"))[:3]
    capsys.readouterr()
    assert predict_command([str(run), *map(str, files), "--format", "jsonl"]) == 0
    rows = [json.loads(r) for r in capsys.readouterr().out.splitlines()]
    pixels = np.stack([read_dicom(f, (16, 16), 1, (40.0, 400.0)) for f in files])
    logits = _torch_logits(run, to_model_input(pixels, info))
    assert [r["class"] for r in rows] == [info["classes"][k] for k in logits.argmax(1)]

    assert evaluate_command([str(run)]) == 0
    record = json.loads(next((run / "evaluations").glob("*/evaluation.json")).read_text())
    assert record["result"]["metrics"]["accuracy"] == pytest.approx(summary["finetune"]["test"]["accuracy"], abs=1e-6)
    capsys.readouterr()
    assert evaluate_command([str(run), "dataset.window=[0,100]"]) == 2  # not the window the model was trained with
    assert "dataset.window=[0, 100]: the exported model was trained with [40.0, 400.0]" in capsys.readouterr().err
