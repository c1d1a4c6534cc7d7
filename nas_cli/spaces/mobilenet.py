"""Inverted residual (MobileNetV2/V3-style) space, as used by hardware-aware NAS (ProxylessNAS, OFA).

Per stage the search picks the expansion ratio, the depthwise kernel (3/5/7), the depth and whether
blocks use squeeze-and-excitation; one width multiplier scales every layer. A stage's stride 2 is
applied only while the feature map is at least 4 pixels wide, so 8x8 and 28x28 inputs keep a
spatial map (an 8x8 input stops halving at 2x2) instead of collapsing to nothing.

Arch dict: {"width_mult", "stem_channels", "stem_stride", "head_channels", "activation",
"stages": [{"channels", "stride", "expand", "kernel", "depth", "se"}, ...]}: self-contained, so
`build` needs no space options.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError
from nas_cli.spaces import SearchSpace
from nas_cli.spaces.activations import MOBILENET_ACTIVATIONS

DEFAULT_STAGES = (
    {"channels": 16, "stride": 1},
    {"channels": 24, "stride": 2},
    {"channels": 40, "stride": 2},
    {"channels": 80, "stride": 2},
    {"channels": 112, "stride": 1},
)
ACTIVATIONS = MOBILENET_ACTIVATIONS


def _ints(key: str, values, allowed=None) -> list[int]:
    try:
        out = [int(v) for v in values]
    except (TypeError, ValueError):
        raise ConfigError(f"search_space.{key} must be a list of integers, got {values!r}") from None
    if not out or any(v < 1 for v in out) or (allowed and not set(out) <= set(allowed)):
        extra = f" from {list(allowed)}" if allowed else " (>= 1)"
        raise ConfigError(f"search_space.{key} must be a non-empty list of integers{extra}, got {values!r}")
    return out


class MobileNetSpace(SearchSpace):
    name = "mobilenet"

    def __init__(self, spec=None, stages=DEFAULT_STAGES, expand_ratios=(3, 4, 6), kernel_sizes=(3, 5, 7),
                 depths=(1, 2, 3), se=(False, True), width_mults=(0.5, 0.75, 1.0), stem_channels: int = 16,
                 stem_stride: int = 1, head_channels: int = 256, activation: str = "relu6") -> None:
        super().__init__(spec)
        try:
            self.stages = [{"channels": int(s["channels"]), "stride": int(s["stride"])} for s in stages]
        except (TypeError, KeyError, ValueError):
            raise ConfigError("search_space.stages must be a list of {channels: int, stride: 1|2}, "
                              f"got {stages!r}") from None
        if not self.stages or any(s["stride"] not in (1, 2) or s["channels"] < 1 for s in self.stages):
            raise ConfigError(f"search_space.stages: each stage needs channels >= 1 and stride 1 or 2, got {stages!r}")
        self.expand_ratios = _ints("expand_ratios", expand_ratios)
        self.kernel_sizes = _ints("kernel_sizes", kernel_sizes, allowed=(3, 5, 7))
        self.depths = _ints("depths", depths)
        self.se = [bool(v) for v in se]
        try:
            self.width_mults = [float(w) for w in width_mults]
        except (TypeError, ValueError):
            self.width_mults = []
        if not self.se or not self.width_mults or any(w <= 0 for w in self.width_mults):
            raise ConfigError(f"search_space.se and search_space.width_mults must be non-empty (width > 0), "
                              f"got se={se!r}, width_mults={width_mults!r}")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"search_space.activation={activation!r}; allowed: {', '.join(ACTIVATIONS)}")
        if int(stem_stride) not in (1, 2):
            raise ConfigError(f"search_space.stem_stride must be 1 or 2, got {stem_stride!r}")
        self.fixed = {"stem_channels": int(stem_channels), "stem_stride": int(stem_stride),
                      "head_channels": int(head_channels), "activation": activation}

    def sample(self, trial) -> dict:
        stages = []
        for i, stage in enumerate(self.stages):
            stages.append({
                **stage,
                "expand": trial.suggest_categorical(f"s{i}_expand", self.expand_ratios),
                "kernel": trial.suggest_categorical(f"s{i}_kernel", self.kernel_sizes),
                "depth": trial.suggest_categorical(f"s{i}_depth", self.depths),
                "se": trial.suggest_categorical(f"s{i}_se", self.se),
            })
        width = trial.suggest_categorical("width_mult", self.width_mults)
        return {"width_mult": width, **self.fixed, "stages": stages}

    def build(self, arch: dict, spec):
        from nas_cli.spaces.mobilenet_net import build_mobilenet

        return build_mobilenet(arch, spec)

    def describe(self, arch: dict) -> str:
        blocks = " ".join(f"e{s['expand']}k{s['kernel']}x{s['depth']}{'+se' if s['se'] else ''}"
                          for s in arch["stages"])
        return f"w{arch['width_mult']} [{blocks}]"
