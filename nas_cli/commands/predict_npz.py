"""`nas predict RUN_DIR images.npz` for an image model: every image of the file's image arrays
(those named `*images*`: MedMNIST's `train_images`, `val_images`, `test_images`), already decoded, so no resize:
their height, width and channels must be the export's. Rows are named `FILE:ARRAY[i]`; the output
format is the image one (or the multi-label one). An array of another shape is one line, exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nas_cli.errors import ConfigError


def image_arrays(archive, path: Path) -> list[str]:
    """The arrays to predict: those named `*images*` (MedMNIST: train/val/test_images)."""
    names = [k for k in archive.files if "images" in k]
    if not names:
        raise ConfigError(f"{path} has no array named *images* (it holds: {', '.join(sorted(archive.files))}); "
                          "nas predict reads images_* arrays of uint8 [N, H, W] or [N, H, W, C]")
    return names


def predict_npz(predictor, opts, fmt_rows, header: str) -> int:
    """Write the predictions of every image array of every .npz input; returns the exit code."""
    import numpy as np

    from nas_cli.data.npz_arrays import images_to_tensor, member, open_npz

    size, channels = list(predictor.size), predictor.channels
    chunks = [header]
    for given in opts.inputs:
        path = Path(given)
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")
        with open_npz(path) as archive:
            for key in image_arrays(archive, path):
                x = images_to_tensor(member(archive, path, key, "nas predict"), path, key)  # N, C, H, W uint8
                if list(x.shape[2:]) != size or x.shape[1] != channels:
                    raise ConfigError(f"{path}: {key} holds {x.shape[1]}x{x.shape[2]}x{x.shape[3]} images "
                                      f"(channels x height x width); the model takes {channels}x{size[0]}x{size[1]}")
                pixels = np.ascontiguousarray(x.numpy().transpose(0, 2, 3, 1))
                for start in range(0, len(pixels), opts.batch_size):
                    batch = pixels[start:start + opts.batch_size]
                    names = [f"{path}:{key}[{start + i}]" for i in range(len(batch))]
                    chunks.append(fmt_rows(names, predictor.run(batch), predictor.classes,
                                           min(opts.top_k, len(predictor.classes)), opts.format))
    text = "".join(chunks)
    if opts.out:
        from nas_cli.rundir import atomic_write_text

        atomic_write_text(opts.out, text)
    else:
        sys.stdout.write(text)
    predictor.close()
    return 0
