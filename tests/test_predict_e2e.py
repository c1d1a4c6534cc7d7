"""A real search's export takes raw files: preprocess.json and drift_reference.json are written beside
model.onnx, and `nas predict` on the test split's images gives the PyTorch model's classes."""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import TINY


def test_a_search_export_predicts_raw_images_like_the_pytorch_model(compose_cfg, tmp_path):
    import torch
    from PIL import Image

    from nas_cli.commands.predict import predict_command
    from nas_cli.data import load_dataset
    from nas_cli.deploy.export import load_checkpoint
    from nas_cli.study.runner import run_study

    run = tmp_path / "run"
    assert run_study(compose_cfg([*TINY, "robustness.enabled=false"]), run) == 0
    export = run / "export"
    info = json.loads((export / "preprocess.json").read_text())
    assert info["input"]["shape"] == [1, 8, 8] and info["classes"] == [str(c) for c in range(10)]
    assert json.loads((export / "drift_reference.json").read_text())["count"] > 1000  # the training split
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["export"]["files"]) >= {"preprocess", "drift_reference", "onnx"}

    test_x = load_dataset("digits").test_x[:40]
    pixels = (test_x * 255).round().clamp(0, 255).to(torch.uint8)
    images = tmp_path / "images"
    images.mkdir()
    for i, img in enumerate(pixels[:, 0].numpy()):
        Image.fromarray(img, mode="L").save(images / f"{i:03d}.png")
    model, ckpt = load_checkpoint(export / "model.pt")
    assert ckpt["preprocess"]["scale"] == 255.0
    with torch.inference_mode():
        expected = model(pixels.float() / 255.0).argmax(1).numpy()

    out = tmp_path / "pred.jsonl"
    assert predict_command([str(run), str(images), "--format", "jsonl", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    got = {r["path"].rsplit("/", 1)[-1]: r["class"] for r in rows}
    assert [got[f"{i:03d}.png"] for i in range(40)] == [str(c) for c in expected]

    import nas_cli.deploy

    probs = nas_cli.deploy.load(export).predict(np.ascontiguousarray(pixels.permute(0, 2, 3, 1).numpy()))
    assert probs.argmax(1).tolist() == expected.tolist()

    (export / "preprocess.json").unlink()  # an export made before preprocess.json existed
    assert predict_command([str(run), str(images)]) == 2
