"""`nas evaluate` on an audio model: the clips as the loader decoded them (mono, resampled, padded)
through `model.onnx` (front end included), the task's metrics, and drift of level, duration and
spectral centroid against the training clips."""

from __future__ import annotations

from nas_cli.errors import ConfigError


def evaluate_audio_export(predictor, data, task, *, split: str, batch_size: int = 64, alpha: float = 0.01) -> dict:
    import json

    import numpy as np

    from nas_cli.deploy.labels import class_map

    audio = getattr(data.spec, "audio", None)
    if audio is None or not data.raw:
        raise ConfigError(f"dataset {data.spec.name!r} is not audio; this run's model takes audio files")
    for key, have in (("sample_rate", predictor.sample_rate), ("samples", predictor.samples)):
        if int(audio[key]) != have:
            option = "dataset.sample_rate" if key == "sample_rate" else "dataset.duration"
            raise ConfigError(f"{option}: the data gives {key} {audio[key]}, the exported model takes {have}; "
                              "drop the override (nas evaluate uses the export's audio settings)")
    names = ("train", "val", "test") if split == "all" else (split,)
    waves = np.concatenate([data.raw[n]["waves"] for n in names])
    stats = np.concatenate([data.raw[n]["stats"] for n in names])
    labels = [label for n in names for label in data.raw[n]["labels"]]
    known = sorted(set(labels))
    truth = class_map(known, predictor.classes)[np.asarray([known.index(v) for v in labels], dtype=np.int64)]
    logits = predictor.logits(waves, batch_size)
    result = {"count": int(len(truth)), "split": split, "metrics": task.evaluate_numpy(logits, truth, full=True),
              "per_class": task.per_class(logits, truth, predictor.classes)}
    ref_path = predictor.export_dir / "drift_reference.json"
    if ref_path.is_file():
        from nas_cli.deploy.audio_drift import compare_audio

        result["drift"] = compare_audio(json.loads(ref_path.read_text(encoding="utf-8")), stats, alpha=alpha)
    else:
        result["drift"] = None
        result["drift_note"] = f"{ref_path} is missing (export predates drift checks); re-export: nas export RUN_DIR"
    return result
