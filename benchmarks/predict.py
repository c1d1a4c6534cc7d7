"""Throughput and start-up of `nas predict` against a plain hand-written ONNX Runtime + Pillow loop.

Both sides classify the same image files (default 2,000 from cifar10_dev_jpg/train) with the same
exported model, batch size and ONNX Runtime thread count, each as its own process, timed from
outside (interpreter, imports and session creation included), interleaved, median of the repeats.
The plain script decodes each batch with the same thread pool size (`pool.map` per batch, then one
`session.run`); a second plain variant decodes sequentially. `nas predict` also decodes the next
batch while the model runs. Start-up: wall seconds of one image, median of 5.

The model comes from a tiny real search (or `--run-dir`, repeatable; one table row per run: the
committed figures use the search below, once as is and once with constraints.max_params=100000, so
that one model is small enough for decoding to matter). The
export predates preprocess.json being written by `nas export`, so it is written here from
summary.json and config.yaml when missing.

    python benchmarks/predict.py --json benchmarks/results/predict.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path("/work/shared/data/cifar10_dev_jpg")
SEARCH = ["search", "dataset=image_folder", f"dataset.root={DATA}", "dataset.max_train=1000", "study.n_trials=2",
          "train.epochs=1", "finetune.epochs=1", "hardware=cpu", "verbosity=0"]

PLAIN = r'''
import csv, json, sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np, onnxruntime as ort
from PIL import Image
export, paths_file, out, batch_size, threads, pooled = sys.argv[1:7]
batch_size, threads, pooled = int(batch_size), int(threads), pooled == "pool"
info = json.load(open(f"{export}/preprocess.json"))
height, width = info["image"]["size"]
mode = "L" if info["image"]["channels"] == 1 else "RGB"
mean = np.asarray(info["image"]["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
std = np.asarray(info["image"]["std"], dtype=np.float32).reshape(1, -1, 1, 1)
opts = ort.SessionOptions(); opts.intra_op_num_threads = threads; opts.inter_op_num_threads = 1
session = ort.InferenceSession(f"{export}/model.onnx", opts, providers=["CPUExecutionProvider"])
paths = open(paths_file).read().splitlines()

def decode(path):
    with Image.open(path) as img:
        img = img.convert(mode)
        if img.size != (width, height):
            img = img.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(img, dtype=np.uint8).reshape(height, width, -1)

pool = ThreadPoolExecutor(max(1, min(8, threads)))
with open(out, "w", newline="") as fh:
    writer = csv.writer(fh)
    writer.writerow(["path", "class", "probability"])
    for i in range(0, len(paths), batch_size):
        chunk = paths[i:i + batch_size]
        pixels = np.stack(list(pool.map(decode, chunk)) if pooled else [decode(p) for p in chunk])
        x = (pixels.transpose(0, 3, 1, 2).astype(np.float32) / 255.0 - mean) / std
        logits = session.run(None, {"input": x})[0]
        e = np.exp(logits - logits.max(1, keepdims=True)); probs = e / e.sum(1, keepdims=True)
        for path, p in zip(chunk, probs):
            writer.writerow([path, info["classes"][int(p.argmax())], f"{p.max():.6f}"])
'''


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def nas_command() -> list[str]:
    """`nas predict` once cli.py registers it; until then the command function itself."""
    nas = str(Path(sys.executable).with_name("nas"))
    probe = subprocess.run([nas, "predict", "--help"], capture_output=True, text=True)
    if probe.returncode == 0 and "RUN_DIR" in probe.stdout:
        return [nas, "predict"]
    return [sys.executable, "-c", "import sys; from nas_cli.commands.predict import predict_command; "
            "sys.exit(predict_command(sys.argv[1:]))"]


def ensure_run(run_dir: str | None, tmp: Path) -> Path:
    if run_dir:
        return Path(run_dir)
    runs = tmp / "runs"
    proc = subprocess.run([str(Path(sys.executable).with_name("nas")), *SEARCH, f"runs_dir={runs}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"nas search failed:\n{proc.stderr[-3000:]}")
    return max(runs.iterdir(), key=lambda p: p.stat().st_mtime)


def ensure_preprocess(run: Path) -> dict:
    """preprocess.json from the run's summary and config, only when the export lacks it."""
    import yaml

    from nas_cli.deploy.preprocess import image_preprocess, write_preprocess

    summary = json.loads((run / "summary.json").read_text())
    if not (run / "export" / "preprocess.json").is_file():
        data = summary["data"]
        dataset = yaml.safe_load((run / "config.yaml").read_text())["dataset"]
        classes = data.get("classes") or sorted(p.name for p in (DATA / "train").iterdir() if p.is_dir())
        write_preprocess(run / "export", image_preprocess(
            size=data["input_shape"][1:], channels=data["input_shape"][0], resize=dataset.get("resize", "stretch"),
            mean=data["mean"], std=data["std"], classes=classes))
    best = summary["best_trials"][0]
    return {"params": best.get("metrics", {}).get("params"), "trial": best.get("number"),
            "architecture": best.get("description")}


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed:\n{proc.stderr[-3000:]}")
    return wall


