"""`nas search` on a MedMNIST-layout .npz file against logistic regression and HistGradientBoosting on
pixels, on the file's own (official) train/val/test splits; ACC and AUC; per-epoch overhead.

    python benchmarks/medical.py --npz ~/.medmnist/pneumoniamnist.npz      # any MedMNIST-layout file
    python benchmarks/medical.py                                           # no file: writes one (below)

No MedMNIST file is on this machine (no network), so without --npz the benchmark WRITES two files in
the MedMNIST layout from ../shared/data/cifar10_dev_jpg (real CIFAR-10 JPEGs, not medical images):
resized to 28x28 RGB like MedMNIST; `train_*` = the first 360 images per class of train/, `val_*` =
the other 40 per class, `test_*` = test/ (100 per class). `cifar10_medmnist.npz` is multi-class
(10 classes, labels [N, 1] as MedMNIST stores them); `cifar10_multilabel.npz` has 6 binary labels per
image ([N, 6]: vehicle, animal, flies, wheels, pet, water) and runs the multi-label task (BCE, macro
AUC) as ChestMNIST would. The figures are then about CIFAR-10, and say so.

1. Baselines on the flattened pixels (standardised with the training split): LogisticRegression (C
   picked on the val split) and HistGradientBoostingClassifier (one per label when multi-label),
   trained on train, scored once on test with the same metric code nas uses.
2. `nas search dataset=npz dataset.path=FILE` as a subprocess (1 thread; test ACC/AUC from summary.json).
3. One training epoch of `nas_cli.trial.fit.fit` against a plain PyTorch loop on the same tensors
   (same CNN, AdamW, batch size, seeded randperm, the task's weighted loss written out by hand, the
   same validation pass), alternating, median of the repeats: ratio nas / plain (target <= 1.05).

    python benchmarks/medical.py --json benchmarks/results/medical.json
"""

from __future__ import annotations

import argparse
import copy
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
CIFAR = SHARED / "cifar10_dev_jpg"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
LABELS = {"vehicle": {0, 1, 8, 9}, "animal": {2, 3, 4, 5, 6, 7}, "flies": {0, 2}, "wheels": {1, 9}, "pet": {3, 5},
          "water": {8}}
TIMING_ARCH = {"layers": [{"filters": 32, "kernel": 3, "pool": "max"}, {"filters": 64, "kernel": 3, "pool": "max"}],
               "activation": "relu", "batch_norm": True, "dropout": 0.2, "dense_units": 128}


def write_from_cifar(out_dir: Path) -> dict[str, Path]:
    """The two MedMNIST-layout files described above, from the class-per-folder JPEGs."""
    import numpy as np
    from PIL import Image

    def read(split: str):
        xs, ys = [], []
        for k, name in enumerate(CLASSES):
            for path in sorted((CIFAR / split / name).glob("*.jpg")):
                with Image.open(path) as img:
                    xs.append(np.asarray(img.convert("RGB").resize((28, 28), Image.Resampling.BILINEAR)))
                ys.append(k)
        return np.stack(xs).astype(np.uint8), np.asarray(ys, dtype=np.uint8)

    x, y = read("train")
    rank = np.zeros(len(y), dtype=np.int64)
    for k in range(len(CLASSES)):
        rank[y == k] = np.arange((y == k).sum())
    tr, va = rank < 360, rank >= 360
    tx, ty = read("test")
    arrays = {"train_images": x[tr], "val_images": x[va], "test_images": tx}
    labels = {"train": y[tr], "val": y[va], "test": ty}
    out_dir.mkdir(parents=True, exist_ok=True)
    multi = out_dir / "cifar10_medmnist.npz"
    np.savez_compressed(multi, **arrays, **{f"{s}_labels": v[:, None] for s, v in labels.items()})
    bits = lambda v: np.stack([np.isin(v, sorted(m)) for m in LABELS.values()], axis=1).astype(np.uint8)  # noqa: E731
    multilabel = out_dir / "cifar10_multilabel.npz"
    np.savez_compressed(multilabel, **arrays, **{f"{s}_labels": bits(v) for s, v in labels.items()})
    return {"multiclass": multi, "multilabel": multilabel}


