"""Metric helpers shared by the tasks (scikit-learn), on numpy arrays."""

from __future__ import annotations


def softmax(logits):
    import numpy as np

    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classification_scores(y_true, logits) -> dict:
    """Macro precision/recall/F1, balanced accuracy and ROC AUC (binary; macro one-vs-rest otherwise).

    AUC is averaged over the classes present in `y_true` with at least one example of another class
    (a small validation split may lack a class); NaN when no class qualifies.
    """
    import numpy as np
    from sklearn.metrics import (
        balanced_accuracy_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    y_true = np.asarray(y_true)
    logits = np.asarray(logits)
    pred = logits.argmax(1)
    p, r, f1, _ = precision_recall_fscore_support(y_true, pred, average="macro", zero_division=0)
    out = {"precision": float(p), "recall": float(r), "f1": float(f1),
           "balanced_accuracy": float(balanced_accuracy_score(y_true, pred))}
    prob = softmax(logits)
    if prob.shape[1] == 2:
        out["auc"] = float(roc_auc_score(y_true, prob[:, 1])) if len(np.unique(y_true)) == 2 else float("nan")
        return out
    onehot = y_true[:, None] == np.arange(prob.shape[1])[None, :]
    present = (onehot.sum(0) > 0) & (onehot.sum(0) < len(y_true))
    # one-vs-rest per present class, macro-averaged: one call (sklearn's input checks cost ~10 ms a call)
    out["auc"] = float(roc_auc_score(onehot[:, present], prob[:, present], average="macro")) if present.any() else float("nan")
    return out


def regression_scores(y_true, y_pred) -> dict:
    """RMSE, MAE and R2 in the target's own units."""
    import numpy as np
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    r2 = float(r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan")
    return {"rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
            "mae": float(mean_absolute_error(y_true, y_pred)), "r2": r2}


def top_class(scores):
    """Index of the best class per row of logits or probabilities (numpy)."""
    import numpy as np

    return np.asarray(scores).argmax(1)
