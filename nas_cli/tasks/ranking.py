"""Implicit feedback (`dataset=ratings dataset.feedback=implicit`): ranking items for a user.

Training: each batch holds B positive pairs followed by k sampled negatives per positive (the data's
`augment`, data/ratings_sampler.py; k = `train.negatives`, searched in `train.search.negatives`); the
loss is NCF's pointwise log loss (`bce`) or the pairwise BPR loss (`bpr`, Rendle et al. 2009),
searched in `train.search.loss`. Evaluation rows hold one held-out positive and its candidates (label
1, 0, or -1 for a masked already-known item); HR@K and NDCG@K for every K of `dataset.ks` (10 always)
come from the rank of the positive among the negatives (ties pessimistic: tasks/ranking_metrics.py).
"""

from __future__ import annotations

import copy

from nas_cli.tasks import Task
from nas_cli.tasks.rating import PairInputs

LOSSES = ("bce", "bpr")
NEGATIVES = (1, 2, 4, 8)  # negatives per positive the search chooses from by default


def _metrics(ks) -> dict[str, str]:
    out = {}
    for k in sorted({10, *(int(k) for k in ks)}):
        out[f"ndcg@{k}"] = "maximize"
        out[f"hr@{k}"] = "maximize"
    return {**out, "loss": "minimize"}


class RankingTask(PairInputs, Task):
    name = "ranking"
    score = "ndcg@10"
    default_objective = "ndcg@10:max"
    losses = LOSSES
    negatives = NEGATIVES

    def __init__(self, ks=(10,)) -> None:
        self.ks = tuple(sorted({10, *(int(k) for k in ks)}))
        self.metrics = _metrics(self.ks)
        self.epoch_metrics = tuple(self.metrics)

    def configure(self, dataset: dict) -> RankingTask:
        """This task for a run's dataset options (`dataset.ks`), before any data is loaded."""
        ks = dataset.get("ks") or (10,)
        return RankingTask([ks] if isinstance(ks, int) else ks)

    def bind(self, spec) -> RankingTask:
        ratings = getattr(spec, "ratings", None) or {}
        return RankingTask(ratings.get("ks") or self.ks) if ratings else copy.copy(self)

    def loss(self, outputs, targets, loss: str = "bce", **_):
        import torch.nn.functional as F

        outputs = outputs.reshape(-1)
        b = targets.shape[0]
        positives, negatives = outputs[:b], outputs[b:]
        if loss == "bpr" and negatives.numel():
            k = negatives.numel() // b
            return -F.logsigmoid(positives.repeat(k) - negatives).mean()
        labels = outputs.new_zeros(outputs.shape)
        labels[:b] = 1.0
        return F.binary_cross_entropy_with_logits(outputs, labels)

    def training_rows(self, x, y):
        """The positives of evaluation rows, as training examples (refit on train + validation)."""
        keep = y == 1
        return x[keep], y[keep]

    def predict(self, outputs):
        return outputs.reshape(-1)

    def evaluate(self, outputs, targets, full: bool = False) -> dict:
        """Metrics of evaluation rows: `outputs` and `targets` [R * W] flattened (labels 1 / 0 / -1)."""
        import torch
        import torch.nn.functional as F

        from nas_cli.tasks.ranking_metrics import metrics_from_ranks

        scores, labels = outputs.reshape(-1).float(), targets.reshape(-1).to(outputs.device)
        rows = int((labels == 1).sum())
        if rows == 0 or labels.numel() % rows:
            raise ValueError(f"ranking evaluation needs rows of equal width with one positive each; got {rows} "
                             f"positives among {labels.numel()} candidates")
        scores, labels = scores.reshape(rows, -1), labels.reshape(rows, -1)
        scores = torch.nan_to_num(scores, nan=float("-inf"))
        positive = scores[labels == 1].unsqueeze(1)
        negative = labels == 0
        above = ((scores > positive) & negative).sum(1).cpu().numpy()
        tied = ((scores == positive) & negative).sum(1).cpu().numpy()
        known = labels >= 0
        loss = F.binary_cross_entropy_with_logits(scores[known].clamp(-80, 80), labels[known])
        return {**metrics_from_ranks(above, tied, self.ks), "loss": float(loss)}

    def evaluate_numpy(self, outputs, targets, full: bool = False) -> dict:
        import torch

        return self.evaluate(torch.as_tensor(outputs, dtype=torch.float32), torch.as_tensor(targets), full)

    def baseline(self, data) -> dict:
        """Item popularity (training interactions per item), scored on the test rows."""
        import torch

        counts = torch.bincount(data.train_x[:, 1], minlength=int(data.spec.ratings["n_items"])).float()
        return {"model": "item_popularity", **self.evaluate(counts[data.test_x[:, 1]], data.test_y)}

    def warm_up(self) -> None:
        from nas_cli.tasks.ranking_metrics import metrics_from_ranks

        metrics_from_ranks([0], [0], (10,))
