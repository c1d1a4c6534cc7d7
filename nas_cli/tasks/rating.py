"""Explicit ratings (`dataset=ratings dataset.feedback=explicit`): a regression on (user, item) pairs,
trained with MSE on the raw prediction, scored by RMSE and MAE with predictions clipped to the training
split's rating range (what a user of the ratings would see).

The model takes `user` and `item` int64 `[N]` (raw ids mapped to indices by the export's id maps; -1
for an unknown id) and returns `score` float32 `[N]`; both feedback kinds share this signature."""

from __future__ import annotations

import copy

from nas_cli.tasks import Signature, Task, TensorSpec


class PairInputs:
    """The (user, item) index-pair signature shared by the rating and ranking tasks."""

    def signature(self, spec) -> Signature:
        return Signature(inputs=(TensorSpec("user", "int64", ("batch",)), TensorSpec("item", "int64", ("batch",))),
                         outputs=(TensorSpec("score", "float32", ("batch",)),))

    def example_inputs(self, spec, batch_size: int = 1, random: bool = False) -> tuple:
        import torch

        ratings = spec.ratings or {}
        shape = (int(batch_size),)
        if not random:
            return (torch.zeros(shape, dtype=torch.long), torch.zeros(shape, dtype=torch.long))
        return (torch.randint(max(1, int(ratings.get("n_users", 1))), shape),
                torch.randint(max(1, int(ratings.get("n_items", 1))), shape))

    def export_inputs(self, spec, x) -> tuple:
        return (x[:, 0].contiguous(), x[:, 1].contiguous())


class RatingTask(PairInputs, Task):
    name = "rating"
    metrics = {"rmse": "minimize", "mae": "minimize", "loss": "minimize"}
    epoch_metrics = ("loss", "rmse", "mae")
    score = "rmse"
    default_objective = "rmse:min"
    ensemble_combine = "mean"  # finetune.ensemble: how members' outputs are averaged (spaces/ensemble.py)
    rating_range: tuple[float, float] | None = None

    def bind(self, spec) -> RatingTask:
        bound = copy.copy(self)
        ratings = getattr(spec, "ratings", None) or {}
        if ratings.get("rating_range"):
            bound.rating_range = tuple(float(v) for v in ratings["rating_range"])
        return bound

    def loss(self, outputs, targets, **_):
        return (outputs.reshape(-1) - targets.to(outputs.dtype)).square().mean()

    def predict(self, outputs):
        outputs = outputs.reshape(-1)
        return outputs if self.rating_range is None else outputs.clamp(*self.rating_range)

    def evaluate(self, outputs, targets, full: bool = False) -> dict:
        return self.evaluate_numpy(outputs.float().cpu().numpy(), targets.float().cpu().numpy(), full)

    def evaluate_numpy(self, outputs, targets, full: bool = False) -> dict:
        import numpy as np

        from nas_cli.tasks.ranking_metrics import rating_errors

        outputs = np.asarray(outputs, dtype=np.float64).reshape(-1)
        targets = np.asarray(targets, dtype=np.float64).reshape(-1)
        return {"loss": float(np.mean((outputs - targets) ** 2)), **rating_errors(outputs, targets, self.rating_range)}

    def baseline(self, data) -> dict:
        """The training split's global mean, scored on the test split."""
        import numpy as np

        from nas_cli.tasks.ranking_metrics import rating_errors

        mean = float(data.train_y.float().mean())
        test = data.test_y.float().cpu().numpy()
        return {"model": "global_mean", **rating_errors(np.full(len(test), mean), test, self.rating_range)}

    def warm_up(self) -> None:
        from nas_cli.tasks.ranking_metrics import rating_errors

        rating_errors([1.0, 2.0], [1.0, 2.0])
