"""Searched NCF/MF networks (`nas search dataset=ratings`) against the classic recommendation baselines
on MovieLens latest-small (100,836 ratings, 610 users, 9,724 movies), one thread.

Every method sees the same splits, made by `load_dataset("ratings", ...)` with the options the nas
run uses (its config.yaml's dataset section is recorded and checked):

1. Explicit feedback, random 80/10/10 split (seed 0): RMSE and MAE on the test split of
   - the global mean of the training ratings;
   - user + item biases (Koren's baseline predictor: damped, alternating least squares, the damping
     chosen on the validation split from a small grid);
   - plain MF trained with the same loop (`nas_cli.trial.fit.fit`, `mf_bias` with 64 factors, AdamW at
     lr 3e-3, no penalty: the untuned default) and the same MF with its weight decay chosen on the
     validation split (3 values);
   - `nas search` (space ncf: GMF, MLP, NeuMF, biased MF, with the searched L2 penalty, and I-AutoRec on
     the bias residuals; train=ratings, batch sizes up to 16384; the starting points of
     configs/enqueue/ncf_explicit.yaml first; no refit, so every method learns from the training
     split alone).
   Target: nas RMSE below the bias baseline by >= 0.03 and below plain MF.
2. Implicit feedback, leave-last-out per user by timestamp, 99 seeded negatives per held-out item (He
   et al. 2017's protocol): HR@10 and NDCG@10 of item popularity, BPR-MF (the same loop, BPR loss,
   one negative per positive, 64 factors, L2 chosen on validation from 3 values) and `nas search`
   (the starting points of configs/enqueue/ncf_implicit.yaml first: BPR-MF and He et al.'s NeuMF).
   Target: nas ahead of both.
3. One epoch of `fit` (implicit: the negative-sampling hook, 4 negatives per positive, batch 1024;
   explicit: batch 1024) against a hand-written loop over the same index tensors (the same sampling
   ops inline, AdamW, the same validation pass), alternating, median of the repeats: ratio nas /
   plain (target <= 1.05).

    python benchmarks/recommendation.py --json benchmarks/results/recommendation.json \
        --md benchmarks/results/recommendation.md
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
SHARED = Path(os.environ.get("NAS_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
LOG = SHARED / "movielens_latest_small" / "ratings.csv"
EXPLICIT = {"feedback": "explicit", "split": "random", "val_fraction": 0.1, "test_fraction": 0.1, "seed": 0}
IMPLICIT = {"feedback": "implicit", "split": "leave_last_out", "eval_negatives": 99, "seed": 0}


def load(options: dict):
    from nas_cli.data import load_dataset

    return load_dataset("ratings", path=str(LOG), **options)


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


# ---------------------------------------------------------------- baselines


def bias_baseline(d, dampings=(1.0, 3.0, 10.0, 25.0), sweeps: int = 10) -> dict:
    """mu + b_u + b_i, fitted by alternating damped means on the training split; damping by validation."""
    import numpy as np

    from nas_cli.tasks.ranking_metrics import rating_errors

    x, y = d.train_x.numpy(), d.train_y.numpy().astype(np.float64)
    users, items = int(d.spec.ratings["n_users"]), int(d.spec.ratings["n_items"])
    lo_hi, mu = d.spec.ratings["rating_range"], float(y.mean())
    n_u, n_i = np.bincount(x[:, 0], minlength=users), np.bincount(x[:, 1], minlength=items)

    def fit_biases(lam: float):
        b_u, b_i = np.zeros(users), np.zeros(items)
        for _ in range(sweeps):
            b_i = np.bincount(x[:, 1], weights=y - mu - b_u[x[:, 0]], minlength=items) / (lam + n_i)
            b_u = np.bincount(x[:, 0], weights=y - mu - b_i[x[:, 1]], minlength=users) / (lam + n_u)
        return b_u, b_i

    def predict(b_u, b_i, pairs):
        u, i = pairs[:, 0], pairs[:, 1]
        return mu + np.where(u >= 0, b_u[np.maximum(u, 0)], 0.0) + np.where(i >= 0, b_i[np.maximum(i, 0)], 0.0)

    val = {lam: rating_errors(predict(*fit_biases(lam), d.val_x.numpy()), d.val_y.numpy(), lo_hi)["rmse"]
           for lam in dampings}
    best = min(val, key=val.get)
    test = rating_errors(predict(*fit_biases(best), d.test_x.numpy()), d.test_y.numpy(), lo_hi)
    return {"model": "user + item biases", "damping": best, "val_rmse_by_damping": val, **test}


def train_fixed(d, arch: dict, hp_kwargs: dict, epochs: int, seed: int = 0):
    """One network of the ncf space trained by nas's own loop; (model, history, seconds)."""
    import torch

    from nas_cli.spaces import build_space
    from nas_cli.tasks import task_for
    from nas_cli.trial.fit import Hparams, fit

    torch.manual_seed(seed)
    model = build_space("ncf", spec=d.spec).build(arch, d.spec)
    t0 = time.perf_counter()
    history = fit(model, d, Hparams(**hp_kwargs), epochs, seed=seed, task=task_for(d.spec))
    return model, history, time.perf_counter() - t0


