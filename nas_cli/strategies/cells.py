"""Cell spaces seen through their parameters (`edge_<to>_<from>`): which edges are live, the canonical
form of a cell (dead edges blanked), and its input-to-output paths (the surrogate's features)."""

from __future__ import annotations

import re

EDGE_NAME = re.compile(r"edge_(\d+)_(\d+)$")


def _cell_edges(names) -> tuple[dict, int, int] | None:
    """({name: (from, to)} of the parameters named `edge_<to>_<from>`, input node, output node), or
    None when there are none (not a cell space)."""
    every = {name: (int(m.group(2)), int(m.group(1))) for name in names if (m := EDGE_NAME.match(name))}
    if not every:
        return None
    return every, min(min(e) for e in every.values()), max(max(e) for e in every.values())


def _live_edges(params: dict) -> tuple[dict, set] | None:
    """For cell parameters named `edge_<to>_<from>` (an op `none` means no edge): {name: (from, to)}
    of every edge and the names of the live ones, those on a path from the input node (the smallest)
    to the output node (the largest). None when the parameters are not a cell."""
    cell = _cell_edges(params)
    if cell is None:
        return None
    every, src, dst = cell
    edges = {name: e for name, e in every.items() if params[name] != "none"}
    fwd, bwd = {src}, {dst}
    for a, b in sorted(edges.values()):  # edges go from a lower to a higher node: one pass each way
        if a in fwd:
            fwd.add(b)
    for a, b in sorted(edges.values(), key=lambda e: -e[1]):
        if b in bwd:
            bwd.add(a)
    return every, {n for n, (a, b) in edges.items() if a in fwd and b in bwd}


def canonical(params: dict) -> dict:
    """`params` with the op of every dead cell edge set to `none` (see `cell_key`)."""
    cell = _live_edges(params)
    if cell is None:
        return params
    every, live = cell
    return {k: ("none" if k in every and k not in live else v) for k, v in params.items()}


def cell_key(params: dict) -> tuple:
    """A key equal for equivalent configurations. Cell parameters named `edge_<to>_<from>` (the nb201
    space; an op `none` means no edge) count only on live edges, those on a path from the input node
    (the smallest) to the output node (the largest): the op on any other edge cannot change the
    network, so such configurations are the same architecture and are evaluated once."""
    return tuple(sorted((k, repr(v)) for k, v in canonical(params).items()))


def cell_paths(names) -> list[tuple[str, ...]]:
    """Every input-to-output path of a cell whose parameters are named `edge_<to>_<from>`, as the
    tuple of its edge names (nb201: 4 paths of 1 to 3 edges); [] for other spaces."""
    cell = _cell_edges(names)
    if cell is None:
        return []
    every, src, dst = cell
    out_of: dict[int, list] = {}
    for name, (a, b) in sorted(every.items(), key=lambda kv: kv[1]):
        out_of.setdefault(a, []).append((b, name))
    paths, stack = [], [(src, ())]
    while stack:
        node, path = stack.pop()
        if node == dst:
            paths.append(path)
            continue
        stack += [(b, (*path, name)) for b, name in reversed(out_of.get(node, []))]
    return sorted(paths, key=lambda p: (len(p), p))
