"""Latency of a network, measured (never estimated): eager PyTorch or ONNX Runtime, median and p90.

Inputs come from `example(batch_size) -> tuple of tensors` (the task's `example_inputs`), so a
network with several or integer inputs is timed as it is deployed.
"""

from __future__ import annotations

import statistics
import time


def example_from(shape_or_fn):
    """`example(batch_size, random=False) -> tuple of CPU tensors`: the task's `example_inputs`, or,
    given a plain shape such as (1, 8, 8), one float input of that shape per example."""
    if callable(shape_or_fn):
        return shape_or_fn
    shape = tuple(int(d) for d in shape_or_fn)

    def example(batch_size: int, random: bool = False) -> tuple:
        import torch

        return ((torch.randn if random else torch.zeros)((int(batch_size), *shape)),)

    return example


def inputs_on(example, batch_size: int, device, random: bool = False) -> tuple:
    """Example inputs on `device`: zeros, or with `random` drawn from torch's global generator (as eager
    latency timing always has: the draw is part of a trial's seeded random stream)."""
    return tuple(t.to(device) for t in example_from(example)(batch_size, random=random))


def _numpy_feed(session, example, batch_size: int) -> dict:
    """ONNX Runtime inputs: float inputs as seeded normal noise (numpy, torch's generator untouched)."""
    import numpy as np

    rng = np.random.default_rng(0)
    feed = {}
    for info, x in zip(session.get_inputs(), inputs_on(example, batch_size, "cpu"), strict=True):
        x = x.numpy()
        feed[info.name] = rng.standard_normal(x.shape).astype(x.dtype) if x.dtype.kind == "f" else x
    return feed


def measure_latency_torch(model, example, batch_size: int = 1, repeats: int = 20, warmup: int = 3) -> dict:
    """Median and p90 wall time (ms) of eager forward passes after warm-up."""
    import torch

    device = next(model.parameters()).device
    model.eval()
    xs = inputs_on(example, batch_size, device, random=True)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            _sync(device)
            t0 = time.perf_counter()
            model(*xs)
            _sync(device)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000)
    return summarize_times(times)


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def summarize_times(times_ms: list[float]) -> dict:
    ordered = sorted(times_ms)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {"median_ms": statistics.median(ordered), "p90_ms": p90, "repeats": len(ordered)}


def measure_latency_onnx(model, example, batch_size: int = 1, repeats: int = 20, warmup: int = 3,
                         threads: int = 1, session=None, signature=None) -> dict:
    """Median and p90 (ms) of ONNX Runtime CPU runs of `model` exported in memory (or of `session`).

    The legacy TorchScript-based exporter is used here: measured 28 ms per small CNN against 1.4 s
    for the dynamo exporter, and the graph ONNX Runtime runs is the same for these conv nets.
    """
    if session is None:
        session = onnx_session(export_onnx_bytes(model, example, signature), threads)
    feed = _numpy_feed(session, example, batch_size)
    times = []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        session.run(None, feed)
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return summarize_times(times)


def export_onnx_bytes(model, example, signature=None) -> bytes:
    """ONNX bytes of `model` (CPU copy, fp32, dynamic batch), exported in memory; inputs and outputs are
    named as the task's `signature` says (one float input "input" -> "logits" when not given)."""
    import copy
    import io
    import warnings

    import torch

    cpu = copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).float().eval()
    if signature is None:
        names, axes = (["input"], ["logits"]), {"input": {0: "batch"}, "logits": {0: "batch"}}
    else:
        names, axes = (signature.input_names, signature.output_names), signature.dynamic_axes()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(cpu, inputs_on(example, 1, "cpu"), buf, dynamo=False, input_names=names[0],
                          output_names=names[1], dynamic_axes=axes, verbose=False)
    return buf.getvalue()


def onnx_session(model_bytes_or_path, threads: int = 1):
    """A CPU ONNX Runtime session with a fixed intra-op thread count (recorded with each latency)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    src = model_bytes_or_path if isinstance(model_bytes_or_path, bytes) else str(model_bytes_or_path)
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])
