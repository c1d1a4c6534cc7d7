"""Activation names the spaces offer -> the `torch.nn` class each builds (no torch import here)."""

from __future__ import annotations

MOBILENET_ACTIVATIONS = {"relu": "ReLU", "relu6": "ReLU6", "hswish": "Hardswish", "silu": "SiLU"}
MLP_ACTIVATIONS = {"relu": "ReLU", "gelu": "GELU", "silu": "SiLU", "tanh": "Tanh", "elu": "ELU"}


def embedding_dim(rule: str, cardinality: int) -> int:
    """Embedding size of a categorical column: a fixed size, or "auto" (fastai's rule, capped at 32)."""
    if rule == "auto":
        return max(2, min(32, round(1.6 * cardinality ** 0.56)))
    return int(rule)
