"""Test scores of `nas search` on tables against LightGBM, HistGradientBoosting and a linear model.

Every method sees the same seeded train / validation / test split (`nas_cli.data.load_dataset`, the
split `nas search` itself uses). `nas search` runs as its own process (wall time from outside,
interpreter, export and robustness included); its test scores are recomputed from the exported
checkpoint on the test rows (and checked against summary.json's `finetune.test`), so that every
method is scored by the same code and the test rows can be bootstrapped.

- LightGBM (LGBMClassifier / LGBMRegressor, defaults but 2,000 trees at learning rate 0.05) on the raw
  rows (`Data.raw`; categorical columns as pandas `category` with the training split's vocabulary),
  early stopping (100 rounds) on the validation split.
- scikit-learn HistGradientBoosting (defaults, early stopping on the same validation split via
  `X_val`/`y_val`, categorical columns from the `category` dtype).
- Logistic regression / ridge on nas's preprocessed tensors (standardised numerics + missing
  indicators; category codes one-hot), C / alpha picked on the validation split.

Baselines fit on train (validation only for early stopping / picking C); `nas search` fine-tunes
with `finetune.refit=true` (its default), i.e. its final model is retrained on train + validation.

Noise of the split: a paired bootstrap of the test rows (1,000 resamples, seeded) of nas - LightGBM
in accuracy (regression: RMSE); "within noise" when the 95% interval contains 0 or lies wholly in
nas's favour.

Per-epoch training time: `nas_cli.trial.fit.fit` against a plain hand-written loop over the same
tensors (same model copy, AdamW, batch size, permutation generator, per-epoch validation pass), one
thread, alternating, median of the repeats, on a synthetic table (default 20,000 rows, numeric and
categorical columns). ratio = nas / plain (target <= 1.05).

    python benchmarks/tabular.py --json benchmarks/results/tabular.json
    python benchmarks/tabular.py --tables none --csv data/adult.csv --target income
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BUILTIN = ("breast_cancer", "wine", "iris", "diabetes")


# --------------------------------------------------------------------------------------------- data

def load(table: dict):
    from nas_cli.data import load_dataset

    if table["kind"] == "csv":
        return load_dataset("csv", path=table["path"], target=table["target"])
    return load_dataset(table["name"])


def raw_frames(d) -> dict:
    """{"train"|"val"|"test": (X frame, y array)}: numerics parsed, categories with the training vocabulary."""
    import pandas as pd

    from nas_cli.data.table_transform import as_strings

    pre = d.preprocess
    num = [c["name"] for c in pre["numeric"]]
    cats = [(c["name"], c["vocabulary"]) for c in pre["categorical"]]
    ys = {"train": d.train_y, "val": d.val_y, "test": d.test_y}
    out = {}
    for split, frame in d.raw.items():
        x = pd.DataFrame(index=frame.index)
        for col in num:
            x[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
        for col, vocab in cats:  # unseen values become NaN (missing), as nas's code 0
            x[col] = pd.Categorical(as_strings(frame[col]), categories=vocab)
        x.columns = [f"f{i}" for i in range(x.shape[1])]  # LightGBM rejects some characters in names
        out[split] = (x, ys[split].numpy())
    return out


def linear_inputs(d) -> dict:
    """nas's preprocessed tensors, with category codes one-hot (codes as numbers mean nothing to a linear model)."""
    f = int(d.spec.table["n_numeric"])
    cards = [int(c) for c in d.spec.table.get("cardinalities") or []]
    out = {}
    for split in ("train", "val", "test"):
        x = getattr(d, f"{split}_x").numpy()
        parts = [x[:, :f]]
        for j, card in enumerate(cards):
            codes = x[:, f + j].round().astype(np.int64)
            parts.append(np.eye(card, dtype=np.float32)[codes])
        out[split] = (np.concatenate(parts, axis=1), getattr(d, f"{split}_y").numpy())
    return out


# ------------------------------------------------------------------------------------------ metrics

