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
            _sync(device)
            t0 = time.perf_counter()
            model(x)
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


def measure_latency_onnx(model, input_shape, batch_size: int = 1, repeats: int = 20, warmup: int = 3,
                         threads: int = 1, session=None) -> dict:
    """Median and p90 (ms) of ONNX Runtime CPU runs of `model` exported in memory (or of `session`).

    The legacy TorchScript-based exporter is used here: measured 28 ms per small CNN against 1.4 s
    for the dynamo exporter, and the graph ONNX Runtime runs is the same for these conv nets.
    """
    import numpy as np

    if session is None:
        session = onnx_session(export_onnx_bytes(model, input_shape), threads)
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((batch_size, *input_shape)).astype(np.float32)
    times = []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        session.run(None, {name: x})
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return summarize_times(times)


def export_onnx_bytes(model, input_shape) -> bytes:
    """ONNX bytes of `model` (CPU copy, fp32, dynamic batch), exported in memory."""
    import copy
    import io
    import warnings

    import torch

    cpu = copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).float().eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(cpu, (torch.zeros((1, *input_shape)),), buf, dynamo=False, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          verbose=False)
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


def peak_memory_mb(model, input_shape, batch_size: int = 1) -> float:
    """Peak bytes (MiB) of one inference pass: weights and buffers plus the most activations alive at once.

    Counted exactly by following every tensor storage the forward pass allocates (a dispatch mode),
    so it is the same on any host; on CUDA the allocator's own peak is used instead.
    """
    import torch

    device = next(model.parameters()).device
    model.eval()
    x = torch.zeros((batch_size, *input_shape), device=device)
    weights = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        with torch.inference_mode():
            model(x)
        torch.cuda.synchronize()
        return (weights + torch.cuda.max_memory_allocated(device) - base) / 2**20
    tracker = _LiveBytes()
    with torch.inference_mode(), tracker:
        model(x)
    return (weights + x.numel() * x.element_size() + tracker.peak) / 2**20


def _live_bytes_mode():
    import weakref

    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class LiveBytes(TorchDispatchMode):
        """Tracks bytes of storages created inside the mode that are still alive, and their peak."""

        def __init__(self):
            super().__init__()
            self.live = 0
            self.peak = 0
            self._seen: set[int] = set()

        def _release(self, key: int, nbytes: int) -> None:
            self._seen.discard(key)
            self.live -= nbytes

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            import torch

            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    st = t.untyped_storage()
                    key = st.data_ptr()
                    if key in self._seen or key == 0:
                        continue
                    self._seen.add(key)
                    nbytes = st.nbytes()
                    self.live += nbytes
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(st, self._release, key, nbytes)
            return out

    return LiveBytes


class _LiveBytes:
    def __init__(self):
        self._mode = _live_bytes_mode()()

    def __enter__(self):
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        return self._mode.__exit__(*exc)

    @property
    def peak(self) -> int:
        return self._mode.peak


def measure_cost(model, input_shape, *, runtime: str = "onnxruntime", batch_sizes=(1,), repeats: int = 20,
                 warmup: int = 3, threads: int = 1, latency: bool = True, memory: bool = True) -> dict:
    """Params, FLOPs, peak memory and latency (median, p90) per batch size on `runtime`, threads recorded."""
    out = {"params": count_params(model), "flops": count_flops(model, input_shape)}
    if memory:
        out["memory_mb"] = round(peak_memory_mb(model, input_shape, batch_size=1), 4)
    if latency:
        out["latency_runtime"] = runtime
        out["latency_threads"] = int(threads)
        session = None
        if runtime == "onnxruntime":
            session = onnx_session(export_onnx_bytes(model, input_shape), threads)
        for bs in dict.fromkeys(int(b) for b in batch_sizes):
            if runtime == "onnxruntime":
                lat = measure_latency_onnx(None, input_shape, bs, repeats, warmup, threads, session=session)
            else:
                lat = measure_latency_torch(model, input_shape, bs, repeats, warmup)
            out[f"latency_ms_b{bs}"] = round(lat["median_ms"], 5)
            out[f"latency_p90_ms_b{bs}"] = round(lat["p90_ms"], 5)
        out["latency_ms"] = out["latency_ms_b1"] if "latency_ms_b1" in out else out[f"latency_ms_b{batch_sizes[0]}"]
    return out


