"""Run an exported model on images with ONNX Runtime and the saved preprocessing; no torch.

    from nas_cli.deploy.predictor import load
    predictor = load("runs/<run>")              # or the export folder alone
    probabilities = predictor.predict(["a.jpg", "b.png"])
    predictor.classes[probabilities.argmax(1)[0]]

One `session.run` per batch. A helper thread decodes the next batch (Pillow releases the GIL while
decoding and resizing) while ONNX Runtime runs the current one; on more than 2 cores further threads
each decode a slice of the batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nas_cli.deploy.preprocess import find_export_dir, read_preprocess, to_model_input
from nas_cli.errors import ConfigError, NasError


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class Batch:
    """One batch of files: rows of `probabilities` belong to `indices` (into the input list)."""

    indices: list[int]
    probabilities: object  # np.ndarray [len(indices), classes]
    failures: list[tuple[int, str]] = field(default_factory=list)  # (index, why it could not be read)


def softmax(logits):
    import numpy as np

    z = np.asarray(logits, dtype=np.float32)
    z = z - z.max(axis=1, keepdims=True)  # exp of a non-positive number cannot overflow
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def sigmoid(logits):
    import numpy as np

    return (0.5 * (1.0 + np.tanh(0.5 * np.asarray(logits, dtype=np.float32)))).astype(np.float32)


class Predictor:
    """An exported classifier: `predict(files or uint8 NHWC pixels) -> probabilities [N, classes]`."""

    min_per_worker = 16  # images per decode thread, below which one thread is faster

    def __init__(self, export_dir: Path, info: dict, session, threads: int):
        self.export_dir, self.info, self.session, self.threads = export_dir, info, session, threads
        self.classes: list[str] = list(info["classes"])
        self.input_name = info["input"]["name"]
        self.output_name = info["output"]["name"]
        image = info["image"]
        self.size = (int(image["size"][0]), int(image["size"][1]))
        self.channels, self.resize = int(image["channels"]), image["resize"]
        self._pool = self._ahead = None  # decode threads, and the one that decodes a batch ahead
        # With prefetch the caller's decode thread is one worker; ORT keeps the other cores busy.
        self.decode_workers = max(1, min(8, threads) - 1)

    def predict(self, inputs, batch_size: int = 64):
        """Probabilities [N, classes] for a list of image files or uint8 pixels (N, H, W, C).

        Files that cannot be read raise NasError; use `iter_files` to skip them instead.
        """
        import numpy as np

        if isinstance(inputs, np.ndarray):
            rows = [self.run(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)]
        else:
            rows = [b.probabilities for b in self.iter_files(list(inputs), batch_size, strict=True)]
        return np.concatenate(rows) if rows else self._none()

    def run(self, pixels):
        """uint8 (N, H, W, C) -> probabilities: preprocessing, one session.run, softmax (multi-label:
        one sigmoid probability per label)."""
        logits = self.logits(to_model_input(pixels, self.info))
        return sigmoid(logits) if self.info.get("task") == "multilabel" else softmax(logits)

    def logits(self, model_input):
        """float32 (N, C, H, W), already preprocessed -> the model's logits (one session.run)."""
        return self.session.run([self.output_name], {self.input_name: model_input})[0]

    def iter_files(self, paths: Sequence, batch_size: int = 64, strict: bool = False) -> Iterator[Batch]:
        """Batches of predictions over `paths`, in order; unreadable files are listed in `failures`.

        With strict=True the first unreadable file raises NasError naming it.
        """
        if batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {batch_size}")
        starts = list(range(0, len(paths), batch_size))
        pending = self._submit(paths, starts[0], batch_size) if starts else None
        for k, start in enumerate(starts):
            pixels, failures = pending.result()
            # Decode the next batch while ONNX Runtime works on this one (it releases the GIL).
            pending = self._submit(paths, starts[k + 1], batch_size) if k + 1 < len(starts) else None
            if failures and strict:
                self.close()  # drops the batch decoded ahead
                raise NasError(failures[0][1])
            bad = {i for i, _ in failures}
            keep = [i for i in range(len(pixels)) if start + i not in bad]
            probabilities = self.run(pixels[keep] if len(keep) < len(pixels) else pixels) if keep else self._none()
            yield Batch([start + i for i in keep], probabilities, failures)

    def _none(self):
        import numpy as np

        return np.zeros((0, len(self.classes)), dtype=np.float32)

    def decode(self, paths: Sequence, offset: int = 0):
        """uint8 (N, H, W, C) pixels of `paths` and [(offset + i, reason)] for those that failed."""
        import numpy as np

        # Exactly the training loader's decode and resize; it imports numpy and Pillow, no torch.
        from nas_cli.data.image_folder import read_image

        if any(Path(p).suffix.lower() in (".dcm", ".dicom") for p in paths):  # DICOM: the training window
            from nas_cli.data.dicom_folder import dicom_or_image_reader

            read_image = dicom_or_image_reader(read_image, self.info)
        pixels = np.zeros((len(paths), *self.size, self.channels), dtype=np.uint8)

        def chunk(lo: int, hi: int) -> list[tuple[int, str]]:
            failed = []
            for i in range(lo, hi):
                try:
                    pixels[i] = read_image(Path(paths[i]), self.size, self.channels, self.resize)
                except NasError as exc:  # read_image names the file and the decoder's reason
                    failed.append((offset + i, str(exc)))
                except Exception as exc:  # a decoder bug must not stop the other files
                    failed.append((offset + i, f"{paths[i]}: cannot be read as an image "
                                               f"({type(exc).__name__}: {exc})"))
            return failed

        # One contiguous slice per worker, not one task per image: small images decode in tens of
        # microseconds, less than a thread hand-off costs. The calling thread takes the last slice.
        workers = max(1, min(self.decode_workers, len(paths) // self.min_per_worker))
        bounds = [len(paths) * k // workers for k in range(workers + 1)]
        futures = [self._executor().submit(chunk, bounds[k], bounds[k + 1]) for k in range(workers - 1)]
        failures = chunk(bounds[-2], bounds[-1])
        failures = [f for fut in futures for f in fut.result()] + failures
        return pixels, sorted(failures)

    def _submit(self, paths, start: int, batch_size: int):
        if self._ahead is None:
            self._ahead = _threads(1, "nas-prefetch")
        return self._ahead.submit(self.decode, paths[start:start + batch_size], start)

    def _executor(self):
        if self._pool is None:
            self._pool = _threads(max(1, self.decode_workers - 1), "nas-decode")
        return self._pool

    def close(self) -> None:
        for pool in filter(None, (self._pool, self._ahead)):
            pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._ahead = None


def _threads(n: int, name: str):
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=n, thread_name_prefix=name)


def load(path, threads: int | None = None):
    """Predictor for RUN_DIR or EXPORT_DIR: model.onnx + preprocess.json, CPU provider (a `Predictor`
    for images, a `TablePredictor` for tables)."""
    export_dir = find_export_dir(path)
    info = read_preprocess(export_dir)
    threads = int(threads or cpu_count())
    model = export_dir / "model.onnx"
    session = onnx_session(model, threads)
    if info["input"].get("kind") == "table":
        from nas_cli.deploy.table_predictor import TablePredictor

        names = {i.name for i in session.get_inputs()}
        if names != set(info["input"]["names"]):
            raise ConfigError(f"{model} has inputs {sorted(names)}, preprocess.json says "
                              f"{info['input']['names']}; preprocess.json belongs to another export")
        return TablePredictor(export_dir, info, session, threads)
    if info["input"].get("kind") == "text":
        from nas_cli.deploy.text_predictor import TextPredictor

        return TextPredictor(export_dir, info, session, threads)
    if info["input"].get("kind") == "audio":
        from nas_cli.deploy.audio_predictor import AudioPredictor

        return AudioPredictor(export_dir, info, session, threads)
    if info["input"].get("kind") == "ratings":
        from nas_cli.deploy.ratings_predictor import RatingsPredictor

        return RatingsPredictor(export_dir, info, session, threads)
    _check_signature(session, info, model)
    return Predictor(export_dir, info, session, threads)


def onnx_session(model: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # ONNX Runtime's warnings are not the user's to act on
    # Idle ORT workers spin by default, taking the cores the decode thread needs between runs
    # (on 2 cores: 0.39 s instead of 0.48 s for 2,000 CIFAR images, benchmarks/predict.py).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ConfigError(f"{model} cannot be loaded by ONNX Runtime ({type(exc).__name__}: {exc})") from None


def _check_signature(session, info: dict, model: Path) -> None:
    """Fail at load, naming both files, when preprocess.json does not describe this model."""
    inputs = {i.name: i for i in session.get_inputs()}
    name = info["input"]["name"]
    if name not in inputs:
        raise ConfigError(f"{model} has no input {name!r} (it has {', '.join(inputs)}); "
                          "preprocess.json belongs to another export")
    want = [info["image"]["channels"], *info["image"]["size"]]
    have = list(inputs[name].shape[1:])
    if len(have) != len(want) or any(isinstance(h, int) and h != w for h, w in zip(have, want, strict=True)):
        raise ConfigError(f"{model} expects input {name!r} of shape [batch, {', '.join(map(str, have))}], "
                          f"preprocess.json says [batch, {', '.join(map(str, want))}]")
    outputs = [o.name for o in session.get_outputs()]
    if info["output"]["name"] not in outputs:
        raise ConfigError(f"{model} has no output {info['output']['name']!r} (it has {', '.join(outputs)})")
