"""Batch-level augmentation on tensors: random crop with zero padding and horizontal flip.

One gather per batch builds every example's shifted (and maybe mirrored) window at once, on the
batch's device, with the `torch.Generator` that `train.fit` passes, so runs are reproducible and
no Python runs per image.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError

KINDS = ("none", "crop", "flip", "crop_flip")


class CropFlip:
    """`augment(xb, gen) -> xb`: pad by `padding`, crop back to H x W at a random offset, flip half."""

    def __init__(self, padding: int = 4, crop: bool = True, flip: bool = True) -> None:
        self.padding = int(padding) if crop else 0
        self.flip = bool(flip)

    def __call__(self, x, gen):
        import torch
        import torch.nn.functional as F

        b, _, h, w = x.shape
        p, dev = self.padding, x.device
        if p > 0:
            x = F.pad(x, (p, p, p, p))
            oy = torch.randint(0, 2 * p + 1, (b, 1), generator=gen, device=dev)
            ox = torch.randint(0, 2 * p + 1, (b, 1), generator=gen, device=dev)
        else:
            oy = ox = torch.zeros((b, 1), dtype=torch.long, device=dev)
        rows = oy + torch.arange(h, device=dev)
        cols = ox + torch.arange(w, device=dev)
        if self.flip:
            mirrored = torch.rand((b, 1), generator=gen, device=dev) < 0.5
            cols = torch.where(mirrored, cols.flip(1), cols)
        batch = torch.arange(b, device=dev)[:, None, None]
        # Advanced indices around a slice put their dims first: (B, H, W, C); the permute gives NCHW
        # values in channels_last memory, the layout conv nets run fastest in here.
        return x[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)

    def __repr__(self) -> str:
        return f"CropFlip(padding={self.padding}, flip={self.flip})"


def make_augment(kind: str, padding: int = 4):
    """The augmentation named by `dataset.augment` (None for "none")."""
    if kind not in KINDS:
        raise ConfigError(f"dataset.augment={kind!r} is not allowed; choose one of: {', '.join(KINDS)}")
    if int(padding) < 0:
        raise ConfigError(f"dataset.augment_padding must be >= 0, got {padding!r}")
    if kind == "none":
        return None
    return CropFlip(padding=int(padding), crop=kind in ("crop", "crop_flip"), flip=kind in ("flip", "crop_flip"))
