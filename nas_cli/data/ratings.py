"""`dataset=ratings`: a ratings log (user, item, rating[, timestamp]) as (user, item) index pairs.

Explicit feedback (`dataset.feedback=explicit`): inputs `[N, 2]` int64, targets the ratings (float32);
an id the training split lacks keeps index -1 (the network then predicts the global mean plus the
known side's bias). Implicit feedback: training inputs are the positive pairs (negatives are drawn per
batch by `Data.augment`, data/ratings_sampler.py); validation and test are rows of candidates, each
held-out positive followed by its negatives (99 seeded ones, NCF's protocol, or every item with
`dataset.eval_negatives=all`), flattened to `[R * W, 2]`, with labels 1 (the positive), 0 (a negative)
or -1 (an item the user already has: masked in full ranking). Rows with an unknown user or item are
skipped and counted (`Data.info["skipped"]`).
"""

from __future__ import annotations

import sys

from nas_cli.data import Data, DataSpec
from nas_cli.errors import ConfigError

FEEDBACK = ("explicit", "implicit")


def task_of_feedback(feedback) -> str:
    """`dataset.task=auto` for ratings: explicit ratings are a regression ("rating"), implicit ones ranking."""
    if feedback not in FEEDBACK:
        raise ConfigError(f"dataset.feedback={feedback!r} is not allowed; choose one of: {', '.join(FEEDBACK)}")
    return "rating" if feedback == "explicit" else "ranking"


def check_ratings_options(feedback, eval_negatives, ks, split) -> tuple:
    """(eval_negatives, ks) validated; ConfigError naming the key otherwise."""
    task_of_feedback(feedback)
    if eval_negatives != "all" and (isinstance(eval_negatives, bool) or not isinstance(eval_negatives, int)
                                    or eval_negatives < 1):
        raise ConfigError(f"dataset.eval_negatives={eval_negatives!r} must be a positive int (99: the NCF "
                          "protocol) or all (rank every item the user has not rated)")
    ks = [ks] if isinstance(ks, int) else list(ks or [])
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ConfigError(f"dataset.ks={ks!r} must be a list of positive ints (the K of HR@K, NDCG@K), e.g. [10]")
    if split not in ("auto", "random", "leave_last_out", "file"):
        raise ConfigError(f"dataset.split={split!r} is not allowed; choose one of: auto, random, leave_last_out, file")
    return eval_negatives, sorted(set(ks))


def load_ratings(path=None, test_path=None, delimiter="auto", header="auto", columns=None, encoding="utf-8",
                 feedback="explicit", implicit_threshold=None, split="auto", val_fraction=0.1, test_fraction=0.1,
                 eval_negatives=99, ks=(10,), seed=0, **_: object) -> Data:
    """The log at `path` (and `test_path`) split, indexed on the training split, as tensors."""
    from nas_cli.data.ratings_read import read_ratings
    from nas_cli.data.ratings_split import split_ratings, to_implicit

    if path in (None, "", "???"):
        raise ConfigError("dataset=ratings needs dataset.path=FILE, a ratings log (user, item, rating[, timestamp]), "
                          "e.g. dataset.path=../shared/data/movielens_latest_small/ratings.csv")
    eval_negatives, ks = check_ratings_options(feedback, eval_negatives, ks, split)
    read = {"delimiter": delimiter, "header": header, "columns": dict(columns or {}) or None, "encoding": encoding}
    log = read_ratings(path, delimiter=delimiter, header=header, columns=columns, encoding=encoding)
    test_log = read_ratings(test_path, delimiter=delimiter, header=header, columns=columns, encoding=encoding,
                            key="dataset.test_path") if test_path else None
    dropped = log.duplicates_dropped + (test_log.duplicates_dropped if test_log else 0)
    if dropped:
        print(f"warning: dataset.path={path}: {dropped} repeated (user, item) row(s); the latest by timestamp "
              "kept (the last in the file when there is none)", file=sys.stderr)
    frame, test_frame = log.frame, test_log.frame if test_log else None
    if feedback == "implicit":
        frame = to_implicit(frame, implicit_threshold)
        test_frame = to_implicit(test_frame, implicit_threshold, "dataset.implicit_threshold (dataset.test_path)") \
            if test_frame is not None else None
    if split == "auto":
        split = "file" if test_path else "leave_last_out" if feedback == "implicit" and "timestamp" in frame \
            else "random"
    elif test_path and split != "file":
        raise ConfigError(f"dataset.test_path is given but dataset.split={split}; use dataset.split=file (or auto) "
                          "to test on that file, or drop dataset.test_path")
    parts = split_ratings(frame, split, test_frame=test_frame, val_fraction=float(val_fraction),
                          test_fraction=float(test_fraction), seed=int(seed))
    ratings = {**parts.ratings_spec(), "feedback": feedback, "ks": ks, "eval_negatives": eval_negatives}
    if feedback == "implicit":
        ratings["global_mean"] = 0.0  # the network's offset starts as a logit of 0, not the "rating" 1.0
    build = _implicit if feedback == "implicit" else _explicit
    tensors, extra = build(parts, eval_negatives, int(seed))
    spec = DataSpec(name="ratings", input_shape=(2,), num_classes=1, task=task_of_feedback(feedback), ratings=ratings)
    preprocess = {"kind": "ratings", "feedback": feedback, "users": parts.users.to_json()["raw"],
                  "items": parts.items.to_json()["raw"], "rating_range": ratings["rating_range"],
                  "global_mean": parts.global_mean, "implicit_threshold": implicit_threshold, "ks": ks,
                  "eval_negatives": eval_negatives, "seed": int(seed), "read": read,
                  "seen": _seen_lists(parts)}
    raw = {}
    for name in ("train", "val", "test"):
        raw[name] = getattr(parts, name).drop(columns=["u", "i"]).reset_index(drop=True)
        raw[name].attrs = {"split": name}
    augment = extra.pop("augment", None)
    info = {"path": str(path), "test_path": str(test_path) if test_path else None, "feedback": feedback,
            "duplicates_dropped": dropped, **parts.info(), **extra}
    return Data(spec=spec, **tensors, info=info, preprocess=preprocess, raw=raw, augment=augment)