def bench_run(run: Path, paths: list[str], args, tmp: Path, nas: list[str], threads: int) -> dict:
    model = ensure_preprocess(run)
    export = str(run / "export")
    paths_file = tmp / "paths.txt"
    paths_file.write_text("\n".join(paths))
    script = tmp / "plain.py"
    script.write_text(PLAIN)
    ours_cmd = [*nas, export, *paths, "--batch-size", str(args.batch_size), "--out", str(tmp / "ours.csv")]
    plain = lambda mode: [sys.executable, str(script), export, str(paths_file), str(tmp / f"plain_{mode}.csv"),  # noqa: E731
                          str(args.batch_size), str(threads), mode]
    walls: dict[str, list[float]] = {"ours": [], "plain_pool": [], "plain_sequential": []}
    for r in range(args.repeats):  # interleaved, so that drift of the machine hits all sides alike
        walls["ours"].append(timed(ours_cmd))
        walls["plain_pool"].append(timed(plain("pool")))
        walls["plain_sequential"].append(timed(plain("seq")))
        print(f"  repeat {r}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in walls.items()), flush=True)
    ours_rows = (tmp / "ours.csv").read_text().splitlines()[1:]
    plain_rows = (tmp / "plain_pool.csv").read_text().splitlines()[1:]
    agree = sum(a.split(",")[1] == b.split(",")[1] for a, b in zip(ours_rows, plain_rows, strict=True))
    one = [*nas, export, paths[0]]
    startup = [timed(one) for _ in range(5)]
    med = {k: statistics.median(v) for k, v in walls.items()}
    ips = {k: len(paths) / v for k, v in med.items()}
    return {"run_dir": str(run), "model": model, "images": len(paths), "wall_seconds": med,
            "images_per_second": ips, "ratio": ips["ours"] / ips["plain_pool"],
            "ratio_vs_sequential": ips["ours"] / ips["plain_sequential"],
            "startup_seconds": statistics.median(startup), "same_class_as_plain": agree / len(paths),
            "raw": {"walls": walls, "startup": startup}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", action="append", help="reuse a finished run (repeat for several models)")
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default="benchmarks/results/predict.json")
    args = ap.parse_args()
    every = sorted(str(p) for p in (DATA / "train").rglob("*.jpg"))
    step = max(1, len(every) // args.images)
    paths = every[::step][:args.images]  # spread over all classes
    threads, nas = cpu_count(), nas_command()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for run_dir in args.run_dir or [None]:
            run = ensure_run(run_dir, tmp)
            print(f"{run}:", flush=True)
            rows.append(bench_run(run, paths, args, tmp, nas, threads))
    result = {"benchmark": "predict", "images": len(paths), "batch_size": args.batch_size, "threads": threads,
              "repeats": args.repeats, "cpu_count": os.cpu_count(), "machine": "2-core CPU, no GPU",
              "command": " ".join(nas[:2]) if nas[-1] == "predict" else "predict_command (not yet in cli.py)",
              "plain_decode": "ThreadPoolExecutor(min(8, threads)).map per batch (same pool size as ours)",
              "runs": rows}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# predict: nas predict vs plain ONNX Runtime + Pillow ({len(paths)} cifar10_dev_jpg images, "
             f"batch {args.batch_size}, {threads} ORT threads, median of {args.repeats}; 2-core CPU, no GPU)\n",
             "| model (params) | nas predict img/s | plain img/s (thread-pool decode) | ratio | "
             "plain img/s (sequential decode) | ratio | start-up s (1 image) | same class |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        ips = row["images_per_second"]
        lines.append(f"| {row['model']['params']:,} `{row['model']['architecture']}` | {ips['ours']:.0f} | {ips['plain_pool']:.0f} | "
                     f"**{row['ratio']:.3f}** | {ips['plain_sequential']:.0f} | {row['ratio_vs_sequential']:.3f} | "
                     f"{row['startup_seconds']:.3f} | "
                     f"{row['same_class_as_plain']:.1%} |")
    lines.append("\nWall time of each process from outside (interpreter, imports, session creation included). "
                 "ratio = ours / plain (target >= 0.95). Plain: one `pool.map` per batch over min(8, threads) "
                 "threads, or a sequential loop; nas predict: a helper thread decodes batch k + 1 while ONNX "
                 "Runtime runs batch k (ORT spinning off).")
    text = "\n".join(lines) + "\n"
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
