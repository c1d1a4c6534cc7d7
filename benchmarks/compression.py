"""Compressed exports beside the fp32 model: test accuracy, file size and measured latency of each variant.

Runs one real `nas search` on digits through the CLI (a 2-objective search under a parameter limit,
the knee model fine-tuned and exported, with `export.quantize=static` and `export.prune=0.5`), then
reads the variants that `nas` measured into summary.json (ONNX Runtime, median of timed runs after
warm-up, at batch 1 and at `hardware.latency_batch_size`). The fp32 model of the same run is the
baseline of every ratio.

    python benchmarks/compression.py
    python benchmarks/compression.py --set export.quantize=dynamic --out /tmp/cmp   # another variant
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["study.n_trials=8", "objectives=[accuracy:max,latency_ms:min]", "finetune.select=knee",
           "export.quantize=static", "export.prune=0.5", "constraints.max_params=50000", "verbosity=0"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", nargs="*", default=[], help="more overrides (later ones win)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    overrides = [*DEFAULT, *args.set]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(Path(sys.executable).with_name("nas")), "search", *overrides, f"runs_dir={tmp}"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=1800,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"nas search failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        run_dir = next(p for p in Path(tmp).iterdir() if p.is_dir())
        summary = json.loads((run_dir / "summary.json").read_text())
    export = summary["export"]
    variants = [{k: v for k, v in row.items() if k != "file"} for row in export["variants"]]
    result = {"command": "nas search " + " ".join(overrides), "wall_seconds": wall, "cores": os.cpu_count(),
              "trials": summary["trials"], "exported_trial": export.get("trial"),
              "max_accuracy_drop": export.get("max_accuracy_drop"), "variants": variants}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compression.json").write_text(json.dumps(result, indent=2))
    b = next((k.rsplit("_b", 1)[1] for k in variants[0] if k.startswith("latency_ms_b") and k != "latency_ms_b1"), None)
    md = ["# Compressed exports beside fp32 (`nas search`, digits)", "",
          f"`{result['command']}` ({wall:.0f} s wall, {os.cpu_count()} cores). Trials: {summary['trials']['complete']} "
          f"trained, {summary['trials']['rejected']} rejected by the limit before training. Exported: trial "
          f"{export.get('trial')} (the knee of the front). Latency: ONNX Runtime, "
          f"{variants[0].get('latency_threads')} threads, median of timed runs after warm-up.", "",
          f"| variant | test acc | drop | size KiB | size vs fp32 | ms b1 | speed b1 vs fp32 | ms b{b} "
          f"| speed b{b} vs fp32 | recommended |", "|" + " --- |" * 10]
    for v in variants:
        rec = "yes" if v["recommended"] else "no"
        md.append(f"| {v['variant']} | {v['test_accuracy']:.4f} | {v['accuracy_drop']:.4f} | {v['size_bytes'] / 1024:.1f} "
                  f"| {v['size_ratio']:.2f}x | {v['latency_ms_b1']:.4f} | {v['speedup_b1']:.2f}x "
                  f"| {v.get(f'latency_ms_b{b}', float('nan')):.4f} | {v.get(f'speedup_b{b}', float('nan')):.2f}x "
                  f"| {rec}: {v['reason']}{'; ' + v['note'] if v.get('note') else ''} |")
    md += ["", f"Speed below 1.00x means slower than fp32. A variant losing more than export.max_accuracy_drop "
           f"({export.get('max_accuracy_drop')}) is not recommended.", ""]
    (args.out / "compression.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
