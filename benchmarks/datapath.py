"""Data path overhead: one epoch of a CIFAR-sized CNN through `nas_cli.trial.fit.fit` vs a plain loop.

Both sides train the same network (same initial weights, same batch size, AdamW) on the same
preloaded synthetic 3x32x32 tensors (CIFAR cannot be downloaded here), then evaluate the same
validation tensors; variants are interleaved (A, B, C, D, A, B, ...) and medians reported, so load
from other processes hits every side. Target: trainer / plain <= 1.10.

    python benchmarks/datapath.py --images 4096 --rounds 3
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
# A CIFAR-sized CNN from the cnn space: three conv blocks with pooling, then a dense head.
ARCH = {"layers": [{"filters": 32, "kernel": 3, "pool": "max"}, {"filters": 64, "kernel": 3, "pool": "max"},
                   {"filters": 128, "kernel": 3, "pool": "max"}],
        "activation": "relu", "batch_norm": True, "dropout": 0.0, "dense_units": 128}


def make_data(n: int, n_val: int, device, channels_last: bool):
    import torch

    from nas_cli.data import Data, DataSpec

    g = torch.Generator().manual_seed(0)
    x = torch.randn((n + n_val, 3, 32, 32), generator=g)
    y = torch.randint(0, 10, (n + n_val,), generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x, y = x.to(device), y.to(device)
    return Data(spec=DataSpec("synthetic_cifar", (3, 32, 32), 10), train_x=x[:n], train_y=y[:n],
                val_x=x[n:], val_y=y[n:], test_x=x[n:], test_y=y[n:])


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def run_trainer(model, data, batch_size: int, augment=None) -> float:
    from nas_cli.trial.fit import Hparams, fit

    data.augment = augment
    start = time.perf_counter()
    fit(model, data, Hparams(lr=1e-3, batch_size=batch_size, optimizer="adam"), epochs=1, seed=0)
    sync(data.train_x.device)
    data.augment = None
    return time.perf_counter() - start


def run_plain(model, data, batch_size: int) -> float:
    """The hand-written baseline: shuffle, slice, forward, backward, step; then one validation pass."""
    import torch
    import torch.nn.functional as F

    device = data.train_x.device
    start = time.perf_counter()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator(device=device).manual_seed(0)
    model.train()
    perm = torch.randperm(data.train_x.shape[0], generator=gen, device=device)
    for i in range(0, data.train_x.shape[0], batch_size):
        idx = perm[i : i + batch_size]
        loss = F.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    with torch.inference_mode():
        float((model(data.val_x).argmax(1) == data.val_y).float().mean())
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4096, help="training images per epoch")
    parser.add_argument("--val-images", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds after one warm-up round")
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    parser.add_argument("--out", default=str(RESULTS / "datapath"), help="output path without extension")
    args = parser.parse_args()

    import torch

    from nas_cli.data.augment import CropFlip
    from nas_cli.spaces.cnn import build_cnn

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    data_cl = make_data(args.images, args.val_images, device, channels_last=True)
    data_nchw = make_data(args.images, args.val_images, device, channels_last=False)
    torch.manual_seed(0)
    base = build_cnn(ARCH, data_cl.spec).to(device)
    base_cl = copy.deepcopy(base).to(memory_format=torch.channels_last)
    augment = CropFlip(padding=4)
    variants = {
        "trainer": lambda: run_trainer(copy.deepcopy(base_cl), data_cl, args.batch_size),
        "plain": lambda: run_plain(copy.deepcopy(base_cl), data_cl, args.batch_size),
        "trainer_augment": lambda: run_trainer(copy.deepcopy(base_cl), data_cl, args.batch_size, augment),
        "plain_nchw": lambda: run_plain(copy.deepcopy(base), data_nchw, args.batch_size),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for rnd in range(args.rounds + 1):
        for name, run in variants.items():
            seconds = run()
            if rnd > 0:  # round 0 warms up (first AdamW imports torch._dynamo, allocator, kernels)
                times[name].append(seconds)
            print(f"round {rnd} {name:16s} {seconds:7.3f} s", flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "device": str(device), "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        "cpu": platform.processor() or platform.machine(), "threads": args.threads, "torch": torch.__version__,
        "images": args.images, "val_images": args.val_images, "batch_size": args.batch_size, "rounds": args.rounds,
        "epoch_seconds": times, "median_seconds": median,
        "images_per_second": {k: args.images / v for k, v in median.items()},
        "ratio_trainer_vs_plain": median["trainer"] / median["plain"],
        "ratio_trainer_augment_vs_plain": median["trainer_augment"] / median["plain"],
        "speedup_channels_last": median["plain_nchw"] / median["plain"],
        "target_ratio": 1.10,
    }
    ratio = result["ratio_trainer_vs_plain"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Data path: trainer vs plain loop ({result['device']}, {args.threads} thread(s), {args.images} images, "
        f"batch {args.batch_size}, median of {args.rounds} interleaved rounds)", "",
        "| variant | median epoch s | images/s | vs plain |", "| --- | --- | --- | --- |",
        *[f"| {k} | {median[k]:.3f} | {result['images_per_second'][k]:.0f} | {median[k] / median['plain']:.3f} |"
          for k in variants], "",
        f"trainer / plain = **{ratio:.3f}** (target <= 1.10: {'met' if ratio <= 1.10 else 'NOT met'}); "
        f"channels_last speed-up of the plain loop: {result['speedup_channels_last']:.2f}x.", "",
    ]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
