"""`nas predict RUN_DIR texts.txt reviews.csv ...` for a text model: each text with its prediction.

A `.csv`/`.tsv` input is read for the training text column(s); any other file holds one text per
non-empty line. Output: `source,text,prediction,probability,p_<class>...` as CSV, or JSONL, to stdout
or --out (atomic). Exit codes as for images: 2 bad arguments, 1 nothing could be predicted.
"""

from __future__ import annotations

import sys

from nas_cli.errors import NasError

TEXT_EXTENSIONS = {".txt", ".csv", ".tsv", ".text", ".label"}


def predict_texts(predictor, opts) -> int:
    import pandas as pd

    from nas_cli.commands.input_files import expand_inputs
    from nas_cli.tasks.metrics import top_class

    frames, failed = [], 0
    paths = expand_inputs(opts.inputs, TEXT_EXTENSIONS, "text")
    for path in paths:
        try:
            texts = predictor.read(path)
        except NasError as exc:
            if opts.strict or len(paths) == 1:
                raise
            print(f"warning: {exc}", file=sys.stderr)
            failed += 1
            continue
        probs = predictor.predict(texts, batch_size=max(1, opts.batch_size))
        best = top_class(probs) if len(texts) else []
        frame = pd.DataFrame({"source": str(path), "text": texts,
                              "prediction": [predictor.classes[i] for i in best],
                              "probability": probs[range(len(best)), best] if len(texts) else []})
        for k, name in enumerate(predictor.classes):
            frame[f"p_{name}"] = probs[:, k]
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if table.empty:
        raise NasError(f"nothing could be predicted: no text in the {len(paths)} file(s)")
    text = table.to_json(orient="records", lines=True, force_ascii=False) if opts.format == "jsonl" \
        else table.to_csv(index=False)
    if opts.out:
        from nas_cli.rundir import atomic_write_text

        atomic_write_text(opts.out, text if text.endswith("\n") else text + "\n")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if failed:
        print(f"warning: {failed} of {len(paths)} file(s) skipped", file=sys.stderr)
    return 0
