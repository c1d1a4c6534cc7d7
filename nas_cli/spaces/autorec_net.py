"""`model: autorec` of `search_space=ncf`: an item-based autoencoder over the rating matrix (I-AutoRec,
Sedhain et al. 2015, "AutoRec: Autoencoders meet collaborative filtering"), on the residuals of the
damped user + item bias baseline.

Each item is the vector of its training ratings over the users (the residual r - mu - b_u - b_i where
rated, 0 elsewhere); the network encodes it (sigmoid hidden layer) and decodes one output per user,
the residual it predicts for that user. `forward(user, item)` takes int64 index tensors [N] like every
ncf network: it encodes the rows of the asked items and reads the asked users' outputs, so the fit loop
trains it on the same batches of (user, item) pairs, with the loss on observed ratings only.

The matrix, the biases and the mean are buffers, filled by `observe(x, y)` from the training pairs
(`trial/fit.py` calls it before the first epoch) and saved with the weights, so the exported ONNX
still takes `user` and `item` and needs nothing else. As in the paper, the loss is on the observed
entries of each item's reconstruction (each training pair's own rating is in its input row; leaving it
out, tried on MovieLens, trained worse). An unknown id (-1) predicts the fallback: the mean plus the known side's bias.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_cli.spaces.ncf_nets import _RowL2

DAMPING = 3.0  # the bias baseline's shrinkage: b_i = sum(r - mu - b_u) / (DAMPING + n_i)
SWEEPS = 10  # alternating passes of the damped means


def damped_biases(users, items, ratings, n_users: int, n_items: int, damping: float = DAMPING):
    """(mu, b_u [n_users], b_i [n_items]): Koren's baseline predictor, alternating damped means."""
    mu = ratings.mean()
    b_u, b_i = ratings.new_zeros(n_users), ratings.new_zeros(n_items)
    n_u = torch.bincount(users, minlength=n_users).to(ratings.dtype)
    n_i = torch.bincount(items, minlength=n_items).to(ratings.dtype)
    for _ in range(SWEEPS):
        b_i = ratings.new_zeros(n_items).index_add_(0, items, ratings - mu - b_u[users]) / (damping + n_i)
        b_u = ratings.new_zeros(n_users).index_add_(0, users, ratings - mu - b_i[items]) / (damping + n_u)
    return mu, b_u, b_i


class AutoRecNet(nn.Module):
    """I-AutoRec on bias residuals: score(u, i) = mu + b_u + b_i + decoder(sigmoid(encoder(R[i])))[u]."""

    def __init__(self, arch: dict, n_users: int, n_items: int, global_mean: float = 0.0) -> None:
        super().__init__()
        self.model = "autorec"
        self.n_users, self.n_items = int(n_users), int(n_items)
        hidden = int(arch["hidden"])
        self.l2 = float(arch.get("l2", 0.0) or 0.0)
        self.register_buffer("residuals", torch.zeros(self.n_items, self.n_users))
        self.register_buffer("user_bias", torch.zeros(self.n_users))
        self.register_buffer("item_bias", torch.zeros(self.n_items))
        self.register_buffer("mean", torch.tensor(float(global_mean)))
        self.encoder = nn.Linear(self.n_users, hidden)
        self.decoder = nn.Linear(hidden, self.n_users)
        nn.init.zeros_(self.decoder.bias)  # the decoder starts near the bias baseline

    @torch.no_grad()
    def observe(self, x, y) -> None:
        """Fill the buffers from the training pairs x [N, 2] (indices) and their ratings y [N]."""
        users, items, ratings = x[:, 0].long(), x[:, 1].long(), y.to(self.residuals.dtype)
        keep = (users >= 0) & (users < self.n_users) & (items >= 0) & (items < self.n_items)
        users, items, ratings = users[keep], items[keep], ratings[keep]
        if ratings.numel() == 0:
            return
        mu, b_u, b_i = damped_biases(users, items, ratings, self.n_users, self.n_items)
        self.mean.fill_(mu)
        self.user_bias.copy_(b_u)
        self.item_bias.copy_(b_i)
        self.residuals.zero_()
        self.residuals[items, users] = ratings - mu - b_u[users] - b_i[items]

    def forward(self, user, item=None):
        if item is None:  # the packed training tensor [N, 2] of (user, item) indices, as fit calls model(x)
            user, item = user[:, 0], user[:, 1]
        known_user = (user >= 0) & (user < self.n_users)
        known_item = (item >= 0) & (item < self.n_items)
        u, i = user.clamp(0, self.n_users - 1), item.clamp(0, self.n_items - 1)
        enc_w, dec_w = self.encoder.weight, self.decoder.weight
        if self.l2 > 0.0 and self.training:  # the L2 penalty of both weight matrices, added to their gradients
            enc_w, dec_w = _RowL2.apply(enc_w, 2.0 * self.l2), _RowL2.apply(dec_w, 2.0 * self.l2)
        if self.training:  # each distinct item of the batch encoded once (a big batch repeats items a lot)
            items, at = torch.unique(i, return_inverse=True)
            hidden = torch.sigmoid(F.linear(self.residuals[items], enc_w, self.encoder.bias))[at]
        else:
            hidden = torch.sigmoid(F.linear(self.residuals[i], enc_w, self.encoder.bias))
        residual = (dec_w[u] * hidden).sum(-1) + self.decoder.bias[u]
        known = (known_user & known_item).to(residual.dtype)
        base = self.mean + self.user_bias[u] * known_user.to(residual.dtype) \
            + self.item_bias[i] * known_item.to(residual.dtype)
        return base + residual * known
