"""Compressed export variants (int8 dynamic/static via ONNX Runtime, magnitude pruning), each measured.

Every variant is an ONNX file beside the fp32 one, and its held-out test accuracy, file size and
latency are measured on ONNX Runtime with the same thread count as the fp32 model: on small CNNs
int8 can be slower than fp32, so nothing is assumed.
"""

from __future__ import annotations

import time
from pathlib import Path


def onnx_score(session, x, y, task=None, batch_size: int = 1024, spec=None) -> float:
    """The task's score (classification: top-1 accuracy) of an ONNX Runtime session on tensors `x`, `y`
    (stored form; a table's packed rows are fed as the exported named inputs when `spec` is given)."""
    import numpy as np

    from nas_cli.tasks import get_task

    task = task or get_task(None)
    outs = [session.run(None, _feeds(session, x[i:i + batch_size], spec))[0] for i in range(0, len(x), batch_size)]
    return task.evaluate_numpy(np.concatenate(outs), y.cpu().numpy())[task.score]


def _feeds(session, x, spec) -> dict:
    names = [i.name for i in session.get_inputs()]
    if spec is not None and getattr(spec, "table", None) is not None:
        from nas_cli.tasks.inputs import onnx_feeds

        return onnx_feeds(spec, x, names)
    return {names[0]: x.detach().cpu().float().contiguous().numpy()}


def measure_variant(name: str, path: Path, data, example, opts: dict, task=None) -> dict:
    """Accuracy on the test split, file size and latency (batch 1 and opts['batch_size']) of one ONNX file."""
    from nas_cli.trial.latency import measure_latency_onnx, onnx_session

    sess = onnx_session(path, opts["threads"])
    row = {"variant": name, "file": str(path), "size_bytes": path.stat().st_size,
           score_key(task): onnx_score(sess, data.test_x, data.test_y, task, spec=data.spec), "latency_threads": opts["threads"]}
    for bs in dict.fromkeys((1, int(opts["batch_size"]))):
        lat = measure_latency_onnx(None, example, bs, opts["repeats"], opts["warmup"], session=sess)
        row[f"latency_ms_b{bs}"] = round(lat["median_ms"], 5)
        row[f"latency_p90_ms_b{bs}"] = round(lat["p90_ms"], 5)
    return row


class _Calibration:
    """onnxruntime.quantization CalibrationDataReader over training inputs."""

    def __init__(self, session, x, spec=None, batch_size: int = 32) -> None:
        self._batches = iter([_feeds(session, x[i:i + batch_size], spec) for i in range(0, len(x), batch_size)])

    def get_next(self):
        return next(self._batches, None)


def quantize(fp32_path: Path, mode: str, data, calibration_samples: int) -> Path:
    """int8 ONNX next to `fp32_path`: dynamic (weights only) or static (activations calibrated on train data)."""
    import onnxruntime.quantization as q

    from nas_cli.trial.latency import onnx_session

    out = fp32_path.with_name(f"model.int8_{mode}.onnx")
    prepped = fp32_path.with_name(".model.prep.onnx")
    try:
        q.quant_pre_process(str(fp32_path), str(prepped), skip_symbolic_shape=True)
        src = prepped
    except Exception:  # pre-processing is an optimisation only
        src = fp32_path
    try:
        if mode == "dynamic":
            q.quantize_dynamic(str(src), str(out), weight_type=q.QuantType.QInt8)
        else:
            reader = _Calibration(onnx_session(src), data.train_x[:calibration_samples], data.spec)
            q.quantize_static(str(src), str(out), reader, quant_format=q.QuantFormat.QDQ,
                              activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8)
    finally:
        prepped.unlink(missing_ok=True)
    return out


