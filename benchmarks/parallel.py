"""Parallel trials on one machine: trials per hour of `nas search` with worker processes vs threads.

Every layout and repeat runs the SAME workload: N small-CNN parameter sets on digits, drawn once per
benchmark run by a seeded RandomSampler over the real cnn space (narrowed to small models, see
SMALL) and the searched train hyperparameters, written to a file and passed as
`study.enqueue=<file> study.n_trials=N`. Three layouts, run through the real CLI and interleaved
(A, B, C, A, B, C, ...) so that load from other processes hits each about equally:
  1x2: hardware.n_jobs=1 hardware.threads=2   (one process, two torch threads)
  2x1: hardware.n_jobs=2 (threads = cores / 2 = 1; two worker processes sharing the journal)
  1x1: hardware.n_jobs=1 hardware.threads=1
The figure is search_seconds from summary.json (worker start-up included; pruning and fine-tune
off). Each run is checked to have evaluated exactly the workload, each set once (it fails loudly
otherwise), so the ratios compare the same work.

    python benchmarks/parallel.py --repeats 3
    python benchmarks/parallel.py --repeats 1 --trials 6 --out /tmp/parbench   # smoke run
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
LAYOUTS = {
    "1x2": ["hardware.n_jobs=1", "hardware.threads=2"],
    "2x1": ["hardware.n_jobs=2"],
    "1x1": ["hardware.n_jobs=1", "hardware.threads=1"],
}
# Small models (the target): at most 2 conv layers of 16/32 filters, kernels 3/5, head 0/64.
SMALL = ["dataset=digits", "search_space=cnn", "search_space.max_layers=2", "search_space.filters=[16,32]",
         "search_space.kernel_sizes=[3,5]", "search_space.dense_units=[0,64]"]
COMMON = ["pruner=none", "finetune.enabled=false", "hardware=cpu", "verbosity=0", "seed=0"]


def make_workload(n: int, seed: int) -> list[dict]:
    """N parameter sets from a seeded RandomSampler over the real (narrowed) cnn space and train ranges."""
    import optuna
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from nas_cli.commands.search import register_resolvers
    from nas_cli.data import load_dataset
    from nas_cli.spaces import build_space
    from nas_cli.study.enqueue import check_param_sets
    from nas_cli.trial.objective import sample_hparams

    register_resolvers()
    with initialize_config_module(config_module="nas_cli.configs", version_base="1.3"):
        settings = OmegaConf.to_container(compose(config_name="config", overrides=SMALL), resolve=True)
    ds = dict(settings["dataset"])
    spec = load_dataset(ds.pop("name"), **ds).spec
    sp = dict(settings["search_space"])
    space = build_space(sp.pop("name"), spec=spec, **sp)

    def sample(trial):
        return space.sample(trial), sample_hparams(trial, settings["train"])

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    sets = []
    for _ in range(n):
        trial = study.ask()
        sample(trial)
        sets.append(dict(trial.params))
        study.tell(trial, 0.0)
    return check_param_sets(sets, sample, Path("workload"))  # the same check `nas search` applies


def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def check_evaluated(run_dir: Path, workload: list[dict], layout: str) -> list:
    """The run's trials are exactly the workload, each set once, all COMPLETE; returns the trials."""
    import optuna

    from nas_cli.study.storage import open_storage

    study = optuna.load_study(study_name="nas", storage=open_storage(str(run_dir / "study.journal")))
    trials = study.get_trials(deepcopy=False)
    got = sorted(_key(t.params) for t in trials)
    want = sorted(_key(p) for p in workload)
    bad = [t.number for t in trials if t.state.name != "COMPLETE"]
    if got != want or bad:
        missing = len(set(want) - set(got))
        raise SystemExit(f"{layout}: the run did not evaluate exactly the workload ({len(trials)} trials for "
                         f"{len(workload)} sets, {missing} set(s) missing, {len(got) - len(set(got))} repeated, "
                         f"not COMPLETE: {bad}); run dir {run_dir}")
    return trials


