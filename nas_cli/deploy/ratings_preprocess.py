"""export/preprocess.json for a ratings model: the id maps (raw id <-> embedding row) learned on the
training split, the feedback kind, the rating range and global mean, the evaluation protocol; beside it
`seen.npz`, every (user, item) index pair the log held, which `nas predict` leaves out of a user's
recommendations and `nas evaluate` never draws as a negative. Readable without torch."""

from __future__ import annotations

from pathlib import Path

from nas_cli.deploy.export_format import FILENAME, FORMAT, REEXPORT
from nas_cli.errors import ConfigError

SEEN = "seen.npz"


def ratings_preprocess(pre: dict, signature) -> dict:
    """The preprocess.json dict of a ratings model: `pre` is `Data.preprocess` of the ratings loader."""
    info = {"format": FORMAT, "task": "rating" if pre["feedback"] == "explicit" else "ranking",
            "input": {"kind": "ratings", "names": [t.name for t in signature.inputs]},
            "ratings": {k: pre[k] for k in ("feedback", "users", "items", "rating_range", "global_mean",
                                            "implicit_threshold", "ks", "eval_negatives", "seed", "read")},
            "output": {"name": signature.outputs[0].name,
                       "kind": "rating" if pre["feedback"] == "explicit" else "logit"}}
    check_ratings_preprocess(info, "preprocess")
    return info


def write_ratings_files(data, export_dir: Path, signature) -> dict:
    import numpy as np

    from nas_cli.rundir import atomic_save_with, atomic_write_json

    info = ratings_preprocess(data.preprocess, signature)
    seen = data.preprocess["seen"]
    users, items = np.asarray(seen["users"], dtype=np.int64), np.asarray(seen["items"], dtype=np.int64)

    # the temporary name keeps the .npz suffix, so numpy writes exactly there
    return {"preprocess": str(atomic_write_json(Path(export_dir) / FILENAME, info)),  # checked when built
            "seen": str(atomic_save_with(Path(export_dir) / SEEN,
                                         lambda tmp: np.savez_compressed(tmp, users=users, items=items)))}


def read_seen(export_dir: Path, n_items: int):
    """Sorted int64 keys user * n_items + item of every pair the training log held (empty when absent)."""
    import numpy as np

    from nas_cli.data.ratings_negatives import interaction_keys

    path = Path(export_dir) / SEEN
    if not path.is_file():
        raise ConfigError(f"{path} is missing (the items each user already rated); {REEXPORT}")
    with np.load(path) as arrays:
        return interaction_keys(arrays["users"], arrays["items"], n_items)


def check_ratings_preprocess(info: dict, where: str) -> None:
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{where}: key {key!r} {why}; {REEXPORT}")

    ratings = info.get("ratings")
    if not isinstance(ratings, dict):
        raise bad("ratings", "is missing or not an object")
    if ratings.get("feedback") not in ("explicit", "implicit"):
        raise bad("ratings.feedback", f"must be explicit or implicit, got {ratings.get('feedback')!r}")
    for key in ("users", "items"):
        if not isinstance(ratings.get(key), list) or not ratings[key]:
            raise bad(f"ratings.{key}", "must be the non-empty list of raw ids (index order)")
    lo_hi = ratings.get("rating_range")
    if not (isinstance(lo_hi, list) and len(lo_hi) == 2 and all(isinstance(v, (int, float)) for v in lo_hi)):
        raise bad("ratings.rating_range", f"must be [low, high], got {lo_hi!r}")
    if info["input"].get("names") != ["user", "item"]:
        raise bad("input.names", f"must be ['user', 'item'], got {info['input'].get('names')!r}")
    if not isinstance(info.get("output"), dict) or not isinstance(info["output"].get("name"), str):
        raise bad("output.name", "must be a string")
