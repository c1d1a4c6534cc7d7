"""`nas predict`: an exported ONNX model + preprocess.json classify image files, without torch."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nas_cli.commands.predict import predict_command
from nas_cli.deploy.preprocess import (
    image_preprocess,
    read_preprocess,
    to_model_input,
    write_preprocess,
)

CLASSES = ["cat", "dog", "owl"]
SIZE = (8, 8)
MEAN, STD = [0.5, 0.4, 0.3], [0.25, 0.2, 0.3]


def _tiny_model():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(4, len(CLASSES))).eval()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run directory with export/model.onnx + preprocess.json, a model, and a folder of images."""
    import torch
    from PIL import Image

    root = tmp_path_factory.mktemp("predict")
    export = root / "run" / "export"
    export.mkdir(parents=True)
    model = _tiny_model()
    torch.onnx.export(model, (torch.zeros(1, 3, *SIZE),), str(export / "model.onnx"), dynamo=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    write_preprocess(export, image_preprocess(size=SIZE, channels=3, resize="stretch", mean=MEAN, std=STD,
                                              classes=CLASSES))
    rng = np.random.default_rng(0)
    images = root / "images"
    for rel, shape in [("a/one.png", (8, 8)), ("a/deep/two.jpg", (12, 10)), ("b/three.png", (5, 9)),
                       ("top.jpeg", (8, 8)), ("grey.png", (16, 16))]:
        path = images / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "L" if rel == "grey.png" else "RGB"
        pixels = rng.integers(0, 256, size=shape if mode == "L" else (*shape, 3), dtype=np.uint8)
        Image.fromarray(pixels, mode).save(path)
    (images / "notes.txt").write_text("not an image")
    return {"run": root / "run", "export": export, "images": images, "model": model, "root": root}


def _predict(capsys, args):
    rc = predict_command([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def _torch_probabilities(model, export: Path, paths):
    """What PyTorch says on the same decoded, preprocessed pixels."""
    import torch

    from nas_cli.data.image_folder import read_image

    info = read_preprocess(export)
    pixels = np.stack([read_image(Path(p), SIZE, 3, "stretch") for p in paths])
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(to_model_input(pixels, info))), 1).numpy()


def test_predictions_match_pytorch_and_folders_are_searched_recursively(run, capsys):
    rc, out, err = _predict(capsys, [run["run"], run["images"], "--format", "jsonl", "--top-k", "5"])
    assert rc == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    paths = [r["path"] for r in rows]
    assert len(rows) == 5 and not any(p.endswith(".txt") for p in paths)
    assert any(p.endswith("a/deep/two.jpg") for p in paths)  # nested folder found
    expected = _torch_probabilities(run["model"], run["export"], paths)
    for row, probs in zip(rows, expected, strict=True):
        assert row["class"] == CLASSES[int(probs.argmax())]
        assert len(row["top_k"]) == 3  # capped at the number of classes
        got = {t["class"]: t["probability"] for t in row["top_k"]}
        np.testing.assert_allclose([got[c] for c in CLASSES], probs, atol=1e-5)
        assert row["probability"] == max(got.values())


def test_csv_with_a_glob_the_shell_did_not_expand(run, capsys):
    pattern = str(run["images"] / "**" / "*.png")
    rc, out, err = _predict(capsys, [run["export"], pattern, "--top-k", "2"])
    assert rc == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert sorted(Path(r["path"]).name for r in table) == ["grey.png", "one.png", "three.png"]
    for r in table:
        top = [item.split(":") for item in r["top_k"].split(";")]
        assert len(top) == 2 and top[0][0] == r["class"] and float(top[0][1]) == float(r["probability"])
        assert float(top[0][1]) >= float(top[1][1])


def test_unreadable_file_is_named_and_skipped_and_strict_fails(run, capsys, tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x00garbage, not a PNG" * 10)
    good = run["images"] / "a" / "one.png"
    rc, out, err = _predict(capsys, [run["run"], bad, good])
    assert rc == 0
    assert f"warning: {bad}: cannot be read as an image" in err
    assert [r["path"] for r in csv.DictReader(io.StringIO(out))] == [str(good)]
    rc, out, err = _predict(capsys, [run["run"], bad, good, "--strict", "--out", tmp_path / "p.csv"])
    assert rc == 1 and str(bad) in err and "Traceback" not in err
    assert not (tmp_path / "p.csv").exists()
    rc, _, err = _predict(capsys, [run["run"], bad])
    assert rc == 1 and "nothing could be predicted" in err


def test_export_without_preprocess_json_says_how_to_fix_it(run, capsys, tmp_path):
    old = tmp_path / "old_export"
    old.mkdir()
    shutil.copy(run["export"] / "model.onnx", old / "model.onnx")
    rc, _, err = _predict(capsys, [old, run["images"]])
    assert rc == 2
    assert err.strip() == (f"error: {old}/preprocess.json is missing: this export predates `nas predict`; "
                           "re-export it with: nas export RUN_DIR")
    (old / "preprocess.json").write_text(json.dumps({"format": "nas-preprocess-1", "input": {}, "output": {},
                                                     "image": {"channels": 3, "size": [8]}}))
    rc, _, err = _predict(capsys, [old, run["images"]])
    assert rc == 2 and "'image.size'" in err


def test_moved_export_folder_alone_works_and_out_is_written(run, capsys, tmp_path):
    moved = tmp_path / "somewhere" / "model"
    shutil.copytree(run["export"], moved)
    out_file = tmp_path / "preds.jsonl"
    rc, out, err = _predict(capsys, [moved, run["images"] / "top.jpeg", "--format", "jsonl", "--out", out_file])
    assert rc == 0 and out == "", err
    (row,) = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert row["path"].endswith("top.jpeg") and row["class"] in CLASSES


@pytest.mark.parametrize("args, message", [
    (["{tmp}/no_such_run", "{images}"], "no such run or export directory"),
    (["{run}", "{tmp}/missing.png"], "no such file or folder"),
    (["{run}", "{tmp}/*.png"], "no image files matched"),
    (["{run}", "{images}", "--top-k", "0"], "--top-k must be >= 1"),
    (["{run}", "{images}", "--batch-size", "x"], "invalid int value"),
    (["{run}"], "the following arguments are required"),
])
def test_bad_arguments_exit_2_with_one_line(run, capsys, tmp_path, args, message):
    fill = {"tmp": tmp_path, "run": run["run"], "images": run["images"]}
    rc, out, err = _predict(capsys, [a.format(**fill) for a in args])
    assert rc == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def test_predictor_api_files_and_pixels_agree(run):
    from nas_cli.data.image_folder import read_image
    from nas_cli.deploy.predictor import load

    predictor = load(run["run"])
    paths = sorted(str(p) for p in run["images"].rglob("*.png"))
    from_files = predictor.predict(paths, batch_size=2)
    pixels = np.stack([read_image(Path(p), SIZE, 3, "stretch") for p in paths])
    np.testing.assert_allclose(predictor.predict(pixels, batch_size=2), from_files, atol=1e-6)
    assert predictor.classes == CLASSES and from_files.shape == (len(paths), 3)
    np.testing.assert_allclose(from_files.sum(1), 1.0, atol=1e-6)
    predictor.close()


def test_nas_predict_does_not_import_torch(run):
    code = ("import sys; from nas_cli.commands.predict import predict_command; "
            f"rc = predict_command([{str(run['run'])!r}, {str(run['images'])!r}]); "
            "print('torch' in sys.modules, rc, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stderr.strip().splitlines()[-1] == "False 0", proc.stderr
    assert proc.stdout.startswith("path,class,probability,top_k\n")
