"""Data drift for audio: do new clips sound like the training split? Three per-clip signals, cheap
and readable: level (RMS in dB full scale), duration (seconds before pad/trim) and spectral centroid
(Hz, how bright the clip is), each tested with a two-sample Kolmogorov-Smirnov test against a seeded
sample of the training clips, Bonferroni-corrected, with a plain-words verdict. numpy + scipy, no torch."""

from __future__ import annotations

from nas_cli.errors import ConfigError

FORMAT = "nas-audio-drift-reference-1"
FEATURES = (("level_db", "level", "dB"), ("seconds", "duration", "s"), ("centroid_hz", "spectral centroid", "Hz"))


def audio_reference(stats, max_samples: int = 2000, seed: int = 0) -> dict:
    """JSON-able reference from per-clip stats `[N, 3]` (level dB, seconds, centroid Hz) of the training split."""
    import numpy as np

    from nas_cli.deploy.drift import _sample

    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim != 2 or stats.shape[1] != len(FEATURES) or not len(stats):
        raise ConfigError("no audio clips to describe")
    pick = _sample(len(stats), max_samples, seed)
    return {"format": FORMAT, "count": int(len(stats)), "seed": int(seed),
            "features": [f[0] for f in FEATURES], "median": np.round(np.median(stats, axis=0), 5).tolist(),
            "sample": np.round(stats[pick], 5).tolist()}


def compare_audio(reference: dict, stats, alpha: float = 0.01) -> dict:
    """KS test of each feature of the new clips' stats `[N, 3]` against the reference."""
    import numpy as np
    from scipy.stats import ks_2samp

    if reference.get("format") != FORMAT:
        raise ConfigError(f"not an audio drift reference (format {reference.get('format')!r}, expected {FORMAT!r})")
    stats = np.asarray(stats, dtype=np.float64)
    if not len(stats):
        raise ConfigError("no audio clips to compare")
    ref = np.asarray(reference["sample"], dtype=np.float64)
    tests, words = [], []
    for k, (key, name, unit) in enumerate(FEATURES):
        ks = ks_2samp(ref[:, k], stats[:, k])
        tests.append({"feature": key, "test": "ks", "statistic": float(ks.statistic), "p_value": float(ks.pvalue),
                      "p_corrected": min(1.0, float(ks.pvalue) * len(FEATURES)),
                      "median": float(np.median(stats[:, k])), "reference_median": float(reference["median"][k])})
        words.append(f"{name} median {tests[-1]['median']:.4g} {unit} (training {tests[-1]['reference_median']:.4g})")
    drifted = [t["feature"] for t in tests if t["p_corrected"] < alpha]
    shift, test = ", ".join(words), f"KS, p<{alpha:g} after Bonferroni"
    verdict = (f"drift: {shift}; {' and '.join(drifted)} {'differ' if len(drifted) > 1 else 'differs'} ({test})"
               if drifted else f"no drift detected ({shift}; {test})")
    return {"drifted": bool(drifted), "verdict": verdict, "alpha": alpha, "count": int(len(stats)),
            "reference_count": reference["count"], "features": tests, "drifted_features": drifted}
