"""RUN_DIR/test_outputs.npz: the selected model's logits on the held-out test split and the true labels,
saved once after fine-tuning, so that `nas report` draws the confusion matrix and ROC curves without
the data or torch (classification and multi-label runs)."""

from __future__ import annotations

from pathlib import Path

FILENAME = "test_outputs.npz"


def save_test_outputs(model, data, run_dir: Path, autocast_dtype=None) -> Path | None:
    """Write logits [N, C], targets ([N] classes or [N, L] labels), class names and the task; None when
    the task is not a classification."""
    import io

    import numpy as np

    from nas_cli.rundir import atomic_write_bytes
    from nas_cli.trial.fit import predict

    if data.spec.task not in ("classification", "multilabel"):
        return None
    logits = predict(model, data.test_x, autocast_dtype=autocast_dtype).float().cpu().numpy()
    classes = (data.preprocess or {}).get("classes") or [str(i) for i in range(data.spec.num_classes)]
    buffer = io.BytesIO()
    np.savez_compressed(buffer, logits=logits, targets=data.test_y.cpu().numpy(), classes=np.asarray(classes),
                        task=np.asarray(data.spec.task))
    return atomic_write_bytes(Path(run_dir) / FILENAME, buffer.getvalue())
