"""`nas evaluate` on a text model: the raw texts through the export's own tokenizer (never one
trained on the new data), the task's metrics, drift of lengths and out-of-vocabulary rate."""

from __future__ import annotations


def evaluate_text_export(predictor, data, task, *, split: str, alpha: float = 0.01) -> dict:
    import json

    import numpy as np

    from nas_cli.deploy.evaluate_table import rows_of
    from nas_cli.deploy.labels import class_map

    frame = rows_of(data, split)
    texts = frame["text"].astype(str).tolist()
    labels = frame["label"].astype(str).tolist()
    names = sorted(set(labels))
    truth = class_map(names, predictor.classes)[np.asarray([names.index(v) for v in labels], dtype=np.int64)]
    logits = predictor.logits(texts)
    result = {"count": len(texts), "split": split, "metrics": task.evaluate_numpy(logits, truth, full=True),
              "per_class": task.per_class(logits, truth, predictor.classes)}
    ref_path = predictor.export_dir / "drift_reference.json"
    if ref_path.is_file():
        from nas_cli.deploy.text_drift import compare_texts

        reference = json.loads(ref_path.read_text(encoding="utf-8"))
        result["drift"] = compare_texts(reference, predictor.tokenizer, texts, alpha=alpha)
    else:
        result["drift"] = None
        result["drift_note"] = f"{ref_path} is missing (export predates drift checks); re-export: nas export RUN_DIR"
    return result