def scores(task: str, y, out) -> dict:
    """Classification: `out` = class probabilities [N, C]; regression: predictions [N]."""
    from sklearn.metrics import (
        balanced_accuracy_score,
        mean_absolute_error,
        r2_score,
        roc_auc_score,
    )

    y = np.asarray(y)
    if task == "regression":
        pred = np.asarray(out, dtype=np.float64)
        return {"rmse": float(np.sqrt(np.mean((pred - y) ** 2))), "mae": float(mean_absolute_error(y, pred)),
                "r2": float(r2_score(y, pred))}
    prob = np.asarray(out, dtype=np.float64)
    pred = prob.argmax(1)
    if prob.shape[1] == 2:
        auc = roc_auc_score(y, prob[:, 1])
    else:
        prob = prob / prob.sum(1, keepdims=True)
        auc = roc_auc_score(y, prob, multi_class="ovr", average="macro", labels=list(range(prob.shape[1])))
    return {"accuracy": float((pred == y).mean()), "auc": float(auc),
            "balanced_accuracy": float(balanced_accuracy_score(y, pred))}


def per_row(task: str, y, out) -> np.ndarray:
    """Per test row: 1/0 correct (classification) or squared error (regression), for the bootstrap."""
    if task == "regression":
        return (np.asarray(out, dtype=np.float64) - np.asarray(y)) ** 2
    return (np.asarray(out).argmax(1) == np.asarray(y)).astype(np.float64)


def bootstrap(task: str, rows_nas, rows_lgb, resamples: int, seed: int) -> dict:
    """Paired bootstrap of the test rows: nas - LightGBM in accuracy (or RMSE), 95% percentile interval."""
    rng = np.random.default_rng(seed)
    n = len(rows_nas)
    idx = rng.integers(0, n, size=(resamples, n))
    a, b = rows_nas[idx].mean(1), rows_lgb[idx].mean(1)
    if task == "regression":
        a, b = np.sqrt(a), np.sqrt(b)
        point = math.sqrt(rows_nas.mean()) - math.sqrt(rows_lgb.mean())
    else:
        point = rows_nas.mean() - rows_lgb.mean()
    diff = a - b
    lo, hi = (float(v) for v in np.percentile(diff, [2.5, 97.5]))
    metric = "rmse" if task == "regression" else "accuracy"
    # nas's favour: higher accuracy, lower RMSE
    within = hi >= 0 if metric == "accuracy" else lo <= 0
    favour = lo > 0 if metric == "accuracy" else hi < 0
    verdict = ("nas better beyond noise" if favour else "within noise" if within else "nas worse beyond noise")
    return {"metric": metric, "difference": float(point), "ci95": [lo, hi], "resamples": resamples, "seed": seed,
            "test_rows": n, "within_noise": bool(within), "verdict": verdict}


# ---------------------------------------------------------------------------------------- baselines

def fit_lightgbm(task: str, frames: dict, seed: int):
    import lightgbm as lgb

    (xtr, ytr), (xva, yva), (xte, _) = frames["train"], frames["val"], frames["test"]
    common = dict(n_estimators=2000, learning_rate=0.05, random_state=seed, verbose=-1)
    model = lgb.LGBMRegressor(**common) if task == "regression" else lgb.LGBMClassifier(**common)
    model.fit(xtr, ytr, eval_X=(xva,), eval_y=(yva,), categorical_feature="auto",
              callbacks=[lgb.early_stopping(100, verbose=False)])
    out = model.predict(xte) if task == "regression" else model.predict_proba(xte)
    return out, {"best_iteration": int(model.best_iteration_ or model.n_estimators)}


