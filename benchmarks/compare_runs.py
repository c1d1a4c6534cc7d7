"""Compare the summary.json of two runs, ignoring what is measured rather than computed.

Used to check that a refactor changed no result: same seed, config and thread count must give the
same trial parameters and metrics. Timings, latencies, paths and file sizes differ run to run and
are skipped. Exit 0 when everything else is equal, 1 with the differing keys otherwise.

    python benchmarks/compare_runs.py runs/BEFORE runs/AFTER
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# Keys whose values are measurements (or locations) and may differ between two identical runs.
MEASURED = re.compile(r"(seconds|latency|_at$|^run_dir$|^storage$|^file$|^files$|^checkpoint$|^onnx$|"
                      r"torch_export|model_card|^root$|size_bytes|size_ratio|speedup|_max_abs_diff$|^table$|"
                      r"pareto_plot|^source$)")


def differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if MEASURED.search(str(key)):
                continue
            if key not in a or key not in b:
                out.append(f"{path}.{key}: only in {'after' if key not in a else 'before'}")
                continue
            out += differences(a[key], b[key], f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    before, after = (json.loads((Path(p) / "summary.json").read_text()) for p in argv)
    diffs = differences(before, after)
    compared = sum(1 for _ in _leaves(before))
    for d in diffs:
        print(d)
    print(f"{compared} values in the first summary; {len(diffs)} difference(s) outside timings and latencies")
    return 1 if diffs else 0


def _leaves(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not MEASURED.search(str(k)):
                yield from _leaves(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
