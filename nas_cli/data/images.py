"""Decoded uint8 image tensors -> a normalised `Data`: validation split, optional subset, statistics."""

from __future__ import annotations

from nas_cli.data import Data, DataSpec, split_indices
from nas_cli.data.augment import make_augment
from nas_cli.errors import ConfigError


def check_fraction(key: str, value, high: float = 0.5) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = -1.0
    if not 0.0 < value <= high:
        raise ConfigError(f"dataset.{key} must be a number in (0, {high}], got {value!r}")
    return value


def carve(labels, fraction: float, seed: int, key: str):
    """(kept, held) index arrays: stratified by class, or plain when classes are too small to give any."""
    kept, held = split_indices(len(labels), (fraction,), seed, labels=labels)
    if len(held) == 0:  # e.g. 5 images per class at 0.1: every class rounds to 0
        kept, held = split_indices(len(labels), (fraction,), seed)
    if len(held) == 0 or len(kept) == 0:
        raise ConfigError(f"dataset.{key}={fraction} of {len(labels)} training images leaves an empty split; "
                          "add images or change the fraction")
    return kept, held


def channel_stats(x, chunk: int = 4096):
    """Per-channel mean and std of uint8 NCHW images, in [0, 1] units (float64 sums, chunked)."""
    import torch

    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros(x.shape[1], dtype=torch.float64)
    for i in range(0, x.shape[0], chunk):
        part = x[i : i + chunk].to(torch.float64).div_(255.0)
        total += part.sum(dim=(0, 2, 3))
        squares += part.square().sum(dim=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(1e-12).sqrt()
    return [round(float(v), 6) for v in mean], [round(max(float(v), 1e-3), 6) for v in std]


def _stat(key: str, value, channels: int) -> list[float] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, (int, float)) else list(value)
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise ConfigError(f"dataset.{key} needs 1 or {channels} values (one per channel), got {value!r}")
    if key == "std" and any(float(v) <= 0 for v in values):
        raise ConfigError(f"dataset.std values must be > 0, got {value!r}")
    return [float(v) for v in values]


def to_float(x, mean: list[float], std: list[float]):
    """uint8 NCHW -> normalised float32, in place after one conversion."""
    import torch

    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return x.to(torch.float32).div_(255.0).sub_(m).div_(s)


def make_image_data(name: str, train, test, *, classes: list[str], val=None, val_fraction: float = 0.1,
                    seed: int = 0, max_train=None, mean=None, std=None, augment: str = "none",
                    augment_padding: int = 4, info: dict | None = None, resize: str = "stretch") -> Data:
    """Build `Data` from (x uint8 NCHW, y int64) pairs; validation carved from train unless `val` is given.

    The test split is only converted, never looked at: statistics come from the training split.
    """
    import numpy as np

    train_x, train_y = train
    if val is None:
        fraction = check_fraction("val_fraction", val_fraction)
        tr, va = carve(train_y.numpy(), fraction, int(seed), "val_fraction")
        val = (train_x[va], train_y[va])
        train_x, train_y = train_x[tr], train_y[tr]
    if max_train is not None:
        if int(max_train) < 1:
            raise ConfigError(f"dataset.max_train must be a positive integer or null, got {max_train!r}")
        if int(max_train) < len(train_y):
            keep = np.sort(np.random.default_rng(int(seed) + 7).permutation(len(train_y))[: int(max_train)])
            train_x, train_y = train_x[keep], train_y[keep]
    channels = int(train_x.shape[1])
    mean, std = _stat("mean", mean, channels), _stat("std", std, channels)
    if mean is None or std is None:
        computed = channel_stats(train_x)
        mean, std = mean or computed[0], std or computed[1]
    spec = DataSpec(name=name, input_shape=tuple(int(d) for d in train_x.shape[1:]), num_classes=len(classes))
    return Data(
        spec=spec,
        train_x=to_float(train_x, mean, std), train_y=train_y,
        val_x=to_float(val[0], mean, std), val_y=val[1],
        test_x=to_float(test[0], mean, std), test_y=test[1],
        augment=make_augment(augment, augment_padding),
        info={"train": len(train_y), "val": len(val[1]), "test": len(test[1]), "mean": mean, "std": std,
              "augment": augment, **(info or {})},
        preprocess={"kind": "image", "size": list(spec.input_shape[1:]), "channels": channels, "resize": resize,
                    "scale": 255.0, "mean": mean, "std": std, "classes": [str(c) for c in classes]},
    )
