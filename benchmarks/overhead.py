"""Overhead of `nas search` against a plain hand-written Optuna + PyTorch script doing the same work.

Both train the same architectures with the same hyperparameters, epochs and data (digits, 10 trials x
3 epochs by default). The architectures come from one `nas search` run (random sampler, no pruning);
the plain script re-trains exactly those. Each side runs as its own process, alternating, several
times; each reports the seconds after its imports, so interpreter and import start-up are reported
apart. Prints the wall-time ratio nas / plain (target <= 1.10) and writes JSON + a markdown table.

It also times the checks `trial.fit.fit` makes inside an epoch (a clock read per batch; progress,
Ctrl-C and `train.trial_timeout` at most every half second) on the cheapest batches there are (a
64-16-10 MLP on digits, batch 32), with the checks on and off, alternating: the per-batch cost.

    python benchmarks/overhead.py --json benchmarks/results/overhead.json
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

PLAIN = r'''
import json, sys, time
t_start = time.perf_counter()
import numpy as np, optuna, torch, torch.nn.functional as F
import sklearn.metrics
from nas_cli.spaces.cnn import build_cnn
from nas_cli.data import DataSpec
t_imported = time.perf_counter()
from sklearn.datasets import load_digits
trials, epochs, threads = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
d = load_digits()
x = torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1); y = torch.tensor(d.target)
perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
n_test = 360; n_val = 287
test_idx, val_idx, train_idx = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
xtr, ytr, xva, yva = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
spec = DataSpec("digits", (1, 8, 8), 10)
optuna.logging.set_verbosity(optuna.logging.WARNING)

def objective(trial):
    t = trials[trial.number]
    torch.manual_seed(trial.number)
    model = build_cnn(t["arch"], spec)
    hp = t["hparams"]
    if hp["optimizer"] == "adam":
        opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=hp["lr"], momentum=0.9, nesterov=True, weight_decay=hp["weight_decay"])
    bs = hp["batch_size"]
    for epoch in range(epochs):
        model.train()
        p = torch.randperm(len(ytr))
        for i in range(0, len(ytr), bs):
            idx = p[i:i + bs]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(); loss.backward(); opt.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xva).argmax(1) == yva).float().mean().item()
        trial.report(acc, epoch)
    return acc

study = optuna.create_study(direction="maximize")
study.optimize(objective, n_trials=len(trials))
print(json.dumps({"import_seconds": t_imported - t_start, "work_seconds": time.perf_counter() - t_imported,
                  "best": study.best_value}))
'''


def run_nas(workdir: Path, trials: int, epochs: int, threads: int, seed: int, extra=()) -> dict:
    args = [str(Path(sys.executable).with_name("nas")), "search", "strategy=random", "pruner=none",
            f"study.n_trials={trials}", f"train.epochs={epochs}", "finetune.enabled=false", "hardware=cpu",
            f"hardware.threads={threads}", f"seed={seed}", "verbosity=0", f"runs_dir={workdir}", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"nas search failed:\n{proc.stderr}")
    run = max(workdir.iterdir(), key=lambda p: p.stat().st_mtime)
    summary = json.loads((run / "summary.json").read_text())
    work = summary["timings"]["total_seconds"] - summary["timings"]["import_seconds"]
    return {"wall_seconds": wall, "work_seconds": work, "startup_seconds": wall - work, "run_dir": run,
            "best": summary["best_trials"][0]["values"]["accuracy"]}


def run_plain(script: Path, trials_file: Path, epochs: int, threads: int) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script), str(trials_file), str(epochs), str(threads)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"plain script failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"wall_seconds": wall, "work_seconds": out["work_seconds"], "startup_seconds": wall - out["work_seconds"],
            "best": out["best"]}


def checks_cost(threads: int, repeats: int) -> dict:
    """Seconds per batch of `fit` with the in-epoch checks on (a no-op progress hook, a far deadline) and off."""
    import torch

    from nas_cli.data import load_dataset
    from nas_cli.trial.fit import Hparams, fit

    torch.set_num_threads(threads)
    data = load_dataset("digits")
    hp, epochs = Hparams(lr=1e-3, batch_size=32), 20
    batches = epochs * -(-data.train_x.shape[0] // hp.batch_size)
    times = {"on": [], "off": []}
    for _ in range(repeats):
        for mode in ("off", "on"):
            torch.manual_seed(0)
            model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
            kwargs = {"on_batch": lambda *a: None, "deadline": time.monotonic() + 1e6} if mode == "on" else {}
            start = time.perf_counter()
            fit(model, data, hp, epochs, **kwargs)
            times[mode].append((time.perf_counter() - start) / batches)
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    # On a machine other jobs load, the fastest of many alternating runs is the least disturbed one.
    return {"us_per_batch_on": on * 1e6, "us_per_batch_off": off * 1e6, "ratio": on / off, "batches": batches,
            "min_us_per_batch_on": min(times["on"]) * 1e6, "min_us_per_batch_off": min(times["off"]) * 1e6,
            "ratio_min": min(times["on"]) / min(times["off"]),
            "raw_us": {k: [round(v * 1e6, 2) for v in vs] for k, vs in times.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default="benchmarks/results/overhead.json")
    args = ap.parse_args()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        script = tmp / "plain.py"
        script.write_text(PLAIN)
        nas_runs, plain_runs, torch_lat_runs = [], [], []
        for r in range(args.repeats):
            # Variant: per-trial latency timed in eager PyTorch instead of ONNX Runtime (the default).
            alt = run_nas(tmp / f"alt{r}", args.trials, args.epochs, args.threads, seed=0,
                          extra=["hardware.latency_runtime=torch"])
            torch_lat_runs.append({k: v for k, v in alt.items() if k != "run_dir"})
            res = run_nas(tmp / f"runs{r}", args.trials, args.epochs, args.threads, seed=0)
            trials = []
            for t in range(args.trials):
                a = json.loads((res["run_dir"] / "trials" / str(t) / "arch.json").read_text())
                trials.append({"arch": a["arch"], "hparams": a["hparams"]})
            trials_file = tmp / "trials.json"
            trials_file.write_text(json.dumps(trials))
            plain_runs.append(run_plain(script, trials_file, args.epochs, args.threads))
            nas_runs.append({k: v for k, v in res.items() if k != "run_dir"})
            print(f"repeat {r}: nas {nas_runs[-1]['work_seconds']:.2f}s, plain {plain_runs[-1]['work_seconds']:.2f}s",
                  flush=True)
    med = lambda rows, k: statistics.median(x[k] for x in rows)  # noqa: E731
    result = {
        "benchmark": "overhead", "trials": args.trials, "epochs": args.epochs, "threads": args.threads,
        "repeats": args.repeats, "cpu_count": os.cpu_count(),
        "nas": {k: med(nas_runs, k) for k in ("work_seconds", "startup_seconds", "wall_seconds")},
        "plain": {k: med(plain_runs, k) for k in ("work_seconds", "startup_seconds", "wall_seconds")},
        "nas_latency_torch": {k: med(torch_lat_runs, k) for k in ("work_seconds", "startup_seconds", "wall_seconds")},
        "raw": {"nas": nas_runs, "plain": plain_runs, "nas_latency_torch": torch_lat_runs},
        "checks": checks_cost(args.threads, max(10, args.repeats * 3)),
        "load": {"start": load_start, "end": os.getloadavg()[0]},
    }
    result["ratio_work_min"] = (min(x["work_seconds"] for x in nas_runs) / min(x["work_seconds"] for x in plain_runs))
    result["ratio_work"] = result["nas"]["work_seconds"] / result["plain"]["work_seconds"]
    result["ratio_wall"] = result["nas"]["wall_seconds"] / result["plain"]["wall_seconds"]
    result["ratio_work_latency_torch"] = result["nas_latency_torch"]["work_seconds"] / result["plain"]["work_seconds"]
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    table = (
        f"# overhead: nas search vs plain Optuna + PyTorch ({args.trials} trials x {args.epochs} epochs, digits, "
        f"{args.threads} thread(s), median of {args.repeats})\n\n"
        "| | work s (after imports) | start-up s | wall s |\n| --- | --- | --- | --- |\n"
        f"| nas search | {result['nas']['work_seconds']:.2f} | {result['nas']['startup_seconds']:.2f} | "
        f"{result['nas']['wall_seconds']:.2f} |\n"
        f"| nas search, hardware.latency_runtime=torch | {result['nas_latency_torch']['work_seconds']:.2f} | "
        f"{result['nas_latency_torch']['startup_seconds']:.2f} | {result['nas_latency_torch']['wall_seconds']:.2f} |\n"
        f"| plain script | {result['plain']['work_seconds']:.2f} | {result['plain']['startup_seconds']:.2f} | "
        f"{result['plain']['wall_seconds']:.2f} |\n\n"
        f"ratio (work): **{result['ratio_work']:.3f}** (target <= 1.10); ratio (wall): {result['ratio_wall']:.3f}; "
        f"with per-trial latency on eager PyTorch: {result['ratio_work_latency_torch']:.3f}; "
        f"fastest nas run / fastest plain run (work): {result['ratio_work_min']:.3f}\n\n"
        f"1-minute load average on the 2 cores (other jobs): {result['load']['start']:.2f} at start, "
        f"{result['load']['end']:.2f} at end\n\n"
        f"checks inside the epoch (progress, Ctrl-C, train.trial_timeout), on the cheapest batches (64-16-10 MLP, "
        f"batch 32): {result['checks']['us_per_batch_on']:.1f} us per batch on vs {result['checks']['us_per_batch_off']:.1f} "
        f"off (medians of {len(result['checks']['raw_us']['on'])} alternating runs), ratio **{result['checks']['ratio']:.3f}**; "
        f"fastest runs: {result['checks']['min_us_per_batch_on']:.1f} vs {result['checks']['min_us_per_batch_off']:.1f} us, "
        f"ratio **{result['checks']['ratio_min']:.3f}**\n"
    )
    out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
