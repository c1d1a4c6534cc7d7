"""`nas evaluate`'s core: the exported ONNX model on new labelled data, its metrics beside the run's,
data drift against the training split, and the files under RUN_DIR/evaluations/<time>/.

The data comes in already loaded (`Data`, built with the export's own preprocessing forced by
`forced_options`), so the model sees exactly the tensors `nas predict` would make from the files.
"""

from __future__ import annotations

from pathlib import Path

from nas_cli.deploy.labels import class_map  # noqa: F401  (re-exported: the image path uses it)
from nas_cli.errors import ConfigError

SPLITS = ("all", "train", "val", "test")
# dataset key -> where preprocess.json keeps the value the model was trained with.
FORCED = {"image_size": ("image", "size"), "channels": ("image", "channels"), "resize": ("image", "resize"),
          "mean": ("image", "mean"), "std": ("image", "std"), "window": ("dicom", "window")}


def forced_options(dataset: dict, info: dict, explicit: set[str]) -> dict:
    """The dataset options with the export's preprocessing put in (size, channels, resize, mean, std)
    and no `max_train` cap; a user override that contradicts the export is a ConfigError."""
    out = dict(dataset)
    for key, (section, field) in FORCED.items():
        if key not in out or section not in info:  # e.g. "dicom" only in a DICOM-trained export
            continue
        want = info[section][field]
        if key in explicit and not _same(out[key], want):
            raise ConfigError(f"dataset.{key}={out[key]!r}: the exported model was trained with {want!r}; "
                              f"drop the override (nas evaluate always uses the export's preprocessing)")
        out[key] = want
    if "max_train" in out and "max_train" not in explicit:
        out["max_train"] = None  # evaluate every labelled example the data holds
    return out


def _same(given, want) -> bool:
    if isinstance(want, list) and not isinstance(given, (list, tuple)):
        given = [given] * len(want)  # image_size=32 means [32, 32]; mean=0.5 means one per channel
    if isinstance(want, list):
        return len(given) == len(want) and all(abs(float(a) - float(b)) < 1e-6 for a, b in zip(given, want, strict=True))
    return given == want


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"--split {split!r} is not allowed; choose one of: {', '.join(SPLITS)}")


def pick_split(data, split: str):
    """(x, y) of one split, or of all three concatenated (new labelled data: every example counts)."""
    import torch

    check_split(split)
    names = ("train", "val", "test") if split == "all" else (split,)
    xs = [getattr(data, f"{n}_x") for n in names]
    ys = [getattr(data, f"{n}_y") for n in names]
    return torch.cat(xs).cpu().contiguous(), torch.cat(ys).cpu()


def evaluate_export(export_dir: Path, data, task, *, split: str, batch_size: int = 512, alpha: float = 0.01) -> dict:
    """Metrics of the exported model on `data[split]` and the drift of its inputs from the training split."""
    import json

    import numpy as np

    from nas_cli.deploy.predictor import load

    check_split(split)
    predictor = load(export_dir)
    if getattr(predictor, "kind", "image") == "table":
        from nas_cli.deploy.evaluate_table import evaluate_table_export

        return evaluate_table_export(predictor, data, task, split=split, alpha=alpha)
    if getattr(predictor, "kind", "image") == "text":
        from nas_cli.deploy.evaluate_text import evaluate_text_export

        return evaluate_text_export(predictor, data, task, split=split, alpha=alpha)
    if getattr(predictor, "kind", "image") == "audio":
        from nas_cli.deploy.evaluate_audio import evaluate_audio_export

        return evaluate_audio_export(predictor, data, task, split=split, batch_size=batch_size, alpha=alpha)
    if getattr(predictor, "kind", "image") == "ratings":
        from nas_cli.deploy.evaluate_ratings import evaluate_ratings_export

        return evaluate_ratings_export(predictor, data, task, split=split)
    info = predictor.info
    x, y = pick_split(data, split)
    want = [info["image"]["channels"], *info["image"]["size"]]
    if list(x.shape[1:]) != want:
        raise ConfigError(f"the data's images are {list(x.shape[1:])} (channels, height, width), the model "
                          f"takes {want}; set dataset.image_size/dataset.channels to match the export")
    classes = (data.preprocess or {}).get("classes") or [str(i) for i in range(data.spec.num_classes)]
    if y.dim() > 1:  # multi-label: one 0/1 column per label, in the export's label order
        from nas_cli.deploy.labels import same_labels

        truth = same_labels([str(c) for c in classes], predictor.classes, y.numpy())
    else:
        truth = class_map([str(c) for c in classes], predictor.classes)[y.numpy()]
    inputs = x.numpy().astype(np.float32, copy=False)
    logits = np.concatenate([predictor.logits(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)])
    result = {"count": int(len(truth)), "split": split, "metrics": task.evaluate_numpy(logits, truth, full=True),
              "per_class": task.per_class(logits, truth, predictor.classes)}
    ref_path = export_dir / "drift_reference.json"
    if ref_path.is_file():
        from nas_cli.deploy.drift import compare_images
        from nas_cli.deploy.raw_inputs import training_pixels

        reference = json.loads(ref_path.read_text(encoding="utf-8"))
        result["drift"] = compare_images(reference, training_pixels(x, info), alpha=alpha)
    else:
        result["drift"] = None
        result["drift_note"] = f"{ref_path} is missing (export predates drift checks); re-export: nas export RUN_DIR"
    return result


