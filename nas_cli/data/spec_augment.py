"""SpecAugment (Park et al., 2019) on a batch of log-mel spectrograms `[B, 1, n_mels, frames]`:
`masks` frequency bands of up to `freq_mask` mel bins and `masks` time spans of up to `time_mask`
frames per example, each set to the spectrogram's mean (0 after normalisation).

Batched, on the batch's device, with the `torch.Generator` that `train.fit` passes: a few small
random tensors and one `masked_fill` per batch, no Python per example.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError

KINDS = ("none", "specaugment")


class SpecAugment:
    """`augment(xb, gen) -> xb` with random frequency and time masks."""

    def __init__(self, freq_mask: int = 8, time_mask: int = 20, masks: int = 2) -> None:
        self.freq_mask, self.time_mask, self.masks = int(freq_mask), int(time_mask), int(masks)

    def _spans(self, b: int, size: int, width: int, gen, dev):
        """[B, size] bool: `masks` random spans of width 0..width (clipped to `size`) per example."""
        import torch

        width = min(width, size)
        pos = torch.arange(size, device=dev)
        widths = (torch.rand((b, self.masks, 1), generator=gen, device=dev) * (width + 1)).floor()
        starts = (torch.rand((b, self.masks, 1), generator=gen, device=dev) * (size - widths + 1)).floor()
        return ((pos >= starts) & (pos < starts + widths)).any(dim=1)

    def __call__(self, x, gen):
        b, _, mels, frames = x.shape
        dev = x.device
        mask = self._spans(b, mels, self.freq_mask, gen, dev)[:, None, :, None] \
            | self._spans(b, frames, self.time_mask, gen, dev)[:, None, None, :]
        return x.masked_fill(mask, 0.0)

    def __repr__(self) -> str:
        return f"SpecAugment(freq_mask={self.freq_mask}, time_mask={self.time_mask}, masks={self.masks})"


def make_spec_augment(kind: str, freq_mask=8, time_mask=20, masks=2):
    """The augmentation named by `dataset.augment` for audio (None for "none")."""
    if kind not in KINDS:
        raise ConfigError(f"dataset.augment={kind!r} is not allowed for audio; choose one of: {', '.join(KINDS)}")
    for key, value in (("freq_mask", freq_mask), ("time_mask", time_mask), ("masks", masks)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"dataset.{key} must be an integer >= 0, got {value!r}")
    return None if kind == "none" else SpecAugment(freq_mask, time_mask, masks)
