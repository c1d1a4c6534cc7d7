"""An exported audio classifier on files: decode (soundfile), mono, resample, pad/trim exactly as the
training loader did (`data/audio_read.py`), then ONNX Runtime on the raw waveform (the log-mel front
end is inside `model.onnx`). No torch.

    predictor = nas_cli.deploy.load("runs/<run>")     # an audio run
    predictor.predict(["a.wav", "b.flac"])            # probabilities [N, classes]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nas_cli.errors import ConfigError, NasError


@dataclass
class Batch:
    """One batch of files, as the image predictor's: rows of `probabilities` belong to `indices`."""

    indices: list[int]
    probabilities: object  # np.ndarray [len(indices), classes]
    failures: list[tuple[int, str]] = field(default_factory=list)  # (index, why it could not be read)


class AudioPredictor:
    kind = "audio"

    def __init__(self, export_dir: Path, info: dict, session, threads: int):
        self.export_dir, self.info, self.session, self.threads = export_dir, info, session, threads
        self.classes: list[str] = list(info["classes"])
        self.sample_rate, self.samples = int(info["audio"]["sample_rate"]), int(info["audio"]["samples"])
        self.input_name, self.output_name = info["input"]["name"], info["output"]["name"]
        inputs = {i.name: i for i in session.get_inputs()}
        if self.input_name not in inputs:
            raise ConfigError(f"{export_dir / 'model.onnx'} has no input {self.input_name!r} (it has "
                              f"{', '.join(inputs)}); preprocess.json belongs to another export")
        width = inputs[self.input_name].shape[-1]
        if isinstance(width, int) and width != self.samples:
            raise ConfigError(f"{export_dir / 'model.onnx'} takes {width} samples, preprocess.json says {self.samples}")

    def waveform(self, path):
        """One file as the model's input row (float32 [samples]); NasError naming an unreadable file."""
        from nas_cli.data.audio_read import decode_clip, fit_length

        return fit_length(decode_clip(path, self.sample_rate)[0], self.samples)

    def logits(self, waves, batch_size: int = 64):
        """Logits [N, classes] for float32 waveforms [N, samples] at the model's sample rate."""
        import numpy as np

        waves = np.asarray(waves, dtype=np.float32)
        if waves.ndim != 2 or waves.shape[1] != self.samples:
            raise ConfigError(f"waveforms have shape {tuple(waves.shape)}; the model takes (N, {self.samples}) "
                              f"samples at {self.sample_rate} Hz")
        out = [self.session.run([self.output_name], {self.input_name: waves[i:i + batch_size]})[0]
               for i in range(0, len(waves), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), dtype=np.float32)

    def predict(self, inputs, batch_size: int = 64):
        """Probabilities [N, classes] for audio files (unreadable ones raise) or waveforms [N, samples]."""
        import numpy as np

        from nas_cli.tasks.metrics import softmax

        if isinstance(inputs, (str, Path)):
            raise ConfigError("predict takes a list of files, not one path (wrap it: [path])")
        if not isinstance(inputs, np.ndarray):
            inputs = np.stack([self.waveform(p) for p in inputs]) if len(inputs) else \
                np.zeros((0, self.samples), dtype=np.float32)
        return softmax(self.logits(inputs, batch_size)).astype(np.float32)

    def iter_files(self, paths: Sequence, batch_size: int = 64, strict: bool = False) -> Iterator:
        """Batches of (indices, probabilities, failures); an unreadable file is a failure unless `strict`."""
        import numpy as np

        from nas_cli.tasks.metrics import softmax

        for start in range(0, len(paths), batch_size):
            rows, indices, failures = [], [], []
            for i in range(start, min(len(paths), start + batch_size)):
                try:
                    rows.append(self.waveform(paths[i]))
                    indices.append(i)
                except NasError as exc:
                    if strict:
                        raise
                    failures.append((i, str(exc)))
            probs = softmax(self.logits(np.stack(rows))) if rows else np.zeros((0, len(self.classes)), np.float32)
            yield Batch(indices=indices, probabilities=probs, failures=failures)

    def close(self) -> None:
        pass