def prune_and_finetune(model, ctx, hparams, fraction: float, epochs: int):
    """Global L1 magnitude pruning of conv/linear weights, a short fine-tune with the mask, then made permanent."""
    import copy

    import torch
    from torch.nn.utils import prune

    from nas_cli.trial.fit import fit

    pruned = copy.deepcopy(model).to(ctx.device)
    params = [(m, "weight") for m in pruned.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear))]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=float(fraction))
    if epochs > 0:
        fit(pruned, ctx.data, hparams, epochs, seed=ctx.seed, schedule="cosine",
            max_batches=ctx.train.get("max_batches"), autocast_dtype=ctx.autocast_dtype)
    for module, name in params:
        prune.remove(module, name)
    zeros = sum(int((m.weight == 0).sum()) for m, _ in params)
    total = sum(m.weight.numel() for m, _ in params)
    return pruned.eval(), zeros / max(1, total)


def network_view(ctx):
    """What the variants are calibrated and measured on, in the exported model's input form: the
    trial's tensors, their example shape, and how a (pruned) network is written as ONNX."""
    from types import SimpleNamespace

    from nas_cli.rundir import atomic_save_with
    from nas_cli.trial.latency import export_onnx_bytes
    from nas_cli.trial.measure import trial_example

    shape, task = trial_example(ctx), ctx.task

    def write_onnx(network, path: Path) -> Path:
        blob = export_onnx_bytes(network, shape, task.signature(ctx.data.spec) if task is not None else None)
        return atomic_save_with(path, lambda tmp: Path(tmp).write_bytes(blob))

    return SimpleNamespace(data=ctx.data, example=shape, write_onnx=write_onnx)


def export_variants(model, ctx, hparams, fp32_onnx: Path, ex: dict, opts: dict, reporter=None, view=None) -> dict:
    """Build every requested variant, measure each beside fp32, mark those that lose too much accuracy.

    `view` (default `network_view(ctx)`): the data and example in the export's input form, and the
    ONNX writer; an export that wraps the network (audio: the log-mel front end) passes its own."""
    start = time.perf_counter()
    view = view or network_view(ctx)
    data, shape, task = view.data, view.example, ctx.task
    rows = [measure_variant("fp32", fp32_onnx, data, shape, opts, task)]
    quant = str(ex.get("quantize", "none"))
    if quant != "none":
        path = quantize(fp32_onnx, quant, data, int(ex.get("calibration_samples", 512)))
        rows.append({**measure_variant(f"int8_{quant}", path, data, shape, opts, task), "quantize": quant})
    fraction = float(ex.get("prune") or 0.0)
    if fraction > 0:
        pruned, sparsity = prune_and_finetune(model, ctx, hparams, fraction, int(ex.get("prune_epochs", 2)))
        path = view.write_onnx(pruned, fp32_onnx.with_name(f"model.pruned{int(round(fraction * 100))}.onnx"))
        rows.append({**measure_variant(f"pruned_{fraction:g}", path, data, shape, opts, task),
                     "prune_fraction": fraction, "sparsity": round(sparsity, 4),
                     "prune_epochs": int(ex.get("prune_epochs", 2))})
    key = score_key(task)
    judge(rows, float(ex.get("max_accuracy_drop", 0.01)), int(opts["batch_size"]), key)
    if reporter is not None:
        bs = int(opts["batch_size"])
        reporter.table("Export variants (test split, ONNX Runtime)",
                       ["variant", "test acc", "drop", "size KiB", "ms b1", f"ms b{bs}", "speedup b1", "verdict"],
                       [[r["variant"], f"{r[key]:.4f}", f"{r['accuracy_drop']:+.4f}",
                         f"{r['size_bytes'] / 1024:.1f}", r["latency_ms_b1"], r[f"latency_ms_b{bs}"],
                         f"{r['speedup_b1']:.2f}x", _verdict(r)] for r in rows])
    return {"variants": rows, "max_accuracy_drop": float(ex.get("max_accuracy_drop", 0.01)),
            "seconds": time.perf_counter() - start}


def _verdict(row: dict) -> str:
    if not row["recommended"]:
        return f"not recommended: {row['reason']}"
    return "recommended" + (f" ({row['note']})" if row.get("note") else "")


def score_key(task) -> str:
    """The summary key of a variant's test score: `test_<score>` (`test_accuracy` for classification)."""
    from nas_cli.tasks import get_task

    return f"test_{(task or get_task(None)).score}"


