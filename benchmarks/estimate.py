"""Long trials: how good the epoch-time estimate is, and how fast a Ctrl-C ends a long epoch.

1. Estimate accuracy: one `nas search` of the cnn space (random sampler, no pruning, so every
   architecture trains) on real CIFAR-10 JPEGs (32x32 RGB, `../shared/data/cifar10_dev_jpg`), each
   trial estimated before training (trial/epoch_estimate.py: FLOPs, training-set size, calibrated on
   the run's earlier trials) and then measured (median of its epochs). Reported: the relative error
   estimated / measured - 1 per trial: median of |error| and the worst case, overall and per
   calibration stage (the probe alone for the first trial, the probe scaled, then the fitted model).
   `train.max_batches` keeps the largest architectures' epochs to minutes on 2 cores; the estimate
   models it (fewer training steps), so the error is measured on the epochs that ran.
2. Ctrl-C to exit: `nas search` started on the same images with one large architecture enqueued
   (two 128-filter convolutions, 5x5 and 7x7, at full resolution: minutes per epoch here), SIGINT
   sent a few seconds into its first epoch; seconds from the signal to the trial's FAIL record and
   to the process's exit, and the batch the trial record says it stopped at. Target: under 5 s. The
   stop lands at the next batch boundary, so a batch's own time (seconds for this architecture on
   one thread) is part of it.

    python benchmarks/estimate.py --json benchmarks/results/estimate.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CIFAR = ROOT.parent / "shared" / "data" / "cifar10_dev_jpg"
NAS = str(Path(sys.executable).with_name("nas"))
QUIET = ["finetune.enabled=false", "robustness.enabled=false", "pruner=none", "hardware=cpu"]
BIG = {"n_layers": 2, "filters_0": 128, "kernel_0": 5, "pool_0": "none", "filters_1": 128, "kernel_1": 7,
       "pool_1": "none", "activation": "relu", "batch_norm": True, "dropout": 0.1, "dense_units": 256,
       "optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-4, "batch_size": 64}


def load_trials(run: Path):
    import optuna

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(run / "study.journal")))
    return optuna.load_study(study_name="nas", storage=storage).get_trials(deepcopy=False)


def run_dir(root: Path) -> Path:
    return next(p for p in (root / "runs").iterdir() if p.is_dir())


def estimate_accuracy(args, env) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [NAS, "search", "dataset=image_folder", f"dataset.root={CIFAR}", "strategy=random",
               f"study.n_trials={args.trials}", f"train.epochs={args.epochs}", f"train.max_batches={args.max_batches}",
               f"hardware.threads={args.threads}", f"seed={args.seed}", *QUIET]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        rows = []
        for t in load_trials(run_dir(Path(tmp))):
            timing = t.user_attrs.get("epoch_timing") or {}
            if "measured_seconds" not in timing:
                continue
            rows.append({"trial": t.number, "mflops": round(t.user_attrs["flops"] / 1e6, 2),
                         "calibration": timing["calibration"],
                         "estimated_s": timing["estimated_seconds"], "measured_s": timing["measured_seconds"],
                         "error": timing["error"]})

    def stats(sel):
        errs = [abs(r["error"]) for r in sel]
        return {"trials": len(sel), "median_abs_error": round(statistics.median(errs), 4) if errs else None,
                "worst_error": round(max((r["error"] for r in sel), key=abs), 4) if sel else None}

    stages = {"probe": [r for r in rows if r["calibration"] == "probe"],
              "probe scaled": [r for r in rows if r["calibration"].startswith("probe scaled")],
              "fitted": [r for r in rows if r["calibration"].startswith("fitted")]}
    return {"command": " ".join(cmd[1:]), "wall_seconds": round(wall, 1), "all": stats(rows),
            "after_first_trial": stats([r for r in rows if r["calibration"] != "probe"]),
            "by_stage": {k: stats(v) for k, v in stages.items()}, "trials": rows,
            "measured_range_s": [min(r["measured_s"] for r in rows), max(r["measured_s"] for r in rows)]}


def ctrl_c_to_exit(args, env) -> list[dict]:
    out = []
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            enqueue = Path(tmp) / "big.json"
            enqueue.write_text(json.dumps([BIG]))
            cmd = [NAS, "search", "dataset=image_folder", f"dataset.root={CIFAR}", "study.n_trials=1",
                   "train.epochs=1", f"study.enqueue={enqueue}", f"hardware.threads={args.threads}", *QUIET]
            proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            arch = None
            while arch is None:  # the trial has written arch.json: it is measuring cost, then training
                found = list(Path(tmp).glob("runs/*/trials/0/arch.json"))
                arch = found[0] if found else None
                if proc.poll() is not None:
                    raise SystemExit(proc.communicate()[1][-2000:])
                time.sleep(0.05)
            time.sleep(args.into_epoch)
            sent, sent_wall = time.perf_counter(), time.time()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=600)
            seconds = time.perf_counter() - sent
            trial = load_trials(arch.parents[2])[0]
            stop = trial.datetime_complete.timestamp() - sent_wall  # the trial recorded as stopped
            out.append({"repeat": rep, "seconds_to_exit": round(seconds, 3), "seconds_to_trial_stop": round(stop, 3),
                        "exit_code": proc.returncode,
                        "reason": trial.user_attrs.get("fail_reason"), "stopped_at": trial.user_attrs.get("stopped_at"),
                        "estimated_epoch_s": (trial.user_attrs.get("epoch_timing") or {}).get("estimated_seconds")})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=36)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-batches", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--into-epoch", type=float, default=8.0, help="seconds after the trial starts to send SIGINT")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--parts", default="estimate,ctrl_c",
                    help="which parts to run; a part left out is kept from the existing --json file")
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONUNBUFFERED": "1"}
    parts = args.parts.split(",")
    old = json.loads(args.json.read_text()) if args.json and args.json.is_file() else {}
    result = {"machine": {"cpus": os.cpu_count(), "threads": args.threads, "load_at_start": os.getloadavg()[0]}}
    for name, measure in (("estimate", estimate_accuracy), ("ctrl_c", ctrl_c_to_exit)):
        if name in parts:
            load = os.getloadavg()[0]
            result[name] = measure(args, env)
            result.setdefault("load", {})[name] = {"start": load, "end": os.getloadavg()[0], "args": vars(args) | {"json": str(args.json)}}
        else:
            result[name] = old[name]
            result.setdefault("load", {})[name] = (old.get("load") or {}).get(name, {"start": old["machine"]["load_at_start"]})
    est, cc = result["estimate"], result["ctrl_c"]
    ld = result["load"]
    lines = [f"# long trials: epoch-time estimate on CIFAR-10 JPEGs (cnn space, {est['all']['trials']} trials) "
             f"and Ctrl-C during a long epoch ({args.threads} thread(s))", "",
             "1-minute load average on this 2-core machine (other agents' jobs): estimate part "
             f"{ld['estimate'].get('start', 0):.2f} at start, {ld['estimate'].get('end', float('nan')):.2f} at end; "
             f"Ctrl-C part {ld['ctrl_c'].get('start', 0):.2f} at start, {ld['ctrl_c'].get('end', float('nan')):.2f} at end",
             "", "| trials | calibration | median abs error | worst |", "| --- | --- | --- | --- |"]
    for name, s in [("all", est["all"]), ("after the first", est["after_first_trial"]), *est["by_stage"].items()]:
        if s["trials"]:
            lines.append(f"| {name} | {s['trials']} | {s['median_abs_error']:.1%} | {s['worst_error']:+.1%} |")
    lines += ["", f"measured epochs {est['measured_range_s'][0]:.2f}-{est['measured_range_s'][1]:.1f} s; "
              f"target: median within 25 %", "", "| Ctrl-C | seconds to exit | to the trial's FAIL record | exit code | stopped at |",
              "| --- | --- | --- | --- | --- |"]
    for r in cc:
        at = r["stopped_at"] or {}
        lines.append(f"| {r['repeat']} | {r['seconds_to_exit']:.2f} | {r['seconds_to_trial_stop']:.2f} | {r['exit_code']} | "
                     f"epoch {at.get('epoch')} batch {at.get('batch')}/{at.get('batches')} "
                     f"(estimated epoch {r['estimated_epoch_s']:.0f} s) |")
    lines.append(f"\nmax seconds to exit: **{max(r['seconds_to_exit'] for r in cc):.2f}** (target < 5)")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        args.json.with_suffix(".md").write_text(text)


if __name__ == "__main__":
    main()