def test_metrics(model, d) -> dict:
    from nas_cli.tasks import task_for
    from nas_cli.trial.fit import evaluate

    return evaluate(model, d.test_x, d.test_y, full=True, task=task_for(d.spec))


def tuned(d, arch: dict, hp: dict, epochs: int, key: str, values, where: str, score: str, better) -> dict:
    """Train once per value of `key` (in arch or hparams), keep the best by validation `score`, test it."""
    rows, best = [], None
    for value in values:
        a, h = (dict(arch, **{key: value}), hp) if where == "arch" else (arch, dict(hp, **{key: value}))
        model, history, seconds = train_fixed(d, a, h, epochs)
        row = {key: value, f"val_{score}": history[-1][f"val_{score}"], "seconds": round(seconds, 1)}
        rows.append(row)
        print(f"  {arch['model']} {key}={value}: val_{score} {row[f'val_{score}']:.4f} ({seconds:.0f}s)", flush=True)
        if best is None or better(row[f"val_{score}"], best[0][f"val_{score}"]):
            best = (row, model)
    return {"chosen": best[0], "grid": rows, **test_metrics(best[1], d)}


# ---------------------------------------------------------------- nas search


def run_nas(feedback: str, trials: int, epochs: int, ft_epochs: int, runs: Path, extra: list[str], top_k: int = 2) -> dict:
    overrides = ["dataset=ratings", f"dataset.path={LOG}", f"dataset.feedback={feedback}", "train=ratings",
                 f"study.n_trials={trials}", f"train.epochs={epochs}", f"finetune.epochs={ft_epochs}",
                 f"finetune.top_k={top_k}", "finetune.refit=false", "hardware=cpu", "hardware.threads=1",
                 "robustness.enabled=false", "export.torch_export=false", "seed=0", "verbosity=0", *extra]
    cmd = [str(Path(sys.executable).with_name("nas")), "search", *overrides, f"runs_dir={runs}"]
    shown = "nas search " + " ".join(o.replace(str(LOG), "../shared/data/movielens_latest_small/ratings.csv")
                                     .replace(f"{ROOT}/", "") for o in overrides)
    print(f"$ {shown}", flush=True)
    before, t0 = load_avg(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"command": shown, "ok": False, "stderr_tail": proc.stderr[-3000:], "wall_seconds": wall}
    run = max((p for p in runs.iterdir() if (p / "summary.json").is_file()), key=lambda p: p.stat().st_mtime)
    s = json.loads((run / "summary.json").read_text())
    ft = s["finetune"]
    arch = json.loads((run / "trials" / str(ft["selected_trial"]) / "arch.json").read_text())
    import yaml

    dataset = yaml.safe_load((run / "config.yaml").read_text())["dataset"]
    return {"command": shown, "ok": True, "wall_seconds": round(wall, 1), "load_average_1min": [before, load_avg()],
            "trials": s["trials"], "test": ft["test"], "selected_trial": ft["selected_trial"],
            "selected_arch": arch["arch"], "selected_hparams": arch["hparams"],
            "params": (ft.get("cost") or {}).get("params"), "data": s["data"], "config_dataset": dataset,
            "ensemble": ({"members": {m["trial"]: m["weight"] for m in ft["ensemble"]["members"]},
                          "val": ft["ensemble"]["val"]} if ft.get("ensemble") else None),
            "candidates_val": {c["trial"]: c["val"] for c in ft.get("candidates", [])}}


