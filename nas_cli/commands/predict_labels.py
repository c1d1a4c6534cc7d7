"""`nas predict` output for a multi-label model (ChestMNIST-like): one sigmoid probability per label,
and the labels at or over 0.5 (the threshold the model's accuracy is measured at).

- csv: header `path,<label 1>,...,<label L>,labels`; `labels` joins the predicted ones with `;`.
- jsonl: `{"path", "labels": [...], "probabilities": {label: probability}}` per line.
"""

from __future__ import annotations

THRESHOLD = 0.5


def label_header(classes: list[str]) -> str:
    import csv
    import io

    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(["path", *classes, "labels"])
    return text.getvalue()


def format_label_rows(paths: list[str], probabilities, classes: list[str], top_k: int, fmt: str) -> str:
    """Output lines for one batch (`top_k` is unused: every label's probability is written)."""
    import csv
    import io
    import json

    if fmt == "jsonl":
        return "".join(json.dumps({"path": path, "labels": [c for c, p in zip(classes, probs, strict=True)
                                                            if p >= THRESHOLD],
                                   "probabilities": {c: float(p) for c, p in zip(classes, probs, strict=True)}}) + "\n"
                       for path, probs in zip(paths, probabilities, strict=True))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for path, probs in zip(paths, probabilities, strict=True):
        writer.writerow([path, *[f"{p:.6f}" for p in probs],
                         ";".join(c for c, p in zip(classes, probs, strict=True) if p >= THRESHOLD)])
    return text.getvalue()
