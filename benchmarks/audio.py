"""Spoken digits: `nas search` on raw audio against log-mel statistics + logistic regression, same split.

Needs the `espeak-ng` speech synthesiser (Debian/Ubuntu: `apt-get install -y espeak-ng`) and the
audio extra (`pip install -e '.[audio]'`: librosa for the mel filterbank).

The data set is built here, nothing is downloaded: the ten digits "zero".."nine" spoken by espeak-ng
in several voices (accent + voice variant, the "speakers"), each at several speeds and pitches,
written as `<digit>_<speaker>_s<speed>p<pitch>.wav` (22,050 Hz mono). The split is grouped by
speaker (`dataset.group_pattern`): the test voices are never heard in training, so the score says
how a model does on a new speaker, not on new takes of a known one.

Methods, on the same train/validation/test clips (the loader is seeded; the split is checked):
- `nas search` (CLI, `dataset=audio_folder`, audio_cnn space, SpecAugment): fine-tuned, exported; its
  test scores are recomputed here from `model.onnx` on the raw test waveforms with ONNX Runtime.
- baseline: per-band mean and standard deviation over time of the same log-mel spectrogram (2 x n_mels
  features), standardised, scikit-learn LogisticRegression (trained on train + validation).
Scores: accuracy and macro F1 (scikit-learn). Why the grouped split: the same baseline is also scored
on a per-file split of the same clips (same fractions, speakers shared), which looks better than it is. Wall time: the whole `nas search` run (decode, search,
fine-tune, export) vs the baseline's features + fit.

Per-epoch training time: `nas_cli.trial.fit.fit` against a plain hand-written loop over the same
preloaded log-mel tensors (same network, AdamW, batch size, SpecAugment on each batch), alternating
repeats, medians; ratio = nas / plain (target <= 1.05). One thread throughout; the 1-minute load
average before and after is recorded, since other processes share the machine.

    OMP_NUM_THREADS=1 python benchmarks/audio.py                  # about 10 minutes on one core
    OMP_NUM_THREADS=1 python benchmarks/audio.py --trials 4 --epochs 2 --finetune-epochs 4   # a quick look

Writes benchmarks/results/audio.json and audio.md (or --out-dir).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# accent+variant: 12 synthetic speakers (male and female variants over six English accents).
SPEAKERS = ["en-us+m1", "en-us+f2", "en-gb+m3", "en-gb+f1", "en-gb-scotland+m2", "en-gb-scotland+f3",
            "en-029+m4", "en-029+f4", "en-gb-x-rp+m5", "en-gb-x-rp+f5", "en-us-nyc+m6", "en-gb-x-gbclan+klatt"]
SPEEDS = (120, 160, 200)  # words per minute
PITCHES = (30, 50, 70)  # espeak-ng pitch, 0..99
FRONT = {"sample_rate": 16000, "duration": 1.0, "n_mels": 40, "n_fft": 512, "win_length": 400, "hop_length": 160}


def build_digits(root: Path, speakers: list[str]) -> dict:
    """Synthesise every digit x speaker x speed x pitch with espeak-ng into `root`."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit("benchmarks/audio.py needs espeak-ng: apt-get install -y espeak-ng")
    root.mkdir(parents=True, exist_ok=True)
    start, count = time.perf_counter(), 0
    for speaker in speakers:
        tag = speaker.replace("+", "-")
        for speed in SPEEDS:
            for pitch in PITCHES:
                for n, word in enumerate(DIGITS):
                    out = root / f"{n}_{tag.replace('_', '-')}_s{speed}p{pitch}.wav"
                    subprocess.run([exe, "-v", speaker, "-s", str(speed), "-p", str(pitch), "-w", str(out), word],
                                   check=True, capture_output=True)
                    count += 1
    return {"clips": count, "speakers": len(speakers), "seconds": time.perf_counter() - start,
            "espeak_ng": subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()}


def dataset_options(root: Path) -> dict:
    return {"root": str(root), "label_pattern": r"^(\d)_", "group_pattern": r"^\d_([^_]+)_", **FRONT,
            "val_fraction": 0.15, "test_fraction": 0.25, "seed": 0}


def scores(y, pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y, pred)), "macro_f1": float(f1_score(y, pred, average="macro"))}