def check_same_split(nas: dict, options: dict) -> None:
    """The run's dataset config must give the splits the baselines used."""
    cfg = nas["config_dataset"]
    for key, value in options.items():
        if key == "split" and cfg.get(key) == "auto":
            continue
        if cfg.get(key) != value:
            raise SystemExit(f"nas's dataset.{key}={cfg.get(key)!r} differs from the baselines' {value!r}")
    if options.get("split") == "leave_last_out" and nas["data"]["split"] != "leave_last_out":
        raise SystemExit("nas did not use the leave-last-out split")


# ---------------------------------------------------------------- epoch timing


def epoch_timing(d, arch: dict, repeats: int, negatives: int) -> dict:
    import copy

    import torch
    import torch.nn.functional as F

    from nas_cli.spaces import build_space
    from nas_cli.tasks import task_for
    from nas_cli.trial.fit import Hparams, evaluate, fit

    task, bs = task_for(d.spec), 1024
    torch.manual_seed(0)
    base = build_space("ncf", spec=d.spec).build(arch, d.spec)
    x, y, n = d.train_x, d.train_y, d.train_x.shape[0]
    implicit = d.spec.task == "ranking"
    keys, n_items = (d.augment.keys, d.augment.n_items) if implicit else (None, 0)

    def ours(seed: int) -> float:
        model = copy.deepcopy(base)
        t0 = time.perf_counter()
        fit(model, d, Hparams(lr=1e-3, batch_size=bs, loss="bce", negatives=negatives), 1, seed=seed, task=task)
        return time.perf_counter() - t0

    def plain(seed: int) -> float:
        model = copy.deepcopy(base)
        t0 = time.perf_counter()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb, yb = x[idx], y[idx]
            if implicit:  # the same draws as the hook, written inline
                users = xb[:, 0].repeat(negatives)
                items = torch.randint(n_items, users.shape, generator=gen)
                wanted = users * n_items + items
                hit = keys[torch.searchsorted(keys, wanted).clamp_(max=keys.numel() - 1)] == wanted
                items = torch.where(hit, torch.randint(n_items, users.shape, generator=gen), items)
                b = xb.shape[0]
                xb = torch.cat([xb, torch.stack([users, items], 1)])
                labels = torch.zeros(xb.shape[0])
                labels[:b] = 1.0
                loss = F.binary_cross_entropy_with_logits(model(xb), labels)
            else:
                loss = (model(xb) - yb).square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        evaluate(model, d.val_x, d.val_y, task=task)  # the validation pass fit makes after each epoch
        return time.perf_counter() - t0

    ours(100), plain(100)  # warm-up, untimed
    times = {"nas": [], "plain": []}
    for r in range(repeats):  # alternating, the order swapped every repeat
        for name, fn in ((("nas", ours), ("plain", plain)) if r % 2 == 0 else (("plain", plain), ("nas", ours))):
            times[name].append(fn(r))
        print(f"  epoch repeat {r}: nas {times['nas'][-1]:.3f}s, plain {times['plain'][-1]:.3f}s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"arch": arch, "train_rows": int(n), "batch_size": bs, "negatives": negatives if implicit else 0,
            "repeats": repeats, "median_seconds": med, "ratio": med["nas"] / med["plain"], "raw": times}


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=16, help="study.n_trials of each nas search")
    ap.add_argument("--epochs", type=int, default=8, help="train.epochs per trial")
    ap.add_argument("--finetune-epochs", type=int, default=10, help="finetune.epochs (and the baselines' epochs)")
    ap.add_argument("--explicit-epochs", type=int, default=16,
                    help="train.epochs per trial for explicit ratings (autorec needs ~15 epochs of big batches)")
    ap.add_argument("--explicit-finetune-epochs", type=int, default=24,
                    help="finetune.epochs for explicit ratings (the plain MF baselines keep --finetune-epochs: "
                         "unpenalised, they overfit more with more epochs)")
    ap.add_argument("--top-k", type=int, default=5, help="finetune.top_k of each nas search")
    ap.add_argument("--nas-overrides", default="finetune.ensemble=true",
                    help="extra `nas search` overrides, space-separated (default: the fine-tuned top-k ensembled when "
                         "that beats the best one on validation; ratings only, ranking has no ensemble; '' for none)")
    ap.add_argument("--repeats", type=int, default=5, help="epoch-timing repeats")
    ap.add_argument("--parts", default="explicit,implicit,timing")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "recommendation.json")
    ap.add_argument("--md", type=Path, default=ROOT / "benchmarks" / "results" / "recommendation.md")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    parts = set(args.parts.split(","))
    result = {"log": "../shared/data/movielens_latest_small/ratings.csv", "threads": 1, "cpus": os.cpu_count(),
              "settings": vars(args) | {"json": str(args.json), "md": str(args.md)}, "load_average_1min": {}}
    result["settings"].pop("json"), result["settings"].pop("md")
    started = time.perf_counter()
    extra = ["train.search.batch_size=[1024,4096,16384]", *args.nas_overrides.split()]
    with tempfile.TemporaryDirectory() as tmp:
        if "explicit" in parts:
            result["load_average_1min"]["explicit_start"] = load_avg()
            d = load(EXPLICIT)
            lo_hi = d.spec.ratings["rating_range"]
            from nas_cli.tasks.ranking_metrics import rating_errors

            mean = float(d.train_y.mean())
            rows = {"global mean": {"model": "global mean", **rating_errors([mean] * len(d.test_y), d.test_y.numpy(),
                                                                              lo_hi)}}
            rows["user + item biases"] = bias_baseline(d)
            mf = {"model": "mf_bias", "factors": 64}
            hp = {"lr": 3e-3, "batch_size": 1024, "weight_decay": 0.0}
            model, _, seconds = train_fixed(d, mf, hp, args.finetune_epochs)
            rows["plain MF (defaults)"] = {**test_metrics(model, d), "seconds": round(seconds, 1), "arch": mf, "hp": hp}
            rows["plain MF (weight decay tuned)"] = tuned(d, mf, hp, args.finetune_epochs, "weight_decay",
                                                          (1e-3, 1e-2, 1e-1), "hp", "rmse", lambda a, b: a < b)
            nas = run_nas("explicit", args.trials, args.explicit_epochs, args.explicit_finetune_epochs, Path(tmp) / "explicit",
                          ["dataset.split=random", f"study.enqueue={ROOT / 'configs/enqueue/ncf_explicit.yaml'}", *extra],
                          args.top_k)
            if nas["ok"]:
                check_same_split(nas, EXPLICIT)
            result["explicit"] = {"split": d.info, "baselines": rows, "nas": nas}
        if "implicit" in parts:
            result["load_average_1min"]["implicit_start"] = load_avg()
            d = load(IMPLICIT)
            from nas_cli.tasks import task_for

            rows = {"item popularity": task_for(d.spec).baseline(d)}
            bpr = {"model": "mf_bias", "factors": 64}
            hp = {"lr": 3e-3, "batch_size": 1024, "loss": "bpr", "negatives": 1}
            rows["BPR-MF"] = tuned(d, bpr, hp, args.finetune_epochs, "l2", (1e-3, 1e-2, 1e-1), "arch", "ndcg@10",
                                   lambda a, b: a > b)
            nas = run_nas("implicit", args.trials, args.epochs, args.finetune_epochs, Path(tmp) / "implicit",
                          ["dataset.split=leave_last_out", f"study.enqueue={ROOT / 'configs/enqueue/ncf_implicit.yaml'}",
                           *extra], args.top_k)
            if nas["ok"]:
                check_same_split(nas, IMPLICIT)
            result["implicit"] = {"split": {k: v for k, v in d.info.items() if k != "unknown"}, "baselines": rows,
                                  "nas": nas}
        if "timing" in parts:
            result["load_average_1min"]["timing_start"] = load_avg()
            result["timing"] = {
                "implicit": epoch_timing(load(IMPLICIT), {"model": "neumf", "factors": 32, "mlp_embedding": 32,
                                                          "tower": "pyramid", "widths": [32, 16], "dropout": 0.0},
                                         args.repeats, negatives=4),
                "explicit": epoch_timing(load(EXPLICIT), {"model": "mf_bias", "factors": 64, "l2": 0.05},
                                         args.repeats, negatives=0)}
    result["load_average_1min"]["end"] = load_avg()
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    args.md.write_text(markdown(result))
    print(markdown(result))


