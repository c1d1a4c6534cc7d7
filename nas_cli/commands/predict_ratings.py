"""`nas predict RUN_DIR --user U [--user V] [--top-k 10]` and `nas predict RUN_DIR users.csv` for a
ratings model: each user's top-K items (raw ids in and out), leaving out the items the user already
rated; `nas predict RUN_DIR pairs.csv` (columns user,item) scores each pair.

Output CSV (or JSONL): `user,rank,item,score,known_user` for recommendations, `user,item,score,known`
for pairs; score is the predicted rating (explicit feedback, clipped to the rating range) or the
model's logit (implicit). Unknown users are a counted warning: explicit feedback ranks them by the
fallback (global mean plus item bias), implicit feedback skips them. Exit 1 when nothing was predicted.
"""

from __future__ import annotations

import sys

from nas_cli.errors import ConfigError, NasError


def predict_ratings(predictor, opts) -> int:
    import pandas as pd

    top_k = 10 if opts.top_k is None else opts.top_k
    if not opts.user and not opts.inputs:
        raise ConfigError("nas predict: a ratings model needs --user U (repeatable) or a CSV of users or of "
                          "user,item pairs (see nas predict --help)")
    tables = []
    if opts.user:
        tables.append(_recommend(predictor, opts.user, top_k))
    for path in opts.inputs:
        users, items = predictor.read(path)
        if items is None:
            tables.append(_recommend(predictor, users, top_k))
        else:
            tables.append(predictor.score_pairs(users, items))
            _warn_unknown(predictor.last_unknown, pairs=True)
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    if table.empty or ("score" in table and table["score"].isna().all()):
        raise NasError("nothing could be predicted: every user is unknown to the model (implicit feedback "
                       "skips unknown users)")
    text = table.to_json(orient="records", lines=True, force_ascii=False) if opts.format == "jsonl" \
        else table.to_csv(index=False)
    if opts.out:
        from nas_cli.rundir import atomic_write_text

        atomic_write_text(opts.out, text)
    else:
        sys.stdout.write(text)
    return 0


def _recommend(predictor, users, top_k: int):
    table = predictor.recommend(users, top_k)
    _warn_unknown(predictor.last_unknown, pairs=False)
    return table


def _warn_unknown(unknown: dict, pairs: bool) -> None:
    if pairs and (unknown.get("users") or unknown.get("items")):
        what = "no score (implicit feedback)" if unknown.get("skipped") else "the fallback: global mean plus known bias"
        print(f"warning: {unknown['users']} pair(s) with a user and {unknown['items']} with an item the model never "
              f"saw, of {unknown['of']}: {what}", file=sys.stderr)
    elif not pairs and unknown.get("users"):
        what = "skipped (implicit feedback)" if unknown.get("skipped") else \
            "ranked by the fallback (global mean plus item bias)"
        print(f"warning: {unknown['users']} of {unknown['of']} user(s) unknown to the model "
              f"({', '.join(map(str, unknown['ids']))}): {what}", file=sys.stderr)
