"""export/preprocess.json: how raw images become the exported model's input, readable without torch.

The file is written beside `model.onnx` at export so that `nas predict` (and any other runtime)
turns files into exactly the tensors the network was trained on: decode to L or RGB, resize as the
training loader did, then ((pixels / scale) - mean) / std per channel, NCHW float32.
"""

from __future__ import annotations

from pathlib import Path

from nas_cli.deploy.export_format import FILENAME, FORMAT, REEXPORT
from nas_cli.errors import ConfigError

RESIZE = ("stretch", "crop")


def image_preprocess(*, size, channels: int, resize: str, mean, std, classes, scale: float = 255.0) -> dict:
    """The preprocess.json dict for an image classifier (mean/std per channel, in [0, 1] units)."""
    height, width = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
    channels = int(channels)
    mean, std = [float(v) for v in mean], [float(v) for v in std]
    if len(mean) == 1 and channels > 1:  # one statistic for all channels
        mean, std = mean * channels, std * channels
    info = {
        "format": FORMAT, "task": "classification",
        "input": {"kind": "image", "name": "input", "dtype": "float32", "shape": [channels, height, width]},
        "image": {"size": [height, width], "channels": channels, "resize": resize, "scale": float(scale),
                  "mean": mean, "std": std},
        "classes": [str(c) for c in classes],
        "output": {"name": "logits", "kind": "logits"},
    }
    check_preprocess(info, "preprocess")
    return info


def write_preprocess(export_dir, info: dict) -> Path:
    from nas_cli.rundir import atomic_write_json

    check_preprocess(info, "preprocess")
    return atomic_write_json(Path(export_dir) / FILENAME, info)


def read_preprocess(export_dir) -> dict:
    """Read and check EXPORT_DIR/preprocess.json; ConfigError naming the file and the bad key."""
    import json

    path = Path(export_dir) / FILENAME
    if not path.is_file():
        raise ConfigError(f"{path} is missing: this export predates `nas predict`; {REEXPORT}")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not readable JSON ({exc}); {REEXPORT}") from None
    check_preprocess(info, str(path))
    return info


def check_preprocess(info, where: str) -> None:
    """Raise ConfigError naming the first key that is missing or wrong."""
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{where}: key {key!r} {why}; {REEXPORT}")

    if not isinstance(info, dict) or info.get("format") != FORMAT:
        got = info.get("format") if isinstance(info, dict) else type(info).__name__
        raise bad("format", f"must be {FORMAT!r}, got {got!r}")
    if isinstance(info.get("input"), dict) and info["input"].get("kind") == "table":
        from nas_cli.deploy.table_preprocess import check_table_preprocess

        if not isinstance(info.get("output"), dict) or not isinstance(info["output"].get("name"), str):
            raise bad("output.name", "must be a string")
        return check_table_preprocess(info, where)
    if isinstance(info.get("input"), dict) and info["input"].get("kind") == "text":
        from nas_cli.deploy.text_preprocess import check_text_preprocess

        if not isinstance(info.get("output"), dict) or not isinstance(info["output"].get("name"), str):
            raise bad("output.name", "must be a string")
        return check_text_preprocess(info, where)
    if isinstance(info.get("input"), dict) and info["input"].get("kind") == "audio":
        from nas_cli.deploy.audio_preprocess import check_audio_preprocess

        if not isinstance(info.get("output"), dict) or not isinstance(info["output"].get("name"), str):
            raise bad("output.name", "must be a string")
        return check_audio_preprocess(info, where)
    if isinstance(info.get("input"), dict) and info["input"].get("kind") == "ratings":
        from nas_cli.deploy.ratings_preprocess import check_ratings_preprocess

        return check_ratings_preprocess(info, where)
    for key in ("input", "image", "output"):
        if not isinstance(info.get(key), dict):
            raise bad(key, "is missing or not an object")
    image = info["image"]
    channels = image.get("channels")
    if channels not in (1, 3):
        raise bad("image.channels", f"must be 1 or 3, got {channels!r}")
    size = image.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise bad("image.size", f"must be [height, width] of positive ints, got {size!r}")
    if image.get("resize") not in RESIZE:
        raise bad("image.resize", f"must be one of {', '.join(RESIZE)}, got {image.get('resize')!r}")
    for key in ("mean", "std"):
        values = image.get(key)
        if not (isinstance(values, list) and len(values) == channels
                and all(isinstance(v, (int, float)) for v in values)):
            raise bad(f"image.{key}", f"must be a list of {channels} numbers, got {values!r}")
    if any(v <= 0 for v in image["std"]):
        raise bad("image.std", "must be positive")
    if not isinstance(image.get("scale"), (int, float)) or image["scale"] <= 0:
        raise bad("image.scale", f"must be a positive number, got {image.get('scale')!r}")
    classes = info.get("classes")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        raise bad("classes", "must be a non-empty list of class names")
    if not isinstance(info["input"].get("name"), str) or not isinstance(info["output"].get("name"), str):
        raise bad("input.name/output.name", "must be strings")


def find_export_dir(path) -> Path:
    """RUN_DIR (uses RUN_DIR/export) or EXPORT_DIR (a folder holding model.onnx)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such run or export directory")
    for candidate in (path, path / "export"):
        if (candidate / "model.onnx").is_file():
            return candidate
    raise ConfigError(f"{path} holds neither model.onnx nor export/model.onnx; expected a run directory "
                      "(runs/<run>) or its export folder")


def to_model_input(pixels, info: dict):
    """uint8 (N, H, W, C) pixels -> float32 (N, C, H, W) model input, normalised as in training."""
    import numpy as np

    image = info["image"]
    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and image["channels"] == 1:  # (N, H, W) greyscale
        pixels = pixels[..., None]
    expected = (*image["size"], image["channels"])
    if pixels.ndim != 4 or tuple(pixels.shape[1:]) != expected:
        raise ConfigError(f"pixels have shape {tuple(pixels.shape)}; "
                          f"the model expects (N, {', '.join(map(str, expected))})")
    # A per-channel table of the 256 possible values, computed with the same float32 operations in
    # the same order as the training loader (data/images.py): bit-identical, and one pass per pixel.
    scale = np.float32(image["scale"])
    mean = np.asarray(image["mean"], dtype=np.float32)[:, None]
    std = np.asarray(image["std"], dtype=np.float32)[:, None]
    table = (np.arange(256, dtype=np.float32)[None, :] / scale - mean) / std
    out = np.empty((pixels.shape[0], expected[2], expected[0], expected[1]), dtype=np.float32)
    for c in range(expected[2]):
        out[:, c] = table[c][pixels[..., c]]
    return out
