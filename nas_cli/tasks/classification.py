"""Classification: cross-entropy on logits, argmax predictions, accuracy and macro precision/recall/F1
(scikit-learn), one float input `[batch, *input_shape]`, FGSM and Gaussian-noise robustness."""

from __future__ import annotations

from nas_cli.tasks import Signature, Task, TensorSpec
from nas_cli.tasks.inputs import input_specs
from nas_cli.tasks.metrics import classification_scores


class ClassificationTask(Task):
    name = "classification"
    metrics = {"accuracy": "maximize", "f1": "maximize", "precision": "maximize", "recall": "maximize",
               "balanced_accuracy": "maximize", "auc": "maximize", "loss": "minimize"}
    epoch_metrics = ("loss", "accuracy")
    score = "accuracy"
    default_objective = "accuracy:max"
    ensemble_combine = "softmax"  # finetune.ensemble: how members' outputs are averaged (spaces/ensemble.py)
    class_weights = None  # train.class_weights=balanced: a tensor [classes] on the data's device

    def with_class_weights(self, weights) -> ClassificationTask:
        import copy

        bound = copy.copy(self)
        bound.class_weights = weights
        return bound

    def loss(self, outputs, targets, label_smoothing: float = 0.0, **_):
        import torch.nn.functional as F

        return F.cross_entropy(outputs, targets, weight=self.class_weights, label_smoothing=label_smoothing)

    def predict(self, outputs):
        return outputs.argmax(1)

    def evaluate(self, outputs, targets, full: bool = False) -> dict:
        """Loss and accuracy; with `full`, also macro precision, recall and F1 (scikit-learn)."""
        import torch.nn.functional as F

        pred = self.predict(outputs)  # the loss unweighted (train.class_weights weights training only)
        out = {"loss": float(F.cross_entropy(outputs, targets)), "accuracy": float((pred == targets).float().mean())}
        if full:
            out.update(classification_scores(targets.cpu().numpy(), outputs.float().cpu().numpy()))
        return out

    def evaluate_numpy(self, outputs, targets, full: bool = False) -> dict:
        """The score of logits from another runtime (ONNX Runtime, numpy); with `full`, the loss and
        macro precision/recall/F1 too (what `nas evaluate` reports)."""
        import numpy as np

        logits, truth = np.asarray(outputs, dtype=np.float64), np.asarray(targets)
        pred = logits.argmax(1)
        out = {"accuracy": float((pred == truth).mean())}
        if full:
            z = logits - logits.max(axis=1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            out["loss"] = float(-log_p[np.arange(len(truth)), truth].mean())
            out.update(classification_scores(truth, logits))
        return out

    def per_class(self, outputs, targets, classes: list[str]) -> list[dict]:
        """Count and recall per true class (which classes a shift hurts)."""
        import numpy as np

        pred, truth = np.asarray(outputs).argmax(1), np.asarray(targets)
        rows = []
        for k, name in enumerate(classes):
            mask = truth == k
            if mask.any():
                rows.append({"class": name, "count": int(mask.sum()), "recall": float((pred[mask] == k).mean())})
        return rows

    def signature(self, spec) -> Signature:
        return Signature(inputs=input_specs(spec),
                         outputs=(TensorSpec("logits", "float32", ("batch", spec.num_classes)),))

    def robustness(self, model, x, y, *, noise_std: float, fgsm_epsilon: float, seed: int = 0,
                   batch_size: int = 512, max_samples: int | None = None, spec=None, **extra) -> dict:
        if spec is not None and getattr(spec, "text", None) is not None:
            from nas_cli.tasks.text_robustness import deletion_and_typo_scores

            return deletion_and_typo_scores(self, model, x, y, spec, seed=seed, batch_size=batch_size,
                                            max_samples=max_samples, texts=extra.get("texts"),
                                            encode=extra.get("encode"))
        if spec is not None and spec.table is not None:
            from nas_cli.tasks.table_robustness import noise_and_flip_scores

            return noise_and_flip_scores(self, model, x, y, spec, noise_std=noise_std, seed=seed,
                                         batch_size=batch_size, max_samples=max_samples)
        from nas_cli.tasks.classification_robustness import noise_and_fgsm_accuracy

        return noise_and_fgsm_accuracy(self, model, x, y, noise_std=noise_std, fgsm_epsilon=fgsm_epsilon,
                                       seed=seed, batch_size=batch_size, max_samples=max_samples)

    def baseline(self, data) -> dict:
        """Multinomial logistic regression on the flattened inputs (scikit-learn), scored on the test split."""
        from sklearn.linear_model import LogisticRegression

        x = data.train_x.reshape(len(data.train_x), -1).cpu().numpy()
        model = LogisticRegression(max_iter=2000).fit(x, data.train_y.cpu().numpy())
        pred = model.predict(data.test_x.reshape(len(data.test_x), -1).cpu().numpy())
        truth = data.test_y.cpu().numpy()
        logits = model.predict_log_proba(data.test_x.reshape(len(data.test_x), -1).cpu().numpy())
        return {"model": "logistic_regression", "accuracy": float((pred == truth).mean()),
                **classification_scores(truth, logits)}

    def warm_up(self) -> None:
        import numpy as np

        classification_scores(np.array([0, 1, 2]), np.eye(3))
