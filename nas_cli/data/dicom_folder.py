"""Class-per-folder DICOM images (`dataset=dicom_folder`, needs `pip install nas-cli[dicom]`, pydicom):
ROOT/train/<class>/*.dcm (optional val/ and test/ beside it), or ROOT/<class>/*.dcm alone.

Each file: pixel data decoded by pydicom, the modality LUT applied (rescale slope and intercept, e.g.
to Hounsfield units), windowed with `dataset.window=[center, width]` or the file's own window (else
its min..max), MONOCHROME1 inverted, the middle frame of a multi-frame file, scaled to 0..255 and
resized to `image_size`. A file that cannot be read (not DICOM, no pixel data, a compressed transfer
syntax without its decoder) is named on stderr and skipped; a class left empty is an error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from nas_cli.errors import ConfigError

DICOM_EXTENSIONS = {".dcm", ".dicom"}
_DECODED: dict[tuple, dict] = {}


def check_window(window):
    """None, or (center, width) as floats with width > 0."""
    if window in (None, "file", "auto"):
        return None
    try:
        center, width = (float(v) for v in window)
    except (TypeError, ValueError):
        raise ConfigError(f"dataset.window must be [center, width] (e.g. [40, 400] for soft tissue CT) or null "
                          f"for each file's own window, got {window!r}") from None
    if width <= 0:
        raise ConfigError(f"dataset.window width must be > 0, got {window!r}")
    return center, width


def read_dicom(path: Path, size: tuple[int, int], channels: int = 1, window=None):
    """One DICOM file as uint8 (H, W, channels); ConfigError naming the file when it cannot be read."""
    import numpy as np
    from PIL import Image

    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut
    except ImportError:
        raise ConfigError("DICOM files need pydicom: pip install 'nas-cli[dicom]'") from None
    try:
        ds = pydicom.dcmread(str(path))
        if "PixelData" not in ds:
            raise ValueError("the file has no pixel data")
        arr = ds.pixel_array
    except Exception as exc:  # not DICOM, no pixels, a compressed syntax without its decoder, truncated
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise ConfigError(f"{path}: cannot be read as a DICOM image ({reason})") from None
    if arr.ndim == 4 or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):  # multi-frame: the middle frame
        arr = arr[arr.shape[0] // 2]
    if arr.ndim == 3:  # RGB (ultrasound, pathology): the luminance
        arr = np.asarray(Image.fromarray(arr[..., :3].astype(np.uint8)).convert("L"))
        values = arr.astype(np.float64)
        low, high = 0.0, 255.0
    else:
        values = np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
        low, high = _window(ds, values, window)
    scaled = np.clip((values - low) / max(high - low, 1e-12), 0.0, 1.0) * 255.0
    if str(getattr(ds, "PhotometricInterpretation", "")) == "MONOCHROME1":  # low values are bright
        scaled = 255.0 - scaled
    img = Image.fromarray(np.round(scaled).astype(np.uint8), mode="L")
    if img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    if channels == 3:
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).reshape(size[0], size[1], channels)


def _window(ds, values, window) -> tuple[float, float]:
    """(low, high) of the linear window: the given one, the file's first, or the pixel range."""
    if window is None and "WindowCenter" in ds and "WindowWidth" in ds:
        center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        window = (center, width) if width > 0 else None
    if window is None:
        return float(values.min()), float(values.max())
    center, width = window
    return center - width / 2.0, center + width / 2.0


def _first(value) -> float:
    """A window value; the first of several (a file may carry alternative windows)."""
    from pydicom.multival import MultiValue

    return float(value[0] if isinstance(value, (MultiValue, list, tuple)) else value)


