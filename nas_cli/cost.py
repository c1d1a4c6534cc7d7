"""Cost of a network: parameters, FLOPs, latency, memory (measured, never estimated by hand)."""

from __future__ import annotations

import statistics
import time


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model, input_shape) -> int:
    """FLOPs of one forward pass at batch 1, counted by `torch.utils.flop_counter`."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    x = torch.zeros((1, *input_shape), device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


def measure_latency_torch(model, input_shape, batch_size: int = 1, repeats: int = 20, warmup: int = 3) -> dict:
    """Median and p90 wall time (ms) of eager forward passes after warm-up."""
    import torch

    device = next(model.parameters()).device
    model.eval()
    x = torch.randn((batch_size, *input_shape), device=device)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000)
    return summarize_times(times)


def summarize_times(times_ms: list[float]) -> dict:
    ordered = sorted(times_ms)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {"median_ms": statistics.median(ordered), "p90_ms": p90, "repeats": len(ordered)}
