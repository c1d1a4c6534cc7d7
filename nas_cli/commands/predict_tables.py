"""`nas predict RUN_DIR new.csv ...` for a table model: every row with its prediction.

Each input file is read as the training file was (delimiter, header, column names, missing-value
markers, encoding; saved in preprocess.json), transformed with the training split's statistics and
run through model.onnx. Output: the input columns, then `prediction` (and for a classifier its
`probability` and one `p_<class>` column per class); CSV (with a `source` column when several files
are given) or JSONL, to stdout or --out (atomic). A missing required column names the column and file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nas_cli.errors import NasError

TABLE_EXTENSIONS = {".csv", ".tsv", ".txt", ".data"}


def table_inputs(inputs: list[str]) -> list[Path]:
    from nas_cli.commands.input_files import expand_inputs

    return expand_inputs(inputs, TABLE_EXTENSIONS, "table")


def predict_tables(predictor, opts) -> int:
    import pandas as pd

    from nas_cli.deploy.table_predictor import prediction_frame

    frames, failed = [], 0
    paths = table_inputs(opts.inputs)
    for path in paths:
        try:
            frame = predictor.read(path)
            out = prediction_frame(frame, predictor.predict(frame, where=str(path)), predictor)
        except NasError as exc:
            if opts.strict or len(paths) == 1:
                raise
            print(f"warning: {exc}", file=sys.stderr)
            failed += 1
            continue
        if len(paths) > 1:
            out.insert(0, "source", str(path))
        frames.append(out)
    if not frames:
        raise NasError(f"nothing could be predicted: none of the {len(paths)} file(s) could be read")
    table = pd.concat(frames, ignore_index=True)
    if opts.format == "jsonl":
        text = table.to_json(orient="records", lines=True, force_ascii=False)
        text = text if text.endswith("\n") else text + "\n"
    else:
        text = table.to_csv(index=False)
    if opts.out:
        from nas_cli.rundir import atomic_write_text

        atomic_write_text(opts.out, text)
    else:
        sys.stdout.write(text)
    if failed:
        print(f"warning: {failed} of {len(paths)} file(s) skipped", file=sys.stderr)
    return 0
