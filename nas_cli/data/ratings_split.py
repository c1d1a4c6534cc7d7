"""Splitting a ratings log into train / validation / test, and mapping raw ids to embedding rows.

Three ways: `random` (rows, seeded), `leave_last_out` (per user by timestamp, the protocol of He et al.
2017, "Neural Collaborative Filtering": each user's latest interaction is the test item, the one
before it the validation item) and `file` (a separate test file; validation drawn from the rest).
Ids get contiguous indices from the TRAINING split only; validation/test rows whose user or item the
training split lacks keep index -1 and are counted, so the caller applies its fallback (explicit:
global mean plus the known bias; implicit: skip the user). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nas_cli.data import split_indices
from nas_cli.errors import ConfigError

SPLITS = ("random", "leave_last_out", "file")


@dataclass
class IdMap:
    """Raw id <-> contiguous index; `raw[i]` is the id of index i (sorted). JSON-safe via to_json."""

    raw: list
    _index: object = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        import pandas as pd

        self.raw = [v.item() if hasattr(v, "item") else v for v in self.raw]  # numpy scalars -> int / str
        self._index = pd.Index(self.raw)

    @classmethod
    def from_values(cls, values) -> IdMap:
        import numpy as np

        return cls(np.unique(np.asarray(values)).tolist())

    def __len__(self) -> int:
        return len(self.raw)

    def to_index(self, values):
        """int64 indices of `values` (-1 for an id not in the map). Ids read as text ("42") find int ids."""
        import numpy as np
        import pandas as pd

        values = pd.Index(np.asarray(values))
        if self._index.dtype.kind in "iu" and values.dtype.kind not in "iu":
            values = pd.Index(pd.to_numeric(values, errors="coerce"))  # unparsable -> NaN -> -1
        elif self._index.dtype.kind not in "iu" and values.dtype.kind in "iu":
            values = values.astype(str)
        return self._index.get_indexer(values).astype(np.int64)

    def to_raw(self, index) -> list:
        """The raw ids of `index` (None for -1)."""
        return [self.raw[i] if i >= 0 else None for i in (int(v) for v in index)]

    def to_json(self) -> dict:
        return {"raw": list(self.raw)}

    @classmethod
    def from_json(cls, data: dict) -> IdMap:
        return cls(list(data["raw"]))


@dataclass
class RatingsSplit:
    """Each split's rows (user, item, rating[, timestamp]) plus `u` and `i`: the int64 indices."""

    train: object
    val: object
    test: object
    users: IdMap
    items: IdMap
    how: str
    unknown: dict  # split -> {"rows", "unknown_users", "unknown_items"}: rows kept with index -1

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def global_mean(self) -> float:
        return float(self.train["rating"].mean())

    def ratings_spec(self) -> dict:
        """What a network builder needs (the integrator's `DataSpec.ratings`)."""
        lo, hi = float(self.train["rating"].min()), float(self.train["rating"].max())
        return {"n_users": self.n_users, "n_items": self.n_items, "global_mean": self.global_mean,
                "rating_range": [lo, hi]}

    def user_items(self) -> dict[int, set[int]]:
        """Every known (user, item) index pair of all three splits: what evaluation negatives avoid."""
        seen: dict[int, set[int]] = {}
        for frame in (self.train, self.val, self.test):
            known = frame[(frame["u"] >= 0) & (frame["i"] >= 0)]
            for u, items in known.groupby("u")["i"]:
                seen.setdefault(int(u), set()).update(int(i) for i in items)
        return seen

    def info(self) -> dict:
        sizes = {name: len(getattr(self, name)) for name in ("train", "val", "test")}
        return {"split": self.how, **sizes, "users": self.n_users, "items": self.n_items, "unknown": self.unknown}


def to_implicit(frame, threshold=None, key: str = "dataset.implicit_threshold"):
    """Implicit feedback: every rating is a positive (threshold None), or those >= threshold; the kept
    rows' rating becomes 1.0."""
    kept = frame if threshold is None else frame[frame["rating"] >= float(threshold)]
    if len(kept) == 0:
        raise ConfigError(f"{key}={threshold} keeps no ratings (they range from {frame['rating'].min()} to "
                          f"{frame['rating'].max()}); lower it, or null to keep every rating")
    return kept.assign(rating=1.0).reset_index(drop=True)


def split_ratings(frame, how: str = "random", *, test_frame=None, val_fraction: float = 0.1,
                  test_fraction: float = 0.1, seed: int = 0, key: str = "dataset.split") -> RatingsSplit:
    """Split `frame` (from `read_ratings`) and index its ids on the training rows.

    random: rows at random (val_fraction, test_fraction of them). leave_last_out: per user by
    timestamp (ties: the later row in the file is the later one); users with fewer than 3
    interactions (2 when val_fraction=0, which takes no validation item) stay in train only.
    file: `test_frame` is the test split; val_fraction of `frame` is the validation split.
    """
    if how not in SPLITS:
        raise ConfigError(f"{key}={how!r} is not allowed; choose one of: {', '.join(SPLITS)}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= float(value) < 1.0:
            raise ConfigError(f"dataset.{name}={value} must be in [0, 1)")
    frame = frame.reset_index(drop=True)
    if how == "random":
        if val_fraction + test_fraction >= 1.0:
            raise ConfigError(f"dataset.val_fraction + dataset.test_fraction = {val_fraction + test_fraction} "
                              "leaves no training rows; keep the sum below 1")
        parts = split_indices(len(frame), (float(val_fraction), float(test_fraction)), int(seed))
        train, val, test = (frame.iloc[p] for p in parts)
    elif how == "file":
        if test_frame is None:
            raise ConfigError(f"{key}=file takes the test rows from dataset.test_path; set it, or "
                              f"{key}=random|leave_last_out")
        train_idx, val_idx = split_indices(len(frame), (float(val_fraction),), int(seed))
        train, val, test = frame.iloc[train_idx], frame.iloc[val_idx], test_frame
    else:
        train, val, test = _leave_last_out(frame, with_val=val_fraction > 0, key=key)
    if len(train) == 0:
        raise ConfigError(f"{key}={how} leaves no training rows")
    users, items = IdMap.from_values(train["user"]), IdMap.from_values(train["item"])
    out, unknown = [], {}
    for name, part in (("train", train), ("val", val), ("test", test)):
        part = part.reset_index(drop=True).assign(u=users.to_index(part["user"]), i=items.to_index(part["item"]))
        if name != "train":
            bad_u, bad_i = part["u"] < 0, part["i"] < 0
            unknown[name] = {"rows": int((bad_u | bad_i).sum()), "unknown_users": int(bad_u.sum()),
                             "unknown_items": int(bad_i.sum())}
        out.append(part)
    return RatingsSplit(*out, users=users, items=items, how=how, unknown=unknown)


def _leave_last_out(frame, with_val: bool, key: str):
    if "timestamp" not in frame:
        raise ConfigError(f"{key}=leave_last_out orders each user's ratings by time, but the log has no "
                          f"timestamp column; set dataset.columns.timestamp, or {key}=random")
    order = frame.sort_values("timestamp", kind="stable")
    from_last = order.groupby("user", sort=False).cumcount(ascending=False).reindex(frame.index)
    count = frame.groupby("user", sort=False)["user"].transform("size")
    eligible = count >= (3 if with_val else 2)
    test = eligible & (from_last == 0)
    val = eligible & (from_last == 1) if with_val else test & False
    return frame[~(test | val)], frame[val], frame[test]
