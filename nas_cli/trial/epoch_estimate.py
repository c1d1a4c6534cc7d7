"""How long one epoch of a trial will take, estimated before training from its FLOPs.

An epoch is modelled as `a * batches + b * flops`: a fixed cost per batch (Python, kernel launches,
the optimizer step) plus a cost per FLOP of the forward and backward passes over the training split
(3x the forward FLOPs per sample) and the forward pass over the validation split. Before any trial
has trained, (a, b) come from a probe timed once per process at setup (`probe_machine`: a tiny
network's training step for `a`, a training step of a convolution or matrix product of typical size
for `b`). Each trial that trains adds what it measured, and the estimate is calibrated per run: one
measurement scales the probe; from three on, (a, b) are fitted by non-negative least squares on
relative errors, so a small network's 0.1 s epoch counts as much as a large one's 10 minutes.
Only trials measured on this host count (a shared study's other machines run at other speeds).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

VAL_BATCH = 2048  # trial.fit.predict's batch size


def epoch_work(flops: float, n_train: int, n_val: int, batch_size: int, max_batches: int | None = None) -> dict:
    """What one epoch does: batches (training steps + validation batches) and FLOPs."""
    bs = max(1, min(int(batch_size), max(1, n_train)))
    steps = math.ceil(n_train / bs)
    if max_batches:
        steps = min(steps, int(max_batches))
    samples = min(n_train, steps * bs)
    val_batches = math.ceil(n_val / VAL_BATCH)
    return {"batches": steps + val_batches, "flops": float(flops) * (3.0 * samples + n_val), "train_batches": steps}


@dataclass
class EpochEstimator:
    """Seconds per epoch from `epoch_work`; `observe` calibrates it on measured epochs."""

    per_batch: float  # probe: seconds per training step of a tiny network
    per_flop: float  # probe: seconds per FLOP of a typical layer's training step
    observed: list[tuple[float, float, float]] = field(default_factory=list)  # (batches, flops, seconds)

    def observe(self, work: dict, seconds: float) -> None:
        if seconds > 0 and math.isfinite(seconds):
            self.observed.append((float(work["batches"]), float(work["flops"]), float(seconds)))

    def coefficients(self) -> tuple[float, float, str]:
        """(a, b, how): the probe, the probe scaled by measured/estimated, or a fit once 3 are measured."""
        if not self.observed:
            return self.per_batch, self.per_flop, "probe"
        if len(self.observed) >= 3:
            fitted = _fit(self.observed)
            if fitted is not None:
                return (*fitted, f"fitted on {len(self.observed)} trial(s)")
        ratios = [s / (self.per_batch * n + self.per_flop * f) for n, f, s in self.observed]
        scale = math.exp(sum(map(math.log, ratios)) / len(ratios))
        return self.per_batch * scale, self.per_flop * scale, f"probe scaled on {len(self.observed)} trial(s)"

    def estimate(self, work: dict) -> float:
        a, b, _ = self.coefficients()
        return a * work["batches"] + b * work["flops"]


def _fit(observed) -> tuple[float, float] | None:
    """Non-negative least squares on relative error: rows divided by the measured seconds."""
    import numpy as np
    from scipy.optimize import nnls

    rows = np.array([[n / s, f / s] for n, f, s in observed])
    coef, _ = nnls(rows, np.ones(len(observed)))
    if not (coef > 0).any():
        return None
    return float(coef[0]), float(coef[1])


def probe_machine(device, image: bool) -> dict:
    """Time a tiny network's training step (per-batch cost) and one of typical size (per-FLOP cost)
    on `device`: about 0.2 s, once per process."""
    import torch

    def step_seconds(model, x, repeats: int) -> float:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            model(x).float().square().mean().backward()
            opt.step()

        step()  # warm-up: allocations, kernel selection
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        _sync(device)
        return (time.perf_counter() - start) / repeats

    tiny = torch.nn.Linear(8, 2).to(device)
    per_batch = step_seconds(tiny, torch.randn(32, 8, device=device), 20)
    if image:
        layer = torch.nn.Sequential(torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU()).to(device)
        x = torch.randn(32, 32, 16, 16, device=device)
        flops = 3 * 2 * 32 * 32 * 9 * 16 * 16 * 32  # forward + backward of the convolution
    else:
        layer = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.ReLU()).to(device)
        x = torch.randn(256, 512, device=device)
        flops = 3 * 2 * 256 * 512 * 512
    seconds = step_seconds(layer, x, 5)
    per_flop = max(seconds - per_batch, seconds * 0.1) / flops
    return {"per_batch": per_batch, "per_flop": per_flop}


def _sync(device) -> None:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize()


def from_study(probe: dict, study, host: str) -> EpochEstimator:
    """The estimator for this process: the probe, calibrated on the study's trials measured on `host`
    (a resumed run keeps what its earlier trials measured)."""
    est = EpochEstimator(probe["per_batch"], probe["per_flop"])
    for t in study.get_trials(deepcopy=False):
        timing = t.user_attrs.get("epoch_timing")
        if timing and "measured_seconds" in timing and str(t.user_attrs.get("worker", "")).split(":")[0] == host:
            est.observe(timing["work"], timing["measured_seconds"])
    return est


def human_seconds(seconds: float) -> str:
    """12s, 4m05s, 2h10m."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
