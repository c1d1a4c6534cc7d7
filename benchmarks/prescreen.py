"""Pre-screening end to end: does `prescreen` reach the test accuracy of a plain 20-trial search in at
most a third of its wall time? (issue 21, second "Measured" item)

For each dataset and seed, three `nas search` runs, each its own process, on one thread, same seed,
same training and fine-tune budgets, run one after another (order rotated per seed, so a change in
the machine's load does not always hit the same variant):

- plain:     study.n_trials=20 (the default TPE sampler and median pruner), nothing pre-screened;
- prescreen: prescreen.candidates=N prescreen.keep=K study.n_trials=K: N architectures scored untrained
             (zero_cost.proxy, the default ensemble), only K trained: the best by the product's default
             pick (score rank minus FLOPs rank, prescreen.cost_weight=1), with fixed safe hyperparameters
             (prescreen.hparams=default); `--prescreen-overrides` changes that for an ablation;
- control:   study.n_trials=K without the pre-screen: whether K trained trials reach the accuracy
             anyway (then the pre-screen is not what saves the time).

Each run ends with the usual fine-tune of its best trial (finetune.top_k=1) and one evaluation on the
held-out test split; export and robustness are off in all three (the same fixed cost for each).
Reported per run: test accuracy, wall time of the process (imports and data loading included), the
search and fine-tune seconds from summary.json, the pre-screen's seconds and its share of the search.
Verdict per dataset (means over seeds): accuracy "the same" when the prescreen run's mean test
accuracy is at least the plain run's minus one standard error of a test-split accuracy
(sqrt(p(1-p)/n_test)); time target: prescreen wall <= plain wall / 3.

Data: digits (sklearn, built in) and the CIFAR-10 JPEGs in ../shared/data/cifar10_dev_jpg
(`dataset=image_folder`, 4,000 train / 1,000 test images; `dataset.max_train` trims the training split).

    python benchmarks/prescreen.py --json benchmarks/results/prescreen.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NAS_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
NAS = str(Path(sys.executable).with_name("nas"))
COMMON = ["hardware=cpu", "hardware.threads=1", "finetune.top_k=1", "finetune.refit=false",
          "export.enabled=false", "robustness.enabled=false", "verbosity=0"]


def dataset_args(args) -> dict[str, list[str]]:
    """Per dataset: the overrides that set its data and budgets (the same for the three variants)."""
    return {
        "digits": ["dataset=digits", f"train.epochs={args.digits_epochs}",
                   f"finetune.epochs={args.digits_finetune_epochs}"],
        "cifar10_jpg": ["dataset=image_folder", f"dataset.root={SHARED / 'cifar10_dev_jpg'}",
                        f"dataset.max_train={args.cifar_max_train}", f"train.epochs={args.cifar_epochs}",
                        f"finetune.epochs={args.cifar_finetune_epochs}", f"constraints.max_flops={args.cifar_max_flops}"],
    }


def variants(args, n: int) -> dict[str, list[str]]:
    return {"plain": [f"study.n_trials={args.plain_trials}"],
            "prescreen": [f"study.n_trials={args.keep}", f"prescreen.candidates={n}", f"prescreen.keep={args.keep}",
                          *args.prescreen_overrides],
            "control": [f"study.n_trials={args.keep}"]}


def run_one(overrides: list[str], seed: int, tmp: Path, name: str) -> dict:
    runs = tmp / name
    cmd = [NAS, "search", *COMMON, f"seed={seed}", f"runs_dir={runs}", *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    run = next(p for p in runs.iterdir() if p.is_dir())
    s = json.loads((run / "summary.json").read_text())
    ft, t = s["finetune"], s["timings"]
    pre = s.get("prescreen") or {}
    return {"command": "nas search " + " ".join(cmd[2:]).replace(str(runs), "RUNS"), "load_1min": round(load, 2),
            "wall_seconds": round(wall, 2), "search_seconds": round(t["search_seconds"], 2),
            "finetune_seconds": round(t.get("finetune_seconds", 0.0), 2), "setup_seconds": round(t["setup_seconds"], 2),
            "import_seconds": round(t["import_seconds"], 2), "trials": s["trials"],
            "best_val": s["best_trials"][0]["values"], "selected_trial": ft["selected_trial"],
            "selected": next((b.get("description") for b in s["best_trials"] if b["number"] == ft["selected_trial"]), None),
            "test_accuracy": ft["test"]["accuracy"], "test_count": s["data"]["test"],
            "prescreen": {k: pre.get(k) for k in ("candidates", "scored", "keep", "seconds", "seconds_per_candidate",
                                                  "share_of_search")} if pre else None}


NOTES = """## Reading (written after the run)