def _pairs(frame):
    import numpy as np
    import torch

    return torch.from_numpy(np.stack([frame["u"].to_numpy(np.int64), frame["i"].to_numpy(np.int64)], axis=1))


def _explicit(parts, eval_negatives, seed) -> tuple[dict, dict]:
    import torch

    out = {}
    for name in ("train", "val", "test"):
        frame = getattr(parts, name)
        out[f"{name}_x"] = _pairs(frame)
        out[f"{name}_y"] = torch.tensor(frame["rating"].to_numpy(), dtype=torch.float32)
    if len(parts.val) == 0:
        raise ConfigError("dataset.val_fraction leaves no validation ratings; raise it (e.g. 0.1)")
    return out, {}


def _implicit(parts, eval_negatives, seed) -> tuple[dict, dict]:
    import torch

    from nas_cli.data.ratings_negatives import interaction_keys
    from nas_cli.data.ratings_sampler import NegativeSampler, candidate_rows

    every = [getattr(parts, n) for n in ("train", "val", "test")]
    keys = interaction_keys(*(_concat(every, c) for c in ("u", "i")), parts.n_items)  # what a negative avoids
    out = {"train_x": _pairs(parts.train), "train_y": torch.ones(len(parts.train), dtype=torch.float32)}
    skipped = {}
    for offset, name in enumerate(("val", "test"), start=1):
        frame = getattr(parts, name)
        known = (frame["u"] >= 0) & (frame["i"] >= 0)
        skipped[name] = {"rows": int((~known).sum()), "unknown_users": int((frame["u"] < 0).sum()),
                         "unknown_items": int((frame["i"] < 0).sum())}
        if not known.any():
            raise ConfigError(f"the {name} split has no interaction of a user and an item the training split knows "
                              f"({len(frame)} rows); check dataset.split / dataset.val_fraction")
        frame = frame[known]
        x, y = candidate_rows(keys, parts.n_items, frame["u"].to_numpy(), frame["i"].to_numpy(), eval_negatives,
                              seed * 1000 + offset)
        out[f"{name}_x"], out[f"{name}_y"] = torch.from_numpy(x), torch.from_numpy(y)
    train_keys = interaction_keys(parts.train["u"], parts.train["i"], parts.n_items)
    return out, {"skipped": skipped, "eval_negatives": eval_negatives,
                 "augment": NegativeSampler(torch.from_numpy(train_keys), parts.n_items)}


def _concat(frames, column):
    import numpy as np

    return np.concatenate([f[column].to_numpy(np.int64) for f in frames])


def _seen_lists(parts) -> dict:
    """Every known (user, item) index pair of the log (train, val, test): what `nas predict` leaves out."""
    every = [getattr(parts, n) for n in ("train", "val", "test")]
    users, items = _concat(every, "u"), _concat(every, "i")
    known = (users >= 0) & (items >= 0)
    return {"users": users[known].tolist(), "items": items[known].tolist()}