def measure_trial_cost(trial, ctx, model) -> dict:
    """Cost of a freshly built trial model on the configured runtime; stored as user attrs.

    Measured cheapest first (params and FLOPs, then memory, then latency) and checked against the
    constraints after each stage, so an architecture over a cheap limit is rejected in milliseconds.
    Latency does not depend on the weights of these dense networks, so it is measured before training.
    """
    from nas_cli.constraints import check_trial
    from nas_cli.rundir import trial_dir

    opts = ctx.extra.get("cost") or {}
    shape = ctx.data.spec.input_shape
    tdir = trial_dir(ctx.run_dir, trial.number)
    cost = {"params": count_params(model), "flops": count_flops(model, shape)}
    check_trial(trial, ctx, cost, tdir)
    cost["memory_mb"] = round(peak_memory_mb(model, shape, batch_size=1), 4)
    check_trial(trial, ctx, cost, tdir)
    runtime, threads = opts.get("runtime", "torch"), int(opts.get("threads", 1))
    repeats, warmup = int(opts.get("repeats", 10)), int(opts.get("warmup", 2))
    cost.update(latency_runtime=runtime, latency_threads=threads)
    session = onnx_session(export_onnx_bytes(model, shape), threads) if runtime == "onnxruntime" else None
    # Batch 1 for every trial; the larger batch only when asked (hardware.latency_batch_per_trial), since
    # timing it costs more per trial than most small networks' own epoch on CPU.
    batches = (1, int(opts.get("batch_size", 1))) if opts.get("batch_per_trial") else (1,)
    for bs in dict.fromkeys(batches):
        if session is not None:
            lat = measure_latency_onnx(None, shape, bs, repeats, warmup, threads, session=session)
        else:
            lat = measure_latency_torch(model, shape, bs, repeats, warmup)
        cost[f"latency_ms_b{bs}"] = round(lat["median_ms"], 5)
        cost[f"latency_p90_ms_b{bs}"] = round(lat["p90_ms"], 5)
        if bs == 1:
            cost["latency_ms"] = cost["latency_ms_b1"]
            check_trial(trial, ctx, cost, tdir)
    for key in ("params", "flops", "memory_mb", "latency_ms"):
        trial.set_user_attr(key, cost[key])
    trial.set_user_attr("cost", cost)
    return cost


def configure_trial_cost(ctx, settings: dict, hw) -> None:
    """Put the cost-measurement options, constraint limits and compile flag into `ctx.extra`."""
    from nas_cli.constraints import active_limits

    h = settings["hardware"]
    deploy = "onnxruntime" if str(hw.device) == "cpu" else "torch"
    runtime = h.get("latency_runtime", "auto")
    final_runtime = deploy if runtime == "auto" else runtime
    if runtime == "auto":
        # Time trials on the deploy runtime when the search uses latency (an objective or a limit);
        # otherwise eager PyTorch, which costs trials nothing extra (benchmarks/overhead.py measures both).
        uses = any(str(o).split(":")[0].strip() == "latency_ms" for o in (settings.get("objectives") or []))
        uses = uses or (settings.get("constraints") or {}).get("max_latency_ms") is not None
        runtime = deploy if uses else "torch"
    ctx.extra["cost"] = {"runtime": runtime, "final_runtime": final_runtime,
                         "batch_size": int(h.get("latency_batch_size", 64)),
                         "repeats": int(h.get("latency_repeats", 20)), "warmup": int(h.get("latency_warmup", 3)),
                         "threads": int(hw.threads), "batch_per_trial": bool(h.get("latency_batch_per_trial", False))}
    limits = {k: v for k, v in (settings.get("constraints") or {}).items() if k != "max_rejected"}
    ctx.extra["limits"] = active_limits(limits)
    ctx.extra["compile"] = bool(getattr(hw, "compile", False))


def final_cost(model, ctx) -> dict:
    """Cost of a fine-tuned model for summary.json and the model card, on the configured runtime."""
    opts = ctx.extra.get("cost") or {}
    shape = ctx.data.spec.input_shape
    cost = measure_cost(model, shape, runtime=opts.get("final_runtime", opts.get("runtime", "torch")),
                        batch_sizes=(1, int(opts.get("batch_size", 1))), repeats=int(opts.get("repeats", 20)),
                        warmup=int(opts.get("warmup", 3)), threads=int(opts.get("threads", 1)))
    # kept for readers of earlier summaries (nas_cli.gate): eager PyTorch at batch 1
    cost["latency_ms_batch1_torch"] = round(measure_latency_torch(model, shape)["median_ms"], 4)
    return cost
