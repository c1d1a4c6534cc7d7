"""`search_space=mlp`: the tabular networks of Gorishniy et al. 2021 ("Revisiting deep learning models
for tabular data"): a plain MLP (per-layer widths) or a ResNet of pre-norm residual blocks, over the
standardised numeric features and one learned embedding per categorical column."""

from __future__ import annotations

from nas_cli.errors import ConfigError
from nas_cli.spaces import SearchSpace
from nas_cli.spaces.activations import MLP_ACTIVATIONS

KINDS = ("mlp", "resnet")
NORMS = ("none", "batch", "layer")
EMBEDDINGS = ("4", "8", "16", "auto")  # "auto": min(32, round(1.6 * cardinality ** 0.56)) (fastai's rule)


class MLPSpace(SearchSpace):
    name = "mlp"

    def __init__(self, spec=None, kinds=KINDS, min_layers: int = 1, max_layers: int = 6, widths=(64, 128, 256, 512),
                 activations=("relu", "gelu", "silu"), norms=NORMS, dropout=(0.0, 0.5), hidden_factors=(1, 2, 4),
                 embeddings=EMBEDDINGS) -> None:
        super().__init__(spec)
        if spec is not None and spec.table is None:
            raise ConfigError(f"search_space=mlp is for tables; dataset {spec.name!r} is not one "
                              "(search_space=auto picks a space for the data)")
        self.kinds = _subset("kinds", kinds, KINDS)
        self.norms = _subset("norms", norms, NORMS)
        self.activations = _subset("activations", activations, tuple(MLP_ACTIVATIONS))
        self.embeddings = _subset("embeddings", [str(v) for v in embeddings], EMBEDDINGS)
        if not 1 <= int(min_layers) <= int(max_layers) <= 12:
            raise ConfigError(f"search_space.min_layers/max_layers must satisfy 1 <= min <= max <= 12, "
                              f"got {min_layers}, {max_layers}")
        self.min_layers, self.max_layers = int(min_layers), int(max_layers)
        self.widths = [int(v) for v in widths]
        self.hidden_factors = [int(v) for v in hidden_factors]
        if not self.widths or min(self.widths) < 1 or not self.hidden_factors or min(self.hidden_factors) < 1:
            raise ConfigError("search_space.widths and search_space.hidden_factors must be non-empty lists of "
                              f"positive ints, got {widths!r}, {hidden_factors!r}")
        self.dropout = (float(dropout[0]), float(dropout[1]))

    def sample(self, trial) -> dict:
        """Layer widths only for the layers that exist (MLP); hidden factor only for ResNet blocks;
        an embedding size only when the table has categorical columns."""
        kind = trial.suggest_categorical("kind", self.kinds)
        depth = trial.suggest_int("n_layers", self.min_layers, self.max_layers)
        arch = {"kind": kind, "n_layers": depth}
        if kind == "mlp":
            arch["widths"] = [trial.suggest_categorical(f"width_{i}", self.widths) for i in range(depth)]
        else:
            arch["width"] = trial.suggest_categorical("width", self.widths)
            arch["hidden_factor"] = trial.suggest_categorical("hidden_factor", self.hidden_factors)
        arch["activation"] = trial.suggest_categorical("activation", self.activations)
        # Residual stacks without normalisation diverge at the learning rates searched here (Gorishniy
        # et al. always normalise them): ResNet blocks choose among the norms other than none.
        norms = [n for n in self.norms if n != "none"] if kind == "resnet" else self.norms
        arch["norm"] = trial.suggest_categorical(f"norm_{kind}", norms or ["batch"])
        lo, hi = self.dropout
        arch["dropout"] = trial.suggest_float("dropout", lo, hi) if hi > lo else lo
        has_categories = self.spec is None or bool((self.spec.table or {}).get("cardinalities"))
        arch["embedding"] = trial.suggest_categorical("embedding", self.embeddings) if has_categories else "none"
        return arch

    def build(self, arch: dict, spec):
        from nas_cli.spaces.mlp_net import TabularNet

        return TabularNet(arch, spec)

    def describe(self, arch: dict) -> str:
        if arch["kind"] == "mlp":
            body = "mlp[" + " ".join(str(w) for w in arch["widths"]) + "]"
        else:
            body = f"resnet[{arch['n_layers']}x{arch['width']}*{arch['hidden_factor']}]"
        emb = "" if arch.get("embedding", "none") == "none" else f" emb{arch['embedding']}"
        return f"{body} {arch['activation']} {arch['norm']}norm drop{arch['dropout']:.2f}{emb}"


def _subset(key: str, values, allowed: tuple) -> list:
    values = list(values)
    bad = [v for v in values if v not in allowed]
    if not values or bad:
        raise ConfigError(f"search_space.{key}: unknown {bad or 'empty list'}; allowed: {', '.join(allowed)}")
    return values

