"""Any class-per-folder image dataset: ROOT/train/<class>/*, optional ROOT/val/<class>/* and ROOT/test/<class>/*;
or ROOT/<class>/* alone (every split carved from it).

Images are decoded once per process (threads; Pillow releases the GIL while decoding), resized to
`image_size` and kept as tensors. Missing val/ or test/ splits are carved from train by ratio with
a fixed seed (stratified); normalisation statistics come from the training images unless given.
"""

from __future__ import annotations

import os
from pathlib import Path

from nas_cli.errors import ConfigError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
RESIZE = ("stretch", "crop")
_DECODED: dict[tuple, dict] = {}


def load_image_folder(root=None, image_size=32, channels: int = 3, resize: str = "stretch", val_fraction: float = 0.1,
                      test_fraction: float = 0.1, seed: int = 0, max_train=None, mean=None, std=None,
                      augment: str = "none", augment_padding: int = 4, **_: object):
    from nas_cli.data.augment import make_augment
    from nas_cli.data.images import carve, check_fraction, make_image_data

    make_augment(augment, augment_padding)  # validate before the slow decode

    if root in (None, "", "???"):
        raise ConfigError("dataset=image_folder needs dataset.root=PATH, a directory holding train/<class>/* images")
    root_path = Path(os.path.expanduser(str(root))).resolve()
    size = _size(image_size)
    if int(channels) not in (1, 3):
        raise ConfigError(f"dataset.channels must be 1 (greyscale) or 3 (RGB), got {channels!r}")
    if resize not in RESIZE:
        raise ConfigError(f"dataset.resize={resize!r} is not allowed; choose one of: {', '.join(RESIZE)}")
    key = (str(root_path), size, int(channels), resize)
    if key not in _DECODED:
        _DECODED[key] = decode_folder(root_path, size, int(channels), resize)
    splits = _DECODED[key]
    classes = splits["classes"]
    train, val, test = splits["train"], splits.get("val"), splits.get("test")
    if test is None:
        fraction = check_fraction("test_fraction", test_fraction)
        rest, held = carve(train[1].numpy(), fraction, int(seed) + 1, "test_fraction")
        train, test = (train[0][rest], train[1][rest]), (train[0][held], train[1][held])
    return make_image_data("image_folder", train, test, val=val, classes=classes, val_fraction=val_fraction,
                           seed=seed, max_train=max_train, mean=mean, std=std, augment=augment,
                           augment_padding=augment_padding, resize=resize,
                           info={"root": str(root_path), "classes": classes,
                                 "splits_from_folders": [s for s in ("val", "test") if s in splits]})


def _size(image_size) -> tuple[int, int]:
    values = [image_size] if isinstance(image_size, int) else list(image_size or [])
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or any(not isinstance(v, int) or v < 1 for v in values):
        raise ConfigError(f"dataset.image_size must be a positive int or [height, width], got {image_size!r}")
    return int(values[0]), int(values[1])


def _is_class_folder(root: Path) -> bool:
    """ROOT/<class>/<images> without train/ (the layout of Keras' image_dataset_from_directory):
    splits are then carved by ratio. A ROOT with val/ or test/ but no train/ is not taken for one."""
    classes = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return bool(classes) and not {"val", "test"} & {p.name for p in classes}


def list_images(split_dir: Path) -> dict[str, list[Path]]:
    """class name -> sorted image paths under split_dir/<class>/ (hidden files and other types skipped)."""
    out = {}
    for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in class_dir.rglob("*")
                       if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith("."))
        out[class_dir.name] = files
    return out


def decode_folder(root: Path, size: tuple[int, int], channels: int, resize: str) -> dict:
    flat = root.is_dir() and not (root / "train").is_dir() and _is_class_folder(root)
    if not (root / "train").is_dir() and not flat:
        state = "does not exist" if not root.exists() else "has no train/ directory"
        raise ConfigError(f"dataset.root={root} {state}; expected {root}/train/<class>/*.png (or .jpg, ...), "
                          f"optionally with val/ and test/ beside train/, or {root}/<class>/<images> alone")
    found = list_images(root if flat else root / "train")
    if not found:
        raise ConfigError(f"{root}/train has no class directories; expected {root}/train/<class>/<image files>")
    empty = [c for c, files in found.items() if not files]
    if empty:
        raise ConfigError(f"{root}/train: class folder(s) {', '.join(empty)} hold no images "
                          f"(extensions: {', '.join(sorted(EXTENSIONS))})")
    classes = list(found)
    out = {"classes": classes, "train": _decode_split(found, classes, size, channels, resize)}
    for split in () if flat else ("val", "test"):
        if (root / split).is_dir():
            listed = list_images(root / split)
            unknown = sorted(set(listed) - set(classes))
            if unknown:
                raise ConfigError(f"{root}/{split} has class folder(s) {', '.join(unknown)} that {root}/train lacks")
            if sum(len(f) for f in listed.values()) == 0:
                raise ConfigError(f"{root}/{split} exists but holds no images; remove it or add <class>/ images")
            out[split] = _decode_split(listed, classes, size, channels, resize)
    return out


def _decode_split(found: dict[str, list[Path]], classes: list[str], size, channels: int, resize: str):
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import torch

    from nas_cli.hardware import cpu_count

    paths = [p for c in classes for p in found.get(c, [])]
    labels = np.asarray([classes.index(c) for c in classes for _ in found.get(c, [])], dtype=np.int64)
    pixels = np.empty((len(paths), size[0], size[1], channels), dtype=np.uint8)

    def decode(i: int) -> None:
        pixels[i] = read_image(paths[i], size, channels, resize)

    with ThreadPoolExecutor(max_workers=max(1, min(8, cpu_count()))) as pool:
        list(pool.map(decode, range(len(paths))))
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(labels)


def read_image(path: Path, size: tuple[int, int], channels: int, resize: str):
    """One image as uint8 (H, W, C): converted to L or RGB, resized (stretched, or shorter side + centre crop)."""
    import numpy as np
    from PIL import Image

    height, width = size
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if resize == "crop":
                scale = max(height / img.height, width / img.width)
                img = img.resize((max(width, round(img.width * scale)), max(height, round(img.height * scale))),
                                 Image.Resampling.BILINEAR)
                left, top = (img.width - width) // 2, (img.height - height) // 2
                img = img.crop((left, top, left + width, top + height))
            elif img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ConfigError(f"{path}: cannot be read as an image ({type(exc).__name__}: {exc})") from None
    return arr.reshape(height, width, channels)
