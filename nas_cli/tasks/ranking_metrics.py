"""Recommendation metrics on numpy arrays: HR@K and NDCG@K for one held-out positive per row, RMSE and
MAE for explicit ratings.

Ranking scores are `[R, 1 + n]`: row r is one held-out interaction, column 0 its positive item, the
other columns its sampled negatives (NCF's protocol: 1 + 99), or every unseen item (full ranking).
With one relevant item the ideal DCG is 1, so NDCG@K = 1 / log2(rank + 2) when the 0-based rank is
below K, else 0; HR@K = [rank < K].

Ties between the positive and negatives: `pessimistic` (the default: every tied negative ranks above
the positive, so a constant model scores 0, never a lucky 1), `average` (the expectation over random
tie-breaking; equal to scikit-learn's `ndcg_score` with ties averaged), `optimistic`. torchmetrics'
`RetrievalHitRate` / `RetrievalNormalizedDCG` break ties by sort order, which is neither. Written here
rather than through those libraries because neither offers pessimistic ties on sampled candidates and
both sort every row, where counting the negatives above the positive suffices.
"""

from __future__ import annotations

TIES = ("pessimistic", "average", "optimistic")


def positive_ranks(scores):
    """(above, tied): per row, how many candidates score strictly above / equal to column 0.
    NaN scores count as the lowest (a NaN positive ranks last)."""
    import numpy as np

    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"scores must be [rows, 1 + negatives], got shape {scores.shape}")
    scores = np.where(np.isnan(scores), -np.inf, scores)
    positive, others = scores[:, :1], scores[:, 1:]
    return (others > positive).sum(axis=1), (others == positive).sum(axis=1)


def metrics_from_ranks(above, tied, ks=(10,), ties: str = "pessimistic") -> dict:
    """{"hr@K", "ndcg@K"} means from per-row counts (what `positive_ranks` gives, or what a full-ranking
    caller counts batch by batch)."""
    import numpy as np

    if ties not in TIES:
        raise ValueError(f"ties={ties!r}; choose one of {', '.join(TIES)}")
    above, tied = np.asarray(above, dtype=np.int64), np.asarray(tied, dtype=np.int64)
    if above.size == 0:
        raise ValueError("no rows to rank")
    # The positive's possible 0-based ranks are the block first..last.
    if ties == "pessimistic":
        first = last = above + tied
    elif ties == "optimistic":
        first = last = above
    else:
        first, last = above, above + tied
    width = (last - first + 1).astype(np.float64)
    out = {}
    for k in sorted({int(k) for k in ks}):
        if k < 1:
            raise ValueError(f"K={k} must be at least 1")
        # Discounted gain summed over ranks [0, j): cumulative[j]; ranks at or beyond K count 0.
        cumulative = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))])
        hits = np.clip(np.minimum(last + 1, k) - np.minimum(first, k), 0, None)
        gain = cumulative[np.minimum(last + 1, k)] - cumulative[np.minimum(first, k)]
        out[f"hr@{k}"] = float(np.mean(hits / width))
        out[f"ndcg@{k}"] = float(np.mean(gain / width))
    return out


def ranking_metrics(scores, ks=(10,), ties: str = "pessimistic") -> dict:
    """{"hr@K": mean hit rate, "ndcg@K": mean NDCG} for each K, from scores [rows, 1 + n] (column 0 the
    positive)."""
    above, tied = positive_ranks(scores)
    return metrics_from_ranks(above, tied, ks, ties)


def hit_rate(scores, k: int = 10, ties: str = "pessimistic") -> float:
    """HR@K: the share of rows whose positive ranks in the top K."""
    return ranking_metrics(scores, (k,), ties)[f"hr@{k}"]


def ndcg(scores, k: int = 10, ties: str = "pessimistic") -> float:
    """NDCG@K with one relevant item per row."""
    return ranking_metrics(scores, (k,), ties)[f"ndcg@{k}"]


def rating_errors(predictions, targets, rating_range=None) -> dict:
    """{"rmse", "mae"} of explicit rating predictions, clipped to `rating_range` (lo, hi) first: a model
    predicting 5.7 on a 0.5..5 scale is scored as predicting 5 (what a user of the ratings would see)."""
    import numpy as np
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    targets = np.asarray(targets, dtype=np.float64).reshape(-1)
    if predictions.shape != targets.shape or predictions.size == 0:
        raise ValueError(f"predictions {predictions.shape} and targets {targets.shape} must be equal, non-empty")
    if rating_range is not None:
        predictions = np.clip(predictions, float(rating_range[0]), float(rating_range[1]))
    return {"rmse": float(np.sqrt(mean_squared_error(targets, predictions))),
            "mae": float(mean_absolute_error(targets, predictions))}