def judge(rows: list[dict], max_drop: float, batch_size: int, key: str = "test_accuracy") -> None:
    """Accuracy drop and measured speed-up against fp32; 'not recommended' with the reason, never assumed."""
    base = rows[0]
    for r in rows:
        r["accuracy_drop"] = round(base[key] - r[key], 6)  # named after export.max_accuracy_drop
        r["size_ratio"] = round(r["size_bytes"] / base["size_bytes"], 4)
        r["speedup_b1"] = round(base["latency_ms_b1"] / r["latency_ms_b1"], 4)
        r[f"speedup_b{batch_size}"] = round(base[f"latency_ms_b{batch_size}"] / r[f"latency_ms_b{batch_size}"], 4)
        reasons = []
        if r["accuracy_drop"] > max_drop:
            reasons.append(f"loses {r['accuracy_drop']:.4f} test accuracy > export.max_accuracy_drop={max_drop}")
        if r is not base and r["speedup_b1"] < 1 and r[f"speedup_b{batch_size}"] < 1 and r["size_ratio"] >= 1:
            reasons.append("measured slower than fp32 and not smaller")
        r["recommended"] = not reasons
        r["reason"] = "; ".join(reasons) if reasons else ("reference" if r is base else "within the accuracy budget")
        if r is not base and r["recommended"] and r["speedup_b1"] < 1:
            r["note"] = f"smaller ({r['size_ratio']:.2f}x size) but measured {1 / r['speedup_b1']:.2f}x slower at batch 1"


def model_card_section(result: dict, batch_size: int, key: str = "test_accuracy") -> str:
    lines = ["## Compressed variants (measured on ONNX Runtime, held-out test split)", "",
             f"| variant | {key.replace('_', ' ')} | drop | size (KiB) | latency b1 ms (p90) | latency b{batch_size} ms | speed-up b1 | recommended |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["variants"]:
        verdict = "yes" if r["recommended"] else f"no: {r['reason']}"
        verdict += f" ({r['note']})" if r.get("note") else ""
        lines.append(f"| {r['variant']} (`{Path(r['file']).name}`) | {r[key]:.4f} | {r['accuracy_drop']:+.4f} | "
                     f"{r['size_bytes'] / 1024:.1f} | {r['latency_ms_b1']} ({r['latency_p90_ms_b1']}) | "
                     f"{r[f'latency_ms_b{batch_size}']} | {r['speedup_b1']:.2f}x | {verdict} |")
    notes = [f"- {r['variant']}: {r['note']}" for r in result["variants"] if r.get("note")]
    lines += ["", f"Threads: {result['variants'][0]['latency_threads']}; export.max_accuracy_drop="
              f"{result['max_accuracy_drop']}.", *notes, ""]
    return "\n".join(lines)


def compress_step(settings: dict, model, ctx, hparams, result: dict, export_dir: Path, reporter, view=None) -> None:
    """After export: build the requested variants, add them to `result` and to the model card."""
    ex = settings["export"]
    if str(ex.get("quantize", "none")) == "none" and not float(ex.get("prune") or 0.0):
        return
    fp32 = result.get("files", {}).get("onnx")
    if not fp32:
        reporter.warn("export.quantize/export.prune need export.onnx=true; no variants were built")
        return
    opts = dict(ctx.extra.get("cost") or {"batch_size": 64, "repeats": 20, "warmup": 3, "threads": 1})
    out = export_variants(model, ctx, hparams, Path(fp32), ex, opts, reporter, view)
    result["variants"] = out["variants"]
    result["max_accuracy_drop"] = out["max_accuracy_drop"]
    result["variants_seconds"] = out["seconds"]
    card = result.get("files", {}).get("model_card")
    if card and Path(card).exists():
        from nas_cli.rundir import atomic_write_text

        text = Path(card).read_text(encoding="utf-8")
        atomic_write_text(Path(card), text + "\n" + model_card_section(out, int(opts["batch_size"]), score_key(ctx.task)))
