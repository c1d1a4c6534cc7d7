"""Tiny audio fixtures written with soundfile in the real on-disk formats (WAV, FLAC, OGG Vorbis):
tones and noise at several sample rates and channel counts, named `<label>_<speaker>_<n>.<ext>` as many speech sets are."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# label -> how a clip of it sounds: a low tone, a high tone, or noise.
KINDS = {"low": 300.0, "high": 2500.0, "noise": None}
RATES = (8000, 16000, 22050)
# Small front end for fast tests: 0.25 s at 8 kHz -> 2,000 samples, 16 mel bands x 26 frames.
SMALL = ["dataset.sample_rate=8000", "dataset.duration=0.25", "dataset.n_mels=16", "dataset.n_fft=256",
         "dataset.win_length=200", "dataset.hop_length=80"]


def clip(kind: str, rate: int, seconds: float, channels: int, rng, level: float = 0.3, shift: float = 1.0):
    t = np.arange(int(rate * seconds)) / rate
    freq = KINDS[kind]
    if freq is None:
        mono = rng.normal(0, level / 2, len(t))
    else:
        mono = level * np.sin(2 * np.pi * freq * shift * t + rng.uniform(0, 6.28)) + rng.normal(0, 0.01, len(t))
    return np.repeat(mono[:, None], channels, axis=1).astype(np.float32)


def write_clips(root: Path, speakers=("ann", "bob", "cat", "dan", "eve", "fay"), per=3, seed=0, layout="flat",
                level: float = 0.3, seconds=(0.2, 0.3), shift: float = 1.0) -> Path:
    """Write clips under `root`; layout "flat" (all files in root) or "folders" (root/train/<label>/)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    k = 0
    for s, speaker in enumerate(speakers):
        for label in KINDS:
            for n in range(per):
                rate, channels = RATES[(s + n) % len(RATES)], 1 + (s + n) % 2
                ext = ("wav", "flac", "ogg")[(k := k + 1) % 3]
                folder = root if layout == "flat" else root / "train" / label
                folder.mkdir(parents=True, exist_ok=True)
                sf.write(folder / f"{label}_{speaker}_{n}.{ext}",
                         clip(label, rate, rng.uniform(*seconds), channels, rng, level, shift), rate)
    return root
