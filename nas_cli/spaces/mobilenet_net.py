"""Networks of the mobilenet space: stem, inverted residual stages, 1x1 head conv, pooling, linear."""

from __future__ import annotations

from torch import nn

from nas_cli.errors import ConfigError
from nas_cli.spaces.activations import MOBILENET_ACTIVATIONS as ACTIVATIONS


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of `divisor`, never more than 10% below `value` (MobileNetV2 rule)."""
    out = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * value else out


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = make_divisible(channels / 4)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.ReLU(),
                                  nn.Conv2d(hidden, channels, 1), nn.Hardsigmoid())

    def forward(self, x):
        return x * self.gate(x)


class InvertedResidual(nn.Module):
    """1x1 expand -> kxk depthwise (stride) -> optional SE -> 1x1 project; residual when shapes agree."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int, se: bool, act) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act()]
        layers += [nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=kernel // 2, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), act()]
        if se:
            layers.append(SqueezeExcite(hidden))
        layers += [nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        out = self.body(x)
        return x + out if self.residual else out


class MobileNet(nn.Module):
    def __init__(self, arch: dict, in_channels: int, size: int, num_classes: int) -> None:
        super().__init__()
        act = getattr(nn, ACTIVATIONS[arch.get("activation", "relu6")])
        width = float(arch["width_mult"])
        stride = int(arch.get("stem_stride", 1)) if size >= 4 else 1
        size = -(-size // stride)
        c = make_divisible(int(arch.get("stem_channels", 16)) * width)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, stride=stride, padding=1, bias=False),
                                  nn.BatchNorm2d(c), act())
        blocks: list[nn.Module] = []
        for stage in arch["stages"]:
            c_out = make_divisible(int(stage["channels"]) * width)
            # Halve only while the map is >= 4 wide: small inputs keep at least a 2x2 map.
            stride = 2 if int(stage["stride"]) == 2 and size >= 4 else 1
            for i in range(int(stage["depth"])):
                blocks.append(InvertedResidual(c, c_out, int(stage["expand"]), int(stage["kernel"]),
                                               stride if i == 0 else 1, bool(stage["se"]), act))
                c = c_out
            size = -(-size // stride)
        self.blocks = nn.Sequential(*blocks)
        head = make_divisible(int(arch.get("head_channels", 256)) * max(1.0, width))
        self.head = nn.Sequential(nn.Conv2d(c, head, 1, bias=False), nn.BatchNorm2d(head), act(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(head, num_classes)

    def forward(self, x):
        return self.classifier(self.head(self.blocks(self.stem(x))))


def build_mobilenet(arch: dict, spec) -> MobileNet:
    if len(spec.input_shape) != 3:
        raise ConfigError(f"search_space=mobilenet needs image input (C, H, W), got input shape {spec.input_shape}")
    channels, height, width = spec.input_shape
    return MobileNet(arch, channels, min(height, width), spec.num_classes)
