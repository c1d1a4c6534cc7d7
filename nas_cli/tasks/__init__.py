"""What a kind of task is: its loss, how predictions come from model outputs, its metrics, its default
objective and the objectives it allows, its export signature, its robustness measure and its baseline.

A dataset's `DataSpec.task` names the task; every stage asks `get_task(name)` instead of assuming
classification. One module per task, registered by name like the spaces and datasets.

May import: the ground layer only (torch and scikit-learn lazily, inside methods).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from nas_cli.errors import ConfigError

# name -> "module:Class"; modules are imported only when that task is used.
TASKS: dict[str, str] = {
    "classification": "nas_cli.tasks.classification:ClassificationTask",
    "regression": "nas_cli.tasks.regression:RegressionTask",
    "rating": "nas_cli.tasks.rating:RatingTask",
    "ranking": "nas_cli.tasks.ranking:RankingTask",
    "multilabel": "nas_cli.tasks.multilabel:MultiLabelTask",
}
DEFAULT_TASK = "classification"
# Cost metrics every task can search on or limit (measured on the built network, never trained).
COST_METRICS = {"params": "minimize", "flops": "minimize", "latency_ms": "minimize", "memory_mb": "minimize"}


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output as exported: name, dtype and shape (`"batch"` marks the dynamic axis)."""

    name: str
    dtype: str
    shape: tuple


@dataclass(frozen=True)
class Signature:
    """The exported model's inputs and outputs, in order."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...] = field(default=())

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def dynamic_axes(self) -> dict:
        """ONNX `dynamic_axes`: every axis named "batch" in any input or output."""
        return {t.name: {i: d for i, d in enumerate(t.shape) if isinstance(d, str)}
                for t in (*self.inputs, *self.outputs)}


class Task:
    """Base class. A subclass sets the class attributes and implements the methods."""

    name = ""
    metrics: dict[str, str] = {}  # metric -> natural direction ("maximize"/"minimize"), all computed per trial
    epoch_metrics: tuple[str, ...] = ("loss",)  # computed after every epoch (cheap), recorded as val_<name>
    score: str = "loss"  # what fine-tune picks by and gates/report lead with
    default_objective = "loss:min"
    losses: tuple[str, ...] = ()  # training losses to search (train.search.loss), when the task has a choice
    ensemble_combine: str | None = None  # finetune.ensemble: softmax|sigmoid|mean (spaces/ensemble.py); None: not offered

    def objectives(self) -> dict[str, str]:
        """Every metric a user may search on: the task's metrics and the cost metrics."""
        return {**self.metrics, **COST_METRICS}

    def better(self, a: float, b: float) -> bool:
        """Whether score value `a` beats `b`."""
        return a > b if self.metrics[self.score] == "maximize" else a < b

    def pruning_metric(self, objective: str) -> str:
        """The per-epoch record key the pruner watches when searching on `objective`: the objective
        itself when it is one of the task's metrics (see `epoch_full`), else the task's score."""
        return f"val_{objective}" if objective in self.metrics else f"val_{self.score}"

    def epoch_full(self, objective: str) -> bool:
        """Whether each epoch's validation must compute every metric (`evaluate(full=True)`) for the
        pruner to watch `objective` (e.g. AUC or F1 for classification, not in `epoch_metrics`)."""
        return objective in self.metrics and objective not in self.epoch_metrics

    def loss(self, outputs, targets, **options):
        raise NotImplementedError

    def predict(self, outputs):
        raise NotImplementedError

    def evaluate(self, outputs, targets, full: bool = False) -> dict:
        raise NotImplementedError

    def evaluate_numpy(self, outputs, targets, full: bool = False) -> dict:
        raise NotImplementedError

    def per_class(self, outputs, targets, classes: list[str]) -> list[dict]:
        """Per-class rows for reports; none by default."""
        return []

    def signature(self, spec) -> Signature:
        raise NotImplementedError

    def example_inputs(self, spec, batch_size: int = 1, random: bool = False) -> tuple:
        """Inputs of `batch_size` examples (CPU tensors): zeros, or random ones from torch's generator."""
        from nas_cli.tasks.inputs import example_inputs

        return example_inputs(spec, batch_size, random)

    def export_inputs(self, spec, x) -> tuple:
        """The stored (packed) model input -> the exported model's inputs, in signature order."""
        from nas_cli.tasks.inputs import split_inputs

        return split_inputs(spec, x)

    def bind(self, spec) -> Task:
        """This task for one dataset (a task that needs the data's statistics, e.g. the target scale of a
        regression, returns a configured copy); the task as is by default."""
        return self

    def robustness(self, model, x, y, **options) -> dict | None:
        """A robustness measure, or None when none applies to this task."""
        return None

    def baseline(self, data) -> dict:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Pay one-time import costs of the metrics (before trials are timed or workers forked)."""


def get_task(name: str | None) -> Task:
    """The task `name` (None: classification, what runs made before tasks existed used)."""
    name = name or DEFAULT_TASK
    if name not in TASKS:
        raise ConfigError(f"task {name!r} is not a known task; allowed: {', '.join(sorted(TASKS))}")
    module_name, cls_name = TASKS[name].split(":")
    return getattr(importlib.import_module(module_name), cls_name)()


def task_for(spec) -> Task:
    """The task of a dataset, bound to it (`Task.bind`)."""
    return get_task(spec.task).bind(spec)


def task_of(settings: dict) -> Task:
    """The task of a run's config (`dataset.task`; classification when absent)."""
    dataset = (settings or {}).get("dataset") or {}
    task = get_task(dataset.get("task"))
    configure = getattr(task, "configure", None)  # a task whose metrics depend on dataset options (ranking: ks)
    return configure(dict(dataset)) if configure is not None else task


def register_task(name: str, target: str) -> None:
    """Register a task given as "module:Class" (raises on a duplicate name)."""
    if name in TASKS:
        raise ValueError(f"task {name!r} is already registered")
    TASKS[name] = target