def fit_hgb(task: str, frames: dict, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    (xtr, ytr), (xva, yva), (xte, _) = frames["train"], frames["val"], frames["test"]
    cls = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    model = cls(max_iter=1000, early_stopping=True, categorical_features="from_dtype", random_state=seed)
    model.fit(xtr, ytr, X_val=xva, y_val=yva)
    out = model.predict(xte) if task == "regression" else model.predict_proba(xte)
    return out, {"n_iter": int(model.n_iter_)}


def fit_linear(task: str, arrays: dict, seed: int):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import log_loss

    (xtr, ytr), (xva, yva), (xte, _) = arrays["train"], arrays["val"], arrays["test"]
    best = None
    for c in (0.01, 0.1, 1.0, 10.0, 100.0):  # picked on the validation split (log loss / RMSE)
        if task == "regression":
            model = Ridge(alpha=1.0 / c).fit(xtr, ytr)
            val = float(np.sqrt(np.mean((model.predict(xva) - yva) ** 2)))
        else:
            model = LogisticRegression(C=c, max_iter=5000, random_state=seed).fit(xtr, ytr)
            val = float(log_loss(yva, model.predict_proba(xva), labels=model.classes_))
        if best is None or val < best[0]:
            best = (val, c, model)
    _, c, model = best
    out = model.predict(xte) if task == "regression" else model.predict_proba(xte)
    key = "alpha" if task == "regression" else "C"
    return out, {key: (1.0 / c) if task == "regression" else c}


# --------------------------------------------------------------------------------------------- nas

def nas_overrides(table: dict) -> list[str]:
    if table["kind"] == "csv":
        return ["dataset=csv", f"dataset.path={table['path']}", f"dataset.target={table['target']}"]
    return [f"dataset={table['name']}"]


def run_nas(table: dict, setting: dict, args, d, runs: Path) -> dict:
    import torch

    from nas_cli.spaces import build_space
    from nas_cli.tasks import task_for
    from nas_cli.trial.fit import predict

    runs.mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).with_name("nas")), "search", *nas_overrides(table),
           f"study.n_trials={setting['trials']}", f"train.epochs={setting['epochs']}",
           f"finetune.epochs={setting['finetune_epochs']}", "hardware=cpu", f"seed={args.seed}", "verbosity=0",
           *args.nas_arg, f"runs_dir={runs}"]
    shown = "nas " + " ".join(shlex.quote(c) for c in cmd[1:-1])  # runs_dir is a temporary folder
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    base = {"method": f"nas ({setting['name']})", "setting": setting, "command": shown, "seconds": wall}
    if proc.returncode != 0:
        return {**base, "error": f"exit {proc.returncode}: {(proc.stderr or proc.stdout)[-3000:]}"}
    run = max((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    summary = json.loads((run / "summary.json").read_text())
    reported = summary.get("finetune", {}).get("test", {})
    task = d.spec.task
    counts = {k: summary["data"].get(k) for k in ("train", "val", "test")}
    expected = {"train": len(d.train_y), "val": len(d.val_y), "test": len(d.test_y)}
    ckpt = run / "export" / "model.pt"
    if not ckpt.is_file():
        return {**base, "error": f"no {ckpt} (export missing)", "reported_test": reported}
    # Rebuilt from the checkpoint's arch and weights with this process's spec of the same split (not
    # load_checkpoint's saved spec, so that a DataSpec field added since this process started is no error).
    info = torch.load(ckpt, map_location="cpu", weights_only=True)
    model = build_space(info["space"], spec=d.spec).build(info["arch"], d.spec)
    model.load_state_dict(info["state_dict"])
    logits = predict(model, d.test_x)
    if task == "regression":
        out = task_for(d.spec).predict(logits).double().numpy()
    else:
        out = torch_softmax(logits)
    best = summary["best_trials"][0] if summary.get("best_trials") else {}
    row = {**base, "run_timings": summary.get("timings"), "split_counts": counts,
           "same_split": counts == expected, "reported_test": reported,
           "selected_trial": summary["finetune"].get("selected_trial"),
           "architecture": best.get("description") if best.get("number") == summary["finetune"].get(
               "selected_trial") else None,
           "arch": info.get("arch"), "hparams": info.get("hparams"), "_out": out,
           "finetune_candidates": [{"trial": c["trial"], "search_value": c["search_value"],
                                    "val": c["val"].get("rmse" if task == "regression" else "accuracy")}
                                   for c in summary["finetune"].get("candidates", [])]}
    mine = scores(task, d.test_y.numpy(), out)
    key = "rmse" if task == "regression" else "accuracy"
    if key not in reported:
        row["warning"] = f"summary.json finetune.test has no {key!r} (keys: {sorted(reported)})"
    elif abs(float(reported[key]) - mine[key]) > 1e-4 * max(1.0, abs(mine[key])):
        row["warning"] = (f"finetune.test.{key}={reported[key]} but the exported checkpoint scores {mine[key]} "
                          "on the same test rows")
    missing = [m for m in (("rmse", "mae", "r2") if task == "regression" else ("accuracy", "auc", "balanced_accuracy"))
               if m not in reported or reported[m] is None or (isinstance(reported[m], float) and math.isnan(reported[m]))]
    if missing:
        row.setdefault("warning", "")
        row["warning"] = (row["warning"] + f" finetune.test lacks {missing}").strip()
    return row


def torch_softmax(logits) -> np.ndarray:
    import torch

    return torch.softmax(logits.double(), dim=1).numpy()


# -------------------------------------------------------------------------------------- per table

def bench_table(table: dict, args, tmp: Path) -> dict:
    d = load(table)
    task = d.spec.task
    label = table["name"]
    frames, arrays = raw_frames(d), linear_inputs(d)
    y_test = d.test_y.numpy()
    rows = []
    for i, setting in enumerate(args.settings):
        print(f"  nas search ({setting['name']}) ...", flush=True)
        try:
            rows.append(run_nas(table, setting, args, d, tmp / f"runs_{label}_{i}"))
        except Exception as exc:  # reported in the results, the other methods still run
            rows.append({"method": f"nas ({setting['name']})", "setting": setting, "seconds": float("nan"),
                         "command": "see error", "error": f"{type(exc).__name__}: {exc}"})
        r = rows[-1]
        print(f"    {r['seconds']:.1f}s" + (f" ERROR {r['error'][-300:]}" if "error" in r else ""), flush=True)
    for name, fn, inputs in (("LightGBM", fit_lightgbm, frames), ("HistGradientBoosting", fit_hgb, frames),
                             ("ridge" if task == "regression" else "logistic regression", fit_linear, arrays)):
        t0 = time.perf_counter()
        out, extra = fn(task, inputs, args.seed)
        rows.append({"method": name, "seconds": time.perf_counter() - t0, "fit": extra, "_out": out})
    for r in rows:
        if "_out" in r:
            r["test"] = scores(task, y_test, r["_out"])
    ok = [r for r in rows if "test" in r]
    metrics = list(ok[0]["test"]) if ok else []
    lower = {"rmse", "mae"}
    best = {m: (min if m in lower else max)(r["test"][m] for r in ok) for m in metrics}
    for r in ok:
        r["margin"] = {m: r["test"][m] - best[m] for m in metrics}  # 0 = best; accuracy < 0, rmse > 0 behind
    lgb_row = next(r for r in rows if r["method"] == "LightGBM")
    verdicts = []
    for r in rows:
        if r["method"].startswith("nas") and "test" in r:
            v = bootstrap(task, per_row(task, y_test, r["_out"]), per_row(task, y_test, lgb_row["_out"]),
                          args.bootstrap, args.seed)
            r["vs_lightgbm"] = v
            verdicts.append({"method": r["method"], **v})
    for r in rows:
        r.pop("_out", None)
    return {"table": label, "source": table, "task": task, "rows": {"train": len(d.train_y), "val": len(d.val_y),
            "test": len(d.test_y)}, "features": int(d.spec.input_shape[0]),
            "numeric": len(d.preprocess["numeric"]), "categorical": len(d.preprocess["categorical"]),
            "classes": d.preprocess["target"].get("classes"), "best": best, "methods": rows, "bootstrap": verdicts}


# ------------------------------------------------------------------------------------- epoch time

def synthetic_csv(path: Path, rows: int, seed: int) -> None:
    """A classification table: 16 numeric columns (2% missing in one), 2 categorical (10 and 40 levels)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 16))
    c1, c2 = rng.integers(0, 10, rows), rng.integers(0, 40, rows)
    logit = x[:, 0] * x[:, 1] + np.sin(2 * x[:, 2]) + 0.5 * x[:, 3] + (c1 % 3 - 1) + 0.3 * (c2 % 5 - 2)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(16)])
    frame.loc[rng.random(rows) < 0.02, "x5"] = np.nan
    frame["c1"] = [f"a{v}" for v in c1]
    frame["c2"] = [f"b{v}" for v in c2]
    frame["y"] = np.where(logit + rng.normal(scale=0.5, size=rows) > 0, "yes", "no")
    frame.to_csv(path, index=False)


PLAIN_ARCH = {"kind": "mlp", "n_layers": 3, "widths": [256, 256, 256], "activation": "relu", "norm": "batch",
              "dropout": 0.1, "embedding": "8"}


def plain_fit(model, d, lr: float, batch_size: int, epochs: int, seed: int = 0) -> list[float]:
    """The hand-written loop: what fit() does for classification, nothing more."""
    import torch
    import torch.nn.functional as F

    x, y, xv, yv = d.train_x, d.train_y, d.val_x, d.val_y
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    n = x.shape[0]
    bs = min(batch_size, n)
    steps = math.ceil(n / bs)
    losses = []
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total = torch.zeros(())
        for s in range(steps):
            idx = perm[s * bs:(s + 1) * bs]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        losses.append(float(total) / steps)
        model.eval()
        with torch.inference_mode():
            out = torch.cat([model(xv[i:i + 2048]) for i in range(0, len(xv), 2048)])
            float(F.cross_entropy(out, yv)), float((out.argmax(1) == yv).float().mean())
    return losses


def epoch_time(args, tmp: Path) -> dict:
    import torch

    from nas_cli.data import load_dataset
    from nas_cli.spaces import build_space
    from nas_cli.tasks import task_for
    from nas_cli.trial.fit import Hparams, fit

    torch.set_num_threads(1)
    path = tmp / "synthetic.csv"
    synthetic_csv(path, args.timing_rows, args.seed)
    d = load_dataset("csv", path=str(path), target="y")
    task = task_for(d.spec)
    torch.manual_seed(0)
    base = build_space("mlp", spec=d.spec).build(PLAIN_ARCH, d.spec)
    hp = Hparams(lr=1e-3, batch_size=args.timing_batch_size)

    def run(kind: str, epochs: int):
        model = copy.deepcopy(base)
        torch.manual_seed(1)  # dropout draws alike on both sides
        t0 = time.perf_counter()
        if kind == "nas":
            hist = fit(model, d, hp, epochs=epochs, task=task)
            losses = [h["train_loss"] for h in hist]
        else:
            losses = plain_fit(model, d, hp.lr, hp.batch_size, epochs)
        return (time.perf_counter() - t0) / epochs, losses

    run("nas", 1), run("plain", 1)  # warm-up (first AdamW imports torch._dynamo)
    times: dict[str, list[float]] = {"nas": [], "plain": []}
    losses: dict[str, list[float]] = {}
    for r in range(args.timing_repeats):
        for kind in (("nas", "plain") if r % 2 == 0 else ("plain", "nas")):  # alternating
            sec, losses[kind] = run(kind, args.timing_epochs)
            times[kind].append(sec)
        print(f"  repeat {r}: nas {times['nas'][-1]:.3f}s/epoch, plain {times['plain'][-1]:.3f}s/epoch", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    n = len(d.train_y)
    return {"table": f"synthetic {args.timing_rows} rows (16 numeric, 2 categorical; {n} train rows)",
            "arch": PLAIN_ARCH, "params": sum(p.numel() for p in base.parameters()),
            "batch_size": hp.batch_size, "lr": hp.lr, "optimizer": "AdamW (weight_decay 0)", "threads": 1,
            "epochs_per_run": args.timing_epochs, "repeats": args.timing_repeats,
            "steps_per_epoch": math.ceil(n / hp.batch_size), "seconds_per_epoch": med,
            "ratio": med["nas"] / med["plain"], "same_train_losses": losses["nas"] == losses["plain"],
            "max_train_loss_difference": max(abs(a - b) for a, b in zip(losses["nas"], losses["plain"], strict=True)),
            "raw": times}


# ----------------------------------------------------------------------------------------- report

def fmt(v, digits=4) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def markdown(result: dict) -> str:
    settings = ", ".join(f"`{s['name']}`: {s['trials']} trials x {s['epochs']} epochs, fine-tune "
                         f"{s['finetune_epochs']} epochs" for s in result["settings"])
    lines = [f"# tabular: nas search vs LightGBM, HistGradientBoosting and a linear model "
             f"({result['machine']})\n",
             f"Command: `{result['command']}`\n",
             f"nas settings: {settings} (top {3} fine-tuned, then refit on train + validation; "
             f"`hardware=cpu seed={result['seed']}`).\n",
             f"Load average before / after: {', '.join(f'{v:.2f}' for v in result['load_average_before'])} / "
             f"{', '.join(f'{v:.2f}' for v in result['load_average_after'])}; total {result['total_seconds'] / 60:.1f} "
             f"min; code: {result['code']}.\n"]
    for t in result["tables"]:
        reg = t["task"] == "regression"
        cols = ["rmse", "r2", "mae"] if reg else ["accuracy", "auc", "balanced_accuracy"]
        primary = cols[0]
        src = t["source"].get("path") or f"sklearn {t['table']}"
        lines.append(f"## {t['table']} ({t['task']}; {t['rows']['train']}/{t['rows']['val']}/{t['rows']['test']} "
                     f"train/val/test rows, {t['numeric']} numeric + {t['categorical']} categorical columns; {src})\n")
        head = "| method | " + " | ".join(("ROC AUC" if c == "auc" else c.replace("_", " ")) for c in cols)
        lines.append(head + f" | {primary} margin to best | seconds |")
        lines.append("| --- " * (len(cols) + 3) + "|")
        for r in t["methods"]:
            if "test" not in r:
                lines.append(f"| {r['method']} | " + " | ".join("failed" for _ in cols) + f" | - | {r['seconds']:.1f} |")
                continue
            margin = r["margin"][primary]
            m = "**best**" if margin == 0 else f"{margin:+.4f}" if not reg else f"{margin:+.2f}"
            vals = " | ".join(fmt(r["test"][c], 2 if reg and c in ("rmse", "mae") else 4) for c in cols)
            lines.append(f"| {r['method']} | {vals} | {m} | {r['seconds']:.1f} |")
        for v in t["bootstrap"]:
            lo, hi = v["ci95"]
            digits = 2 if reg else 4
            lines.append(f"\n{v['method']} - LightGBM, test {v['metric']}: {v['difference']:+.{digits}f}, "
                         f"95% bootstrap interval [{lo:+.{digits}f}, {hi:+.{digits}f}] over {v['test_rows']} "
                         f"test rows: **{v['verdict']}**.")
        for r in t["methods"]:
            if r["method"].startswith("nas"):
                note = f"`{r['command']}`"
                if r.get("selected_trial") is not None:
                    note += f" selected trial {r['selected_trial']} of {r['setting']['trials']}"
                if r.get("architecture"):
                    note += f" `{r['architecture']}`"
                for c in r.get("finetune_candidates") or []:
                    note += f"; candidate {c['trial']}: search {c['search_value']:.4f}, fine-tuned val {c['val']:.4f}"
                if "error" in r:
                    note += f" FAILED: {r['error'][-400:]}"
                if r.get("warning"):
                    note += f" (warning: {r['warning']})"
                lines.append(f"\n{r['method']}: {note}")
        lines.append("")
    e = result.get("epoch_time")
    if e:
        s = e["seconds_per_epoch"]
        lines += ["## Per-epoch training time: `nas_cli.trial.fit.fit` vs a plain PyTorch loop\n",
                  f"{e['table']}, `mlp[256 256 256] relu batchnorm drop0.10 emb8` ({e['params']:,} params), "
                  f"batch {e['batch_size']} ({e['steps_per_epoch']} steps/epoch), {e['optimizer']} lr {e['lr']}, "
                  f"1 thread, {e['epochs_per_run']} epochs per run, median of {e['repeats']} alternating runs; "
                  "both include the per-epoch validation pass.\n",
                  "| | s/epoch |", "| --- | --- |",
                  f"| nas fit() | {s['nas']:.4f} |", f"| plain loop | {s['plain']:.4f} |",
                  f"\nratio nas / plain: **{e['ratio']:.3f}** (target <= 1.05); identical training losses: "
                  f"{e['same_train_losses']} (max difference {e['max_train_loss_difference']:.2e}).\n"]
    if result.get("notes"):
        lines += ["## Notes on this run\n", *[f"- {n}" for n in result["notes"]], ""]
    lines += ["## How to read this\n",
              "- Same seeded split for every method (`nas_cli.data.load_dataset`, which `nas search` uses; the "
              "split sizes in each run's summary.json are checked). nas's scores are recomputed from the exported "
              "checkpoint on the test rows and match summary.json's `finetune.test` unless a warning says so.",
              "- Baselines fit on train; the validation split is used for early stopping (LightGBM: 100 rounds, "
              "HistGradientBoosting: its default 10) or to pick C / alpha (linear). nas retrains its selected "
              "model on train + validation before the test (`finetune.refit=true`, its default).",
              "- margin = method - best on the test split (accuracy: <= 0; RMSE: >= 0).",
              "- Seconds: nas = wall time of the whole `nas search` process from outside (interpreter, imports, "
              "search, fine-tune, export, robustness); baselines = fit + predict in this process.",
              f"- Rule for \"nas is at least as good as LightGBM within the noise\": a paired bootstrap of the test "
              f"rows ({result['bootstrap_resamples']} resamples, seed {result['seed']}) of nas - LightGBM in accuracy "
              "(regression: RMSE); within noise when the 95% percentile interval contains 0 or lies wholly in "
              "nas's favour, otherwise nas loses beyond noise. These test splits are small (30-114 rows), so the "
              "intervals are wide: \"within noise\" here is weak evidence of parity, not proof.",
              "- Each method ran once with one seed; the variation between nas search seeds is not measured here."]
    return "\n".join(lines) + "\n"


def parse_setting(text: str, name: str) -> dict:
    t, e, f = (int(v) for v in text.split(","))
    return {"name": name, "trials": t, "epochs": e, "finetune_epochs": f}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default=",".join(BUILTIN), help="built-in tables, comma separated ('none': only --csv)")
    ap.add_argument("--csv", action="append", default=[], help="a CSV file to add (with --target, repeatable)")
    ap.add_argument("--target", action="append", default=[], help="target column of the matching --csv")
    ap.add_argument("--trials", type=int, default=20, help="study.n_trials")
    ap.add_argument("--epochs", type=int, default=30, help="train.epochs per trial")
    ap.add_argument("--finetune-epochs", type=int, default=60, help="finetune.epochs")
    ap.add_argument("--extra-setting", action="append", default=[], metavar="TRIALS,EPOCHS,FINETUNE_EPOCHS",
                    help="a further nas setting run on every table (repeatable), e.g. 40,50,100")
    ap.add_argument("--nas-arg", action="append", default=[], help="extra `nas search` override (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the test rows")
    ap.add_argument("--timing-rows", type=int, default=20000)
    ap.add_argument("--timing-epochs", type=int, default=3)
    ap.add_argument("--timing-repeats", type=int, default=5)
    ap.add_argument("--timing-batch-size", type=int, default=128)
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--json", default="benchmarks/results/tabular.json")
    ap.add_argument("--note", action="append", default=[], help="a note for the markdown (kept in the JSON)")
    ap.add_argument("--render-only", action="store_true",
                    help="no benchmark: rewrite the markdown beside --json from it (adding any --note)")
    args = ap.parse_args()
    if args.render_only:
        out = Path(args.json)
        result = json.loads(out.read_text())
        result["notes"] = [*result.get("notes", []), *args.note]
        out.write_text(json.dumps(result, indent=2, default=float) + "\n")
        out.with_suffix(".md").write_text(markdown(result))
        print(markdown(result))
        return
    if len(args.csv) != len(args.target):
        ap.error("give one --target per --csv")
    args.settings = [parse_setting(f"{args.trials},{args.epochs},{args.finetune_epochs}", "A")]
    args.settings += [parse_setting(s, chr(ord("B") + i)) for i, s in enumerate(args.extra_setting)]
    tables = [] if args.tables in ("", "none") else [{"kind": "builtin", "name": n} for n in args.tables.split(",")]
    tables += [{"kind": "csv", "name": Path(p).stem, "path": str(Path(p).resolve()), "target": t}
               for p, t in zip(args.csv, args.target, strict=True)]
    import lightgbm  # noqa: F401  imported before any timing (baselines are timed in this process)
    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    started = time.perf_counter()
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for table in tables:
            print(f"{table['name']}:", flush=True)
            results.append(bench_table(table, args, tmp))
            for r in results[-1]["methods"]:
                t = r.get("test", {})
                print(f"  {r['method']:<22} " + " ".join(f"{k} {v:.4f}" for k, v in t.items()) +
                      f"  {r['seconds']:.1f}s", flush=True)
        timing = None
        if not args.skip_timing:
            print("epoch time:", flush=True)
            timing = epoch_time(args, tmp)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "nas_cli"], capture_output=True, text=True).stdout.strip()
    code = f"git {head or '?'}" + (" + uncommitted nas_cli changes" if dirty else "")
    result = {"benchmark": "tabular", "code": code, "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
              "machine": f"{os.cpu_count()}-core CPU, no GPU", "cpu_count": os.cpu_count(), "seed": args.seed,
              "settings": args.settings, "nas_extra_overrides": args.nas_arg, "bootstrap_resamples": args.bootstrap,
              "tables": results, "epoch_time": timing, "total_seconds": time.perf_counter() - started,
              "load_average_before": load_before, "load_average_after": os.getloadavg(), "notes": args.note}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    text = markdown(result)
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
