"""`audio_cnn`: 1-D convolutions over time on a log-mel spectrogram (the mel bands are the input
channels), as in keyword-spotting nets (TC-ResNet, Choi et al. 2019): depth, then per layer channels,
kernel, dilation and pooling; a global pool over time and a linear head.

Per-layer choices exist only for layers that exist; a time pool only while at least 2 frames remain."""

from __future__ import annotations

from nas_cli.errors import ConfigError
from nas_cli.spaces import SearchSpace

POOLS = ("none", "max", "avg")
GLOBAL_POOLS = ("mean", "max")


def _ints(key: str, values, low: int = 1) -> list[int]:
    try:
        values = [int(v) for v in values]
    except (TypeError, ValueError):
        values = []
    if not values or min(values) < low:
        raise ConfigError(f"search_space.{key} must be a non-empty list of ints >= {low}, got {values!r}")
    return values


class AudioCNNSpace(SearchSpace):
    name = "audio_cnn"

    def __init__(self, spec=None, min_layers: int = 1, max_layers: int = 4, channels=(32, 64, 128),
                 kernel_sizes=(3, 5, 9), dilations=(1, 2, 4), pools=POOLS, global_pools=GLOBAL_POOLS,
                 activations=("relu", "gelu", "silu"), batch_norm=(True,), dropout=(0.0, 0.3)) -> None:
        super().__init__(spec)
        if spec is not None and (len(spec.input_shape) != 3 or spec.input_shape[0] != 1):
            raise ConfigError(f"search_space=audio_cnn is for spectrograms [1, bands, frames]; dataset {spec.name!r} "
                              f"gives {list(spec.input_shape)} (search_space=auto picks a space for the data)")
        if not 1 <= int(min_layers) <= int(max_layers):
            raise ConfigError("search_space.min_layers/max_layers must satisfy 1 <= min <= max, "
                              f"got {min_layers}, {max_layers}")
        self.min_layers, self.max_layers = int(min_layers), int(max_layers)
        self.channels, self.kernel_sizes = _ints("channels", channels), _ints("kernel_sizes", kernel_sizes)
        self.dilations = _ints("dilations", dilations)
        for key, values, allowed in (("pools", pools, POOLS), ("global_pools", global_pools, GLOBAL_POOLS),
                                     ("activations", activations, ("relu", "gelu", "silu", "elu", "tanh"))):
            bad = sorted(set(map(str, values)) - set(allowed))
            if bad or not values:
                raise ConfigError(f"search_space.{key}: unknown {bad}; allowed: {', '.join(allowed)}")
        self.pools, self.global_pools = [str(p) for p in pools], [str(p) for p in global_pools]
        self.activations, self.batch_norm = [str(a) for a in activations], [bool(b) for b in batch_norm]
        self.dropout = (float(dropout[0]), float(dropout[1]))

    def sample(self, trial) -> dict:
        frames = int(self.spec.input_shape[2]) if self.spec is not None else 100
        layers = []
        for i in range(trial.suggest_int("n_layers", self.min_layers, self.max_layers)):
            layer = {"channels": trial.suggest_categorical(f"channels_{i}", self.channels),
                     "kernel": trial.suggest_categorical(f"kernel_{i}", self.kernel_sizes),
                     "dilation": trial.suggest_categorical(f"dilation_{i}", self.dilations), "pool": "none"}
            if frames >= 2:
                layer["pool"] = trial.suggest_categorical(f"pool_{i}", self.pools)
                frames //= 2 if layer["pool"] != "none" else 1
            layers.append(layer)
        lo, hi = self.dropout
        return {"layers": layers, "global_pool": trial.suggest_categorical("global_pool", self.global_pools),
                "activation": trial.suggest_categorical("activation", self.activations),
                "batch_norm": trial.suggest_categorical("batch_norm", self.batch_norm),
                "dropout": trial.suggest_float("dropout", lo, hi) if hi > lo else lo}

    def build(self, arch: dict, spec):
        from nas_cli.spaces.audio_cnn_net import build_audio_cnn

        return build_audio_cnn(arch, spec)

    def describe(self, arch: dict) -> str:
        convs = " ".join(f"{la['channels']}k{la['kernel']}d{la['dilation']}"
                         + {"max": "+mp", "avg": "+ap"}.get(la["pool"], "") for la in arch["layers"])
        return f"conv1d[{convs}] {arch['activation']} {arch['global_pool']}pool drop{arch['dropout']:.2f}"
