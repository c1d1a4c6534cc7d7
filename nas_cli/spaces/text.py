"""Text-classification spaces over token ids (`DataSpec.text`): `textcnn` (Kim 2014), `rnn` (GRU or
LSTM) and `transformer` (a small encoder with learned positions). Conditional choices exist only
where they apply (an LSTM's and a GRU's shared sizes, attention heads that divide the width)."""

from __future__ import annotations

from nas_cli.errors import ConfigError
from nas_cli.spaces import SearchSpace

KERNEL_SETS = ("3,4,5", "2,3,4", "1,2,3", "3,5,7")
POOLS = ("max", "mean")


def _need_text(space: str, spec) -> None:
    if spec is not None and spec.text is None:
        raise ConfigError(f"search_space={space} is for text; dataset {spec.name!r} is not text "
                          "(search_space=auto picks a space for the data)")


def _ints(key: str, values) -> list[int]:
    values = [int(v) for v in values]
    if not values or min(values) < 1:
        raise ConfigError(f"search_space.{key} must be a non-empty list of positive ints, got {values!r}")
    return values


class _TextSpace(SearchSpace):
    def build(self, arch: dict, spec):
        from nas_cli.spaces.text_nets import build_text_net

        return build_text_net(self.name, arch, spec)

    def _dropout(self, trial, bounds) -> float:
        lo, hi = float(bounds[0]), float(bounds[1])
        return trial.suggest_float("dropout", lo, hi) if hi > lo else lo


class TextCNNSpace(_TextSpace):
    name = "textcnn"

    def __init__(self, spec=None, embedding_dims=(64, 128, 256), kernel_sets=KERNEL_SETS, filters=(64, 128, 256),
                 dropout=(0.0, 0.5), pools=POOLS) -> None:
        super().__init__(spec)
        _need_text("textcnn", spec)
        self.embedding_dims, self.filters = _ints("embedding_dims", embedding_dims), _ints("filters", filters)
        self.kernel_sets = [str(k) for k in kernel_sets]
        for ks in self.kernel_sets:
            _ints("kernel_sets", ks.split(","))
        self.pools, self.dropout = [str(p) for p in pools], dropout

    def sample(self, trial) -> dict:
        return {"embedding_dim": trial.suggest_categorical("embedding_dim", self.embedding_dims),
                "kernels": trial.suggest_categorical("kernels", self.kernel_sets),
                "filters": trial.suggest_categorical("filters", self.filters),
                "pool": trial.suggest_categorical("pool", self.pools), "dropout": self._dropout(trial, self.dropout)}

    def describe(self, arch: dict) -> str:
        return (f"textcnn(emb{arch['embedding_dim']} k{arch['kernels']} x{arch['filters']}) "
                f"{arch['pool']}pool drop{arch['dropout']:.2f}")


class RNNSpace(_TextSpace):
    name = "rnn"

    def __init__(self, spec=None, cells=("gru", "lstm"), embedding_dims=(64, 128, 256), hidden=(64, 128, 256),
                 min_layers: int = 1, max_layers: int = 2, bidirectional=(True, False), pools=("last", "max", "mean"),
                 dropout=(0.0, 0.5)) -> None:
        super().__init__(spec)
        _need_text("rnn", spec)
        bad = [c for c in cells if c not in ("gru", "lstm")]
        if bad or not cells:
            raise ConfigError(f"search_space.cells: unknown {bad or 'empty list'}; allowed: gru, lstm")
        if not 1 <= int(min_layers) <= int(max_layers) <= 4:
            raise ConfigError(f"search_space.min_layers/max_layers must satisfy 1 <= min <= max <= 4, got "
                              f"{min_layers}, {max_layers}")
        self.cells, self.embedding_dims, self.hidden = list(cells), _ints("embedding_dims", embedding_dims), \
            _ints("hidden", hidden)
        self.layers, self.bidirectional = (int(min_layers), int(max_layers)), [bool(b) for b in bidirectional]
        self.pools, self.dropout = [str(p) for p in pools], dropout

    def sample(self, trial) -> dict:
        return {"cell": trial.suggest_categorical("cell", self.cells),
                "embedding_dim": trial.suggest_categorical("embedding_dim", self.embedding_dims),
                "hidden": trial.suggest_categorical("hidden", self.hidden),
                "n_layers": trial.suggest_int("n_layers", *self.layers),
                "bidirectional": trial.suggest_categorical("bidirectional", self.bidirectional),
                "pool": trial.suggest_categorical("pool", self.pools), "dropout": self._dropout(trial, self.dropout)}

    def describe(self, arch: dict) -> str:
        bi = "bi" if arch["bidirectional"] else ""
        return f"{bi}{arch['cell']}({arch['n_layers']}x{arch['hidden']} emb{arch['embedding_dim']}) {arch['pool']}pool"


class TransformerSpace(_TextSpace):
    name = "transformer"

    def __init__(self, spec=None, min_layers: int = 1, max_layers: int = 4, widths=(64, 128, 256), heads=(2, 4, 8),
                 ff_factors=(2, 4), dropout=(0.0, 0.3), pools=("mean", "first")) -> None:
        super().__init__(spec)
        _need_text("transformer", spec)
        if not 1 <= int(min_layers) <= int(max_layers) <= 12:
            raise ConfigError(f"search_space.min_layers/max_layers must satisfy 1 <= min <= max <= 12, got "
                              f"{min_layers}, {max_layers}")
        self.layers, self.widths, self.heads = (int(min_layers), int(max_layers)), _ints("widths", widths), \
            _ints("heads", heads)
        if not any(w % h == 0 for w in self.widths for h in self.heads):
            raise ConfigError("search_space.heads: no head count divides any of search_space.widths")
        self.ff_factors, self.pools, self.dropout = _ints("ff_factors", ff_factors), [str(p) for p in pools], dropout

    def sample(self, trial) -> dict:
        width = trial.suggest_categorical("width", self.widths)
        heads = [h for h in self.heads if width % h == 0] or [1]
        return {"n_layers": trial.suggest_int("n_layers", *self.layers), "width": width,
                "heads": trial.suggest_categorical(f"heads_w{width}", heads),  # only counts that divide the width
                "ff_factor": trial.suggest_categorical("ff_factor", self.ff_factors),
                "pool": trial.suggest_categorical("pool", self.pools), "dropout": self._dropout(trial, self.dropout)}

    def describe(self, arch: dict) -> str:
        return (f"transformer({arch['n_layers']}x{arch['width']} h{arch['heads']} ff{arch['ff_factor']}x) "
                f"{arch['pool']}pool")
