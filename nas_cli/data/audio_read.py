"""Finding and decoding audio files, torch-free (soundfile, numpy, scipy), shared by the training
loader and `nas predict`: one decode path, so a clip becomes the same samples in both.

A clip is decoded with soundfile (WAV, FLAC, OGG: libsndfile ships in its wheel), mixed down to mono
(the channel mean), resampled to the target rate with `scipy.signal.resample_poly` (a polyphase
filter, exact rational ratio), then zero-padded at the end or trimmed to a fixed number of samples.
"""

from __future__ import annotations

import re
from pathlib import Path

from nas_cli.errors import ConfigError

EXTENSIONS = {".wav", ".flac", ".ogg"}


def decode_clip(path, sample_rate: int) -> tuple:
    """(mono float32 samples at `sample_rate`, seconds before any pad/trim); ConfigError naming an
    unreadable or empty file."""
    import numpy as np
    import soundfile as sf

    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError by file
        raise ConfigError(f"{path}: not a readable audio file ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else 'unknown error'})") from None
    if samples.shape[0] == 0:
        raise ConfigError(f"{path}: the audio file holds no samples")
    mono = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
    return resample(mono, int(rate), int(sample_rate)), samples.shape[0] / float(rate)


def resample(samples, rate: int, target: int):
    """`samples` at `rate` Hz -> `target` Hz (scipy polyphase resampling), float32."""
    import math

    import numpy as np

    if rate == target:
        return np.ascontiguousarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(rate, target)
    return resample_poly(samples, target // g, rate // g).astype(np.float32, copy=False)


def fit_length(samples, length: int):
    """Zero-pad at the end or keep the first `length` samples."""
    import numpy as np

    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def clip_stats(samples, sample_rate: int) -> tuple[float, float]:
    """(level in dB full scale, RMS over the clip; spectral centroid in Hz), before pad/trim."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float64)
    level = 10.0 * np.log10(np.mean(x * x) + 1e-12)
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    centroid = float((freqs * power).sum() / power.sum()) if power.sum() > 0 else 0.0
    return float(level), centroid


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith("."))


def compile_pattern(key: str, pattern):
    """A regular expression with exactly one group, or ConfigError naming `dataset.<key>`."""
    try:
        rx = re.compile(str(pattern))
    except re.error as exc:
        raise ConfigError(f"dataset.{key}={pattern!r} is not a regular expression ({exc})") from None
    if rx.groups != 1:
        raise ConfigError(f"dataset.{key}={pattern!r} must have exactly one (group); it has {rx.groups}")
    return rx


def match_group(rx, key: str, path: Path) -> str:
    """The pattern's group in the file name (without extension), or ConfigError naming the file."""
    found = rx.search(path.stem)
    if not found or not found.group(1):
        raise ConfigError(f"{path}: the file name does not match dataset.{key}={rx.pattern!r}")
    return found.group(1)


def list_folder(root: Path) -> list[tuple[Path, str, str | None]]:
    """(file, label, "train"|"test"|None) for ROOT/train/<class>/* (+ ROOT/test/<class>/*) or ROOT/<class>/*."""
    train, test = root / "train", root / "test"
    if not train.is_dir():
        if test.is_dir():
            raise ConfigError(f"dataset.root={root} has test/ but no train/; add {train}/<class>/*.wav")
        train, test = root, None
    elif not test.is_dir():
        test = None
    rows: list = []
    for split, folder in (("train", train), ("test", test)):
        if folder is None:
            continue
        for cls in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            rows.extend((f, cls.name, split if test is not None else None) for f in audio_files(cls))
    if not rows:
        raise ConfigError(f"dataset.root={root}: no audio files ({', '.join(sorted(EXTENSIONS))}) in "
                          f"{train}/<class>/; or use dataset.label_pattern / dataset.manifest")
    return rows


def list_by_pattern(root: Path, rx) -> list[tuple[Path, str, None]]:
    """Every audio file under ROOT, in any layout, labelled by `dataset.label_pattern`."""
    files = audio_files(root)
    if not files:
        raise ConfigError(f"dataset.root={root}: no audio files ({', '.join(sorted(EXTENSIONS))}) under it")
    return [(f, match_group(rx, "label_pattern", f), None) for f in files]


def list_manifest(manifest, root: Path | None) -> list[tuple[Path, str, str | None]]:
    """Rows of a `path,label[,split]` CSV; relative paths from dataset.root, else from the CSV's folder."""
    import pandas as pd

    path = Path(str(manifest)).expanduser()
    if not path.is_file():
        raise ConfigError(f"dataset.manifest={manifest}: no such file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise ConfigError(f"dataset.manifest={manifest}: not a readable CSV ({exc})") from None
    missing = [c for c in ("path", "label") if c not in frame.columns]
    if missing:
        raise ConfigError(f"dataset.manifest={manifest}: no column {missing[0]!r} (needs path,label; "
                          f"has {', '.join(map(str, frame.columns))})")
    base = root if root is not None else path.parent.resolve()
    rows = []
    for i, row in frame.iterrows():
        split = row.get("split") or None
        if split not in (None, "train", "test"):
            raise ConfigError(f"{path}, line {i + 2}: split {split!r} must be train, test or empty")
        file = Path(row["path"]).expanduser()
        file = file if file.is_absolute() else base / file
        if not file.is_file():
            raise ConfigError(f"{path}, line {i + 2}: no such audio file {file}")
        rows.append((file, str(row["label"]), split))
    if not rows:
        raise ConfigError(f"dataset.manifest={manifest} lists no files")
    return rows
