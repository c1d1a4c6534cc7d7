"""Data drift for text: do new texts look like the training split? Two signals, cheap and readable:
the token-length distribution (two-sample Kolmogorov-Smirnov) and the out-of-vocabulary rate (a
two-proportion z-test), Bonferroni-corrected, with a plain-words verdict. numpy + scipy, no torch."""

from __future__ import annotations

from nas_cli.errors import ConfigError

FORMAT = "nas-text-drift-reference-1"


def text_stats(tokenizer, texts) -> tuple[list[int], int, int]:
    """(token count per text before truncation, [UNK] tokens, real tokens), the tokenizer's own counts."""
    from nas_cli.data.text_tokenizer import lengths, oov_rate

    texts = [str(t) for t in texts]
    counts = [int(c) for c in lengths(tokenizer, texts)]
    real = sum(max(0, c - 1) for c in counts)  # [CLS] is not a word of the text
    return counts, int(round(oov_rate(tokenizer, texts) * real)), real


def text_reference(tokenizer, texts, max_samples: int = 2000, seed: int = 0) -> dict:
    import numpy as np

    from nas_cli.deploy.drift import _sample

    texts = list(texts)
    if not texts:
        raise ConfigError("no texts to describe")
    counts, unknown, total = text_stats(tokenizer, texts)
    pick = _sample(len(counts), max_samples, seed)
    return {"format": FORMAT, "count": len(texts), "seed": int(seed), "unknown_tokens": int(unknown),
            "tokens": int(total), "oov_rate": unknown / max(1, total), "mean_length": float(np.mean(counts)),
            "lengths": [int(counts[i]) for i in pick]}


def compare_texts(reference: dict, tokenizer, texts, alpha: float = 0.01, seed: int = 0) -> dict:
    import numpy as np
    from scipy.stats import ks_2samp, norm

    from nas_cli.deploy.drift import _sample

    if reference.get("format") != FORMAT:
        raise ConfigError(f"not a text drift reference (format {reference.get('format')!r}, expected {FORMAT!r})")
    texts = list(texts)
    if not texts:
        raise ConfigError("no texts to compare")
    counts, unknown, total = text_stats(tokenizer, texts)
    sample = [counts[i] for i in _sample(len(counts), len(reference["lengths"]) or 1, seed + 1)]
    ks = ks_2samp(reference["lengths"], sample)
    p0, p1 = reference["oov_rate"], unknown / max(1, total)
    pooled = (reference["unknown_tokens"] + unknown) / max(1, reference["tokens"] + total)
    se = np.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / max(1, reference["tokens"]) + 1 / max(1, total)))
    z = (p1 - p0) / se
    tests = [{"feature": "length", "test": "ks", "statistic": float(ks.statistic), "p_value": float(ks.pvalue)},
             {"feature": "oov_rate", "test": "z", "statistic": float(z), "p_value": float(2 * norm.sf(abs(z)))}]
    for t in tests:
        t["p_corrected"] = min(1.0, t["p_value"] * len(tests))
    drifted = [t["feature"] for t in tests if t["p_corrected"] < alpha]
    mean = float(np.mean(counts))
    shift = (f"mean length {mean:.1f} tokens (training {reference['mean_length']:.1f}), "
             f"out-of-vocabulary {p1:.1%} (training {p0:.1%})")
    test = f"KS / z-test, p<{alpha:g} after Bonferroni"
    verdict = (f"drift: {shift}; {' and '.join(drifted)} {'differ' if len(drifted) > 1 else 'differs'} ({test})"
               if drifted
               else f"no drift detected ({shift}; {test})")
    return {"drifted": bool(drifted), "verdict": verdict, "alpha": alpha, "count": len(texts),
            "reference_count": reference["count"], "features": tests, "drifted_features": drifted,
            "mean_length": mean, "reference_mean_length": reference["mean_length"], "oov_rate": p1,
            "reference_oov_rate": p0}
