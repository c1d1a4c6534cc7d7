"""Data drift for images: do new images look like the training split? numpy + scipy, no torch.

At export, `image_reference(train_x)` stores the training split's per-channel statistics and a
seeded sample of cheap per-image features (per-channel mean and std, a 4x4 grey thumbnail); later
`compare_images(reference, new_x)` tests each feature with a two-sample Kolmogorov-Smirnov test
(Bonferroni-corrected) and says in words whether, and how, the new images differ.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError

FORMAT = "nas-drift-reference-1"
THUMB = 4  # thumbnail side: 16 coarse-layout features, cheap and robust to small shifts


def feature_names(channels: int) -> list[str]:
    return ([f"mean_c{c}" for c in range(channels)] + [f"std_c{c}" for c in range(channels)]
            + [f"grey_{r}{c}" for r in range(THUMB) for c in range(THUMB)])


def image_features(x_uint8_nchw, chunk: int = 1024):
    """Per-image features [N, 2C + 16] in [0, 1] units, in the order of `feature_names`."""
    import numpy as np

    x = _check(x_uint8_nchw)
    n, _, h, w = x.shape
    rows, cols = (np.arange(THUMB) * h) // THUMB, (np.arange(THUMB) * w) // THUMB
    out = []
    for i in range(0, n, chunk):  # float copies of a chunk only, not of the whole split
        part = x[i:i + chunk].astype(np.float32) / 255.0
        grey = part.mean(axis=1)
        # Block means over a 4x4 grid (uneven blocks when the size is not a multiple of 4).
        sums = np.add.reduceat(np.add.reduceat(grey, rows, axis=1), cols, axis=2)
        counts = np.outer(np.diff(np.append(rows, h)), np.diff(np.append(cols, w))).clip(min=1)
        out.append(np.concatenate([part.mean(axis=(2, 3)), part.std(axis=(2, 3)),
                                   (sums / counts).reshape(len(part), -1)], axis=1))
    return np.concatenate(out).astype(np.float64)


def channel_stats(x_uint8_nchw, chunk: int = 1024) -> tuple[list[float], list[float]]:
    """Per-channel pixel mean and std over all images, [0, 1] units (float64 sums, chunked)."""
    import numpy as np

    x = _check(x_uint8_nchw)
    sums, squares = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    for i in range(0, len(x), chunk):
        part = x[i:i + chunk].astype(np.float64) / 255.0
        sums += part.sum(axis=(0, 2, 3))
        squares += np.square(part).sum(axis=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = sums / count
    std = np.sqrt(np.maximum(squares / count - mean ** 2, 1e-12))
    return [float(v) for v in mean], [float(v) for v in std]


def image_reference(x_uint8_nchw, max_samples: int = 2000, seed: int = 0) -> dict:
    """JSON-able reference: the split's channel statistics and a seeded sample of image features."""
    import numpy as np

    x = _check(x_uint8_nchw)
    mean, std = channel_stats(x)
    pick = _sample(len(x), max_samples, seed)
    features = image_features(x[pick])
    return {"format": FORMAT, "count": int(len(x)), "shape": list(x.shape[1:]), "seed": int(seed),
            "mean": mean, "std": std, "features": feature_names(x.shape[1]),
            "sample": np.round(features, 5).tolist()}


def compare_images(reference: dict, x_uint8_nchw, alpha: float = 0.01, max_samples: int = 2000,
                   seed: int = 0) -> dict:
    """Drift of new images against `reference`: channel shifts, KS test per feature, a verdict."""
    import numpy as np
    from scipy.stats import ks_2samp

    x = _check(x_uint8_nchw)
    if reference.get("format") != FORMAT or "sample" not in reference:
        raise ConfigError(f"not a drift reference (format {reference.get('format')!r}, expected {FORMAT!r})")
    if x.shape[1] != reference["shape"][0]:
        raise ConfigError(f"images have {x.shape[1]} channel(s), the reference {reference['shape'][0]}")
    mean, std = channel_stats(x)
    ref_mean, ref_std = np.asarray(reference["mean"]), np.asarray(reference["std"])
    shift = np.asarray(mean) - ref_mean
    channels = [{"channel": c, "mean": mean[c], "std": std[c], "mean_shift": float(shift[c]),
                 "mean_shift_in_std": float(shift[c] / ref_std[c]), "std_ratio": float(std[c] / ref_std[c])}
                for c in range(len(mean))]
    ref_features = np.asarray(reference["sample"], dtype=np.float64)
    # Rounded as the stored sample is: features are discrete (pixel levels), and a tie broken by
    # rounding on one side only would shift every tied value to one side of the KS statistic.
    new_features = np.round(image_features(x[_sample(len(x), max_samples, seed + 1)]), 5)
    names = reference["features"]
    tests = []
    for j, name in enumerate(names):
        res = ks_2samp(ref_features[:, j], new_features[:, j])
        tests.append({"feature": name, "statistic": float(res.statistic), "p_value": float(res.pvalue),
                      "p_corrected": float(min(1.0, res.pvalue * len(names)))})  # Bonferroni
    drifted = [t["feature"] for t in tests if t["p_corrected"] < alpha]
    return {"drifted": bool(drifted), "verdict": _verdict(channels, drifted, len(names), alpha),
            "alpha": alpha, "count": int(len(x)), "reference_count": reference["count"],
            "channels": channels, "features": tests, "drifted_features": drifted}


def _verdict(channels: list[dict], drifted: list[str], n_features: int, alpha: float) -> str:
    worst = max(channels, key=lambda c: abs(c["mean_shift_in_std"]))
    shift = (f"channel {worst['channel']} mean {worst['mean_shift']:+.2f} "
             f"({worst['mean_shift_in_std']:+.2f} training std)")
    test = f"KS, p<{alpha:g} after Bonferroni"
    if not drifted:
        return f"no drift detected (0 of {n_features} features differ, {test}; largest shift: {shift})"
    return f"drift: {shift}; {len(drifted)} of {n_features} features differ ({test})"


def _sample(n: int, max_samples: int, seed: int):
    import numpy as np

    if n <= max_samples:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))


def _check(x):
    import numpy as np

    x = np.asarray(x)
    if x.ndim != 4 or x.dtype != np.uint8 or len(x) == 0:
        raise ConfigError(f"expected uint8 images (N, C, H, W) with N >= 1, got {x.dtype} {x.shape}")
    return x
