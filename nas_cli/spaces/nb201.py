"""The NAS-Bench-201 cell space: 6 edges of a 4-node cell, each one of 5 operations.

Arch dict: {"cell": "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"}, the NAS-Bench-201 string, so the same
arch can be looked up in a results table or trained. Sampling needs no torch.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError
from nas_cli.spaces import SearchSpace
from nas_cli.spaces.nb201_cell import EDGES, OPS, ops_to_string, string_to_ops

__all__ = ["EDGES", "OPS", "NB201Space", "ops_to_string", "string_to_ops"]


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
