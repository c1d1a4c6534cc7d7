"""The selected model on the held-out test split (RUN_DIR/test_outputs.npz): confusion matrix and ROC
curves (scikit-learn's displays on matplotlib), as medical readers expect them.

Binary: one ROC curve for the positive (second) class. Multi-class: one-vs-rest curves per class
and their macro AUC. Multi-label: one curve per label and a confusion matrix per label at 0.5.
"""

from __future__ import annotations

from pathlib import Path

MAX_CURVES = 14  # ChestMNIST's label count; more would be an unreadable legend


def test_figures(run_dir: Path, out: Path, notes: list[str]) -> list[tuple[str, str, str]]:
    """Draw the figures into `out`; [(file name, title, caption)]; a missing file is a note, not an error."""
    from nas_cli.deploy.test_outputs import FILENAME
    from nas_cli.report.plots import png_bytes
    from nas_cli.rundir import atomic_write_bytes

    path = Path(run_dir) / FILENAME
    if not path.is_file():
        notes.append(f"Confusion matrix and ROC curves: {FILENAME} is missing (no fine-tuned model, "
                     "or a run made before it was saved)")
        return []
    import numpy as np

    with np.load(path, allow_pickle=False) as saved:
        logits, targets = saved["logits"], saved["targets"]
        classes, task = [str(c) for c in saved["classes"]], str(saved["task"])
    figures = []
    for name, title, draw in (("confusion_matrix.png", "Confusion matrix (test split)", _confusion),
                              ("roc_curves.png", "ROC curves (test split)", _roc)):
        try:
            fig, caption = draw(logits, targets, classes, task)
        except ValueError as exc:  # e.g. a test split holding one class only
            notes.append(f"{title}: {exc}")
            continue
        atomic_write_bytes(out / name, png_bytes(fig))
        figures.append((name, title, caption))
    return figures


def _confusion(logits, targets, classes: list[str], task: str):
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, multilabel_confusion_matrix

    if task == "multilabel":
        shown = min(len(classes), MAX_CURVES)
        cms = multilabel_confusion_matrix(targets.astype(int), (logits > 0).astype(int))
        cols = min(shown, 7)
        rows = -(-shown // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= shown:
                ax.axis("off")
                continue
            ConfusionMatrixDisplay(cms[k], display_labels=["0", "1"]).plot(ax=ax, colorbar=False)
            ax.grid(False)
            ax.set_title(classes[k][:18], fontsize=8)
            ax.set_xlabel("predicted", fontsize=7)
            ax.set_ylabel("true", fontsize=7)
        fig.tight_layout()
        return fig, "Per label at a 0.5 probability threshold: rows true 0/1, columns predicted 0/1."
    from nas_cli.tasks.metrics import top_class

    pred = top_class(logits)
    labels = list(range(len(classes)))
    size = max(4.0, 0.5 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(targets, pred, labels=labels, display_labels=[c[:16] for c in classes],
                                            ax=ax, colorbar=False, xticks_rotation=45)
    ax.grid(False)
    fig.tight_layout()
    return fig, "Rows: true class, columns: predicted class (argmax), counts of test images."


def _roc(logits, targets, classes: list[str], task: str):
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import RocCurveDisplay

    fig, ax = plt.subplots(figsize=(6, 5))
    logits = np.asarray(logits, dtype=np.float64)
    if task == "multilabel":
        truth, scores = np.asarray(targets).astype(int), logits
    elif len(classes) == 2:
        truth, scores = (np.asarray(targets) == 1).astype(int)[:, None], (logits[:, 1] - logits[:, 0])[:, None]
        classes = [classes[1]]
    else:
        truth = np.eye(len(classes), dtype=int)[np.asarray(targets)]
        scores = logits - logits.max(1, keepdims=True)
        scores = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
    drawn = []
    for k in range(min(truth.shape[1], MAX_CURVES)):
        if 0 < truth[:, k].sum() < len(truth):
            display = RocCurveDisplay.from_predictions(truth[:, k], scores[:, k], name=classes[k][:20], ax=ax)
            drawn.append(display.roc_auc)
    if not drawn:
        plt.close(fig)
        raise ValueError("no class with both positive and negative test examples")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.legend(fontsize=7, loc="lower right")
    kind = {"multilabel": "one curve per label", "binary": "positive class"}.get(
        task if task == "multilabel" else ("binary" if len(classes) == 1 else ""), "one-vs-rest per class")
    return fig, f"{kind}; macro AUC {float(np.mean(drawn)):.4f} over {len(drawn)} curve(s)."
