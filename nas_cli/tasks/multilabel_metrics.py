"""Multi-label scores (scikit-learn) on numpy arrays: shared by the task, its robustness and benchmarks."""

from __future__ import annotations


def multilabel_scores(y_true, scores) -> dict:
    """Macro AUC (labels with both values present), mean per-label accuracy and balanced accuracy at
    0.5, macro precision/recall/F1. `scores`: logits (sigmoid is monotone, AUC needs only the order)."""
    import numpy as np
    from sklearn.metrics import (
        balanced_accuracy_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    y_true = np.asarray(y_true).astype(np.int64)
    logits = np.asarray(scores, dtype=np.float64)
    pred = (logits > 0).astype(np.int64)  # sigmoid(z) > 0.5  <=>  z > 0
    both = [k for k in range(y_true.shape[1]) if 0 < y_true[:, k].sum() < len(y_true)]
    aucs = [roc_auc_score(y_true[:, k], logits[:, k]) for k in both]
    bal = [balanced_accuracy_score(y_true[:, k], pred[:, k]) for k in both]
    p, r, f1, _ = precision_recall_fscore_support(y_true, pred, average="macro", zero_division=0)
    return {"auc": float(np.mean(aucs)) if aucs else float("nan"), "accuracy": float((pred == y_true).mean()),
            "balanced_accuracy": float(np.mean(bal)) if bal else float("nan"),
            "precision": float(p), "recall": float(r), "f1": float(f1),
            "exact_match": float((pred == y_true).all(axis=1).mean())}