def scores(task: str, truth, logits) -> dict:
    from nas_cli.tasks.metrics import classification_scores
    from nas_cli.tasks.multilabel_metrics import multilabel_scores

    if task == "multilabel":
        return multilabel_scores(truth, logits)
    import numpy as np

    return {"accuracy": float((np.asarray(logits).argmax(1) == truth).mean()), **classification_scores(truth, logits)}


def baselines(d, task: str) -> list[dict]:
    """LR (C on val) and HGB on standardised pixels: train on train, test once."""
    import warnings

    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier
    from sklearn.preprocessing import StandardScaler

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # lbfgs at max_iter: recorded, not fatal
    flat = lambda t: t.reshape(len(t), -1).numpy()  # noqa: E731
    scaler = StandardScaler().fit(flat(d.train_x))
    xtr, xva, xte = (scaler.transform(flat(t)) for t in (d.train_x, d.val_x, d.test_x))
    ytr, yva, yte = (t.numpy().astype(int) for t in (d.train_y, d.val_y, d.test_y))
    wrap = (lambda m: MultiOutputClassifier(m)) if task == "multilabel" else (lambda m: m)  # noqa: E731

    def logits(model, x):
        if task == "multilabel":
            p = np.stack([q[:, 1] for q in model.predict_proba(x)], axis=1).clip(1e-7, 1 - 1e-7)
            return np.log(p / (1 - p))
        return np.log(model.predict_proba(x).clip(1e-12))

    rows = []
    t0 = time.perf_counter()
    best = None
    for c in (0.001, 0.01):  # (0.1 was worse on val in a first run and costs the most iterations)
        model = wrap(LogisticRegression(C=c, max_iter=200)).fit(xtr, ytr)
        val = scores(task, yva, logits(model, xva))["accuracy"]
        print(f"  logistic regression C={c}: val accuracy {val:.4f}", flush=True)
        if best is None or val > best[0]:
            best = (val, c, model)
    rows.append({"model": "logistic regression (pixels)", "C": best[1], "val_accuracy": best[0],
                 "seconds": time.perf_counter() - t0, **scores(task, yte, logits(best[2], xte))})
    t0 = time.perf_counter()
    # 2,352 pixel features: a histogram per feature per node; 40 rounds of 15-leaf trees keep it to ~1 CPU-minute.
    hgb = wrap(HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=15, learning_rate=0.2, early_stopping=False,
                                              random_state=0)).fit(xtr, ytr)
    rows.append({"model": "HistGradientBoosting (pixels, 40 rounds of 15-leaf trees)", "seconds": time.perf_counter() - t0,
                 "val_accuracy": scores(task, yva, logits(hgb, xva))["accuracy"], **scores(task, yte, logits(hgb, xte))})
    print(f"  HGB: test accuracy {rows[-1]['accuracy']:.4f} ({rows[-1]['seconds']:.0f}s)", flush=True)
    return rows


