"""Regression: one output in the target's own units (the network ends in the training split's
de-standardisation), trained on standardised residuals with MSE or Huber (searched), scored by RMSE,
MAE and R2 (scikit-learn)."""

from __future__ import annotations

import copy

from nas_cli.tasks import Signature, Task, TensorSpec
from nas_cli.tasks.inputs import input_specs
from nas_cli.tasks.metrics import regression_scores


class RegressionTask(Task):
    name = "regression"
    metrics = {"rmse": "minimize", "mae": "minimize", "r2": "maximize", "loss": "minimize"}
    epoch_metrics = ("loss", "rmse")
    score = "rmse"
    default_objective = "rmse:min"
    ensemble_combine = "mean"  # finetune.ensemble: how members' outputs are averaged (spaces/ensemble.py)
    losses = ("mse", "huber")
    target_std = 1.0  # of the training split: residuals are divided by it, so the loss is unit-free

    def bind(self, spec) -> RegressionTask:
        bound = copy.copy(self)
        if getattr(spec, "target_scale", None):
            bound.target_std = float(spec.target_scale[1]) or 1.0
        return bound

    def loss(self, outputs, targets, loss: str = "mse", **_):
        import torch.nn.functional as F

        residual = (self.predict(outputs) - targets.to(outputs.dtype)) / self.target_std
        if loss == "huber":
            return F.huber_loss(residual, residual.new_zeros(()).expand_as(residual), delta=1.0)
        return residual.square().mean()

    def predict(self, outputs):
        return outputs.reshape(outputs.shape[0], -1)[:, 0]

    def evaluate(self, outputs, targets, full: bool = False) -> dict:
        import torch

        pred = self.predict(outputs).float()
        err = pred - targets.float()
        out = {"loss": float(((err / self.target_std) ** 2).mean()), "rmse": float(torch.sqrt((err ** 2).mean()))}
        if full:
            out.update(regression_scores(targets.cpu().numpy(), pred.cpu().numpy()))
        return out

    def evaluate_numpy(self, outputs, targets, full: bool = False) -> dict:
        import numpy as np

        pred = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)[:, 0]
        scores = regression_scores(targets, pred)
        if not full:
            return {"rmse": scores["rmse"]}
        return {**scores, "loss": float((((pred - np.asarray(targets)) / self.target_std) ** 2).mean())}

    def signature(self, spec) -> Signature:
        return Signature(inputs=input_specs(spec), outputs=(TensorSpec("prediction", "float32", ("batch", 1)),))

    def robustness(self, model, x, y, *, noise_std: float, fgsm_epsilon: float, seed: int = 0,
                   batch_size: int = 512, max_samples: int | None = None, spec=None, **_) -> dict | None:
        if spec is None or spec.table is None:
            return None
        from nas_cli.tasks.table_robustness import noise_and_flip_scores

        return noise_and_flip_scores(self, model, x, y, spec, noise_std=noise_std, seed=seed,
                                     batch_size=batch_size, max_samples=max_samples)

    def baseline(self, data) -> dict:
        """Ridge regression on the model's inputs, scored on the test split."""
        from sklearn.linear_model import RidgeCV

        x = data.train_x.reshape(len(data.train_x), -1).cpu().numpy()
        model = RidgeCV(alphas=(0.1, 1.0, 10.0, 100.0)).fit(x, data.train_y.cpu().numpy())
        pred = model.predict(data.test_x.reshape(len(data.test_x), -1).cpu().numpy())
        return {"model": "ridge_regression", **regression_scores(data.test_y.cpu().numpy(), pred)}

    def warm_up(self) -> None:
        regression_scores([0.0, 1.0], [0.0, 1.0])
