"""Multi-label classification (ChestMNIST: 14 findings per image, any number present): one logit per
label, binary cross-entropy on sigmoid outputs, macro ROC AUC (the score), accuracy at a 0.5 threshold
averaged over labels (MedMNIST's ACC), macro balanced accuracy, precision, recall and F1 (scikit-learn).

Targets are float32 `[N, L]` of 0/1. `train.class_weights=balanced` sets BCE's `pos_weight` to
negatives / positives per label of the training split (tasks/class_weights.py).
"""

from __future__ import annotations

import copy

from nas_cli.tasks import Signature, Task, TensorSpec
from nas_cli.tasks.inputs import input_specs
from nas_cli.tasks.multilabel_metrics import multilabel_scores


class MultiLabelTask(Task):
    name = "multilabel"
    metrics = {"auc": "maximize", "accuracy": "maximize", "balanced_accuracy": "maximize", "f1": "maximize",
               "precision": "maximize", "recall": "maximize", "exact_match": "maximize", "loss": "minimize"}
    epoch_metrics = ("loss", "accuracy", "auc")
    score = "auc"
    default_objective = "auc:max"
    ensemble_combine = "sigmoid"  # finetune.ensemble: how members' outputs are averaged (spaces/ensemble.py)
    pos_weight = None  # tensor [L] on the data's device, or None (unweighted)

    def with_class_weights(self, weights) -> MultiLabelTask:
        bound = copy.copy(self)
        bound.pos_weight = weights
        return bound

    def loss(self, outputs, targets, **_):
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(outputs, targets.to(outputs.dtype), pos_weight=self.pos_weight)

    def predict(self, outputs):
        return (outputs > 0).long()

    def evaluate(self, outputs, targets, full: bool = False) -> dict:
        import torch.nn.functional as F

        # The loss unweighted (train.class_weights weights training only), as evaluate_numpy computes it.
        out = {"loss": float(F.binary_cross_entropy_with_logits(outputs.float(), targets.float()))}
        if full:
            out.update(multilabel_scores(targets.cpu().numpy(), outputs.float().cpu().numpy()))
            return out
        out["accuracy"] = float((self.predict(outputs) == targets.long()).float().mean())
        out["auc"] = multilabel_scores(targets.cpu().numpy(), outputs.float().cpu().numpy())["auc"]
        return out

    def evaluate_numpy(self, outputs, targets, full: bool = False) -> dict:
        import numpy as np

        z, y = np.asarray(outputs, dtype=np.float64), np.asarray(targets, dtype=np.float64)
        scores = multilabel_scores(y, z)
        if not full:
            return {"auc": scores["auc"], "accuracy": scores["accuracy"]}
        # BCE with logits, stable form: max(z, 0) - z*y + log(1 + exp(-|z|))
        scores["loss"] = float((np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean())
        return scores

    def per_class(self, outputs, targets, classes: list[str]) -> list[dict]:
        """Per label: positives, AUC and recall at 0.5 (which findings a shift hurts)."""
        import numpy as np
        from sklearn.metrics import roc_auc_score

        z, y = np.asarray(outputs, dtype=np.float64), np.asarray(targets).astype(np.int64)
        rows = []
        for k, name in enumerate(classes):
            pos = y[:, k] == 1
            auc = float(roc_auc_score(y[:, k], z[:, k])) if 0 < pos.sum() < len(y) else float("nan")
            recall = float((z[pos, k] > 0).mean()) if pos.any() else float("nan")
            rows.append({"class": name, "count": int(pos.sum()), "auc": auc, "recall": recall})
        return rows

    def signature(self, spec) -> Signature:
        return Signature(inputs=input_specs(spec),
                         outputs=(TensorSpec("logits", "float32", ("batch", spec.num_classes)),))

    def robustness(self, model, x, y, *, noise_std: float, fgsm_epsilon: float, seed: int = 0,
                   batch_size: int = 512, max_samples: int | None = None, spec=None, **_) -> dict:
        from nas_cli.tasks.multilabel_robustness import noise_and_fgsm_auc

        return noise_and_fgsm_auc(self, model, x, y, noise_std=noise_std, fgsm_epsilon=fgsm_epsilon, seed=seed,
                                  batch_size=batch_size, max_samples=max_samples)

    def baseline(self, data) -> dict:
        """One logistic regression per label on the flattened inputs (scikit-learn), scored on the test split."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.multioutput import MultiOutputClassifier

        x = data.train_x.reshape(len(data.train_x), -1).cpu().numpy()
        y = data.train_y.cpu().numpy().astype(int)
        model = MultiOutputClassifier(LogisticRegression(max_iter=1000)).fit(x, y)
        test_x = data.test_x.reshape(len(data.test_x), -1).cpu().numpy()
        scores = model.decision_function(test_x) if hasattr(model, "decision_function") else None
        if scores is None:
            import numpy as np

            prob = np.stack([p[:, 1] for p in model.predict_proba(test_x)], axis=1).clip(1e-7, 1 - 1e-7)
            scores = np.log(prob / (1 - prob))
        return {"model": "logistic_regression_per_label", **multilabel_scores(data.test_y.cpu().numpy(), scores)}

    def warm_up(self) -> None:
        import numpy as np

        multilabel_scores(np.array([[0, 1], [1, 0]]), np.array([[-1.0, 1.0], [1.0, -1.0]]))
