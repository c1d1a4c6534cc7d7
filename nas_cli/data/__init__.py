"""Dataset registry: each family turns its options into preloaded tensors plus a `DataSpec`.

No Hydra here: a builder takes plain keyword options and returns a `Data`.

May import: the ground layer only (beside the flow: no trial, study or task knowledge).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nas_cli.errors import ConfigError

# name -> "module:function"; modules are imported only when that dataset is used.
DATASETS: dict[str, str] = {
    "digits": "nas_cli.data.digits:load_digits",
    "mnist": "nas_cli.data.torchvision_sets:load_mnist",
    "fashion_mnist": "nas_cli.data.torchvision_sets:load_fashion_mnist",
    "cifar10": "nas_cli.data.torchvision_sets:load_cifar10",
    "cifar100": "nas_cli.data.torchvision_sets:load_cifar100",
    "image_folder": "nas_cli.data.image_folder:load_image_folder",
    "csv": "nas_cli.data.tables:load_csv",
    "breast_cancer": "nas_cli.data.tables:load_breast_cancer",
    "wine": "nas_cli.data.tables:load_wine",
    "iris": "nas_cli.data.tables:load_iris",
    "diabetes": "nas_cli.data.tables:load_diabetes",
    "text_csv": "nas_cli.data.texts:load_text_csv",
    "text_folder": "nas_cli.data.texts:load_text_folder",
    "audio_folder": "nas_cli.data.audio:load_audio_folder",
    "ratings": "nas_cli.data.ratings:load_ratings",
    "medmnist": "nas_cli.data.medmnist:load_medmnist",
    "npz": "nas_cli.data.medmnist:load_npz",
    "dicom_folder": "nas_cli.data.dicom_folder:load_dicom_folder",
}

# What kind of input a dataset family gives (picks `search_space=auto`); unlisted families: image.
KINDS: dict[str, str] = {"csv": "table", "breast_cancer": "table", "wine": "table", "iris": "table",
                         "diabetes": "table", "text_csv": "text", "text_folder": "text"}
KINDS["audio_folder"] = "audio"
KINDS["ratings"] = "ratings"


def dataset_kind(name: str | None) -> str:
    return KINDS.get(str(name), "image")


def resolve_task(options: dict) -> str:
    """`dataset.task=auto`: the task the data implies (tables: from the target column)."""
    if dataset_kind(options.get("name")) == "ratings":  # explicit: a rating regression; implicit: ranking
        from nas_cli.data.ratings import task_of_feedback

        return task_of_feedback(options.get("feedback", "explicit"))
    if options.get("name") in ("medmnist", "npz"):  # multilabel when the labels have one column per finding
        from nas_cli.data.medmnist import infer_task_of_options as infer_npz_task

        return infer_npz_task(dict(options))
    if dataset_kind(options.get("name")) != "table":
        return "classification"
    from nas_cli.data.tables import infer_task_of_options

    return infer_task_of_options(dict(options))


@dataclass(frozen=True)
class DataSpec:
    """What a network builder needs to know about the data."""

    name: str
    input_shape: tuple[int, ...]  # per example, e.g. (1, 8, 8) or (3, 32, 32)
    num_classes: int  # output width: classes, or 1 for regression
    task: str = "classification"
    # Tables: {"n_numeric": F, "cardinalities": [codes per categorical column, 0 = missing/unseen included],
    # "numeric_names": [...], "categorical_names": [...]}; inputs are [N, F + K] float32, numeric first.
    table: dict | None = None
    # Regression: (mean, std) of the training split's target; the network ends in y = z * std + mean.
    target_scale: tuple[float, float] | None = None
    # Text: {"vocab_size", "max_length", "pad_id", "cls_id"}; inputs are token ids [N, L] int64, pad id 0.
    text: dict | None = None
    # Audio: the log-mel front end (sample_rate, samples, n_mels, n_fft, win_length, hop_length, f_min,
    # f_max, frames, mean, std); inputs are its output [N, 1, n_mels, frames], the export takes [N, samples].
    audio: dict | None = None
    # Ratings: {"n_users", "n_items", "global_mean", "rating_range", "feedback", "ks", "eval_negatives"}; inputs
    # are (user, item) index pairs [N, 2] int64 (-1: an id the training split lacks).
    ratings: dict | None = None


@dataclass
class Data:
    """Train / validation / test tensors, decoded once per process."""

    spec: DataSpec
    train_x: Any
    train_y: Any
    val_x: Any
    val_y: Any
    test_x: Any
    test_y: Any
    # Optional batch-level augmentation: f(x_batch, generator) -> x_batch, applied on tensors.
    augment: Callable | None = None
    info: dict = field(default_factory=dict)
    # How a raw input becomes a model input (for export): kind, size, channels, resize, scale, mean,
    # std, classes. None: the family does not say, and the export has no preprocess.json.
    preprocess: dict | None = None
    # Tables: each split's rows as read ({"train"|"val"|"test": pandas DataFrame}, target column
    # included), for the export's drift reference and for `nas evaluate` (the export's own transform).
    # Audio: {split: {"waves": float32 [N, samples], "stats": [N, 3] level/seconds/centroid, "paths",
    # "labels", "groups"}} for the waveform export's check, the drift reference and `nas evaluate`.
    raw: dict | None = None

    def to(self, device) -> Data:
        """Move every split to `device` once (so trials never copy per batch)."""
        for name in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y"):
            setattr(self, name, getattr(self, name).to(device))
        return self


def register_dataset(name: str, target: str) -> None:
    """Register a dataset builder given as "module:function" (raises on a duplicate name)."""
    if name in DATASETS:
        raise ValueError(f"dataset {name!r} is already registered")
    DATASETS[name] = target


def load_dataset(name: str, **options: Any) -> Data:
    """Build the dataset `name` with its options (the `dataset` config group minus `name`)."""
    if name not in DATASETS:
        raise ConfigError(
            f"dataset.name={name!r} is not a known dataset; allowed: {', '.join(sorted(DATASETS))}"
        )
    module_name, func_name = DATASETS[name].split(":")
    builder = getattr(importlib.import_module(module_name), func_name)
    return builder(**options)


def split_indices(n: int, fractions: tuple[float, ...], seed: int, labels=None) -> list:
    """Split range(n) into len(fractions)+1 parts with a fixed seed (stratified when labels given)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(n)
        groups = [order]
    else:
        labels = np.asarray(labels)
        groups = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for idx in groups:
        start = 0
        for i, frac in enumerate(fractions):
            k = int(round(frac * len(idx)))
            parts[i + 1].extend(idx[start : start + k].tolist())
            start += k
        parts[0].extend(idx[start:].tolist())
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]
