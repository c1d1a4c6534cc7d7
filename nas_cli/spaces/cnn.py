"""The classic CNN space: stacked conv layers (filters, kernel, pooling), then a dense head."""

from __future__ import annotations

from nas_cli.errors import ConfigError
from nas_cli.spaces import SearchSpace

POOLS = ("none", "max", "avg")


class CNNSpace(SearchSpace):
    name = "cnn"

    def __init__(
        self,
        spec=None,
        min_layers: int = 1,
        max_layers: int = 4,
        filters=(16, 32, 64, 128),
        kernel_sizes=(3, 5, 7),
        activations=("relu", "gelu", "silu"),
        dense_units=(0, 64, 128, 256),
        dropout=(0.0, 0.5),
        batch_norm=(True, False),
    ) -> None:
        super().__init__(spec)
        if not 1 <= int(min_layers) <= int(max_layers):
            raise ConfigError(
                f"search_space.min_layers/max_layers must satisfy 1 <= min <= max, got {min_layers}, {max_layers}"
            )
        for key, values in (("filters", filters), ("kernel_sizes", kernel_sizes), ("dense_units", dense_units)):
            if not values or any(int(v) < 0 for v in values):
                raise ConfigError(f"search_space.{key} must be a non-empty list of non-negative ints, got {values!r}")
        bad = set(activations) - set(_ACTIVATIONS)
        if bad or not activations:
            raise ConfigError(f"search_space.activations: unknown {sorted(bad)}; allowed: {sorted(_ACTIVATIONS)}")
        self.min_layers, self.max_layers = int(min_layers), int(max_layers)
        self.filters = [int(v) for v in filters]
        self.kernel_sizes = [int(v) for v in kernel_sizes]
        self.activations = list(activations)
        self.dense_units = [int(v) for v in dense_units]
        self.dropout = (float(dropout[0]), float(dropout[1]))
        self.batch_norm = [bool(v) for v in batch_norm]

    def sample(self, trial) -> dict:
        """Per-layer choices exist only for layers that exist; pooling only while the map is >= 2x2."""
        size = min(self.spec.input_shape[1:]) if self.spec is not None else 32
        n_layers = trial.suggest_int("n_layers", self.min_layers, self.max_layers)
        layers = []
        for i in range(n_layers):
            layer = {
                "filters": trial.suggest_categorical(f"filters_{i}", self.filters),
                "kernel": trial.suggest_categorical(f"kernel_{i}", self.kernel_sizes),
                "pool": "none",
            }
            if size >= 2:
                layer["pool"] = trial.suggest_categorical(f"pool_{i}", POOLS)
                if layer["pool"] != "none":
                    size //= 2
            layers.append(layer)
        return {
            "layers": layers,
            "activation": trial.suggest_categorical("activation", self.activations),
            "batch_norm": trial.suggest_categorical("batch_norm", self.batch_norm),
            "dropout": trial.suggest_float("dropout", *self.dropout) if self.dropout[1] > self.dropout[0] else self.dropout[0],
            "dense_units": trial.suggest_categorical("dense_units", self.dense_units),
        }

    def build(self, arch: dict, spec):
        return build_cnn(arch, spec)

    def describe(self, arch: dict) -> str:
        convs = " ".join(
            f"{layer['filters']}k{layer['kernel']}" + ({"max": "+mp", "avg": "+ap"}.get(layer["pool"], "")) for layer in arch["layers"]
        )
        head = f"fc{arch['dense_units']}" if arch["dense_units"] else "linear"
        return f"conv[{convs}] {arch['activation']} {head}"


_ACTIVATIONS = {"relu": "ReLU", "gelu": "GELU", "silu": "SiLU", "tanh": "Tanh", "elu": "ELU"}


def build_cnn(arch: dict, spec):
    """Build the network for `arch`; pools that would shrink the map below 1x1 are skipped."""
    from torch import nn

    act = getattr(nn, _ACTIVATIONS[arch["activation"]])
    channels, height, width = spec.input_shape
    modules: list = []
    for layer in arch["layers"]:
        k = int(layer["kernel"])
        modules.append(nn.Conv2d(channels, int(layer["filters"]), k, padding=k // 2, bias=not arch["batch_norm"]))
        if arch["batch_norm"]:
            modules.append(nn.BatchNorm2d(int(layer["filters"])))
        modules.append(act())
        channels = int(layer["filters"])
        if layer["pool"] != "none" and min(height, width) >= 2:
            modules.append(nn.MaxPool2d(2) if layer["pool"] == "max" else nn.AvgPool2d(2))
            height, width = height // 2, width // 2
    modules.append(nn.Flatten())
    features = channels * height * width
    if arch["dropout"] > 0:
        modules.append(nn.Dropout(float(arch["dropout"])))
    if arch["dense_units"]:
        modules += [nn.Linear(features, int(arch["dense_units"])), act()]
        if arch["dropout"] > 0:
            modules.append(nn.Dropout(float(arch["dropout"])))
        features = int(arch["dense_units"])
    modules.append(nn.Linear(features, spec.num_classes))
    return nn.Sequential(*modules)
