"""The trainable NAS-Bench-201 network (Dong & Yang, 2020), layer for layer as in its reference code.

Stem conv3x3+BN, then three stages of N cells (C, 2C, 4C channels) with a ResNet basic block of
stride 2 between stages, then BN-ReLU, global average pooling and a linear classifier. Operations are
ReLU-Conv-BN, as in NAS-Bench-201, so parameter counts match its published table.
"""

from __future__ import annotations

from torch import nn

from nas_cli.errors import ConfigError
from nas_cli.spaces.nb201_cell import EDGES, string_to_ops


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


def make_op(name: str, channels: int) -> nn.Module | None:
    """One cell edge (stride 1, same channels); None for the zero operation."""
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ConfigError(f"unknown NAS-Bench-201 operation {name!r}")


class Cell(nn.Module):
    """Four nodes; node j sums its edges from nodes i < j; the output is node 3.

    Zero edges are skipped rather than multiplied by 0 (same output, less work); a node whose
    edges are all zero is a zero tensor, exactly as in the reference code.
    """

    def __init__(self, ops: list[str], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList()
        self.wiring: list[list[tuple[int, int]]] = [[], [], [], []]  # node -> [(edge module index, source)]
        for op_name, (target, source) in zip(ops, EDGES, strict=True):
            op = make_op(op_name, channels)
            if op is not None:
                self.wiring[target].append((len(self.edges), source))
                self.edges.append(op)

    def forward(self, x):
        nodes = [x]
        for target in (1, 2, 3):
            terms = [self.edges[i](nodes[src]) for i, src in self.wiring[target]]
            if not terms:
                nodes.append(x.new_zeros(x.shape))
                continue
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            nodes.append(total)
        return nodes[3]


class ResidualReduction(nn.Module):
    """NAS-Bench-201's ResNet basic block between stages: stride 2, channels doubled."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        # ceil_mode keeps the shortcut the same size as conv_a for odd maps (e.g. 7x7 from 28x28).
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2, ceil_mode=True, count_include_pad=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x):
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    def __init__(self, ops: list[str], in_channels: int, num_classes: int, channels: int, cells_per_stage: int):
        super().__init__()
        c = channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        layers: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers += [Cell(ops, c) for _ in range(cells_per_stage)]
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.classifier(self.head(self.cells(self.stem(x))))


def build_nb201(arch: dict, spec) -> NB201Network:
    """Build the network for {"cell": NB201 string, "channels": C, "cells_per_stage": N}."""
    ops = string_to_ops(arch["cell"])
    channels = int(arch.get("channels", 16))
    cells = int(arch.get("cells_per_stage", 5))
    if channels < 1 or cells < 0:
        raise ConfigError(f"nb201: channels must be >= 1 and cells_per_stage >= 0, got {channels}, {cells}")
    if len(spec.input_shape) != 3:
        raise ConfigError(f"search_space=nb201 needs image input (C, H, W), got input shape {spec.input_shape}")
    return NB201Network(ops, spec.input_shape[0], spec.num_classes, channels, cells)
