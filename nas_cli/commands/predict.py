"""`nas predict RUN_DIR INPUT...`: classify image files with a run's exported ONNX model; no torch.
(A table model takes CSV files instead: see commands/predict_tables.py; a ratings model --user U or CSVs of
users or user,item pairs: commands/predict_ratings.py.)

    nas predict runs/<run> photos/ extra.jpg "more/**/*.png" --out predictions.csv
    nas predict runs/<run>/export img.png --format jsonl --top-k 5

RUN_DIR is a run directory or its export folder alone (model.onnx + preprocess.json, movable).
INPUT: files, folders (searched recursively for image extensions) and globs (expanded here when the
shell did not). Output, one row per readable image in input order, to stdout or `--out FILE`
(written atomically):

- csv (default): header `path,class,probability,top_k`; `top_k` holds the K best as
  `name:probability` joined by `;` (best first; K = --top-k, default 3, at most the class count).
- jsonl: `{"path", "class", "probability", "top_k": [{"class", "probability"}, ...]}` per line.

An unreadable file is a warning on stderr and is skipped; with --strict it stops the command.
Exit codes: 0 done; 1 nothing could be predicted, or --strict met an unreadable file; 2 bad
arguments (missing run dir or preprocess.json, no inputs matched, bad --top-k or --batch-size).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas_cli.errors import ConfigError, NasError

PROGRESS_MIN_INPUTS = 256  # below this a progress bar only flickers


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit 2 (through ConfigError), not usage + SystemExit
        raise ConfigError(f"nas predict: {message} (see nas predict --help)")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="nas predict", description="Classify images with a run's exported ONNX model.")
    ap.add_argument("run_dir", metavar="RUN_DIR", help="run directory, or its export folder")
    ap.add_argument("inputs", metavar="INPUT", nargs="*",
                    help="image files, folders (recursive) or globs; CSV/TSV files for a table model")
    ap.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
    ap.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="output format (default csv)")
    ap.add_argument("--batch-size", type=int, default=64, metavar="N", help="images per model call (default 64)")
    ap.add_argument("--top-k", type=int, default=None, metavar="K",
                    help="best classes listed per image (default 3); a ratings model: items per user (default 10)")
    ap.add_argument("--user", action="append", metavar="U",
                    help="a ratings model: recommend for this raw user id (repeatable)")
    ap.add_argument("--strict", action="store_true", help="an unreadable file is an error, not a warning")
    return ap


def predict_command(args: list[str]) -> int:
    try:
        try:
            opts = _parser().parse_args(args)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        return _predict(opts)
    except NasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _predict(opts) -> int:
    from nas_cli.deploy.predictor import load

    if opts.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {opts.batch_size}")
    if opts.top_k is not None and opts.top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {opts.top_k}")
    predictor = load(opts.run_dir)  # first: a bad RUN_DIR is reported before any file walk
    if getattr(predictor, "kind", "image") == "ratings":
        from nas_cli.commands.predict_ratings import predict_ratings

        return predict_ratings(predictor, opts)
    if opts.user or not opts.inputs:
        raise ConfigError("nas predict: the following arguments are required: INPUT (--user is for a ratings model) "
                          "(see nas predict --help)")
    opts.top_k = 3 if opts.top_k is None else opts.top_k
    if getattr(predictor, "kind", "image") == "table":
        from nas_cli.commands.predict_tables import predict_tables

        return predict_tables(predictor, opts)
    if getattr(predictor, "kind", "image") == "text":
        from nas_cli.commands.predict_texts import predict_texts

        return predict_texts(predictor, opts)
    if getattr(predictor, "kind", "image") == "audio":
        from nas_cli.commands.predict_audio import predict_audio

        return predict_audio(predictor, opts, format_rows)
    fmt_rows, header = format_rows, "path,class,probability,top_k\n" if opts.format == "csv" else ""
    if predictor.info.get("task") == "multilabel":  # a probability per label (commands/predict_labels.py)
        from nas_cli.commands.predict_labels import format_label_rows as fmt_rows
        from nas_cli.commands.predict_labels import label_header

        header = label_header(predictor.classes) if opts.format == "csv" else ""
    if all(str(i).lower().endswith(".npz") for i in opts.inputs):  # decoded image arrays (MedMNIST layout)
        from nas_cli.commands.predict_npz import predict_npz

        return predict_npz(predictor, opts, fmt_rows, header)
    paths = expand_inputs(opts.inputs)
    top_k = min(opts.top_k, len(predictor.classes))
    lines: list[str] = []
    emit = lines.append if opts.out else sys.stdout.write
    emit(header)
    written = failed = 0
    with _progress(len(paths)) as advance:
        for batch in predictor.iter_files([str(p) for p in paths], opts.batch_size, strict=opts.strict):
            for _, reason in batch.failures:
                print(f"warning: {reason}", file=sys.stderr)
            failed += len(batch.failures)
            if batch.indices:
                emit(fmt_rows([str(paths[i]) for i in batch.indices], batch.probabilities,
                                 predictor.classes, top_k, opts.format))
            written += len(batch.indices)
            advance(len(batch.indices) + len(batch.failures))
    predictor.close()
    if written == 0:
        raise NasError(f"nothing could be predicted: none of the {len(paths)} input file(s) could be read")
    if opts.out:
        from nas_cli.rundir import atomic_write_text

        atomic_write_text(opts.out, "".join(lines))
    if failed:
        print(f"warning: {failed} of {len(paths)} file(s) skipped", file=sys.stderr)
    return 0


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Image files in order of the arguments: files as given, folders recursively, globs expanded."""
    from nas_cli.commands.input_files import expand_inputs as expand
    from nas_cli.data.dicom_folder import DICOM_EXTENSIONS
    from nas_cli.data.image_folder import EXTENSIONS

    return expand(inputs, EXTENSIONS | DICOM_EXTENSIONS, "image")


def format_rows(paths: list[str], probabilities, classes: list[str], top_k: int, fmt: str) -> str:
    """Output lines for one batch (one argsort for the whole batch)."""
    import numpy as np

    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k]
    out = []
    if fmt == "jsonl":
        import json

        for path, probs, best in zip(paths, probabilities, order, strict=True):
            top = [{"class": classes[i], "probability": float(probs[i])} for i in best]
            out.append(json.dumps({"path": path, "class": top[0]["class"],
                                   "probability": top[0]["probability"], "top_k": top}) + "\n")
        return "".join(out)
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for path, probs, best in zip(paths, probabilities, order, strict=True):
        writer.writerow([path, classes[best[0]], f"{probs[best[0]]:.6f}",
                         ";".join(f"{classes[i]}:{probs[i]:.6f}" for i in best)])
    return text.getvalue()


class _progress:
    """rich progress bar on stderr, only on a terminal and for many inputs; yields advance(n)."""

    def __init__(self, total: int):
        self.total, self.bar = total, None

    def __enter__(self):
        if self.total <= PROGRESS_MIN_INPUTS or not sys.stderr.isatty():
            return lambda n: None
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("predicting", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
