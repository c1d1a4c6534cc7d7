"""Class names of new labelled data against the model's classes."""

from __future__ import annotations

from nas_cli.errors import ConfigError


def class_map(data_classes: list[str], model_classes: list[str]):
    """Index in the new data's classes -> index in the model's; unknown class names are an error."""
    import numpy as np

    unknown = [c for c in data_classes if c not in model_classes]
    if unknown:
        raise ConfigError(f"the data has class(es) {', '.join(unknown)} that the model does not know "
                          f"(it predicts: {', '.join(model_classes)})")
    return np.asarray([model_classes.index(c) for c in data_classes], dtype=np.int64)


def same_labels(data_labels: list[str], model_labels: list[str], y):
    """Multi-label targets [N, L] reordered into the model's label order; the label sets must match."""
    if sorted(data_labels) != sorted(model_labels):
        raise ConfigError(f"the data's labels ({', '.join(data_labels)}) are not the model's "
                          f"({', '.join(model_labels)})")
    return y[:, [data_labels.index(c) for c in model_labels]]
