"""Training-free (zero-cost) proxies: score an untrained network from one real minibatch.

    result = compute_proxies(model, x, y, task=task_for(spec), seed=0)
    result.values   # {"synflow": 1.4e+20, "naswot": 811.9, ..., "jacob_cov": -92.3}, or a NotApplicable
    result.seconds  # {"synflow": 0.03, ...}: wall time of the pass that produced each value
    result.total_seconds
    result.to_dict()  # JSON-ready

Proxies (higher = more promising for every one of them: all correlate positively with NAS-Bench-201
accuracy, `benchmarks/results/zero_cost.md`): `synflow` (Tanaka et al. 2020), `naswot`
(Mellor et al. 2021), `grad_norm`, `snip`, `grasp`, `fisher`, `jacob_cov` (as defined by the reference
code of Abdelfattah et al. 2021, see `proxy_ops.py`), and the baselines `params` and `flops`
(`nas_cli.trial.cost`). A proxy that does not apply (no ReLU for naswot, integer token inputs for
jacob_cov, ...) is a `NotApplicable` holding the reason, never a made-up number.

Each pass runs on its own deep copy of the model (the caller's weights, buffers and mode are never
touched), after `torch.manual_seed(seed)`, with dropout switched off so that a score describes the
architecture and its weights, not a dropout draw: two calls with the same arguments agree bit for bit
(same thread count). Passes are shared where the definitions allow: grad_norm, snip, fisher and grasp
use one forward pass (its gradient taken with `create_graph` only when grasp is asked for), naswot
and jacob_cov another; each proxy reports the time of the pass that produced it, `total_seconds`
sums the passes actually run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from nas_cli.errors import ConfigError
from nas_cli.trial.proxy_ops import NotApplicable

__all__ = ["PROXIES", "NotApplicable", "ProxyResult", "compute_proxies", "is_number"]

# pass -> the proxies it yields, in the order they run (cheap and data-free ones first)
PASSES: dict[str, tuple[str, ...]] = {
    "params": ("params",),
    "flops": ("flops",),
    "synflow": ("synflow",),
    "activations": ("naswot", "jacob_cov"),
    "gradients": ("grad_norm", "snip", "fisher", "grasp"),
}
PROXIES: tuple[str, ...] = ("synflow", "naswot", "grad_norm", "snip", "grasp", "fisher", "jacob_cov",
                            "params", "flops")


@dataclass
class ProxyResult:
    """values: proxy -> float or NotApplicable; seconds: proxy -> seconds of the pass that produced it;
    passes: pass -> seconds (what `total_seconds` sums)."""

    values: dict[str, float | NotApplicable]
    seconds: dict[str, float]
    passes: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.passes.values()))

    def numbers(self) -> dict[str, float]:
        """The proxies that apply, as floats."""
        return {k: v for k, v in self.values.items() if is_number(v)}

    def to_dict(self) -> dict:
        """JSON-ready: a NotApplicable becomes {"not_applicable": reason}; ±inf becomes a string."""
        def plain(v):
            if isinstance(v, NotApplicable):
                return {"not_applicable": v.reason}
            return v if v not in (float("inf"), float("-inf")) else str(v)

        return {"values": {k: plain(v) for k, v in self.values.items()}, "seconds": dict(self.seconds),
                "total_seconds": self.total_seconds}


def is_number(value) -> bool:
    """Whether a proxy value is a usable number (not NotApplicable, None or NaN)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def compute_proxies(model, inputs, targets, *, task, names=None, seed: int = 0) -> ProxyResult:
    """Zero-cost proxies of `model` on one real training minibatch.

    Args:
        model: the untrained network (an `nn.Module`, as `space.build(arch, spec)` returns it).
        inputs: one minibatch as the model takes it: float images [N, C, H, W], float tables [N, F],
            or int64 token ids [N, L] (then jacob_cov does not apply).
        targets: the minibatch's targets, as `task.loss(outputs, targets)` takes them.
        task: the data's `Task` (`nas_cli.tasks.task_for(spec)`): its loss drives the gradient proxies.
        names: the proxies to compute (default: all of `PROXIES`).
        seed: `torch.manual_seed(seed)` before each pass.
    Returns:
        A `ProxyResult` (values, seconds per proxy, seconds per pass).
    """
    import torch

    wanted = list(PROXIES if names is None else names)
    unknown = [n for n in wanted if n not in PROXIES]
    if unknown:
        raise ConfigError(f"unknown zero-cost proxies {unknown}; allowed: {', '.join(PROXIES)}")
    device = _device_of(model, inputs)
    inputs, targets = inputs.to(device), targets.to(device)
    values: dict = {}
    seconds: dict = {}
    passes: dict = {}
    for pass_name, members in PASSES.items():
        if not any(n in wanted for n in members):
            continue
        torch.manual_seed(int(seed))
        t0 = time.perf_counter()
        got = _run_pass(pass_name, model, inputs, targets, task, wanted)
        passes[pass_name] = time.perf_counter() - t0
        for n in members:
            if n in wanted:
                values[n] = _checked(n, got[n])
                seconds[n] = passes[pass_name]
    return ProxyResult({n: values[n] for n in wanted}, {n: seconds[n] for n in wanted}, passes)


def _run_pass(pass_name: str, model, inputs, targets, task, wanted) -> dict:
    from nas_cli.trial import proxy_ops as ops

    def loss_fn(outputs, y):
        return task.loss(outputs, y)

    if pass_name == "params":
        from nas_cli.trial.cost import count_params

        return {"params": float(count_params(model))}
    if pass_name == "flops":
        from nas_cli.trial.cost import count_flops

        def example(batch_size: int, random: bool = False) -> tuple:
            return (inputs[:batch_size],)

        return {"flops": float(count_flops(_copy(model), example))}
    net = _copy(model)
    if pass_name == "synflow":
        return {"synflow": ops.synflow(net, inputs)}
    if pass_name == "activations":
        return ops.activation_proxies(net, inputs, want_naswot="naswot" in wanted, want_jacob="jacob_cov" in wanted)
    return ops.gradient_proxies(net, inputs, targets, loss_fn, second_order="grasp" in wanted)


def _copy(model):
    """A deep copy in training mode (batch-norm batch statistics, as the reference) with dropout off and
    every parameter trainable."""
    import copy

    from torch import nn

    net = copy.deepcopy(model)
    net.train()
    for m in net.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.eval()
    for p in net.parameters():
        p.requires_grad_(True)
    return net


def _checked(name: str, value):
    """NaN is never a score: it becomes NotApplicable (±inf stays: it still ranks)."""
    if isinstance(value, NotApplicable) or value == value:
        return value
    return NotApplicable(f"{name}: the score is not a number (NaN)")


def _device_of(model, inputs):
    for p in model.parameters():
        return p.device
    return inputs.device
