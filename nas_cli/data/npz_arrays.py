"""Labelled image arrays in one `.npz` file (the MedMNIST layout: `train_images`, `train_labels`,
`val_*`, `test_*`), checked and turned into uint8 NCHW tensors and label tensors.

Images: uint8 `[N, H, W]` (grey) or `[N, H, W, C]` with C in 1 or 3. Labels: `[N]` or `[N, 1]`
integer classes (binary, multi-class, ordinal), or `[N, L]` of 0/1 (multi-label, L > 1).
"""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import ConfigError

SPLITS = ("train", "val", "test")
LABEL_TYPES = ("auto", "classes", "multilabel")


def open_npz(path: Path):
    """The opened archive (members are read lazily); ConfigError naming the file when it is not one."""
    import zipfile

    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ConfigError(f"{path}: cannot be read as a .npz file ({type(exc).__name__}: {exc})") from None


def member(archive, path: Path, key: str, option: str):
    """One array of the archive; a missing key names the option and the keys the file holds."""
    if key not in archive.files:
        raise ConfigError(f"{path} has no array {key!r} ({option}); the file holds: "
                          f"{', '.join(sorted(archive.files)) or 'nothing'}")
    try:
        return archive[key]
    except (OSError, ValueError, EOFError) as exc:
        raise ConfigError(f"{path}: array {key!r} cannot be read ({type(exc).__name__}: {exc})") from None


def label_type_of(labels, label_type: str = "auto") -> str:
    """classes or multilabel, from the labels' shape (a column per label: multi-label)."""
    if label_type not in LABEL_TYPES:
        raise ConfigError(f"dataset.label_type={label_type!r} is not allowed; choose one of: {', '.join(LABEL_TYPES)}")
    if label_type != "auto":
        return label_type
    return "multilabel" if labels.ndim == 2 and labels.shape[1] > 1 else "classes"


def images_to_tensor(images, path: Path, key: str):
    """uint8 [N, H, W] or [N, H, W, C] -> uint8 NCHW tensor."""
    import numpy as np
    import torch

    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ConfigError(f"{path}: {key} has shape {tuple(images.shape)}; expected [N, H, W] (grey) "
                          "or [N, H, W, 3] (RGB)")
    if images.dtype != np.uint8:
        if images.size and (images.min() < 0 or images.max() > 255):
            raise ConfigError(f"{path}: {key} holds {images.dtype} values outside 0..255; expected uint8 pixels")
        images = images.astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def labels_to_tensor(labels, path: Path, key: str, kind: str, n: int):
    """Class ids int64 [N] or multi-label float32 [N, L]; ConfigError naming the array otherwise."""
    import numpy as np
    import torch

    if len(labels) != n:
        raise ConfigError(f"{path}: {key} has {len(labels)} rows for {n} images")
    if kind == "multilabel":
        if labels.ndim != 2 or not np.isin(labels, (0, 1)).all():
            raise ConfigError(f"{path}: {key} must be [N, labels] of 0/1 for a multi-label set, got shape "
                              f"{tuple(labels.shape)} with values {np.unique(labels)[:5].tolist()}")
        return torch.from_numpy(labels.astype(np.float32))
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)
                            and not np.equal(np.mod(labels, 1), 0).all()):
        raise ConfigError(f"{path}: {key} must hold one integer class per image ([N] or [N, 1]), got shape "
                          f"{tuple(labels.shape)} of {labels.dtype}; a multi-label set: dataset.label_type=multilabel")
    if labels.size and labels.min() < 0:
        raise ConfigError(f"{path}: {key} holds negative class ids")
    return torch.from_numpy(labels.astype(np.int64))


def read_splits(path: Path, keys: dict[str, str], label_type: str = "auto") -> dict:
    """{"train"|"val"|"test": (x uint8 NCHW, y), "label_type": ..., "labels": L} from one .npz file.

    `keys` maps `<split>_images`/`<split>_labels` to the array names in the file; a val or test
    split whose key is null is left out (the caller carves it).
    """
    archive = open_npz(path)
    with archive:
        train_labels = member(archive, path, keys["train_labels"], "dataset.train_labels")
        kind = label_type_of(train_labels, label_type)
        out = {"label_type": kind}
        for split in SPLITS:
            img_key, lab_key = keys.get(f"{split}_images"), keys.get(f"{split}_labels")
            if split != "train" and not img_key:
                continue
            images = member(archive, path, img_key, f"dataset.{split}_images")
            labels = train_labels if split == "train" else member(archive, path, lab_key, f"dataset.{split}_labels")
            x = images_to_tensor(images, path, img_key)
            y = labels_to_tensor(labels, path, lab_key, kind, len(x))
            out[split] = (x, y)
    shapes = {s: tuple(out[s][0].shape[1:]) for s in SPLITS if s in out}
    if len(set(shapes.values())) > 1:
        raise ConfigError(f"{path}: the splits' images differ in shape (channels, height, width): {shapes}")
    widths = {s: (tuple(out[s][1].shape[1:]) or None) for s in SPLITS if s in out}
    if kind == "multilabel" and len(set(widths.values())) > 1:
        raise ConfigError(f"{path}: the splits have different label counts: {widths}")
    ys = [out[s][1] for s in SPLITS if s in out]
    out["labels"] = int(ys[0].shape[1]) if kind == "multilabel" else int(max(int(y.max()) for y in ys if len(y))) + 1
    return out