def run_metrics(summary: dict, task) -> tuple[dict, str]:
    """The run's own numbers to compare with: fine-tuned test metrics, else the best trial's validation."""
    ft = summary.get("finetune") or {}
    if ft.get("test"):
        return ({k: v for k, v in ft["test"].items() if k in task.metrics},
                f"fine-tuned trial {ft.get('selected_trial')}, test split")
    best = (summary.get("best_trials") or [{}])[0]
    metrics = best.get("metrics") or {}
    if not metrics:
        return {}, "none (the run has no finished trial)"
    return ({k: v for k, v in metrics.items() if k in task.metrics},
            f"search trial {best.get('number')}, validation split")


def check_gate_keys(gate: dict, task) -> dict:
    """The score gates `nas evaluate` can check; ConfigError for any other `gate.*` key (before any work)."""
    from nas_cli.deploy.gate import gates_for

    score_gates = {k: v for k, v in gates_for(task).items() if v[0] == task.score}
    allowed = [*score_gates, "no_drift"]
    unknown = sorted(set(gate) - set(allowed))
    if unknown:
        raise ConfigError(f"gate.{unknown[0]} cannot be checked by nas evaluate; allowed: "
                          + ", ".join(f"gate.{k}" for k in allowed))
    return score_gates


def check_evaluation_gate(gate: dict, result: dict, task) -> dict | None:
    """`gate.<score gate>` (e.g. min_accuracy) on the new data's metric, `gate.no_drift=true` on drift."""
    score_gates = check_gate_keys(gate, task)
    checks, reasons = [], []
    for key, threshold in gate.items():
        if threshold is None or (key == "no_drift" and threshold is False):
            continue
        if key == "no_drift":
            drift = result.get("drift")
            ok = drift is not None and not drift["drifted"]
            value = None if drift is None else drift["drifted"]
            checks.append({"gate": key, "metric": "drift", "threshold": True, "value": value, "passed": ok})
            if not ok:
                reasons.append("drift: no reference to test against" if drift is None else drift["verdict"])
            continue
        metric, op = score_gates[key]
        try:
            threshold = float(threshold)
        except (TypeError, ValueError):
            raise ConfigError(f"gate.{key}={threshold!r} must be a number") from None
        value = result["metrics"].get(metric)
        ok = value is not None and (value >= threshold if op == ">=" else value <= threshold)
        checks.append({"gate": key, "metric": metric, "threshold": threshold, "value": value, "passed": ok})
        if not ok:
            reasons.append(f"{metric} {value:.6g} does not meet gate.{key}={threshold:g} (needs {op} {threshold:g})")
    if not checks:
        return None
    return {"passed": not reasons, "source": "nas evaluate on the new data", "checks": checks,
            "reason": "; ".join(reasons)}