def load_dicom_folder(root=None, image_size=64, channels: int = 1, window=None, val_fraction: float = 0.1,
                      test_fraction: float = 0.1, seed: int = 0, max_train=None, mean=None, std=None,
                      augment: str = "none", augment_padding: int = 4, **_: object):
    from nas_cli.data.augment import make_augment
    from nas_cli.data.image_folder import _size
    from nas_cli.data.images import carve, check_fraction, make_image_data

    make_augment(augment, augment_padding)
    if root in (None, "", "???"):
        raise ConfigError("dataset=dicom_folder needs dataset.root=PATH, a directory holding <class>/*.dcm "
                          "(or train/<class>/*.dcm)")
    if int(channels) not in (1, 3):
        raise ConfigError(f"dataset.channels must be 1 or 3, got {channels!r}")
    root_path, size, win = Path(os.path.expanduser(str(root))).resolve(), _size(image_size), check_window(window)
    key = (str(root_path), size, int(channels), win)
    if key not in _DECODED:
        _DECODED[key] = _decode_tree(root_path, size, int(channels), win)
    splits = _DECODED[key]
    train, val, test = splits["train"], splits.get("val"), splits.get("test")
    if test is None:
        rest, held = carve(train[1].numpy(), check_fraction("test_fraction", test_fraction), int(seed) + 1,
                           "test_fraction")
        train, test = (train[0][rest], train[1][rest]), (train[0][held], train[1][held])
    data = make_image_data("dicom_folder", train, test, val=val, classes=splits["classes"], val_fraction=val_fraction,
                           seed=seed, max_train=max_train, mean=mean, std=std, augment=augment,
                           augment_padding=augment_padding,
                           info={"root": str(root_path), "classes": splits["classes"], "skipped": splits["skipped"],
                                 "window": list(win) if win else "each file's own"})
    data.preprocess["dicom"] = {"window": list(win) if win else None}
    return data


def _decode_tree(root: Path, size, channels: int, window) -> dict:
    flat = root.is_dir() and not (root / "train").is_dir()
    if not root.is_dir():
        raise ConfigError(f"dataset.root={root} does not exist; expected {root}/<class>/*.dcm or {root}/train/<class>/*.dcm")
    found = _list(root if flat else root / "train")
    if not found or not any(found.values()):
        raise ConfigError(f"{root}: no class folders holding .dcm files; expected {root}/<class>/*.dcm")
    classes = list(found)
    out = {"classes": classes, "skipped": []}
    out["train"] = _decode_split(found, classes, size, channels, window, out["skipped"], root)
    for split in () if flat else ("val", "test"):
        if (root / split).is_dir():
            out[split] = _decode_split(_list(root / split), classes, size, channels, window, out["skipped"], root)
    return out


def _list(split_dir: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in DICOM_EXTENSIONS)
            for d in sorted(split_dir.iterdir()) if d.is_dir() and not d.name.startswith(".")}


def _decode_split(found, classes, size, channels, window, skipped: list, root: Path):
    import numpy as np
    import torch

    pixels, labels = [], []
    for label, name in enumerate(classes):
        kept = 0
        for path in found.get(name, []):
            try:
                pixels.append(read_dicom(path, size, channels, window))
            except ConfigError as exc:
                print(f"warning: {exc}; skipped", file=sys.stderr)
                skipped.append(str(path))
                continue
            labels.append(label)
            kept += 1
        if found.get(name) and not kept:
            raise ConfigError(f"{root}: every .dcm file of class {name!r} is unreadable (first: {found[name][0]}); "
                              "see the warnings above")
    if not pixels:
        raise ConfigError(f"{root}: no readable DICOM image")
    x = torch.from_numpy(np.stack(pixels)).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(labels, dtype=torch.int64)


def dicom_or_image_reader(read_image, info: dict):
    """`read_image(path, size, channels, resize)` that reads .dcm files with the export's DICOM window."""
    window = check_window((info.get("dicom") or {}).get("window"))

    def read(path, size, channels, resize):
        if Path(path).suffix.lower() in DICOM_EXTENSIONS:
            return read_dicom(Path(path), size, channels, window)
        return read_image(path, size, channels, resize)

    return read
