"""Search-space registry, in the style of torchvision's `register_model`.

A space samples a plain arch dict from an Optuna trial and builds an `nn.Module` from that dict
anywhere (no trial, no Hydra). Its name is saved in checkpoints so export can find the builder.
Modules are imported lazily so that `nas --help` and tabular searches never import torch.

May import: the ground layer only (torch lazily, in the network builders).
"""

from __future__ import annotations

import importlib
from typing import Any

from nas_cli.errors import ConfigError

# name -> "module:Class"
SPACES: dict[str, str] = {
    "cnn": "nas_cli.spaces.cnn:CNNSpace",
    "nb201": "nas_cli.spaces.nb201:NB201Space",
    "mobilenet": "nas_cli.spaces.mobilenet:MobileNetSpace",
    "mlp": "nas_cli.spaces.mlp:MLPSpace",
    "textcnn": "nas_cli.spaces.text:TextCNNSpace",
    "rnn": "nas_cli.spaces.text:RNNSpace",
    "transformer": "nas_cli.spaces.text:TransformerSpace",
    "audio_cnn": "nas_cli.spaces.audio_cnn:AudioCNNSpace",
    "ncf": "nas_cli.spaces.ncf:NCFSpace",
}


class SearchSpace:
    """Base class: subclasses define `name`, `sample(trial)` and `build(arch, spec)`."""

    name = ""

    def __init__(self, spec=None, **options: Any) -> None:
        self.spec = spec
        self.options = options

    def sample(self, trial) -> dict:
        raise NotImplementedError

    def build(self, arch: dict, spec):
        raise NotImplementedError

    def describe(self, arch: dict) -> str:
        """A short human-readable description of an architecture."""
        return ", ".join(f"{k}={v}" for k, v in arch.items())


def register_space(name: str, target: str) -> None:
    """Register a space as "module:Class"; raises on a duplicate name."""
    if name in SPACES:
        raise ValueError(f"search space {name!r} is already registered")
    SPACES[name] = target


def space_class(name: str) -> type[SearchSpace]:
    if name not in SPACES:
        raise ConfigError(
            f"search_space.name={name!r} is not a known search space; "
            f"allowed: {', '.join(sorted(SPACES))}"
        )
    module_name, cls_name = SPACES[name].split(":")
    return getattr(importlib.import_module(module_name), cls_name)


def build_space(name: str, spec=None, **options: Any) -> SearchSpace:
    """Instantiate the space `name` with its options (the `search_space` group minus `name`)."""
    cls = space_class(name)
    try:
        return cls(spec=spec, **options)
    except TypeError as exc:
        raise ConfigError(f"search_space={name}: {exc}") from None
