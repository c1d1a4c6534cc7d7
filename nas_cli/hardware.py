"""Device, threads and precision from the `hardware` config group (plain dict in, plain values out)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from nas_cli.errors import ConfigError


@dataclass
class Hardware:
    device: Any
    threads: int
    autocast_dtype: Any
    channels_last: bool
    compile: bool = False
    n_jobs: int = 1

    def describe(self) -> dict:
        return {"device": str(self.device), "threads": self.threads,
                "autocast": str(self.autocast_dtype) if self.autocast_dtype else "fp32",
                "channels_last": self.channels_last, "compile": self.compile, "n_jobs": self.n_jobs}


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def setup_hardware(hw: dict) -> Hardware:
    """Pick the device (auto: cuda, then mps, then cpu), split threads among workers, set precision."""
    import torch

    want = hw.get("device", "auto")
    if want == "auto":
        if torch.cuda.is_available():
            want = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            want = "mps"
        else:
            want = "cpu"
    if want == "cuda" and not torch.cuda.is_available():
        raise ConfigError("hardware.device=cuda but no CUDA device is visible; use hardware=cpu or hardware=auto")
    if want == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("hardware.device=mps but MPS is not available; use hardware=cpu or hardware=auto")
    n_jobs = resolve_n_jobs(hw.get("n_jobs", 1), want)
    threads = hw.get("threads") or max(1, cpu_count() // max(1, n_jobs))
    torch.set_num_threads(int(threads))
    precision = hw.get("precision", "fp32")
    dtype = None
    if precision != "fp32":
        if want == "cpu":
            raise ConfigError(f"hardware.precision={precision} needs a GPU; on CPU use hardware.precision=fp32")
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return Hardware(device=torch.device(want), threads=int(threads), autocast_dtype=dtype,
                    channels_last=bool(hw.get("channels_last", False)), compile=bool(hw.get("compile", False)),
                    n_jobs=n_jobs)


def visible_gpus() -> list[str]:
    """The CUDA devices this process may use, as CUDA_VISIBLE_DEVICES names them (or their indices)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def resolve_n_jobs(value, device: str) -> int:
    """`hardware.n_jobs=auto`: one worker per visible GPU on CUDA, one worker elsewhere."""
    if value == "auto":
        return max(1, len(visible_gpus())) if device == "cuda" else 1
    return int(value)


def gpu_assignment(n_jobs: int, gpus: list[str]) -> list[str | None]:
    """CUDA_VISIBLE_DEVICES of each worker: worker i gets GPU i mod len(gpus) (None without GPUs)."""
    return [gpus[i % len(gpus)] if gpus else None for i in range(n_jobs)]
