"""What an export needs to take raw inputs: `preprocess.json` (how a file becomes the model's input,
for `nas predict` without torch) and `drift_reference.json` (training-split statistics for drift checks)."""

from __future__ import annotations

from pathlib import Path


def write_raw_input_files(data, export_dir: Path, signature=None) -> dict:
    """Write both files from `data.preprocess` and the training split; returns {kind: path}."""
    from nas_cli.deploy.drift import image_reference
    from nas_cli.deploy.preprocess import image_preprocess, write_preprocess
    from nas_cli.rundir import atomic_write_json

    pre = dict(data.preprocess)
    if pre.get("kind") == "table":
        return _write_table_files(data, export_dir, signature)
    if pre.get("kind") == "text":
        return _write_text_files(data, export_dir, signature)
    if pre.get("kind") == "audio":
        from nas_cli.deploy.audio_export import write_audio_files

        return write_audio_files(data, export_dir, signature)
    if pre.get("kind") == "ratings":
        from nas_cli.deploy.ratings_preprocess import write_ratings_files

        return write_ratings_files(data, export_dir, signature)
    info = image_preprocess(size=pre["size"], channels=pre["channels"], resize=pre["resize"], mean=pre["mean"],
                            std=pre["std"], classes=pre["classes"], scale=pre["scale"])
    info["task"] = data.spec.task  # multilabel: nas predict gives per-label sigmoid probabilities
    if pre.get("dicom"):  # .dcm inputs: the training window (null: each file's own)
        info["dicom"] = pre["dicom"]
    files = {"preprocess": str(write_preprocess(export_dir, info))}
    reference = image_reference(training_pixels(data.train_x, info))
    files["drift_reference"] = str(atomic_write_json(export_dir / "drift_reference.json", reference))
    return files


def training_pixels(x, info: dict):
    """Normalised float NCHW tensors back to the uint8 pixels they were made from (rounded)."""
    import torch

    image = info["image"]
    mean = torch.tensor(image["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(image["std"], dtype=torch.float32).view(1, -1, 1, 1)
    pixels = (x.detach().float().cpu() * std + mean) * float(image["scale"])
    return pixels.round_().clamp_(0, 255).to(torch.uint8).numpy()


def _write_table_files(data, export_dir: Path, signature) -> dict:
    from nas_cli.deploy.preprocess import write_preprocess
    from nas_cli.deploy.table_drift import table_reference
    from nas_cli.deploy.table_preprocess import table_preprocess
    from nas_cli.rundir import atomic_write_json

    info = table_preprocess(data.preprocess, signature, data.spec.task)
    files = {"preprocess": str(write_preprocess(export_dir, info))}
    if data.raw and data.raw.get("train") is not None:
        reference = table_reference(data.raw["train"], info["table"])
        files["drift_reference"] = str(atomic_write_json(export_dir / "drift_reference.json", reference))
    return files


def _write_text_files(data, export_dir: Path, signature) -> dict:
    from nas_cli.data.text_tokenizer import tokenizer_from_json
    from nas_cli.deploy.preprocess import write_preprocess
    from nas_cli.deploy.text_drift import text_reference
    from nas_cli.deploy.text_preprocess import text_preprocess
    from nas_cli.rundir import atomic_write_json, atomic_write_text

    info = text_preprocess(data.preprocess, signature)
    files = {"preprocess": str(write_preprocess(export_dir, info)),
             "tokenizer": str(atomic_write_text(export_dir / "tokenizer.json", info["text"]["tokenizer"]))}
    # The validation texts, not the training ones: the tokenizer was fitted on those, so their
    # out-of-vocabulary rate is 0 by construction and any new text would look drifted.
    held = (data.raw or {}).get("val")
    if held is not None and len(held):
        reference = text_reference(tokenizer_from_json(info["text"]["tokenizer"]), held["text"])
        files["drift_reference"] = str(atomic_write_json(export_dir / "drift_reference.json", reference))
    return files
