"""Activation names the spaces offer -> the `torch.nn` class each builds (no torch import here)."""

from __future__ import annotations

MOBILENET_ACTIVATIONS = {"relu": "ReLU", "relu6": "ReLU6", "hswish": "Hardswish", "silu": "SiLU"}
