"""A weighted ensemble of networks from one space (`finetune.ensemble=true`), as an arch dict.

`{"ensemble": {"members": [arch, ...], "weights": [w, ...], "combine": "softmax"|"sigmoid"|"mean"}}`
is what a checkpoint stores for an ensemble, so `deploy/export.load_checkpoint` rebuilds it anywhere
like a single network. The combination is the task's (`Task.ensemble_combine`): class probabilities
averaged (returned as log-probabilities, so argmax and cross-entropy read them as logits), label
probabilities averaged (returned as logits), or outputs averaged (regression, ratings).

May import: the ground layer only (torch lazily, in ensemble_net.py).
"""

from __future__ import annotations

KEY = "ensemble"
COMBINES = ("softmax", "sigmoid", "mean")


def is_ensemble(arch) -> bool:
    return isinstance(arch, dict) and KEY in arch


def ensemble_arch(archs: list[dict], weights: list[float], combine: str) -> dict:
    if combine not in COMBINES:
        raise ValueError(f"combine={combine!r}; one of {', '.join(COMBINES)}")
    total = float(sum(weights))
    return {KEY: {"members": [dict(a) for a in archs], "weights": [float(w) / total for w in weights],
                  "combine": combine}}


def build(space, arch: dict, spec):
    """The network `arch` describes: an ensemble's members built by `space` and combined, or one network."""
    if not is_ensemble(arch):
        return space.build(arch, spec)
    from nas_cli.spaces.ensemble_net import EnsembleNet

    ens = arch[KEY]
    return EnsembleNet([space.build(a, spec) for a in ens["members"]], ens["weights"], ens["combine"])


def describe(space, arch: dict) -> str:
    """The space's description, or `0.6 x (...) + 0.4 x (...)` for an ensemble."""
    if not is_ensemble(arch):
        return space.describe(arch)
    ens = arch[KEY]
    return " + ".join(f"{w:.2f} x ({space.describe(a)})" for a, w in zip(ens["members"], ens["weights"], strict=True))
