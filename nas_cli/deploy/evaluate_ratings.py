"""`nas evaluate` on a ratings model: the new log's rows as read, the export's own id maps (never ones
learned from the new file), the task's metrics, and the share of rows whose user or item the model
never saw (the ratings form of drift).

Explicit feedback: every row is predicted (an unknown id gets the fallback, global mean plus the known
bias) and scored by RMSE and MAE. Implicit feedback: every row with a known user and item is a held-out
positive ranked against `dataset.eval_negatives` seeded negatives (the run's setting unless overridden:
the same protocol as the search, 99 items the user never interacted with in the training log nor in the
new rows, or every item); rows with an unknown user or item are skipped and counted.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError


def evaluate_ratings_export(predictor, data, task, *, split: str) -> dict:
    import numpy as np

    from nas_cli.deploy.evaluate_table import rows_of

    frame = rows_of(data, split)
    if data.spec.ratings and data.spec.ratings.get("feedback") != predictor.feedback:
        raise ConfigError(f"dataset.feedback={data.spec.ratings.get('feedback')} but the model was trained on "
                          f"{predictor.feedback} feedback; drop the override")
    users, items = predictor.users.to_index(frame["user"]), predictor.items.to_index(frame["item"])
    unseen = {"rows": int(len(frame)), "unknown_user_rows": int((users < 0).sum()),
              "unknown_item_rows": int((items < 0).sum()),
              "users": int(frame["user"].nunique()), "unknown_users": int(frame["user"][users < 0].nunique()),
              "items": int(frame["item"].nunique()), "unknown_items": int(frame["item"][items < 0].nunique())}
    unseen["unknown_user_share"] = unseen["unknown_users"] / max(1, unseen["users"])
    unseen["unknown_item_share"] = unseen["unknown_items"] / max(1, unseen["items"])
    if predictor.feedback == "explicit":
        outputs = predictor.scores(users, items)
        metrics = task.evaluate_numpy(outputs, frame["rating"].to_numpy(np.float64), full=True)
        unseen["fallback_rows"] = int(((users < 0) | (items < 0)).sum())
        count = len(frame)
    else:
        negatives = (data.spec.ratings or {}).get("eval_negatives") or predictor.info["ratings"].get("eval_negatives", 99)
        metrics, count = _ranking(predictor, task, users, items, negatives)
        unseen["skipped_rows"] = int(((users < 0) | (items < 0)).sum())
    note = (f"unseen by the model: {unseen['unknown_users']} of {unseen['users']} users "
            f"({unseen['unknown_user_share']:.1%}), {unseen['unknown_items']} of {unseen['items']} items "
            f"({unseen['unknown_item_share']:.1%}); "
            + (f"{unseen['fallback_rows']} row(s) predicted by the fallback (global mean plus known bias)"
               if predictor.feedback == "explicit" else f"{unseen['skipped_rows']} row(s) skipped"))
    return {"count": int(count), "split": split, "metrics": metrics, "per_class": [], "unseen": unseen,
            "drift": None, "drift_note": note}


def _ranking(predictor, task, users, items, negatives) -> tuple[dict, int]:
    import numpy as np

    from nas_cli.data.ratings_negatives import interaction_keys
    from nas_cli.data.ratings_sampler import candidate_rows

    known = (users >= 0) & (items >= 0)
    if not known.any():
        raise ConfigError("no row of the data has a user and an item the model knows; nothing to rank")
    ratings = predictor.info["ratings"]
    n_items = len(predictor.items)
    seen = predictor.seen
    keys = np.union1d(seen, interaction_keys(users, items, n_items))  # never a negative the user has
    x, y = candidate_rows(keys, n_items, users[known], items[known], negatives, int(ratings.get("seed", 0)) * 1000 + 2)
    return task.evaluate_numpy(predictor.scores(x[:, 0], x[:, 1]), y, full=True), int(known.sum())
