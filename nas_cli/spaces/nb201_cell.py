"""The NAS-Bench-201 cell string: its edges and operations, parsed and written (no torch)."""

from __future__ import annotations

from nas_cli.errors import ConfigError

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
