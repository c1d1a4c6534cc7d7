"""The NAS-Bench-201 cell space: 6 edges of a 4-node cell, each one of 5 operations.

Arch dict: {"cell": "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"}, the NAS-Bench-201 string, so the same
arch can be looked up in a results table or trained. Sampling needs no torch.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError
from nas_cli.spaces import SearchSpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# Edge i -> (target node, source node), in the order of the NAS-Bench-201 string.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


def ops_to_string(ops) -> str:
    ops = list(ops)
    nodes = []
    for target in (1, 2, 3):
        parts = [f"{ops[i]}~{src}" for i, (tgt, src) in enumerate(EDGES) if tgt == target]
        nodes.append("|" + "|".join(parts) + "|")
    return "+".join(nodes)


def string_to_ops(cell: str) -> list[str]:
    """Parse a NAS-Bench-201 string; raises ConfigError naming the problem."""
    try:
        nodes = cell.strip().split("+")
        ops = []
        for target, node in enumerate(nodes, start=1):
            parts = [p for p in node.strip("|").split("|")]
            if len(parts) != target:
                raise ValueError
            for src, part in enumerate(parts):
                op, idx = part.split("~")
                if int(idx) != src or op not in OPS:
                    raise ValueError
                ops.append(op)
        if len(ops) != 6:
            raise ValueError
    except ValueError:
        raise ConfigError(f"not a NAS-Bench-201 cell string: {cell!r}") from None
    return ops


class NB201Space(SearchSpace):
    name = "nb201"

    def __init__(self, spec=None, ops=OPS, channels: int = 16, cells_per_stage: int = 5) -> None:
        super().__init__(spec)
        bad = set(ops) - set(OPS)
        if bad or not ops:
            raise ConfigError(f"search_space.ops: unknown {sorted(bad)}; allowed: {list(OPS)}")
        self.ops = list(ops)
        self.channels = int(channels)
        self.cells_per_stage = int(cells_per_stage)

    def sample(self, trial) -> dict:
        ops = [trial.suggest_categorical(f"edge_{tgt}_{src}", self.ops) for tgt, src in EDGES]
        return {"cell": ops_to_string(ops), "channels": self.channels, "cells_per_stage": self.cells_per_stage}

    def build(self, arch: dict, spec):
        from nas_cli.spaces.nb201_net import build_nb201

        return build_nb201(arch, spec)

    def describe(self, arch: dict) -> str:
        return arch["cell"]
