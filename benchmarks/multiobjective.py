"""Multi-objective search on the NAS-Bench-201 table: validation accuracy (max) vs Pixel 3 latency (min).

Each strategy gets `--evals` table look-ups per seed (the nb201 space's own `sample()` on an Optuna
trial, the objective is a CSV row); we report the hypervolume of what it found, normalised by the
hypervolume of the whole table's Pareto front (1.0 = the true front), median and mean over seeds.

    python benchmarks/multiobjective.py --seeds 20 --evals 100
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optuna

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TABLE = ROOT.parent / "shared" / "benchmarks" / "nb201" / "nb201_cifar10.csv"


def load_table(path: Path) -> dict[str, tuple[float, float]]:
    with path.open(newline="") as fh:
        return {r["arch"]: (float(r["valid_acc"]), float(r["latency_ms_pixel3"])) for r in csv.DictReader(fh)}


class Normaliser:
    """Objectives as losses scaled to [0, 1] over the whole table; the reference point is (1.1, 1.1)."""

    def __init__(self, table) -> None:
        vals = np.array(list(table.values()))
        self.lo, self.hi = vals.min(0), vals.max(0)
        self.ref = np.array([1.1, 1.1])

    def losses(self, points) -> np.ndarray:
        p = np.asarray(points, dtype=float).reshape(-1, 2)
        acc = (self.hi[0] - p[:, 0]) / (self.hi[0] - self.lo[0])  # lower is better
        lat = (p[:, 1] - self.lo[1]) / (self.hi[1] - self.lo[1])
        return np.stack([acc, lat], 1)

    def hypervolume(self, points) -> float:
        from optuna._hypervolume import compute_hypervolume

        return float(compute_hypervolume(self.losses(points), self.ref))


def evolution_mo(seed: int):
    """Regularized (aging) evolution with a multi-objective tournament: lowest non-domination rank wins."""
    from optuna.study._multi_objective import _fast_non_domination_rank

    from nas_cli.strategies.evolution import RegularizedEvolutionSampler, mutate_one

    class MOEvolution(RegularizedEvolutionSampler):
        def _multi_objective_check(self, study) -> None:
            pass  # this variant ranks by non-domination, so several objectives are fine

        def propose(self, study, trial, rng) -> dict:
            done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if len(done) < self.population_size:
                return {}
            population = done[-self.population_size:]
            signs = np.array([-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0 for d in study.directions])
            ranks = _fast_non_domination_rank(np.array([t.values for t in population]) * signs)
            picks = rng.choice(len(population), self.tournament_size, replace=False)
            best = min(picks, key=lambda i: (ranks[i], rng.rand()))
            return mutate_one(population[best], rng)

    return MOEvolution(population_size=20, tournament_size=5, seed=seed)


SAMPLERS = {
    "random": lambda s: optuna.samplers.RandomSampler(seed=s),
    "tpe": lambda s: optuna.samplers.TPESampler(seed=s),
    "nsga2": lambda s: optuna.samplers.NSGAIISampler(seed=s, population_size=20),
    "evolution": evolution_mo,
}


def run_one(name: str, seed: int, evals: int, table, space) -> list[tuple[float, float]]:
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=SAMPLERS[name](seed))

    def objective(trial):
        return table[space.describe(space.sample(trial))]

    study.optimize(objective, n_trials=evals)
    return [tuple(t.values) for t in study.trials]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--table", type=Path, default=TABLE)
    ap.add_argument("--samplers", default="nsga2,tpe,random,evolution")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    from nas_cli.spaces.nb201 import NB201Space

    table, space = load_table(args.table), NB201Space()
    norm = Normaliser(table)
    best_hv = norm.hypervolume(list(table.values()))
    names = args.samplers.split(",")
    hv: dict[str, list[float]] = {n: [] for n in names}
    fronts: dict[str, list] = {}
    seconds: dict[str, float] = {n: 0.0 for n in names}
    for seed in range(args.seeds):  # interleaved: every strategy runs once per seed before the next seed
        for name in names:
            t0 = time.perf_counter()
            points = run_one(name, seed, args.evals, table, space)
            seconds[name] += time.perf_counter() - t0
            hv[name].append(norm.hypervolume(points) / best_hv)
            if seed == 0:
                fronts[name] = points
    rows = [{"strategy": n, "median_hv_ratio": statistics.median(v), "mean_hv_ratio": statistics.mean(v),
             "std": statistics.pstdev(v), "min": min(v), "max": max(v), "seconds_per_run": seconds[n] / args.seeds}
            for n, v in hv.items()]
    rows.sort(key=lambda r: -r["median_hv_ratio"])
    base = next(r for r in rows if r["strategy"] == "random")["median_hv_ratio"]
    for r in rows:
        r["vs_random"] = r["median_hv_ratio"] / base
        r["median_gap"] = 1.0 - r["median_hv_ratio"]  # hypervolume still missing vs the true front
        r["gap_vs_random"] = r["median_gap"] / (1.0 - base)
    result = {"table": str(args.table.name), "objectives": ["valid_acc:max", "latency_ms_pixel3:min"],
              "evals": args.evals, "seeds": args.seeds, "reference_point": "(1.1, 1.1) on objectives scaled to [0,1] "
              "over the whole table", "table_front_hypervolume": best_hv, "results": rows, "per_seed": hv,
              "optuna": optuna.__version__}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "multiobjective.json").write_text(json.dumps(result, indent=2))
    md = ["# Multi-objective NAS-Bench-201: valid_acc (max) vs latency_ms_pixel3 (min)", "",
          f"{args.evals} evaluations per run, {args.seeds} seeds, optuna {optuna.__version__}. Hypervolume of "
          "everything found, as a fraction of the hypervolume of the table's true Pareto front "
          "(objectives scaled to [0,1] over the table, reference point (1.1, 1.1)).", "",
          "| strategy | median HV ratio | mean ± std | min | max | missing HV (1 - median) | missing vs random | s per run |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    md += [f"| {r['strategy']} | {r['median_hv_ratio']:.4f} | {r['mean_hv_ratio']:.4f} ± {r['std']:.4f} | "
           f"{r['min']:.4f} | {r['max']:.4f} | {r['median_gap']:.4f} | {r['gap_vs_random']:.2f}x | "
           f"{r['seconds_per_run']:.2f} |" for r in rows]
    md += ["", "nsga2: NSGAIISampler(population_size=20); tpe: TPESampler defaults; evolution: aging evolution "
           "(population 20, tournament 5, one-edge mutation) whose tournament picks the lowest non-domination rank.",
           "Plot: multiobjective.png (seed 0 of each strategy against the table's Pareto front).", ""]
    (args.out / "multiobjective.md").write_text("\n".join(md))
    plot(table, fronts, args.out / "multiobjective.png")
    print("\n".join(md))


def plot(table, fronts, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.study._multi_objective import _is_pareto_front

    def front(points):
        p = np.array(points)
        mask = _is_pareto_front(np.stack([-p[:, 0], p[:, 1]], 1), assume_unique_lexsorted=False)
        return p[mask][np.argsort(p[mask][:, 1])]

    allp = np.array(list(table.values()))
    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    ax.scatter(allp[:, 1], allp[:, 0], s=2, c="0.85", label="all 15,625 cells")
    tf = front(allp)
    ax.step(tf[:, 1], tf[:, 0], where="post", c="k", lw=1.5, label="table Pareto front")
    for name, pts in fronts.items():
        f = front(pts)
        ax.step(f[:, 1], f[:, 0], where="post", lw=1, label=f"{name} (seed 0)")
        ax.scatter(f[:, 1], f[:, 0], s=10)
    ax.set_xlabel("latency_ms_pixel3 (min)")
    ax.set_ylabel("valid_acc % (max)")
    ax.set_ylim(max(80, allp[:, 0].min()), allp[:, 0].max() + 0.5)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("NAS-Bench-201: found Pareto fronts after 100 evaluations")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
