"""`nas predict RUN_DIR clip.wav folder/ ...` for an audio model: one row per readable clip, as for
images (`path,class,probability,top_k` CSV or JSONL). Folders are searched recursively for
.wav/.flac/.ogg; an unreadable file is named on stderr and skipped (--strict: an error)."""

from __future__ import annotations

import sys

from nas_cli.errors import NasError


def predict_audio(predictor, opts, format_rows) -> int:
    """`format_rows(paths, probabilities, classes, top_k, fmt) -> str`: the image command's row writer."""
    from nas_cli.commands.input_files import expand_inputs
    from nas_cli.data.audio_read import EXTENSIONS

    paths = expand_inputs(opts.inputs, EXTENSIONS, "audio")
    top_k = min(opts.top_k, len(predictor.classes))
    lines = ["path,class,probability,top_k\n"] if opts.format == "csv" else []
    written = failed = 0
    for batch in predictor.iter_files([str(p) for p in paths], opts.batch_size, strict=opts.strict):
        for _, reason in batch.failures:
            print(f"warning: {reason}", file=sys.stderr)
        failed += len(batch.failures)
        if batch.indices:
            lines.append(format_rows([str(paths[i]) for i in batch.indices], batch.probabilities,
                                     predictor.classes, top_k, opts.format))
        written += len(batch.indices)
    if written == 0:
        raise NasError(f"nothing could be predicted: none of the {len(paths)} input file(s) could be read")
    if opts.out:
        from nas_cli.rundir import atomic_write_text

        atomic_write_text(opts.out, "".join(lines))
    else:
        sys.stdout.write("".join(lines))
    if failed:
        print(f"warning: {failed} of {len(paths)} file(s) skipped", file=sys.stderr)
    return 0