- Verdict: met on both datasets, with the product's default pick (`prescreen.cost_weight=1`,
  `prescreen.hparams=default`, study/prescreen_pick.py). digits: -0.003 test accuracy (one standard
  error 0.008) in 0.234x the plain search's wall time (27.5 s against 117.3 s, means of 3 seeds).
  CIFAR-10: -0.014 (one standard error 0.015: "the same" by this benchmark's rule, but only just;
  per seed +0.003, -0.028, -0.017) in 0.304x (30.9 s against 101.6 s): close to both edges, so a
  rerun under other load could land on either side of 1/3.
- What changed since the earlier run (git history of this file: digits 0.59x at -0.005, CIFAR 0.22x at
  -0.064, same arguments but CIFAR N=400): two defaults of the pick. (1) cost-aware: the ensemble
  (synflow, jacob_cov, params) ranks large networks first, so the kept trials were the slowest to train
  and fine-tune; the pick is now the score's rank minus the FLOPs' rank. (2) the kept trials train
  with fixed safe hyperparameters (Adam, lr 1e-3, weight decay 1e-4, batch 64) instead of the random
  ones each candidate was sampled with: no proxy sees a learning rate or optimizer, so a kept
  architecture could be trained with, say, SGD at lr 3e-4 for 2 epochs; with sampled ones the CIFAR
  runs below range from 0.251 to 0.390 per seed, with the fixed ones from 0.339 to 0.367.
- Ablation (`prescreen_ablation.json`: the prescreen variant alone, same arguments and seeds, run just
  after this one at load 2.5-4.1, so compared with this run's plain means). Mean test accuracy and
  wall time over the 3 seeds:

| pick | digits | CIFAR-10 |
| --- | --- | --- |
| plain 20 trials (above) | 0.9768, 117.3 s | 0.3670, 101.6 s |
| both (the default, above) | 0.9740, 27.5 s (x0.23) | 0.3530, 30.9 s (x0.30) |
| old: `prescreen.cost_weight=0 prescreen.hparams=sampled` | 0.9722, 84.6 s (x0.72) | 0.3103, 29.6 s (x0.29) |
| fixed hyperparameters only: `prescreen.cost_weight=0` | 0.9805, 89.6 s (x0.76) | 0.3560, 39.5 s (x0.39) |
| cost-aware only: `prescreen.hparams=sampled` | 0.9740, 17.6 s (x0.15) | 0.3360, 21.6 s (x0.21) |

- The cost term buys the time (digits 85-90 s -> 18-28 s), the fixed hyperparameters buy CIFAR's
  accuracy (0.310 / 0.336 -> 0.353 / 0.356); only both together meet the target on both datasets
  (cost-aware alone is faster but 0.031 lower on CIFAR, two standard errors). With 3 seeds a mean
  still moves by about one standard error between picks.
- Where the prescreen run's 25-37 s go (CIFAR means): imports 5.4 s and set-up 6.0 s (the same in
  every variant: data decoding, the FLOP counter's and optimizer's one-time warm-up), the pre-screen
  6.2 s, 5 trials 7.8 s, fine-tune 3.4 s. The pre-screen is 42-51 % of its own short search but
  4-12 % of the plain search's time (means: digits 7 %, CIFAR 8 %). CIFAR N=200 (not 400 as
  before): under `constraints.max_flops=1e7` about 85 % of sampled candidates are over the limit (rejected on the meta device, ~16 ms each) and
  25-32 are scored (~0.15 s each: jacob_cov's input gradients are most of it); FLOPs and params of
  the limit check are now reused instead of counted again. digits: N=100, 6.2 s.
- The control (5 plain trials, no pre-screen) lost 0.014 (digits) and 0.018 (CIFAR) at 0.43x / 0.40x
  the wall time: the pre-screen is both faster (cheap kept networks, no big random ones) and at least
  as accurate as 5 random trials, though with 3 seeds the accuracy difference is not resolved.
- Load: the 1-minute load average was 2.75-5.08 at the runs' starts (other agents' jobs on 2 cores);
  variants rotate within each seed. Plain runs pruned 5-10 of 20 trials; prescreen runs prune none
  (the median pruner waits for 5 finished trials).
