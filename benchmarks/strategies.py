"""Search strategies on NAS-Bench-201 (tabular): test accuracy of the arch picked by validation accuracy.

Drives the real samplers the way `nas search search_space=nb201 evaluator=tabular` does (the strategy
YAML composed by Hydra, `make_sampler_and_pruner`, `tabular_objective`), in-process with in-memory
storage for speed. One study per strategy x seed runs to the largest budget; each budget reads the
best-by-validation trial among the first `budget` trials.

  python benchmarks/strategies.py --table ../shared/benchmarks/nb201/nb201_cifar10.csv \
      --strategies all --seeds 50 --seeds-for gp=5 --budgets 25,50,100,300 --json benchmarks/results/strategies.json
  python benchmarks/strategies.py --merge a.json b.json:tpe,gp --json benchmarks/results/strategies.json
  python benchmarks/strategies.py --count-repeats 2000   # equivalent cells among random search's first 100 draws
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ALL = ["random", "grid", "qmc", "tpe", "gp", "cmaes", "nsga2", "evolution", "rl", "local", "thompson"]
REFERENCE = {"random": {100: 93.81, 300: 93.95}, "REA (reference)": {100: 94.05, 300: 94.23},
             "Optuna TPE defaults (reference)": {100: 94.18, 300: 94.27}}


def compose(strategy: str, seed: int, table: str) -> dict:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from nas_cli.commands.search import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="nas_cli.configs", version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=[
            f"strategy={strategy}", f"seed={seed}", "search_space=nb201", "evaluator=tabular",
            f"benchmark.table={table}", "pruner=none"])
    return OmegaConf.to_container(cfg, resolve=True)


def run_one(strategy: str, seed: int, budgets: list[int], table, space, table_path: str) -> dict:
    import optuna

    from nas_cli.study.setup import make_sampler_and_pruner
    from nas_cli.study.tabular import tabular_objective

    settings = compose(strategy, seed, table_path)
    sampler, _ = make_sampler_and_pruner(settings)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    start = time.perf_counter()
    study.optimize(lambda t: tabular_objective(t, space, table), n_trials=max(budgets))
    seconds = time.perf_counter() - start
    trials = study.trials
    out = {}
    for b in budgets:
        best = max(trials[:b], key=lambda t: (t.value, -t.number))
        out[str(b)] = best.user_attrs["metrics"][table.report_metric]
    return {"test": out, "seconds_per_trial": seconds / len(trials)}


def summarise(raw: dict, budgets: list[int], optimum: float) -> dict:
    results = {}
    for name, runs in raw.items():
        results[name] = {}
        for b in budgets:  # a budget counts the runs that reached it (slow strategies may stop earlier)
            vals = [r["test"][str(b)] for r in runs if str(b) in r["test"]]
            if vals:
                results[name][str(b)] = {"mean": statistics.fmean(vals), "std": statistics.pstdev(vals),
                                         "n_seeds": len(vals),
                                         "optimum_found": sum(v >= optimum - 1e-9 for v in vals)}
        results[name]["seconds_per_proposal"] = statistics.median(r["seconds_per_trial"] for r in runs)
    return results


def write_outputs(raw: dict, budgets: list[int], out_json: Path, optimum: float) -> dict:
    results = summarise(raw, budgets, optimum)
    payload = {"results": results, "budgets": budgets, "optimum": optimum, "reference": REFERENCE,
               "raw": raw, "command": " ".join(sys.argv)}
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(payload, indent=1))
    head = ("| strategy | seeds | " + " | ".join(f"@{b}" for b in budgets) + " | s/proposal | optimum picked "
            + ", ".join(f"@{b}" for b in budgets) + " |")
    lines = [head, "|" + "---|" * (len(budgets) + 4)]
    def cell(res, b):  # (n): fewer seeds reached this budget than the row's seeds
        r, seeds = res.get(str(b)), res[str(budgets[0])]["n_seeds"]
        return "-" if r is None else f"{r['mean']:.2f} ± {r['std']:.2f}" + (f" ({r['n_seeds']})" if r["n_seeds"] != seeds else "")

    for name, res in sorted(results.items(), key=lambda kv: -kv[1].get(str(budgets[-1]), {"mean": 0})["mean"]):
        cells = " | ".join(cell(res, b) for b in budgets)
        found = ", ".join(f"{res[str(b)]['optimum_found']}/{res[str(b)]['n_seeds']}" if str(b) in res else "-"
                          for b in budgets)
        lines.append(f"| {name} | {res[str(budgets[0])]['n_seeds']} | {cells} | {res['seconds_per_proposal']:.4f} "
                     f"| {found} |")
    ref = "; ".join(f"{k}: " + ", ".join(f"{v:.2f}@{b}" for b, v in d.items()) for k, d in REFERENCE.items())
    md = ("# Search strategies on NAS-Bench-201 (CIFAR-10, tabular)\n\nMean ± std (over seeds) test accuracy of the "
          f"arch picked by validation accuracy after N evaluations. Optimum {optimum:.2f}.\n"
          f"Reference rows on the same table: {ref}.\n\n" + "\n".join(lines) + "\n\n`" + payload["command"] + "`\n")
    out_json.with_suffix(".md").write_text(md)
    print("\n".join(lines))
    plot(results, budgets, optimum, out_json.with_suffix(".png"))
    return results


def plot(results: dict, budgets: list[int], optimum: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, res in sorted(results.items()):
        have = [b for b in budgets if str(b) in res]
        regret = [max(optimum - res[str(b)]["mean"], 1e-3) for b in have]  # log axis: the optimum plots at 1e-3
        ax.plot(have, regret, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("test regret (optimum - mean test acc, %)")
    ax.set_title("NAS-Bench-201 CIFAR-10: strategies")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def count_repeats(table, sequences: int, draws: int) -> dict:
    """How often uniform random search over NB201 draws a cell equivalent to one it already drew (the
    draws that `grid` and `qmc` skip): `sequences` seeded sequences of `draws` uniform draws over the
    table's architectures (all 15,625 cells, so a uniform draw per edge), equivalence by `cell_key`."""
    import random

    from nas_cli.spaces.nb201 import EDGES, string_to_ops
    from nas_cli.strategies.surrogate import cell_key

    archs = sorted(table.rows)
    keys = {a: cell_key({f"edge_{t}_{s}": op for (t, s), op in zip(EDGES, string_to_ops(a), strict=True)}) for a in archs}
    repeats, repeated_acc = [], []
    for seed in range(sequences):
        rng, seen, n = random.Random(seed), set(), 0
        for _ in range(draws):
            arch = rng.choice(archs)
            if keys[arch] in seen:
                n += 1
                repeated_acc.append(table.rows[arch][table.report_metric])
            seen.add(keys[arch])
        repeats.append(n)
    return {"sequences": sequences, "draws": draws, "distinct_cells": len(set(keys.values())),
            "mean_repeats": statistics.fmean(repeats),
            f"median_{table.report_metric}_of_repeats": statistics.median(repeated_acc)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", default=str(REPO.parent / "shared/benchmarks/nb201/nb201_cifar10.csv"))
    ap.add_argument("--strategies", default="all", help=f"comma list or all ({','.join(ALL)})")
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds run from here (to add seeds in another process)")
    ap.add_argument("--seeds-for", default="", help="fewer seeds for slow strategies, e.g. gp=5,cmaes=20")
    ap.add_argument("--budgets", default="25,50,100,300")
    ap.add_argument("--json", default=str(REPO / "benchmarks/results/strategies.json"))
    ap.add_argument("--merge", nargs="*", help="combine the raw runs of earlier JSON files instead of running "
                    "(FILE:a,b takes only strategies a and b from FILE)")
    ap.add_argument("--count-repeats", type=int, metavar="SEQUENCES", default=0,
                    help="only count how many of the first 100 uniform draws repeat an equivalent cell, "
                    "over SEQUENCES seeded sequences; prints JSON")
    args = ap.parse_args()
    import warnings

    import optuna

    from nas_cli.spaces.nb201 import NB201Space
    from nas_cli.study.tabular import TabularBenchmark

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    budgets = sorted(int(b) for b in args.budgets.split(","))
    table = TabularBenchmark(args.table)
    optimum = max(r[table.report_metric] for r in table.rows.values())
    if args.count_repeats:
        print(json.dumps(count_repeats(table, args.count_repeats, 100), indent=1))
        return
    raw: dict = {}
    if args.merge:
        for item in args.merge:  # FILE, or FILE:a,b to take only those strategies from it
            f, _, only = item.partition(":")
            for name, runs in json.loads(Path(f).read_text())["raw"].items():
                if not only or name in only.split(","):
                    raw.setdefault(name, []).extend(runs)  # the same strategy from several files: more seeds
        write_outputs(raw, budgets, Path(args.json), optimum)
        return
    names = ALL if args.strategies == "all" else args.strategies.split(",")
    seeds_for = {k: int(v) for k, v in (kv.split("=") for kv in args.seeds_for.split(",") if kv)}
    space = NB201Space()
    for name in names:
        raw[name] = []
        t0 = time.perf_counter()
        for seed in range(args.first_seed, args.first_seed + seeds_for.get(name, args.seeds)):
            raw[name].append(run_one(name, seed, budgets, table, space, args.table))
            Path(args.json).with_suffix(".partial.json").write_text(json.dumps({"raw": raw}))  # per-seed checkpoint
        last = [r["test"][str(budgets[-1])] for r in raw[name]]
        print(f"{name}: {len(last)} seeds, mean@{budgets[-1]} {statistics.fmean(last):.3f} "
              f"({time.perf_counter() - t0:.0f}s)", flush=True)
        write_outputs(raw, budgets, Path(args.json), optimum)  # partial results survive an interruption


if __name__ == "__main__":
    main()