def run(layout: str, workload_file: Path, workload: list[dict], epochs: int, work: Path | None) -> dict:
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        exe = Path(sys.executable).with_name("nas")
        args = [str(exe), "search", *SMALL, *COMMON, f"study.n_trials={len(workload)}", f"train.epochs={epochs}",
                f"study.enqueue={workload_file}", f"runs_dir={tmp}", *LAYOUTS[layout]]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("OMP_NUM_THREADS", None)  # the layout decides the threads
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run(args, cwd=tmp, env=env, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{layout} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        run_dir = next(p for p in Path(tmp).iterdir() if p.is_dir())
        summary = json.loads((run_dir / "summary.json").read_text())
        trials = check_evaluated(run_dir, workload, layout)
        train_seconds = sum(t.user_attrs.get("metrics", {}).get("train_seconds", 0.0) for t in trials)
        workers = len({t.user_attrs.get("worker") for t in trials})
        steady = steady_rate(trials)
        timing = where_time_goes(trials, summary["timings"]["search_seconds"])
    search = summary["timings"]["search_seconds"]
    return {"layout": layout, "search_seconds": search, "wall_seconds": wall, "trials": summary["trials"],
            "trials_per_hour": summary["trials"]["complete"] / search * 3600, "enqueue": summary.get("enqueue"),
            "train_seconds_sum": train_seconds, "worker_processes": workers, "load_before": load,
            "steady_trials_per_hour": steady, **timing}


def where_time_goes(trials: list, search_seconds: float) -> dict:
    """From the journal's trial timestamps: the finishing tail (the first worker's last trial end to the
    last worker's; 0 with one worker), the time outside trials (search seconds minus first trial start
    to last trial end: start-up and finish), and the median per-trial time outside training."""
    last_end: dict = {}
    for t in trials:
        w = t.user_attrs.get("worker")
        last_end[w] = max(last_end.get(w, t.datetime_complete), t.datetime_complete)
    first = min(t.datetime_start for t in trials)
    span = (max(last_end.values()) - first).total_seconds()
    outside = [(t.datetime_complete - t.datetime_start).total_seconds()
               - t.user_attrs.get("metrics", {}).get("train_seconds", 0.0) for t in trials]
    return {"tail_seconds": (max(last_end.values()) - min(last_end.values())).total_seconds(),
            "outside_trials_seconds": search_seconds - span,
            "median_ms_per_trial_outside_training": statistics.median(outside) * 1000}


def steady_rate(trials: list) -> float:
    """Trials per hour while every worker is busy: the sum over worker processes of the trials each ran
    divided by its span (its first trial's start to its last trial's end, from the journal's timestamps).
    It leaves out start-up and the finishing tail (one worker idle while the other ends its last trial),
    the end effects that weigh on a short fixed-size study but not on an hour of trials."""
    by_worker: dict = {}
    for t in trials:
        by_worker.setdefault(t.user_attrs.get("worker"), []).append(t)
    rate = 0.0
    for ts in by_worker.values():
        span = (max(t.datetime_complete for t in ts) - min(t.datetime_start for t in ts)).total_seconds()
        rate += len(ts) / span * 3600
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--trials", type=int, default=20, help="N: size of the fixed workload (= study.n_trials)")
    ap.add_argument("--epochs", type=int, default=8, help="train.epochs per trial (8: the train default)")
    ap.add_argument("--workload-seed", type=int, default=0, help="seed of the RandomSampler that draws the workload")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temporary run directories")
    args = ap.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workload = make_workload(args.trials, args.workload_seed)
    runs = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workload_file = Path(tmp) / "workload.json"
        workload_file.write_text(json.dumps(workload, indent=1))
        for rep in range(args.repeats):
            for layout in LAYOUTS:
                r = run(layout, workload_file, workload, args.epochs, args.workdir)
                r["repeat"] = rep
                runs.append(r)
                print(f"rep {rep} {layout}: {r['search_seconds']:.1f}s search, {r['trials_per_hour']:.0f} trials/h, "
                      f"train {r['train_seconds_sum']:.1f}s summed over trials (load {r['load_before']:.1f})",
                      flush=True)
            write_results(args, workload, runs, rep + 1)  # after every round: a cut-short run keeps its figures


def write_results(args, workload: list[dict], runs: list[dict], repeats: int) -> None:
    med = {k: statistics.median(r["search_seconds"] for r in runs if r["layout"] == k) for k in LAYOUTS}
    tph = {k: args.trials / v * 3600 for k, v in med.items()}
    ratio_2x1_1x2 = tph["2x1"] / tph["1x2"]
    ratio_2x1_1x1 = tph["2x1"] / tph["1x1"]
    # Each round runs the three layouts back to back, so a round's ratio compares runs under the same load.
    rounds = [{r["layout"]: r["search_seconds"] for r in runs if r["repeat"] == i} for i in range(repeats)]
    paired = {"2x1_over_1x2": [x["1x2"] / x["2x1"] for x in rounds], "2x1_over_1x1": [x["1x1"] / x["2x1"] for x in rounds]}
    loads = [r["load_before"] for r in runs]
    steady = {k: statistics.median(r["steady_trials_per_hour"] for r in runs if r["layout"] == k) for k in LAYOUTS}
    steady_paired = {"2x1_over_1x2": [], "2x1_over_1x1": []}
    for i in range(repeats):
        x = {r["layout"]: r["steady_trials_per_hour"] for r in runs if r["repeat"] == i}
        steady_paired["2x1_over_1x2"].append(x["2x1"] / x["1x2"])
        steady_paired["2x1_over_1x1"].append(x["2x1"] / x["1x1"])
    result = {"trials": args.trials, "epochs": args.epochs, "repeats": repeats, "cores": os.cpu_count(),
              "workload": {"fixed": True, "n": len(workload), "seed": args.workload_seed,
                           "generator": "optuna.samplers.RandomSampler over the cnn space and train.search ranges",
                           "space_overrides": SMALL, "common_overrides": COMMON,
                           "checked": "every run evaluated exactly these sets, each once, all COMPLETE",
                           "params": workload},
              "median_search_seconds": med, "trials_per_hour": tph,
              "ratio_2x1_over_1x2": ratio_2x1_1x2, "ratio_2x1_over_1x1": ratio_2x1_1x1,
              "per_round_ratios": paired,
              "median_per_round_ratio": {k: statistics.median(v) for k, v in paired.items()},
              "steady_trials_per_hour": steady,
              "steady_ratio_2x1_over_1x2": steady["2x1"] / steady["1x2"],
              "steady_ratio_2x1_over_1x1": steady["2x1"] / steady["1x1"],
              "steady_per_round_ratios": steady_paired,
              "targets": {"2x1_over_1x2": 1.25, "2x1_over_1x1": 1.9},
              "load_average_1min": loads, "runs": runs}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "parallel.json").write_text(json.dumps(result, indent=2))
    md = ["# Parallel trials: worker processes vs threads (`nas search`, digits)", "",
          f"Fixed workload: the same {args.trials} small-CNN parameter sets (RandomSampler seed {args.workload_seed}, "
          f"<= 2 conv layers of 16/32 filters) enqueued with `study.enqueue` in every layout and repeat, each checked "
          f"evaluated exactly once; {args.epochs} epochs, pruning off, fine-tune off; {repeats} interleaved "
          f"repeat(s), medians; {os.cpu_count()} cores. search_seconds includes worker start-up.", "",
          "| layout | median search s | trials/hour | vs 1x2 | vs 1x1 |", "| --- | --- | --- | --- | --- |"]
    md += [f"| {k} | {med[k]:.1f} | {tph[k]:.0f} | {tph[k] / tph['1x2']:.2f}x | {tph[k] / tph['1x1']:.2f}x |"
           for k in LAYOUTS]
    md += ["", f"Targets: 2x1 >= 1.25x of 1x2 (measured {ratio_2x1_1x2:.2f}x), >= 1.9x of 1x1 "
           f"(measured {ratio_2x1_1x1:.3f}x). These are ratios of the medians.",
           "Per round (the three layouts back to back, same load): 2x1 / 1x2 "
           + ", ".join(f"{v:.2f}x" for v in paired["2x1_over_1x2"])
           + f" (median {statistics.median(paired['2x1_over_1x2']):.2f}x); 2x1 / 1x1 "
           + ", ".join(f"{v:.2f}x" for v in paired["2x1_over_1x1"])
           + f" (median {statistics.median(paired['2x1_over_1x1']):.2f}x).",
           f"1-minute load average before each run: min {min(loads):.1f}, max {max(loads):.1f} "
           f"(it counts the benchmark's own previous runs: about 1 when nothing else runs).", "",
           "Steady state (trials per hour while every worker is busy: per worker process, its trials over the span "
           "from its first trial's start to its last trial's end, summed over workers; start-up and the finishing "
           "tail left out):", "",
           "| layout | median steady trials/hour | vs 1x2 | vs 1x1 |", "| --- | --- | --- | --- |"]
    md += [f"| {k} | {steady[k]:.0f} | {steady[k] / steady['1x2']:.2f}x | {steady[k] / steady['1x1']:.2f}x |"
           for k in LAYOUTS]
    md += ["", "Per round, steady 2x1 / 1x1: " + ", ".join(f"{v:.2f}x" for v in steady_paired["2x1_over_1x1"])
           + f" (median {statistics.median(steady_paired['2x1_over_1x1']):.3f}x).", "",
           "Where the time goes (medians over repeats, from the journal's trial timestamps): the finishing tail "
           "(first worker's last trial end to the last worker's), the seconds outside trials (start-up and "
           "finish), the per-trial time outside training (evaluation, cost, journal), and the summed "
           f"train_seconds of the {args.trials} trials:", "",
           "| layout | tail s | outside trials s | ms/trial outside training | summed training s |",
           "| --- | --- | --- | --- | --- |"]
    for k in LAYOUTS:
        rs = [r for r in runs if r["layout"] == k]
        md.append(f"| {k} | {statistics.median(r['tail_seconds'] for r in rs):.3f} "
                  f"| {statistics.median(r['outside_trials_seconds'] for r in rs):.3f} "
                  f"| {statistics.median(r['median_ms_per_trial_outside_training'] for r in rs):.1f} "
                  f"| {statistics.median(r['train_seconds_sum'] for r in rs):.2f} |")
    md.append("")
    (args.out / "parallel.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
