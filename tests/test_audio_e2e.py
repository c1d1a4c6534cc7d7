"""Audio end to end: a search on tiny WAV/FLAC clips, the export taking raw waveforms (ONNX Runtime equal
to PyTorch, and equal to the network on the training features), `nas predict` on files and folders
(a corrupt file named and skipped), `nas evaluate` on the run's split and on drifted clips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.audio_files import SMALL, write_clips
from tests.conftest import TINY

PATTERNS = ["dataset.label_pattern='^([a-z]+)_'", "dataset.group_pattern='^[a-z]+_([a-z]+)_'"]


def test_an_audio_search_exports_a_waveform_model_that_predicts_and_evaluates_files(compose_cfg, tmp_path, capsys):
    import onnxruntime as ort
    import torch

    from nas_cli.commands.evaluate import evaluate_command
    from nas_cli.commands.predict import predict_command
    from nas_cli.data import load_dataset
    from nas_cli.deploy.export import load_checkpoint
    from nas_cli.study.runner import run_study

    root = write_clips(tmp_path / "data")
    run = tmp_path / "run"
    cfg = compose_cfg([*TINY, "dataset=audio_folder", f"dataset.root={root}", *PATTERNS, *SMALL,
                       "dataset.augment=specaugment", "search_space=auto", "robustness.enabled=false"])
    assert run_study(cfg, run) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["search_space"] == "audio_cnn"
    export = run / "export"
    info = json.loads((export / "preprocess.json").read_text())
    assert info["input"]["kind"] == "audio" and info["input"]["shape"] == [2000]
    assert info["audio"]["sample_rate"] == 8000 and info["classes"] == ["high", "low", "noise"]

    # The export takes raw samples: ONNX Runtime == PyTorch checkpoint == the network on the training features.
    data = load_dataset("audio_folder", **{k: v for k, v in cfg.dataset.items() if k != "name"})
    waves = data.raw["test"]["waves"]
    sess = ort.InferenceSession(str(export / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["waveform"]
    onnx_logits = sess.run(None, {"waveform": waves})[0]
    model, ckpt = load_checkpoint(export / "model.pt")
    with torch.inference_mode():
        torch_logits = model(torch.from_numpy(waves)).numpy()
        body_logits = model.body(data.test_x).numpy()
    assert np.abs(onnx_logits - torch_logits).max() < 1e-4
    assert np.abs(torch_logits - body_logits).max() < 1e-4
    assert summary["export"]["onnx_max_abs_diff"] < 1e-4

    # nas predict on a file, a folder and a corrupt file (named on stderr and skipped).
    (tmp_path / "new").mkdir()
    bad = tmp_path / "new" / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt nonsense")
    picks = sorted(root.glob("*_ann_*"))[:3]
    assert {p.suffix for p in picks} == {".wav", ".flac", ".ogg"}
    for p in picks:
        (tmp_path / "new" / p.name).write_bytes(p.read_bytes())
    capsys.readouterr()
    assert predict_command([str(run), str(picks[0]), str(tmp_path / "new"), "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(r) for r in out.splitlines()]
    assert [r["path"] for r in rows] == [str(picks[0]), *[str(tmp_path / "new" / p.name) for p in picks]]
    assert "broken.wav: not a readable audio file" in err and "1 of 5 file(s) skipped" in err
    from nas_cli.deploy.audio_predictor import AudioPredictor  # noqa: F401 (the predictor nas predict used)
    from nas_cli.deploy.predictor import load

    predictor = load(run)
    expected = model(torch.from_numpy(np.stack([predictor.waveform(picks[0])]))).argmax(1).tolist()
    assert rows[0]["class"] == info["classes"][expected[0]]
    assert predict_command([str(run), str(bad), "--strict"]) == 2

    # nas evaluate on the run's own test split: the fine-tune's test accuracy, no drift.
    assert evaluate_command([str(run)]) == 0
    record = json.loads(next((run / "evaluations").glob("*/evaluation.json")).read_text())
    assert record["result"]["metrics"]["accuracy"] == pytest.approx(summary["finetune"]["test"]["accuracy"], abs=1e-6)
    assert record["result"]["drift"]["drifted"] is False

    # Louder, longer clips: level and duration drift (centroid: tests/test_audio_data.py); the gate fails.
    loud = write_clips(tmp_path / "loud", level=0.9, seconds=(0.6, 0.8), seed=5)
    assert evaluate_command([str(run), f"dataset.root={loud}", "gate.no_drift=true"]) == 3
    drift = json.loads(sorted((run / "evaluations").glob("*/evaluation.json"))[-1].read_text())["result"]["drift"]
    assert drift["drifted"] and set(drift["drifted_features"]) == {"level_db", "seconds"}
    # An override of the audio front end contradicts the export: one clear error.
    assert evaluate_command([str(run), "dataset.sample_rate=16000"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("space", ["cnn", "mobilenet"])
def test_image_spaces_search_and_export_on_spectrograms(compose_cfg, tmp_path, space):
    from nas_cli.study.runner import run_study

    root = write_clips(tmp_path / "data")
    run = tmp_path / "run"
    assert run_study(compose_cfg([*TINY, "dataset=audio_folder", f"dataset.root={root}", *PATTERNS, *SMALL,
                                  f"search_space={space}", "robustness.enabled=false"]), run) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["search_space"] == space and summary["export"]["onnx_max_abs_diff"] < 1e-4


@pytest.mark.slow
def test_audio_exports_get_int8_and_pruned_variants_that_take_waveforms(compose_cfg, tmp_path):
    """export.quantize/export.prune on an audio run: each variant is an ONNX file on raw waveforms,
    scored on the test clips (fp32's score is the run's test accuracy)."""
    import onnxruntime as ort

    from nas_cli.study.runner import run_study

    root = write_clips(tmp_path / "data")
    run = tmp_path / "run"
    assert run_study(compose_cfg([*TINY, "dataset=audio_folder", f"dataset.root={root}", *PATTERNS, *SMALL,
                                  "search_space=auto", "robustness.enabled=false", "export.torch_export=false",
                                  "export.quantize=static", "export.calibration_samples=16",
                                  "export.prune=0.5", "export.prune_epochs=1"]), run) == 0
    summary = json.loads((run / "summary.json").read_text())
    variants = {v["variant"]: v for v in summary["export"]["variants"]}
    assert set(variants) == {"fp32", "int8_static", "pruned_0.5"}
    assert variants["fp32"]["test_accuracy"] == pytest.approx(summary["finetune"]["test"]["accuracy"], abs=1e-6)
    assert variants["pruned_0.5"]["sparsity"] >= 0.45  # the 1-D convolutions are pruned too
    waves = np.zeros((3, 2000), dtype=np.float32)
    for v in variants.values():
        sess = ort.InferenceSession(v["file"], providers=["CPUExecutionProvider"])
        assert [i.name for i in sess.get_inputs()] == ["waveform"]
        assert sess.run(None, {"waveform": waves})[0].shape == (3, 3)
