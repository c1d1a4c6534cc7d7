"""Cost of a network: parameters, FLOPs, peak memory and latency (measured, never estimated by hand).

`example` is `example(batch_size) -> tuple of tensors` (the task's `example_inputs`) or, for one
float input, its per-example shape.
"""

from __future__ import annotations

from nas_cli.trial.latency import (
    export_onnx_bytes,
    inputs_on,
    measure_latency_onnx,
    measure_latency_torch,
    onnx_session,
)


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model, example) -> int:
    """FLOPs of one forward pass at batch 1, counted by `torch.utils.flop_counter`."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    xs = inputs_on(example, 1, device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(*xs)
    model.train(was_training)
    return int(counter.get_total_flops())


def peak_memory_mb(model, example, batch_size: int = 1) -> float:
    """Peak bytes (MiB) of one inference pass: weights and buffers plus the most activations alive at once.

    Counted exactly by following every tensor storage the forward pass allocates (a dispatch mode),
    so it is the same on any host; on CUDA the allocator's own peak is used instead.
    """
    import torch

    device = next(model.parameters()).device
    model.eval()
    xs = inputs_on(example, batch_size, device)
    weights = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        with torch.inference_mode():
            model(*xs)
        torch.cuda.synchronize()
        return (weights + torch.cuda.max_memory_allocated(device) - base) / 2**20
    tracker = _LiveBytes()
    with torch.inference_mode(), tracker:
        model(*xs)
    return (weights + sum(x.numel() * x.element_size() for x in xs) + tracker.peak) / 2**20


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


def measure_cost(model, example, *, runtime: str = "onnxruntime", batch_sizes=(1,), repeats: int = 20,
                 warmup: int = 3, threads: int = 1, latency: bool = True, memory: bool = True,
                 signature=None) -> dict:
    """Params, FLOPs, peak memory and latency (median, p90) per batch size on `runtime`, threads recorded."""
    out = {"params": count_params(model), "flops": count_flops(model, example)}
    if memory:
        out["memory_mb"] = round(peak_memory_mb(model, example, batch_size=1), 4)
    if latency:
        out["latency_runtime"] = runtime
        out["latency_threads"] = int(threads)
        session = None
        if runtime == "onnxruntime":
            session = onnx_session(export_onnx_bytes(model, example, signature), threads)
        for bs in dict.fromkeys(int(b) for b in batch_sizes):
            if runtime == "onnxruntime":
                lat = measure_latency_onnx(None, example, bs, repeats, warmup, threads, session=session)
            else:
                lat = measure_latency_torch(model, example, bs, repeats, warmup)
            out[f"latency_ms_b{bs}"] = round(lat["median_ms"], 5)
            out[f"latency_p90_ms_b{bs}"] = round(lat["p90_ms"], 5)
        out["latency_ms"] = out["latency_ms_b1"] if "latency_ms_b1" in out else out[f"latency_ms_b{batch_sizes[0]}"]
    return out
