"""The checks `fit` makes inside an epoch: progress, a Ctrl-C (through the on_batch hook) and
`train.trial_timeout`, at most every CHECK_SECONDS.

Between batches a clock read per batch decides (nothing measurable per batch). A network whose one
batch takes longer than that (estimated before training) also gets checks between its layers:
forward pre-hooks on every leaf module and, in the backward pass, hooks on their outputs' gradients;
a check raises from inside the batch, so a Ctrl-C lands within one layer's time rather than one
batch's. A single operation (one convolution's backward) still runs to its end: Python cannot
interrupt a running C++ kernel. The validation pass after each batch loop is always checked between
layers (its chunks of thousands of inputs can take seconds), at the cost of a clock read per layer
per chunk.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from nas_cli.errors import TrialStopped

CHECK_SECONDS = 0.5


class Checker:
    def __init__(self, on_batch, deadline, batches: int) -> None:
        self.on_batch, self.deadline, self.batches = on_batch, deadline, batches
        self.active = on_batch is not None or deadline is not None
        self.next = time.monotonic() + CHECK_SECONDS
        self.epoch, self.done, self.start = 0, 0, time.perf_counter()
        self.validating = False  # after the epoch's batches, on the validation split

    def start_epoch(self, epoch: int) -> None:
        self.epoch, self.done, self.start = epoch, 0, time.perf_counter()

    def due(self) -> bool:
        return time.monotonic() >= self.next

    def check(self, inside: bool = False) -> None:
        """Raise TrialStopped past the deadline, then call on_batch (which may raise on a Ctrl-C)."""
        self.next = time.monotonic() + CHECK_SECONDS
        at = self.done + 1 if inside and not self.validating else self.done  # inside a batch: the one running
        if self.deadline is not None and time.monotonic() > self.deadline:
            where = " (validation)" if self.validating else ""
            raise TrialStopped(f"trial exceeded train.trial_timeout in epoch {self.epoch} at batch {at}/{self.batches}{where}",
                               {"epoch": self.epoch, "batch": at, "batches": self.batches})
        if self.on_batch is not None:
            self.on_batch(self.epoch, at, self.batches, time.perf_counter() - self.start)

    def _maybe(self) -> None:
        if time.monotonic() >= self.next:
            self.check(inside=True)

    @contextmanager
    def inside_layers(self, model, enabled: bool):
        """Checks between the layers of `model` while training (only when `enabled` and active)."""
        if not (enabled and self.active):
            yield
            return
        handles = []

        def before(module, args):
            self._maybe()

        def after(module, args, output):
            if module.training and hasattr(output, "register_hook") and output.requires_grad:
                output.register_hook(lambda grad: self._maybe())

        for module in model.modules():
            if not any(True for _ in module.children()):  # leaves: the layers that compute
                handles.append(module.register_forward_pre_hook(before))
                handles.append(module.register_forward_hook(after))
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    @contextmanager
    def validation(self, model):
        """The epoch's validation pass, checked between the layers (forward pre-hooks) when the checks are
        on: a large network's validation runs in chunks of thousands of inputs, seconds each. A stop
        there is recorded at the epoch's last batch (`batch` == `batches`)."""
        self.validating = True
        try:
            with self.inside_layers(model, True):
                yield
        finally:
            self.validating = False