"""


def verdict(rows: list[dict], n_test: int) -> dict:
    by = {v: [r for r in rows if r["variant"] == v] for v in ("plain", "prescreen", "control")}
    mean = {v: {"test_accuracy": statistics.mean(r["test_accuracy"] for r in rs),
                "wall_seconds": statistics.mean(r["wall_seconds"] for r in rs),
                "search_seconds": statistics.mean(r["search_seconds"] for r in rs)} for v, rs in by.items() if rs}
    if "plain" not in mean:  # a partial run (--variants): merged with its plain run later
        return {"means": mean}
    p = mean["plain"]["test_accuracy"]
    se = math.sqrt(max(p * (1 - p), 1e-12) / n_test)
    out = {"means": mean, "test_images": n_test, "accuracy_standard_error": round(se, 4)}
    for v in ("prescreen", "control"):
        if v in mean:
            out[v] = {"accuracy_diff": round(mean[v]["test_accuracy"] - p, 4),
                      "same_accuracy": mean[v]["test_accuracy"] >= p - se,
                      "wall_ratio": round(mean[v]["wall_seconds"] / mean["plain"]["wall_seconds"], 3),
                      "search_ratio": round(mean[v]["search_seconds"] / mean["plain"]["search_seconds"], 3)}
            out[v]["target_met"] = out[v]["same_accuracy"] and out[v]["wall_ratio"] <= 1 / 3
    return out


def markdown(result: dict) -> str:
    a = result["args"]
    loads = [r["load_1min"] for block in result["datasets"].values() for r in block["runs"]]
    lines = [f"# prescreen vs a plain {a['plain_trials']}-trial search (1 thread; 1-minute load average "
             f"{min(loads):.2f} to {max(loads):.2f} at the runs' starts, on 2 shared cores)", "",
             "Each run: `nas search` with " + " ".join(f"`{c}`" for c in COMMON) + "; plain: `study.n_trials="
             f"{a['plain_trials']}`; prescreen: `prescreen.candidates=N prescreen.keep={a['keep']} study.n_trials={a['keep']}`"
             + "".join(f" `{o}`" for o in a.get("prescreen_overrides") or [])
             + " (otherwise the defaults: `prescreen.cost_weight=1` `prescreen.hparams=default`); "
             f"control: `study.n_trials={a['keep']}` without pre-screen.", ""]
    for ds, block in result["datasets"].items():
        seeds = sorted({r["seed"] for r in block["runs"]})
        lines += [f"## {ds} (seeds {seeds}): " + " ".join(f"`{x}`" for x in block["overrides"]), "",
                  "| seed | variant | test acc | wall s | search s | fine-tune s | trials (complete/pruned) | "
                  "pre-screen: scored of N sampled, s (share of search) | selected |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in block["runs"]:
            pre = r["prescreen"]
            share = (f"{pre['scored']} of {pre['candidates']}, {pre['seconds']:.1f} ({pre['share_of_search']:.0%})"
                     if pre else "")
            lines.append(f"| {r['seed']} | {r['variant']} | {r['test_accuracy']:.4f} | {r['wall_seconds']:.1f} | "
                         f"{r['search_seconds']:.1f} | {r['finetune_seconds']:.1f} | "
                         f"{r['trials']['complete']}/{r['trials']['pruned']} | {share} | {r['selected']} |")
        v = block["verdict"]
        lines.append("")
        for name in ("prescreen", "control"):
            if name in v and "plain" in v["means"]:
                x = v[name]
                lines.append(f"- **{name}** vs plain (means over seeds): test accuracy {x['accuracy_diff']:+.4f} "
                             f"(standard error of one run's test accuracy {v['accuracy_standard_error']:.4f}, "
                             f"{v['test_images']} test images: {'same' if x['same_accuracy'] else 'lower'}), "
                             f"wall time x{x['wall_ratio']:.3f}, search time x{x['search_ratio']:.3f}; "
                             f"target (same accuracy, wall <= 1/3): **{'met' if x['target_met'] else 'not met'}**")
        lines.append("")
    return "\n".join(lines) + "\n" + NOTES


def merge(files: list[Path], out: Path) -> None:
    """One result from several (e.g. the datasets run as separate processes): datasets side by side,
    each keeping its own arguments and load figures."""
    parts = [json.loads(f.read_text()) for f in files]
    result = {"args": parts[0]["args"], "machine": {"cpus": parts[0]["machine"]["cpus"],
              "load_at_start": max(p["machine"]["load_at_start"] for p in parts),
              "load_at_end": max(p["machine"]["load_at_end"] for p in parts)},
              "datasets": {}, "parts": [{"args": p["args"], "machine": p["machine"]} for p in parts]}
    for p in parts:  # a later file's (dataset, seed, variant) run replaces an earlier one's
        for ds, block in p["datasets"].items():
            old = result["datasets"].get(ds)
            runs = {(r["seed"], r["variant"]): r for r in (old["runs"] if old else [])}
            runs.update({(r["seed"], r["variant"]): r for r in block["runs"]})
            rows = sorted(runs.values(), key=lambda r: (r["seed"], ("plain", "prescreen", "control").index(r["variant"])))
            result["datasets"][ds] = {**(old or block), "runs": rows, "verdict": verdict(rows, rows[0]["test_count"])}
    text = markdown(result)
    print(text)
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="digits,cifar10_jpg")
    ap.add_argument("--variants", default="plain,prescreen,control")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--plain-trials", type=int, default=20)
    ap.add_argument("--keep", type=int, default=5, help="prescreen.keep = the prescreen run's study.n_trials")
    ap.add_argument("--digits-candidates", type=int, default=100)
    ap.add_argument("--digits-epochs", type=int, default=4)
    ap.add_argument("--digits-finetune-epochs", type=int, default=10)
    ap.add_argument("--cifar-candidates", type=int, default=200)
    ap.add_argument("--cifar-max-train", type=int, default=800)
    ap.add_argument("--cifar-epochs", type=int, default=2)
    ap.add_argument("--cifar-finetune-epochs", type=int, default=4)
    ap.add_argument("--cifar-max-flops", type=float, default=1e7)
    ap.add_argument("--prescreen-overrides", nargs="*", default=[],
                    help="more overrides for the prescreen variant only (an ablation): prescreen.cost_weight=0 "
                         "prescreen.hparams=sampled is the pick before cost_weight and hparams existed")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--merge", type=Path, nargs="+", help="only merge these result files (run apart) into --json")
    args = ap.parse_args()
    if args.merge:
        merge(args.merge, args.json)
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    result = {"args": {**vars(args), "seeds": seeds, "json": str(args.json)},
              "machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()[0]}, "datasets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for ds in args.datasets.split(","):
            n = args.digits_candidates if ds == "digits" else args.cifar_candidates
            rows = []
            for i, seed in enumerate(seeds):
                names = [v for v in variants(args, n) if v in args.variants.split(",")]
                names = names[i % 3:] + names[: i % 3]  # rotate the order per seed
                for name in names:
                    r = run_one(dataset_args(args)[ds] + variants(args, n)[name], seed, Path(tmp), f"{ds}-{seed}-{name}")
                    rows.append({"seed": seed, "variant": name, **r})
                    print(f"{ds} seed {seed} {name}: test {r['test_accuracy']:.4f} wall {r['wall_seconds']:.1f}s "
                          f"search {r['search_seconds']:.1f}s load {r['load_1min']}", flush=True)
            result["datasets"][ds] = {"overrides": dataset_args(args)[ds], "candidates": n, "runs": rows,
                                      "verdict": verdict(rows, rows[0]["test_count"])}
            result["machine"]["load_at_end"] = os.getloadavg()[0]
            text = markdown(result)  # written after each dataset: a later failure keeps the earlier results
            if args.json:
                args.json.write_text(json.dumps(result, indent=2) + "\n")
                args.json.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
