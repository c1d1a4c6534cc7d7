"""The networks of `search_space=ncf`: `forward(user, item)` with int64 index tensors [N] (or
`forward(pairs)` with [N, 2]) -> float score [N] (explicit feedback: the predicted rating; implicit: a logit).

An index outside the training split's range (-1: an id the training split lacked) reads a zero
embedding and a zero bias, so `mf_bias` then predicts exactly the fallback of an unknown id: the global
offset plus the known side's bias (the global mean when both are unknown). With `fallback` (explicit
ratings) every model gets user and item biases too, and its interaction term is dropped for a pair
with an unknown id, so each model predicts that same fallback; an implicit-feedback caller skips
unknown users instead.
"""

from __future__ import annotations

import torch
from torch import nn

EMBEDDING_STD = 0.01  # NCF's initialisation: small enough that the first scores are near the offset


def _embedding(rows: int, dim: int, std: float = EMBEDDING_STD) -> nn.Embedding:
    table = nn.Embedding(rows, dim)
    nn.init.normal_(table.weight, std=std)
    return table


def _lookup(table: nn.Embedding, index, rows: int, l2: float = 0.0):
    """table[index], zero for an index outside [0, rows) (exported as Clip + Gather + Mul). With `l2` (training
    only) the rows' gradient gains the one of l2 * mean over the batch of their squared norm."""
    known = ((index >= 0) & (index < rows)).unsqueeze(-1)
    found = table(index.clamp(0, rows - 1)) * known.to(table.weight.dtype)
    if l2 > 0.0 and table.training and found.requires_grad:
        found = _RowL2.apply(found, 2.0 * l2 / max(1, found.shape[0]))
    return found


class _RowL2(torch.autograd.Function):
    """Identity forward; backward adds `scale * rows`: the L2 penalty of the embedding rows a batch uses
    (Rendle et al. 2020's regulariser), without a second loss term the task would have to know about."""

    @staticmethod
    def forward(ctx, rows, scale: float):
        ctx.save_for_backward(rows)
        ctx.scale = scale
        return rows.view_as(rows)

    @staticmethod
    def backward(ctx, grad):
        (rows,) = ctx.saved_tensors
        return grad + ctx.scale * rows, None


class NCFNet(nn.Module):
    """GMF, MLP, NeuMF (He et al. 2017) or biased MF (`mf_bias`), chosen by `arch["model"]`."""

    def __init__(self, arch: dict, n_users: int, n_items: int, global_mean: float = 0.0,
                 fallback: bool = False) -> None:
        super().__init__()
        self.model = str(arch["model"])
        self.fallback = bool(fallback) and self.model != "mf_bias"  # mf_bias falls back by construction
        self.l2 = float(arch.get("l2", 0.0) or 0.0)
        self.n_users, self.n_items = int(n_users), int(n_items)
        head_in = 0
        if self.model in ("gmf", "neumf", "mf_bias"):
            factors = int(arch["factors"])
            self.user_factors = _embedding(self.n_users, factors)
            self.item_factors = _embedding(self.n_items, factors)
            head_in += factors
        if self.model == "mf_bias" or self.fallback:
            self.user_bias = _embedding(self.n_users, 1, std=0.0)
            self.item_bias = _embedding(self.n_items, 1, std=0.0)
        if self.model in ("mlp", "neumf"):
            size = int(arch["mlp_embedding"])
            self.user_mlp = _embedding(self.n_users, size)
            self.item_mlp = _embedding(self.n_items, size)
            layers: list[nn.Module] = []
            width_in = 2 * size
            for width in arch["widths"]:
                layers += [nn.Linear(width_in, int(width)), nn.ReLU(), nn.Dropout(float(arch.get("dropout", 0.0)))]
                width_in = int(width)
            self.tower = nn.Sequential(*layers)
            head_in += width_in
        # GMF, MLP and NeuMF end in one linear "prediction layer" over their vector (NCF's h); biased MF
        # is the plain dot product. Every model adds one learned global offset, started at the mean.
        self.head = nn.Linear(head_in, 1, bias=False) if self.model != "mf_bias" else None
        self.offset = nn.Parameter(torch.tensor(float(global_mean)))

    def forward(self, user, item=None):
        if item is None:  # the packed training tensor [N, 2] of (user, item) indices, as fit calls model(x)
            user, item = user[:, 0], user[:, 1]
        if self.model == "mf_bias":
            p = _lookup(self.user_factors, user, self.n_users, self.l2)
            q = _lookup(self.item_factors, item, self.n_items, self.l2)
            bias = _lookup(self.user_bias, user, self.n_users, self.l2) + _lookup(self.item_bias, item, self.n_items, self.l2)
            return (p * q).sum(-1) + bias.squeeze(-1) + self.offset
        parts = []
        if self.model in ("gmf", "neumf"):
            parts.append(_lookup(self.user_factors, user, self.n_users, self.l2) * _lookup(self.item_factors, item, self.n_items, self.l2))
        if self.model in ("mlp", "neumf"):
            pair = torch.cat([_lookup(self.user_mlp, user, self.n_users, self.l2), _lookup(self.item_mlp, item, self.n_items, self.l2)], -1)
            parts.append(self.tower(pair))
        vector = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        score = self.head(vector).squeeze(-1)
        if self.fallback:
            known = (user >= 0) & (user < self.n_users) & (item >= 0) & (item < self.n_items)
            bias = _lookup(self.user_bias, user, self.n_users, self.l2) + _lookup(self.item_bias, item, self.n_items, self.l2)
            score = score * known.to(score.dtype) + bias.squeeze(-1)
        return score + self.offset
