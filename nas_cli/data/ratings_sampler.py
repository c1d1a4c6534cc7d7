"""Implicit feedback on tensors: negatives drawn per training batch, and the evaluation candidate rows.

`NegativeSampler` is `Data.augment`: `fit` binds it to the trial's hyperparameters (`bind(hp)`: k =
`hp.negatives` per positive) and calls it on every batch of positive (user, item) pairs with its seeded
generator. It appends k negatives per positive, drawn uniformly over the items with one vectorised
resample of the draws that hit a training positive (a `searchsorted` over the sorted pair keys): no
per-example Python, a handful of tensor ops per batch. The batch becomes `[B * (1 + k), 2]`, the B
positives first, which is the layout the ranking task's loss reads.
"""

from __future__ import annotations

DEFAULT_NEGATIVES = 4  # NCF's training ratio, when the trial's hyperparameters do not set one


class NegativeSampler:
    """Appends k sampled negatives per positive to a batch of (user, item) pairs."""

    def __init__(self, keys, n_items: int, k: int = DEFAULT_NEGATIVES) -> None:
        self.keys = keys  # sorted int64 tensor of user * n_items + item over the training positives
        self.n_items = int(n_items)
        self.k = int(k)

    def bind(self, hp) -> NegativeSampler:
        """This sampler with the trial's negatives per positive (`hp.negatives`; 0 or absent: the default)."""
        return NegativeSampler(self.keys, self.n_items, int(getattr(hp, "negatives", 0) or DEFAULT_NEGATIVES))

    def __call__(self, xb, generator):
        import torch

        if self.keys.device != xb.device:  # the data moved to an accelerator after loading: follow it once
            self.keys = self.keys.to(xb.device)
        users = xb[:, 0].repeat(self.k)
        items = torch.randint(self.n_items, users.shape, generator=generator, device=xb.device)
        hit = self._seen(users, items)
        items = torch.where(hit, torch.randint(self.n_items, users.shape, generator=generator, device=xb.device), items)
        return torch.cat([xb, torch.stack([users, items], dim=1)])

    def _seen(self, users, items):
        import torch

        wanted = users * self.n_items + items
        at = torch.searchsorted(self.keys, wanted).clamp_(max=self.keys.numel() - 1)
        return self.keys[at] == wanted


def candidate_rows(keys, n_items: int, users, items, negatives, seed: int):
    """Evaluation rows flattened: (x [R * W, 2] int64, y [R * W] float32) for held-out pairs (users[r], items[r]).

    negatives an int n: W = 1 + n, the positive first, then n seeded items the user never interacted
    with (`keys`: every known pair of the log); labels 1, then 0. negatives "all": W = n_items, every
    item in index order, label 1 at the positive, -1 at the user's other known items, 0 elsewhere.
    """
    import numpy as np

    from nas_cli.data.ratings_negatives import mask_seen, sample_eval_negatives

    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    rows = len(users)
    if negatives == "all":
        cand = np.broadcast_to(np.arange(n_items, dtype=np.int64), (rows, n_items))
        labels = np.zeros((rows, n_items), dtype=np.float32)
        mask_seen(labels, keys, n_items, users, keep=items, fill=-1.0)
        labels[np.arange(rows), items] = 1.0
    else:
        cand = np.concatenate([items[:, None], sample_eval_negatives(keys, n_items, users, int(negatives), seed)], 1)
        labels = np.zeros(cand.shape, dtype=np.float32)
        labels[:, 0] = 1.0
    pairs = np.stack([np.broadcast_to(users[:, None], cand.shape), cand], axis=2).reshape(-1, 2)
    return np.ascontiguousarray(pairs), labels.reshape(-1)
