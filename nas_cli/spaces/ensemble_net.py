"""The ensemble network (spaces/ensemble.py): members run on the same inputs, outputs combined."""

from __future__ import annotations

import torch
from torch import nn


def combine(outputs: list, weights, how: str):
    """Weighted combination of member outputs: `softmax` (averaged class probabilities, as
    log-probabilities), `sigmoid` (averaged label probabilities, as logits) or `mean`."""
    w = torch.as_tensor(weights, dtype=torch.float32, device=outputs[0].device)
    if how == "softmax":
        probs = sum(wi * torch.softmax(o.float(), dim=-1) for wi, o in zip(w, outputs, strict=True))
        return torch.log(probs.clamp_min(1e-12))
    if how == "sigmoid":
        probs = sum(wi * torch.sigmoid(o.float()) for wi, o in zip(w, outputs, strict=True))
        probs = probs.clamp(1e-7, 1 - 1e-7)
        return torch.log(probs) - torch.log1p(-probs)
    return sum(wi * o.float() for wi, o in zip(w, outputs, strict=True))


class EnsembleNet(nn.Module):
    def __init__(self, members: list, weights: list[float], how: str) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.how = how
        self.register_buffer("weights", torch.tensor([float(w) for w in weights], dtype=torch.float32))

    def forward(self, x, extra=None):  # every space's networks take one input, or two (ids + mask, user + item)
        inputs = (x,) if extra is None else (x, extra)
        return combine([m(*inputs) for m in self.members], self.weights, self.how)