def merge_results(paths: list[Path], json_path: Path, md_path: Path) -> None:
    """One results file from invocations that ran different --parts (same settings otherwise)."""
    runs = [json.loads(p.read_text()) for p in paths]
    merged = {**runs[0], "load_average_1min": {}, "invocations": []}
    for run in runs:
        merged.update({k: run[k] for k in ("explicit", "implicit", "timing") if k in run})
        merged["load_average_1min"].update({f"{run['settings']['parts']}:{k}": v
                                            for k, v in run["load_average_1min"].items()})
        merged["invocations"].append(f"--parts {run['settings']['parts']} --repeats {run['settings']['repeats']} "
                                     f"({run['total_seconds']:.0f} s)")
    merged["total_seconds"] = sum(run["total_seconds"] for run in runs)
    merged["settings"] = {**runs[0]["settings"], "parts": "+".join(run["settings"]["parts"] for run in runs)}
    json_path.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    md_path.write_text(markdown(merged))


def rewrite_markdown(json_path: Path, md_path: Path) -> None:
    """Regenerate the markdown from a results JSON (after a wording change, without rerunning)."""
    md_path.write_text(markdown(json.loads(json_path.read_text())))


def _f(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def markdown(r: dict) -> str:
    lines = ["# Recommendation: nas search (ncf) vs classic baselines on MovieLens latest-small", "",
             "Produced by `python benchmarks/recommendation.py` (one thread, "
             f"{r['total_seconds']:.0f} s in all; settings {json.dumps(r['settings'])}). "
             f"1-minute load average (the machine is shared): {r['load_average_1min']}. The budget aims at "
             f"10-15 minutes of one thread; it took {r['total_seconds'] / 60:.0f} minutes here.", ""]
    if r.get("invocations"):
        lines += [f"{len(r['invocations'])} invocations, their JSON merged: {'; '.join(r['invocations'])}.", ""]
    ex = r.get("explicit")
    if ex:
        nas = ex["nas"]
        lines += ["## Explicit ratings: random 80/10/10 split, test RMSE / MAE", "",
                  f"{ex['split']['train']} / {ex['split']['val']} / {ex['split']['test']} ratings; test items unknown "
                  f"to training: {ex['split']['unknown']['test']['unknown_items']} (predicted by the fallback).", "",
                  "| method | RMSE | MAE | notes |", "|---|---|---|---|"]
        for name, row in ex["baselines"].items():
            note = {"user + item biases": f"damping {row.get('damping')}",
                    "plain MF (weight decay tuned)": f"weight decay {row.get('chosen', {}).get('weight_decay')}",
                    "plain MF (defaults)": f"mf_bias 64 factors, AdamW lr 3e-3, no penalty, "
                                           f"{r['settings']['finetune_epochs']} epochs"}.get(name, "")
            lines.append(f"| {name} | {_f(row['rmse'])} | {_f(row['mae'])} | {note} |")
        if nas["ok"]:
            ens = nas.get("ensemble")
            what = (f"ensemble of trials {ens['members']} (trial: weight; validation RMSE {ens['val']['rmse']:.4f}), "
                    f"heaviest `{json.dumps(nas['selected_arch'])}`" if ens else f"`{json.dumps(nas['selected_arch'])}`")
            lines.append(f"| **nas search** | {_f(nas['test']['rmse'])} | {_f(nas['test']['mae'])} | "
                         f"{what}, {nas['trials'].get('complete')} trials complete "
                         f"({nas['trials'].get('pruned')} pruned), {nas['wall_seconds']:.0f} s |")
            bias, best_mf = ex["baselines"]["user + item biases"]["rmse"], min(
                ex["baselines"]["plain MF (defaults)"]["rmse"], ex["baselines"]["plain MF (weight decay tuned)"]["rmse"])
            gain = bias - nas["test"]["rmse"]
            if not ens and "finetune.ensemble=true" in nas["command"]:
                vals = ", ".join(f"{v['rmse']:.4f}" for v in (nas.get("candidates_val") or {}).values())
                lines += ["", f"finetune.ensemble=true: no weighted ensemble of the fine-tuned top-k beat the best one "
                              f"on validation (their validation RMSE: {vals}), so the single best is kept."]
            if ex.get("with_top_k_3"):
                t3 = ex["with_top_k_3"]
                lines += ["", f"The same search with finetune.top_k=3 kept no ensemble (its top 3 were autorec variants "
                              f"and did not beat the best on validation): test RMSE {t3['test']['rmse']:.4f}."]
            lines += ["", f"Target: RMSE ahead of the bias baseline by >= 0.03: **{'met' if gain >= 0.03 else 'NOT met'}** "
                      f"(ahead by {gain:+.4f}); ahead of plain MF: **{'met' if nas['test']['rmse'] < best_mf else 'NOT met'}** "
                      f"({nas['test']['rmse'] - best_mf:+.4f} vs the better plain MF).", "",
                      f"Command: `{nas['command']}`", ""]
        else:
            lines += ["", f"nas search failed: {nas['stderr_tail'][-500:]}", ""]
    im = r.get("implicit")
    if im:
        nas = im["nas"]
        lines += ["## Implicit feedback: leave-last-out, 99 sampled negatives per held-out item", "",
                  f"{im['split']['train']} training interactions, {im['split']['test']} test users.", "",
                  "| method | HR@10 | NDCG@10 | notes |", "|---|---|---|---|"]
        for name, row in im["baselines"].items():
            note = f"l2 {row['chosen']['l2']} (chosen on validation)" if "chosen" in row else ""
            lines.append(f"| {name} | {_f(row['hr@10'])} | {_f(row['ndcg@10'])} | {note} |")
        if nas["ok"]:
            lines.append(f"| **nas search** | {_f(nas['test']['hr@10'])} | {_f(nas['test']['ndcg@10'])} | "
                         f"`{json.dumps(nas['selected_arch'])}` {json.dumps(nas['selected_hparams'])} |")
            ok = all(nas["test"][m] > row[m] for row in im["baselines"].values() for m in ("hr@10", "ndcg@10"))
            users = im["split"]["test"]
            se = (nas["test"]["hr@10"] * (1 - nas["test"]["hr@10"]) / users) ** 0.5
            lines += ["", f"Target: ahead of both on HR@10 and NDCG@10: **{'met' if ok else 'NOT met'}**. With "
                      f"{users} test users the standard error of one HR@10 is about {se:.3f}: differences of a "
                      "hundredth between nas and BPR-MF are within noise.", "",
                      f"Command: `{nas['command']}`", ""]
        else:
            lines += ["", f"nas search failed: {nas['stderr_tail'][-500:]}", ""]
    tm = r.get("timing")
    if tm:
        lines += ["## Per-epoch time: `fit` vs a plain loop over the same index tensors", "",
                  "| feedback | network | rows | batch | negatives | nas s | plain s | ratio |", "|---|---|---|---|---|---|---|---|"]
        for kind, t in tm.items():
            lines.append(f"| {kind} | {t['arch']['model']} | {t['train_rows']} | {t['batch_size']} | {t['negatives']} | "
                         f"{t['median_seconds']['nas']:.3f} | {t['median_seconds']['plain']:.3f} | {t['ratio']:.3f} |")
        worst = max(t["ratio"] for t in tm.values())
        lines += ["", f"Target ratio <= 1.05: **{'met' if worst <= 1.05 else 'NOT met'}** (worst {worst:.3f}; medians of "
                  f"{next(iter(tm.values()))['repeats']} alternating repeats).", ""]
        for other in r.get("other_timing_runs", []):
            lines.append(f"- another timing run of the same code ({other['repeats']} repeats, load {other['load']}): "
                         + ", ".join(f"{k} {v:.3f}" for k, v in other["ratios"].items()))
        if r.get("other_timing_runs"):
            lines += ["", "The ratio moves by several hundredths between runs on this shared machine (load 1-4).", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
