"""The network of `search_space=mlp`: embeddings for category codes, an MLP or ResNet body, a head.

It is called two ways: `model(x)` with the packed training tensor `[N, F + K]` (numeric features,
then category codes as floats), and `model(numeric, categorical)` with the exported inputs (float32
`[N, F]`, int64 `[N, K]`; a table without numeric or categorical columns passes only the other).
Regression ends in the training split's de-standardisation, so outputs are in the target's units.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_cli.spaces.activations import MLP_ACTIVATIONS as ACTIVATIONS
from nas_cli.spaces.activations import embedding_dim


def _norm(kind: str, width: int) -> nn.Module:
    return {"batch": lambda: nn.BatchNorm1d(width), "layer": lambda: nn.LayerNorm(width)}.get(kind, nn.Identity)()


class ResidualBlock(nn.Module):
    """x + Dropout(Linear(Dropout(Act(Linear(Norm(x)))))): the ResNet block of Gorishniy et al."""

    def __init__(self, width: int, hidden: int, norm: str, act: type, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(_norm(norm, width), nn.Linear(width, hidden), act(), nn.Dropout(dropout),
                                  nn.Linear(hidden, width), nn.Dropout(dropout))

    def forward(self, x):
        return x + self.body(x)


class TabularNet(nn.Module):
    def __init__(self, arch: dict, spec) -> None:
        super().__init__()
        table = spec.table
        self.n_numeric = int(table["n_numeric"])
        cards = [int(c) for c in table.get("cardinalities") or []]
        self.n_categorical = len(cards)
        rule = arch.get("embedding", "none")
        dims = [embedding_dim(rule, c) for c in cards] if cards else []
        self.embeddings = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(cards, dims, strict=True))
        act = getattr(nn, ACTIVATIONS[arch["activation"]])
        width_in = self.n_numeric + sum(dims)
        dropout = float(arch["dropout"])
        layers: list[nn.Module] = []
        if arch["kind"] == "mlp":
            for width in arch["widths"]:
                layers += [nn.Linear(width_in, int(width)), _norm(arch["norm"], int(width)), act(), nn.Dropout(dropout)]
                width_in = int(width)
        else:
            width = int(arch["width"])
            layers.append(nn.Linear(width_in, width))
            layers += [ResidualBlock(width, width * int(arch["hidden_factor"]), arch["norm"], act, dropout)
                       for _ in range(int(arch["n_layers"]))]
            layers += [_norm(arch["norm"], width), act()]
            width_in = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width_in, int(spec.num_classes))
        mean, std = spec.target_scale or (0.0, 1.0)
        self.regression = spec.task == "regression"
        self.register_buffer("target_mean", torch.tensor(float(mean)), persistent=True)
        self.register_buffer("target_std", torch.tensor(float(std)), persistent=True)

    def forward(self, x, categorical=None):
        numeric, codes = self._split(x, categorical)
        parts = [numeric] if numeric is not None else []
        parts += [emb(codes[:, i]) for i, emb in enumerate(self.embeddings)]
        out = self.head(self.body(torch.cat(parts, dim=1)))
        if self.regression:
            out = out * self.target_std + self.target_mean
        return out

    def _split(self, x, categorical):
        f, k = self.n_numeric, self.n_categorical
        if categorical is not None:
            return x, categorical
        if f == 0 and not x.is_floating_point():  # the exported form of an all-categorical table
            return None, x
        return (x[:, :f] if f else None), (x[:, f:f + k].long() if k else None)
