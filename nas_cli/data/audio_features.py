"""The log-mel front end: raw waveform `[N, samples]` -> normalised log-mel spectrogram `[N, 1, n_mels, frames]`.

One `nn.Module` does it, used twice: by the loader, once per process, to turn every clip into
features for training; and inside the exported model, so that `model.onnx` takes a raw waveform.
`torch.stft` (centred, zero padding, Hann window) exports through the dynamo ONNX exporter as the
ONNX `STFT` operator (opset 17 and later); ONNX Runtime matched PyTorch to float32 rounding here.
The mel filterbank is librosa's `filters.mel` (Slaney scale and area normalisation, librosa's
defaults), computed once when the front end is made and kept as a buffer: a rebuilt or exported
model needs no librosa. Features are log(mel power + floor), then one training-set mean and standard
deviation; the floor is far above float32 STFT noise, so ONNX and PyTorch agree after the log.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError

LOG_FLOOR = 1e-4  # mel power added before the log: about 57 dB below a half-scale tone's band power


def check_front_end(sample_rate, duration, n_mels, n_fft, win_length, hop_length, f_min, f_max) -> dict:
    """The front-end settings as plain ints/floats (ConfigError naming the bad `dataset.*` key)."""
    def positive_int(key, value, low=1):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"dataset.{key} must be an integer >= {low}, got {value!r}")
        return int(value)

    sample_rate = positive_int("sample_rate", sample_rate, 1000)
    try:
        duration = float(duration)
    except (TypeError, ValueError):
        duration = -1.0
    if not duration > 0:
        raise ConfigError(f"dataset.duration must be a positive number of seconds, got {duration!r}")
    n_fft = positive_int("n_fft", n_fft, 16)
    win_length = n_fft if win_length is None else positive_int("win_length", win_length, 16)
    if win_length > n_fft:
        raise ConfigError(f"dataset.win_length={win_length} must be <= dataset.n_fft={n_fft}")
    hop_length = positive_int("hop_length", hop_length)
    n_mels = positive_int("n_mels", n_mels, 2)
    f_max = sample_rate / 2 if f_max is None else float(f_max)
    if not 0 <= float(f_min) < f_max <= sample_rate / 2:
        raise ConfigError(f"dataset.f_min/f_max must satisfy 0 <= f_min < f_max <= sample_rate/2 "
                          f"({sample_rate / 2:g}), got {f_min!r}, {f_max!r}")
    samples = int(round(sample_rate * duration))
    if samples < n_fft:
        raise ConfigError(f"dataset.duration={duration} gives {samples} samples, fewer than dataset.n_fft={n_fft}")
    return {"sample_rate": sample_rate, "samples": samples, "n_mels": n_mels, "n_fft": n_fft,
            "win_length": win_length, "hop_length": hop_length, "f_min": float(f_min), "f_max": float(f_max),
            "frames": 1 + samples // hop_length}


def mel_filterbank(settings: dict):
    """librosa's mel filterbank `[n_mels, n_fft // 2 + 1]` as a float32 tensor."""
    import torch

    try:
        import librosa
    except ImportError:
        raise ConfigError("audio features need librosa for the mel filterbank: pip install 'nas-cli[audio]'") from None
    fb = librosa.filters.mel(sr=settings["sample_rate"], n_fft=settings["n_fft"], n_mels=settings["n_mels"],
                             fmin=settings["f_min"], fmax=settings["f_max"])
    return torch.from_numpy(fb).float()


def log_mel(settings: dict, mean: float = 0.0, std: float = 1.0, filterbank=True):
    """The front-end module; `filterbank=False` leaves it zero (a checkpoint's state_dict fills it)."""
    import torch
    from torch import nn

    class LogMel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n_fft, self.hop, self.win = settings["n_fft"], settings["hop_length"], settings["win_length"]
            bins = settings["n_fft"] // 2 + 1
            self.register_buffer("window", torch.hann_window(self.win, periodic=True))
            self.register_buffer("mel", mel_filterbank(settings) if filterbank else torch.zeros(settings["n_mels"], bins))
            self.register_buffer("stats", torch.tensor([float(mean), float(std)]))

        def forward(self, waveform):
            spec = torch.stft(waveform, n_fft=self.n_fft, hop_length=self.hop, win_length=self.win,
                              window=self.window, center=True, pad_mode="constant", return_complex=True)
            power = spec.abs().square()  # [N, bins, frames]
            mel = torch.matmul(self.mel, power)  # [N, n_mels, frames]
            return ((torch.log(mel + LOG_FLOOR) - self.stats[0]) / self.stats[1]).unsqueeze(1)

    return LogMel()


def features(front_end, waves, chunk: int = 256):
    """float32 `[N, samples]` numpy/tensor -> `[N, 1, n_mels, frames]` tensor, in chunks (bounded memory)."""
    import torch

    waves = torch.as_tensor(waves, dtype=torch.float32)
    with torch.inference_mode():
        parts = [front_end(waves[i:i + chunk]) for i in range(0, len(waves), chunk)]
    return torch.cat(parts) if parts else torch.zeros((0, 1, 1, 1))


def with_front_end(body, front_end):
    """`waveform -> front end -> body`: the model as exported (`model.onnx` takes raw samples)."""
    from torch import nn

    class WaveformClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.front_end, self.body = front_end, body

        def forward(self, waveform):
            return self.body(self.front_end(waveform))

    return WaveformClassifier()
