"""`train.class_weights=balanced`: loss weights from the training split's label counts, for imbalanced
sets (medical data often has few positives). Classification: scikit-learn's "balanced" weights
n / (classes * count) in cross-entropy; multi-label: BCE's `pos_weight` = negatives / positives per
label. The weights are one tensor on the data's device, so the loss costs no per-batch Python."""

from __future__ import annotations

from nas_cli.errors import ConfigError

MODES = ("none", "balanced")


def check_mode(mode) -> str:
    mode = "none" if mode in (None, False) else str(mode)
    if mode not in MODES:
        raise ConfigError(f"train.class_weights={mode!r} is not allowed; choose one of: {', '.join(MODES)} (or null)")
    return mode


def balanced_weights(train_y, task_name: str):
    """The weight tensor for `task_name` from the training labels (on their device)."""
    import numpy as np
    import torch

    y = train_y.detach().cpu()
    if task_name == "multilabel":
        pos = y.float().sum(0)
        neg = float(len(y)) - pos
        weights = torch.where(pos > 0, neg / pos.clamp_min(1.0), torch.ones_like(pos))
        return weights.to(device=train_y.device, dtype=torch.float32)
    from sklearn.utils.class_weight import compute_class_weight

    labels = y.numpy()
    present = np.unique(labels)
    weights = np.ones(int(labels.max()) + 1 if labels.size else 1, dtype=np.float64)
    weights[present] = compute_class_weight("balanced", classes=present, y=labels)
    return torch.tensor(weights, dtype=torch.float32, device=train_y.device)


def apply_class_weights(task, data, mode):
    """`task` with balanced loss weights when `mode` is "balanced" (tasks without weights: a ConfigError)."""
    if check_mode(mode) == "none":
        return task
    if not hasattr(task, "with_class_weights"):
        raise ConfigError(f"train.class_weights=balanced does not apply to a {task.name} task; "
                          "it weights classification and multi-label losses")
    weights = balanced_weights(data.train_y, task.name)
    return task.with_class_weights(weights[: data.spec.num_classes] if task.name != "multilabel" else weights)