def run_nas(path: Path, runs: Path, trials: int, epochs: int, ft_epochs: int, timeout: int) -> dict:
    overrides = ["dataset=npz", f"dataset.path={path}", f"study.n_trials={trials}", f"train.epochs={epochs}",
                 f"finetune.epochs={ft_epochs}", "finetune.top_k=2", "hardware=cpu", "hardware.threads=1",
                 "search_space.max_layers=3", "search_space.filters=[16,32,64]", "train.class_weights=balanced",
                 "robustness.enabled=false", f"study.timeout={timeout}", "verbosity=0"]
    cmd = [str(Path(sys.executable).with_name("nas")), "search", *overrides, f"runs_dir={runs}"]
    shown = "nas search " + " ".join(o if not o.startswith("dataset.path=") else "dataset.path=FILE" for o in overrides)
    print(f"$ {shown}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"command": shown, "ok": False, "returncode": proc.returncode, "stderr_tail": proc.stderr[-3000:]}
    run = max((p for p in runs.iterdir() if (p / "summary.json").is_file()), key=lambda p: p.stat().st_mtime)
    s = json.loads((run / "summary.json").read_text())
    ft = s.get("finetune", {})
    return {"command": shown, "ok": True, "wall_seconds": wall, "timings": s["timings"], "trials": s["trials"],
            "objective": s.get("objectives") or (s.get("study") or {}).get("objectives"),
            "test": ft.get("test"), "params": (ft.get("cost") or {}).get("params"),
            "onnx_max_abs_diff": (s.get("export") or {}).get("onnx_max_abs_diff"),
            "selected": next((t.get("description") for t in s.get("best_trials", [])
                              if t.get("number") == ft.get("selected_trial")), None)}


def epoch_timing(d, repeats: int, batch_size: int = 128) -> dict:
    """fit() (the task's loss with balanced class weights) against the same loop written plainly."""
    import torch
    import torch.nn.functional as F

    from nas_cli.spaces import build_space
    from nas_cli.tasks import task_for
    from nas_cli.tasks.class_weights import apply_class_weights
    from nas_cli.trial.fit import Hparams, fit

    torch.set_num_threads(1)
    torch.manual_seed(0)
    base = build_space("cnn", spec=d.spec).build(TIMING_ARCH, d.spec)
    task = apply_class_weights(task_for(d.spec), d, "balanced")
    multilabel = d.spec.task == "multilabel"
    weight = task.pos_weight if multilabel else task.class_weights
    x, y, vx, vy, n = d.train_x, d.train_y, d.val_x, d.val_y, d.train_x.shape[0]

    def ours(seed: int) -> float:
        model = copy.deepcopy(base)
        t0 = time.perf_counter()
        fit(model, d, Hparams(lr=1e-3, batch_size=batch_size), epochs=1, seed=seed, task=task)
        return time.perf_counter() - t0

    def loss_of(out, target):
        if multilabel:
            return F.binary_cross_entropy_with_logits(out, target, pos_weight=weight)
        return F.cross_entropy(out, target, weight=weight)

    def plain(seed: int) -> float:
        model = copy.deepcopy(base)
        t0 = time.perf_counter()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            loss = loss_of(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()  # the validation pass fit() makes after each epoch (its per-epoch metrics)
        with torch.inference_mode():
            out = torch.cat([model(vx[i:i + 2048]) for i in range(0, vx.shape[0], 2048)])
            task.evaluate(out, vy)
        return time.perf_counter() - t0

    ours(100), plain(100)  # warm-up, untimed
    times = {"nas": [], "plain": []}
    for r in range(repeats):
        order = (("nas", ours), ("plain", plain)) if r % 2 == 0 else (("plain", plain), ("nas", ours))
        for name, fn in order:
            times[name].append(fn(r))
        print(f"  epoch repeat {r}: nas {times['nas'][-1]:.3f}s, plain {times['plain'][-1]:.3f}s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"arch": TIMING_ARCH, "batch_size": batch_size, "train_rows": n, "repeats": repeats,
            "median_seconds": med, "ratio": med["nas"] / med["plain"], "raw": times}


def bench_file(path: Path, label: str, args, runs: Path) -> dict:
    import torch

    from nas_cli.data import load_dataset

    torch.set_num_threads(1)
    print(f"== {label}: {path}", flush=True)
    d = load_dataset("npz", path=str(path))
    task = d.spec.task
    out = {"file": str(path) if args.npz else path.name, "task": task, "input_shape": list(d.spec.input_shape),
           "outputs": d.spec.num_classes, "splits": {k: d.info[k] for k in ("train", "val", "test")},
           "load_average_1min": [os.getloadavg()[0]]}
    out["baselines"] = baselines(d, task)
    out["nas"] = run_nas(path, runs, args.trials, args.epochs, args.finetune_epochs, args.timeout)
    out["epoch_timing"] = epoch_timing(d, args.repeats)
    out["load_average_1min"].append(os.getloadavg()[0])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npz", type=Path, help="a MedMNIST-layout file; default: write two from cifar10_dev_jpg")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--finetune-epochs", type=int, default=6)
    ap.add_argument("--timeout", type=int, default=150, help="study.timeout seconds per search")
    ap.add_argument("--repeats", type=int, default=5, help="alternating epoch-timing repeats")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "medical.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.npz:
            files, source = {"file": args.npz.resolve()}, f"the given file {args.npz}"
        else:
            files = write_from_cifar(Path(tmp) / "npz")
            source = ("written by this benchmark from ../shared/data/cifar10_dev_jpg in the MedMNIST layout "
                      "(real CIFAR-10 JPEGs resized to 28x28 RGB, NOT medical images; no MedMNIST file is here)")
        results = {"source": source, "threads": 1, "cpu": os.cpu_count(),
                   "files": {k: bench_file(p, k, args, Path(tmp) / f"runs_{k}") for k, p in files.items()}}
    import resource

    results["total_seconds"] = time.perf_counter() - t0
    results["cpu_seconds"] = {"benchmark": time.process_time(),
                              "nas_subprocesses": resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    args.json.with_suffix(".md").write_text(markdown(results, args))
    print(f"written: {args.json} and {args.json.with_suffix('.md')}")


def markdown(r: dict, args) -> str:
    lines = ["# Medical images: nas search vs pixel baselines (benchmarks/medical.py)", "",
             f"Data: {r['source']}. One thread everywhere; total {r['total_seconds']:.0f} s wall, "
             f"{r['cpu_seconds']['benchmark']:.0f} s CPU here + {r['cpu_seconds']['nas_subprocesses']:.0f} s CPU "
             "in the `nas search` subprocesses.", "",
             f"Command: `python benchmarks/medical.py{' --npz ' + str(args.npz) if args.npz else ''}` "
             f"(--trials {args.trials} --epochs {args.epochs} --finetune-epochs {args.finetune_epochs} "
             f"--timeout {args.timeout})", ""]
    for name, f in r["files"].items():
        nas, et = f["nas"], f["epoch_timing"]
        lines += [f"## {name}: {f['file']} ({f['task']}, {f['outputs']} outputs, input {f['input_shape']}, "
                  f"splits {f['splits']})", "",
                  f"1-minute load average before/after: {', '.join(f'{v:.2f}' for v in f['load_average_1min'])} "
                  "(other agents share the 2 cores).", "",
                  "| method | test ACC | test AUC | test balanced acc. | seconds |", "| --- | --- | --- | --- | --- |"]
        for b in f["baselines"]:
            lines.append(f"| {b['model']} | {b['accuracy']:.4f} | {b['auc']:.4f} | {b['balanced_accuracy']:.4f} | "
                         f"{b['seconds']:.0f} |")
        if nas.get("ok"):
            t = nas["test"]
            lines.append(f"| nas search (selected: `{nas['selected']}`, {nas['params']} params) | {t['accuracy']:.4f} | "
                         f"{t['auc']:.4f} | {t['balanced_accuracy']:.4f} | {nas['wall_seconds']:.0f} (whole run) |")
            lines += ["", f"`{nas['command']}`; trials {nas['trials']}; ONNX vs PyTorch max abs diff "
                      f"{nas['onnx_max_abs_diff']:.2e}."]
        else:
            lines += ["", f"nas search FAILED (exit {nas.get('returncode')}): {nas.get('stderr_tail', '')[-500:]}"]
        lines += ["", f"One training epoch ({et['train_rows']} images, batch {et['batch_size']}, balanced class "
                  f"weights, median of {et['repeats']} alternating repeats): nas `fit()` "
                  f"{et['median_seconds']['nas']:.3f} s, plain loop {et['median_seconds']['plain']:.3f} s, "
                  f"ratio **{et['ratio']:.3f}** (target <= 1.05: {'met' if et['ratio'] <= 1.05 else 'NOT met'}).", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