def baseline(d) -> dict:
    """Log-mel mean/std per band + standardised logistic regression, trained on train + validation."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    start = time.perf_counter()

    def stats(x):
        x = x[:, 0].numpy()
        return np.concatenate([x.mean(axis=2), x.std(axis=2)], axis=1)

    xtr = np.concatenate([stats(d.train_x), stats(d.val_x)])
    ytr = np.concatenate([d.train_y.numpy(), d.val_y.numpy()])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=1.0))
    model.fit(xtr, ytr)
    pred = model.predict(stats(d.test_x))
    return {"method": "log-mel mean/std + logistic regression", "features": int(xtr.shape[1]),
            "seconds": time.perf_counter() - start, **scores(d.test_y.numpy(), pred)}


def run_nas(root: Path, args, d, runs: Path) -> dict:
    import numpy as np
    import onnxruntime as ort

    opts = dataset_options(root)
    cmd = [str(Path(sys.executable).with_name("nas")), "search", "dataset=audio_folder",
           *[f"dataset.{k}='{v}'" if isinstance(v, str) else f"dataset.{k}={v}" for k, v in opts.items()],
           "dataset.augment=specaugment", "search_space=auto", f"study.n_trials={args.trials}",
           f"train.epochs={args.epochs}", f"finetune.epochs={args.finetune_epochs}", "finetune.top_k=2",
           "hardware=cpu", "hardware.threads=1", f"seed={args.seed}", "verbosity=0", "robustness.enabled=false",
           f"runs_dir={runs}"]
    # The synthesised folder is temporary: shown as DATA; quoted values as a user types them.
    shown = "nas " + " ".join(c.replace(f"'{root}'", "DATA") if "'" not in c.replace(f"'{root}'", "")
                              else f'"{c}"' for c in cmd[1:-1])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    base = {"method": "nas search (audio_cnn, SpecAugment)", "command": shown, "seconds": wall}
    if proc.returncode != 0:
        return {**base, "error": f"exit {proc.returncode}: {(proc.stderr or proc.stdout)[-3000:]}"}
    run = max((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    summary = json.loads((run / "summary.json").read_text())
    counts = {k: summary["data"].get(k) for k in ("train", "val", "test")}
    expected = {"train": len(d.train_y), "val": len(d.val_y), "test": len(d.test_y)}
    # The exported model on the raw test waveforms (front end inside model.onnx), ONNX Runtime.
    sess = ort.InferenceSession(str(run / "export" / "model.onnx"), providers=["CPUExecutionProvider"])
    waves = d.raw["test"]["waves"]
    logits = np.concatenate([sess.run(None, {"waveform": waves[i:i + 64]})[0] for i in range(0, len(waves), 64)])
    mine = scores(d.test_y.numpy(), logits.argmax(1))
    reported = summary["finetune"]["test"]
    best = {t["number"]: t for t in summary.get("best_trials", [])}.get(summary["finetune"]["selected_trial"], {})
    return {**base, **mine, "reported_test": reported, "split_counts": counts, "same_split": counts == expected,
            "onnx_matches_reported": abs(mine["accuracy"] - reported["accuracy"]) < 1e-6,
            "onnx_max_abs_diff": summary["export"].get("onnx_max_abs_diff"),
            "architecture": best.get("description"), "timings": summary.get("timings")}


TIMING_ARCH = {"layers": [{"channels": 64, "kernel": 5, "dilation": 1, "pool": "max"},
                          {"channels": 64, "kernel": 5, "dilation": 2, "pool": "max"},
                          {"channels": 128, "kernel": 3, "dilation": 1, "pool": "none"}],
               "global_pool": "mean", "activation": "relu", "batch_norm": True, "dropout": 0.1}


def plain_fit(model, d, lr: float, batch_size: int, epochs: int, seed: int = 0) -> list[float]:
    """The hand-written loop: what fit() does for classification with a batch augmentation, nothing more."""
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
            xb = d.augment(x[idx], gen) if d.augment is not None else x[idx]
            loss = F.cross_entropy(model(xb), y[idx])
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


def epoch_time(d, args) -> dict:
    import torch

    from nas_cli.spaces import build_space
    from nas_cli.tasks import task_for
    from nas_cli.trial.fit import Hparams, fit

    task = task_for(d.spec)
    torch.manual_seed(0)
    base = build_space("audio_cnn", spec=d.spec).build(TIMING_ARCH, d.spec)
    hp = Hparams(lr=1e-3, batch_size=64)

    def run(kind: str, epochs: int):
        model = copy.deepcopy(base)
        torch.manual_seed(1)  # dropout draws alike on both sides
        t0 = time.perf_counter()
        if kind == "nas":
            losses = [h["train_loss"] for h in fit(model, d, hp, epochs=epochs, task=task)]
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
    return {"arch": TIMING_ARCH, "params": sum(p.numel() for p in base.parameters()), "batch_size": hp.batch_size,
            "train_clips": len(d.train_y), "input": list(d.spec.input_shape), "augment": repr(d.augment),
            "threads": 1, "epochs_per_run": args.timing_epochs, "repeats": args.timing_repeats,
            "seconds_per_epoch": med, "ratio": med["nas"] / med["plain"],
            "same_train_losses": losses["nas"] == losses["plain"], "raw": times}


def markdown(result: dict) -> str:
    nas, lin, e, data = result["nas"], result["baseline"], result["epoch_time"], result["data"]
    lines = ["# Spoken digits (espeak-ng): nas search vs log-mel statistics + logistic regression\n",
             f"{data['clips']} clips: 10 digits x {data['speakers']} synthetic speakers x {len(SPEEDS)} speeds x "
             f"{len(PITCHES)} pitches; split grouped by speaker: {data['split']['train']} train / "
             f"{data['split']['val']} validation / {data['split']['test']} test clips, test speakers "
             f"{', '.join(data['test_speakers'])} never heard in training. 1 s at 16 kHz, 40-band log-mel "
             "(25 ms window, 10 ms hop). One thread; 1-minute load average "
             f"{result['load_average_before'][0]:.2f} before, {result['load_average_after'][0]:.2f} after.\n",
             "| method | test accuracy | test macro F1 | wall time (s) |", "| --- | --- | --- | --- |"]
    if "error" in nas:
        lines.append(f"| nas search | error: {nas['error'][:200]} | | |")
    else:
        lines.append(f"| {nas['method']}, exported ONNX on raw waveforms | {nas['accuracy']:.4f} | "
                     f"{nas['macro_f1']:.4f} | {nas['seconds']:.1f} |")
    lines += [f"| {lin['method']} ({lin['features']} features) | {lin['accuracy']:.4f} | {lin['macro_f1']:.4f} | "
              f"{lin['seconds']:.1f} (+ {data['load_seconds']:.1f} decode and features) |", "",
              f"The same baseline on a per-file split of the same clips (speakers shared between training and "
              f"test): accuracy {result['baseline_per_file_split']['accuracy']:.4f}, macro F1 "
              f"{result['baseline_per_file_split']['macro_f1']:.4f}: what an ungrouped split would have "
              "reported for new speakers.\n"]
    if "error" not in nas:
        lines += [f"nas: `{nas['command']}`; selected architecture `{nas.get('architecture')}`; same split: "
                  f"{nas['same_split']}; ONNX accuracy equals the run's reported test accuracy: "
                  f"{nas['onnx_matches_reported']}; export ONNX-vs-PyTorch max abs difference "
                  f"{nas['onnx_max_abs_diff']:.2e}.\n"]
    s = e["seconds_per_epoch"]
    lines += ["## Per-epoch training time: `nas_cli.trial.fit.fit` vs a plain PyTorch loop\n",
              f"Same preloaded log-mel tensors ({e['train_clips']} clips, {e['input']}), audio_cnn network "
              f"({e['params']} parameters), AdamW, batch {e['batch_size']}, SpecAugment per batch, 1 thread, "
              f"{e['repeats']} alternating repeats of {e['epochs_per_run']} epochs, medians.\n",
              "| loop | seconds per epoch |", "| --- | --- |",
              f"| nas fit() | {s['nas']:.4f} |", f"| plain loop | {s['plain']:.4f} |",
              f"\nratio nas / plain: **{e['ratio']:.3f}** (target <= 1.05); identical training losses: "
              f"{e['same_train_losses']}.\n",
              f"Command: `{result['command']}`\n"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--finetune-epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timing-repeats", type=int, default=5)
    ap.add_argument("--timing-epochs", type=int, default=2)
    ap.add_argument("--data-dir", help="keep the synthesised clips here (default: a temporary folder)")
    ap.add_argument("--out-dir", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from nas_cli.data import load_dataset

    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nas-audio-bench-") as tmp:
        root = Path(args.data_dir) if args.data_dir else Path(tmp) / "digits"
        built = build_digits(root, SPEAKERS)
        print(f"built {built['clips']} clips in {built['seconds']:.1f}s", flush=True)
        t0 = time.perf_counter()
        d = load_dataset("audio_folder", **dataset_options(root), augment="specaugment")
        load_seconds = time.perf_counter() - t0
        lin = baseline(d)
        print(f"baseline: accuracy {lin['accuracy']:.4f} macro F1 {lin['macro_f1']:.4f}", flush=True)
        per_file = baseline(load_dataset("audio_folder", **{**dataset_options(root), "group_pattern": None}))
        print(f"baseline, per-file split: accuracy {per_file['accuracy']:.4f}", flush=True)
        nas = run_nas(root, args, d, Path(tmp) / "runs")
        print(f"nas: {json.dumps({k: v for k, v in nas.items() if k in ('accuracy', 'macro_f1', 'seconds', 'error')})}",
              flush=True)
        timing = epoch_time(d, args)
        print(f"epoch ratio {timing['ratio']:.3f}", flush=True)
    result = {"data": {**built, "load_seconds": load_seconds, "front_end": FRONT, "speeds": SPEEDS,
                       "pitches": PITCHES, "speaker_list": SPEAKERS,
                       "split": {k: len(getattr(d, f"{k}_y")) for k in ("train", "val", "test")},
                       "test_speakers": sorted(set(d.raw["test"]["groups"]))},
              "nas": nas, "baseline": lin, "baseline_per_file_split": per_file, "epoch_time": timing, "total_seconds": time.perf_counter() - started,
              "command": "OMP_NUM_THREADS=1 python benchmarks/audio.py " + " ".join(sys.argv[1:]),
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "torch": torch.__version__}
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "audio.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / "audio.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
