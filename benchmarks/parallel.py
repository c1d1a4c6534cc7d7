"""Parallel trials on one machine: trials per hour of `nas search` with worker processes vs threads.

Three layouts of the same 20-trial study on digits, run through the real CLI, interleaved
(A, B, C, A, B, C, ...) so that load from other processes hits each about equally:
  1x2: hardware.n_jobs=1 hardware.threads=2   (one process, two torch threads)
  2x1: hardware.n_jobs=2 (threads = cores / 2 = 1; two worker processes sharing the journal)
  1x1: hardware.n_jobs=1 hardware.threads=1
The figure is search_seconds from summary.json (worker start-up included, fine-tune off).

    python benchmarks/parallel.py --repeats 3
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

ROOT = Path(__file__).resolve().parents[1]
WORK = None  # --workdir: where the temporary run directories go
LAYOUTS = {
    "1x2": ["hardware.n_jobs=1", "hardware.threads=2"],
    "2x1": ["hardware.n_jobs=2"],
    "1x1": ["hardware.n_jobs=1", "hardware.threads=1"],
}


def run(layout: str, trials: int, epochs: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        exe = Path(sys.executable).with_name("nas")
        args = [str(exe), "search", f"study.n_trials={trials}", f"train.epochs={epochs}", "pruner=none",
                "finetune.enabled=false", "hardware=cpu", "verbosity=0", f"seed={seed}", f"runs_dir={tmp}",
                *LAYOUTS[layout]]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("OMP_NUM_THREADS", None)  # the layout decides the threads
        t0 = time.perf_counter()
        proc = subprocess.run(args, cwd=tmp, env=env, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{layout} failed: {proc.stderr[-2000:]}")
        run_dir = next(p for p in Path(tmp).iterdir() if p.is_dir())
        summary = json.loads((run_dir / "summary.json").read_text())
    search = summary["timings"]["search_seconds"]
    return {"layout": layout, "search_seconds": search, "wall_seconds": wall, "trials": summary["trials"],
            "trials_per_hour": summary["trials"]["total"] / search * 3600,
            "load_before": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temporary run directories")
    args = ap.parse_args()
    global WORK
    WORK = args.workdir
    if WORK is not None:
        WORK.mkdir(parents=True, exist_ok=True)
    runs = []
    for rep in range(args.repeats):
        for layout in LAYOUTS:
            r = run(layout, args.trials, args.epochs, seed=rep)
            runs.append(r)
            print(f"rep {rep} {layout}: {r['search_seconds']:.1f}s search, {r['trials_per_hour']:.0f} trials/h "
                  f"(load {r['load_before']:.1f})", flush=True)
        write_results(args, runs, rep + 1)  # after every round, so a cut-short run still leaves its figures


def write_results(args, runs: list[dict], repeats: int) -> None:
    med = {k: statistics.median(r["search_seconds"] for r in runs if r["layout"] == k) for k in LAYOUTS}
    tph = {k: args.trials / v * 3600 for k, v in med.items()}
    ratio_2x1_1x2 = tph["2x1"] / tph["1x2"]
    ratio_2x1_1x1 = tph["2x1"] / tph["1x1"]
    result = {"trials": args.trials, "epochs": args.epochs, "repeats": repeats, "cores": os.cpu_count(),
              "median_search_seconds": med, "trials_per_hour": tph,
              "ratio_2x1_over_1x2": ratio_2x1_1x2, "ratio_2x1_over_1x1": ratio_2x1_1x1,
              "targets": {"2x1_over_1x2": 1.25, "2x1_over_1x1": 1.9},
              "load_average_1min": [r["load_before"] for r in runs], "runs": runs}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "parallel.json").write_text(json.dumps(result, indent=2))
    loads = [r["load_before"] for r in runs]
    md = ["# Parallel trials: worker processes vs threads (`nas search`, digits)", "",
          f"{args.trials} trials x {args.epochs} epochs, cnn space, pruning off, fine-tune off; {repeats} "
          f"interleaved repeats, medians; {os.cpu_count()} cores. search_seconds includes worker start-up.", "",
          "| layout | median search s | trials/hour | vs 1x2 | vs 1x1 |", "| --- | --- | --- | --- | --- |"]
    md += [f"| {k} | {med[k]:.1f} | {tph[k]:.0f} | {tph[k] / tph['1x2']:.2f}x | {tph[k] / tph['1x1']:.2f}x |"
           for k in LAYOUTS]
    md += ["", f"Targets: 2x1 >= 1.25x of 1x2 (measured {ratio_2x1_1x2:.2f}x), >= 1.9x of 1x1 "
           f"(measured {ratio_2x1_1x1:.2f}x).",
           f"1-minute load average before each run: min {min(loads):.1f}, max {max(loads):.1f} "
           f"(anything above 0 on this 2-core machine is other people's work competing with the benchmark).", ""]
    (args.out / "parallel.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
