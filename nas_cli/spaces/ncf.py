"""`search_space=ncf`: collaborative-filtering networks over (user, item) index pairs.

The models of He et al. 2017 ("Neural Collaborative Filtering"): GMF (an element-wise product of the
two embeddings, weighted), MLP (a tower over their concatenation) and NeuMF (both, fused), beside the
baseline that Rendle et al. 2020 ("Neural Collaborative Filtering vs. Matrix Factorization
Revisited") found hard to beat: biased matrix factorisation `mf_bias` (dot product + user bias + item
bias + global offset), and for explicit ratings `autorec`, an item-based autoencoder over the rating
matrix on the bias baseline's residuals (Sedhain et al. 2015; spaces/autorec_net.py). A sample holds
only the choices its model uses.

The data comes from `spec.ratings` (or `spec` itself when it is a dict): {"n_users", "n_items",
"global_mean", "feedback"} (data/ratings.py fills it from `RatingsSplit.ratings_spec()`). Explicit
feedback builds every model with user/item biases, the fallback of an unknown id (spaces/ncf_nets.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from nas_cli.errors import ConfigError
from nas_cli.spaces import SearchSpace

MODELS = ("gmf", "mlp", "neumf", "mf_bias", "autorec")
EXPLICIT_ONLY = ("autorec",)  # reconstructs ratings: no model of implicit feedback
TOWERS = ("pyramid", "free")  # pyramid: NCF's halving tower; free: each layer's width searched
EMBEDDINGS = (8, 16, 32, 64, 128)
WIDTHS = (8, 16, 32, 64, 128, 256)
L2 = (1e-4, 1.0)  # L2 penalty on the embedding rows a batch uses (log scale); the regulariser MF needs
HIDDEN = (100, 200, 300, 500)  # autorec: hidden units (the paper's default: 500)
AUTOREC_L2 = (1e-5, 1e-2)  # autorec: L2 penalty per step on its two weight matrices (log scale)


def ratings_of(spec) -> dict | None:
    """The ratings facts of a spec: `spec.ratings`, or the spec itself when it is a mapping."""
    if spec is None:
        return None
    found = spec if isinstance(spec, Mapping) else getattr(spec, "ratings", None)
    return dict(found) if found is not None else None


class NCFSpace(SearchSpace):
    name = "ncf"

    def __init__(self, spec=None, models=MODELS, embeddings=EMBEDDINGS, min_layers: int = 1, max_layers: int = 4,
                 towers=TOWERS, widths=WIDTHS, dropout=(0.0, 0.5), l2=L2, hidden=HIDDEN,
                 autorec_l2=AUTOREC_L2) -> None:
        super().__init__(spec)
        if spec is not None and ratings_of(spec) is None:
            raise ConfigError(f"search_space=ncf is for ratings logs (user, item pairs); dataset "
                              f"{getattr(spec, 'name', spec)!r} is not one (search_space=auto picks a space)")
        self.models = _subset("models", models, MODELS)
        if (ratings_of(spec) or {}).get("feedback") == "implicit":
            self.models = [m for m in self.models if m not in EXPLICIT_ONLY]
            if not self.models:
                raise ConfigError(f"search_space.models={list(models)}: {', '.join(EXPLICIT_ONLY)} is for explicit "
                                  "ratings only; add gmf, mlp, neumf or mf_bias for dataset.feedback=implicit")
        self.hidden = _positive_ints("hidden", hidden)
        if autorec_l2 is not None and not (len(autorec_l2) == 2 and 0.0 < float(autorec_l2[0]) <= float(autorec_l2[1])):
            raise ConfigError("search_space.autorec_l2 must be [low, high] with 0 < low <= high (log scale), or null, "
                              f"got {autorec_l2!r}")
        self.autorec_l2 = None if autorec_l2 is None else (float(autorec_l2[0]), float(autorec_l2[1]))
        self.towers = _subset("towers", towers, TOWERS)
        self.embeddings = _positive_ints("embeddings", embeddings)
        self.widths = _positive_ints("widths", widths)
        if not 1 <= int(min_layers) <= int(max_layers) <= 8:
            raise ConfigError(f"search_space.min_layers/max_layers must satisfy 1 <= min <= max <= 8, "
                              f"got {min_layers}, {max_layers}")
        self.min_layers, self.max_layers = int(min_layers), int(max_layers)
        lo, hi = float(dropout[0]), float(dropout[1])
        if not 0.0 <= lo <= hi < 1.0:
            raise ConfigError(f"search_space.dropout must be [low, high] with 0 <= low <= high < 1, got {dropout!r}")
        self.dropout = (lo, hi)
        if l2 is not None and not (len(l2) == 2 and 0.0 < float(l2[0]) <= float(l2[1])):
            raise ConfigError(f"search_space.l2 must be [low, high] with 0 < low <= high (log scale), or null, got {l2!r}")
        self.l2 = None if l2 is None else (float(l2[0]), float(l2[1]))

    def sample(self, trial) -> dict:
        """GMF/MF factors only for gmf, neumf, mf_bias; the tower (depth, widths, dropout) only for mlp
        and neumf; widths per layer only for a free tower; autorec: its hidden units and its own L2."""
        model = trial.suggest_categorical("model", self.models)
        arch: dict = {"model": model}
        if model == "autorec":
            arch["hidden"] = trial.suggest_categorical("hidden", self.hidden)
            if self.autorec_l2 is not None:
                lo, hi = self.autorec_l2
                arch["l2"] = trial.suggest_float("autorec_l2", lo, hi, log=True) if hi > lo else lo
            return arch
        if model in ("gmf", "neumf", "mf_bias"):
            arch["factors"] = trial.suggest_categorical("factors", self.embeddings)
        if model in ("mlp", "neumf"):
            size = arch["mlp_embedding"] = trial.suggest_categorical("mlp_embedding", self.embeddings)
            depth = trial.suggest_int("n_layers", self.min_layers, self.max_layers)
            tower = arch["tower"] = trial.suggest_categorical("tower", self.towers)
            if tower == "pyramid":
                # NCF's tower: embeddings of size e per side, layers 2e -> e -> e/2 -> ... (e=32, 3 layers:
                # 64 -> 32 -> 16 -> 8, the paper's default).
                arch["widths"] = [max(1, size // 2**i) for i in range(depth)]
            else:
                arch["widths"] = [trial.suggest_categorical(f"width_{i}", self.widths) for i in range(depth)]
            lo, hi = self.dropout
            arch["dropout"] = trial.suggest_float("dropout", lo, hi) if hi > lo else lo
        if self.l2 is not None:
            lo, hi = self.l2
            arch["l2"] = trial.suggest_float("l2", lo, hi, log=True) if hi > lo else lo
        return arch

    def build(self, arch: dict, spec):
        from nas_cli.spaces.ncf_nets import NCFNet

        ratings = ratings_of(spec)
        if not ratings or "n_users" not in ratings or "n_items" not in ratings:
            raise ConfigError("search_space=ncf builds from spec.ratings = {n_users, n_items, global_mean}; "
                              f"the dataset gave {ratings!r}")
        if arch["model"] == "autorec":
            from nas_cli.spaces.autorec_net import AutoRecNet

            return AutoRecNet(arch, int(ratings["n_users"]), int(ratings["n_items"]),
                              float(ratings.get("global_mean") or 0.0))
        return NCFNet(arch, int(ratings["n_users"]), int(ratings["n_items"]),
                      float(ratings.get("global_mean") or 0.0), fallback=ratings.get("feedback") == "explicit")

    def describe(self, arch: dict) -> str:
        parts = [arch["model"]]
        if "hidden" in arch:
            parts.append(f"hidden{arch['hidden']}")
        if "factors" in arch:
            parts.append(f"factors{arch['factors']}")
        if "widths" in arch:
            tower = " ".join(str(w) for w in arch["widths"])
            parts.append(f"mlp(emb{arch['mlp_embedding']}: {tower}) drop{arch['dropout']:.2f}")
        if arch.get("l2"):
            parts.append(f"l2 {arch['l2']:.2g}")
        return " ".join(parts)


def _subset(key: str, values, allowed: tuple) -> list:
    values = [str(v) for v in values]
    bad = [v for v in values if v not in allowed]
    if not values or bad:
        raise ConfigError(f"search_space.{key}: unknown {bad or 'empty list'}; allowed: {', '.join(allowed)}")
    return values


def _positive_ints(key: str, values) -> list[int]:
    try:
        out = [int(v) for v in values]
    except (TypeError, ValueError):
        out = []
    if not out or min(out) < 1:
        raise ConfigError(f"search_space.{key} must be a non-empty list of positive ints, got {values!r}")
    return out
