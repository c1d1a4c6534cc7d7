"""The `audio_cnn` network: `[N, 1, bands, frames]` -> 1-D convs over frames (bands as channels) -> logits."""

from __future__ import annotations

_ACTIVATIONS = {"relu": "ReLU", "gelu": "GELU", "silu": "SiLU", "elu": "ELU", "tanh": "Tanh"}


def build_audio_cnn(arch: dict, spec):
    import torch
    from torch import nn

    act = getattr(nn, _ACTIVATIONS[arch["activation"]])
    _, bands, frames = (int(d) for d in spec.input_shape)
    modules: list = []
    channels = bands
    for layer in arch["layers"]:
        k, d = int(layer["kernel"]), int(layer["dilation"])
        out = int(layer["channels"])
        # "same" length: an odd kernel's reach is d * (k - 1) / 2 frames each side.
        modules.append(nn.Conv1d(channels, out, k, dilation=d, padding=d * (k - 1) // 2, bias=not arch["batch_norm"]))
        if arch["batch_norm"]:
            modules.append(nn.BatchNorm1d(out))
        modules.append(act())
        channels = out
        if layer["pool"] != "none" and frames >= 2:
            modules.append(nn.MaxPool1d(2) if layer["pool"] == "max" else nn.AvgPool1d(2))
            frames //= 2

    class AudioCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = nn.Sequential(*modules)
            self.dropout = nn.Dropout(float(arch["dropout"]))
            self.head = nn.Linear(channels, spec.num_classes)
            self.global_max = arch["global_pool"] == "max"

        def forward(self, x):
            h = self.convs(x.flatten(1, 2))  # [N, 1, bands, frames] -> [N, bands, frames]
            h = torch.amax(h, dim=2) if self.global_max else h.mean(dim=2)
            return self.head(self.dropout(h))

    return AudioCNN()
