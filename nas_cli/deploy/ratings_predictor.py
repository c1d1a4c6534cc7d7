"""An exported ratings model on raw ids: the saved id maps, then ONNX Runtime. No torch.

    predictor = nas_cli.deploy.load("runs/<run>")           # a ratings run
    predictor.recommend([1, 42], top_k=10)                  # DataFrame user, rank, item, score
    predictor.score_pairs([1, 1], [31, 1029])               # DataFrame user, item, score, known

Recommendations leave out the items each user already has in the training log (seen.npz). An unknown
user: explicit feedback ranks by the fallback (global mean plus item bias) and says so; implicit
feedback skips that user. Both are counted (`last_unknown`).
"""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import ConfigError


class RatingsPredictor:
    kind = "ratings"

    def __init__(self, export_dir: Path, info: dict, session, threads: int):
        from nas_cli.data.ratings_split import IdMap

        self.export_dir, self.info, self.session, self.threads = export_dir, info, session, threads
        ratings = info["ratings"]
        self.feedback = ratings["feedback"]
        self.users, self.items = IdMap(list(ratings["users"])), IdMap(list(ratings["items"]))
        self.rating_range = tuple(float(v) for v in ratings["rating_range"])
        self.output_name = info["output"]["name"]
        self.classes: list[str] = []
        self._seen = None
        self.last_unknown: dict = {}

    @property
    def seen(self):
        if self._seen is None:
            from nas_cli.deploy.ratings_preprocess import read_seen

            self._seen = read_seen(self.export_dir, len(self.items))
        return self._seen

    def scores(self, users, items, batch_size: int = 65536):
        """Raw model outputs (explicit: unclipped ratings; implicit: logits) for index arrays."""
        import numpy as np

        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        out = [self.session.run([self.output_name], {"user": users[i:i + batch_size], "item": items[i:i + batch_size]})[0]
               for i in range(0, len(users), batch_size)]
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def _shown(self, raw_scores):
        """Scores as a user sees them: explicit ratings clipped to the training range."""
        import numpy as np

        return np.clip(raw_scores, *self.rating_range) if self.feedback == "explicit" else raw_scores

    def recommend(self, raw_users, top_k: int = 10):
        """The top_k unseen items of each user (raw ids in and out), best first."""
        import numpy as np
        import pandas as pd

        from nas_cli.data.ratings_negatives import mask_seen

        raw_users = list(dict.fromkeys(raw_users))  # each user once, in the order given
        index = self.users.to_index(raw_users)
        unknown = index < 0
        self.last_unknown = {"users": int(unknown.sum()), "of": len(raw_users),
                             "skipped": int(unknown.sum()) if self.feedback == "implicit" else 0,
                             "ids": [raw_users[j] for j in np.flatnonzero(unknown)][:10]}
        n_items, rows = len(self.items), []
        all_items = np.arange(n_items, dtype=np.int64)
        for raw, u in zip(raw_users, index, strict=True):
            if u < 0 and self.feedback == "implicit":
                continue  # nothing known about this user: no ranking to give
            scores = self.scores(np.full(n_items, u, dtype=np.int64), all_items)[None, :]
            if u >= 0:
                mask_seen(scores, self.seen, n_items, np.asarray([u]))
            k = min(int(top_k), int(np.isfinite(scores[0]).sum()))
            best = np.argsort(-scores[0], kind="stable")[:k]
            shown = self._shown(scores[0, best])
            name = self.users.raw[u] if u >= 0 else raw  # the id as training read it (42, not "42")
            for rank, (item, score) in enumerate(zip(self.items.to_raw(best), shown, strict=True), start=1):
                rows.append((name, rank, item, float(score), bool(u >= 0)))
        return pd.DataFrame(rows, columns=["user", "rank", "item", "score", "known_user"])

    def score_pairs(self, raw_users, raw_items):
        """The score of each (user, item) pair; `known` is False where an id is new to the model
        (explicit: the fallback prediction; implicit: no score, NaN)."""
        import numpy as np
        import pandas as pd

        u, i = self.users.to_index(list(raw_users)), self.items.to_index(list(raw_items))
        known = (u >= 0) & (i >= 0)
        scores = self._shown(self.scores(u, i)) if len(u) else np.zeros(0)
        if self.feedback == "implicit":
            scores = np.where(known, scores, np.nan)
        self.last_unknown = {"users": int((u < 0).sum()), "items": int((i < 0).sum()), "of": int(len(u)),
                             "skipped": int((~known).sum()) if self.feedback == "implicit" else 0}
        users = [self.users.raw[j] if j >= 0 else raw for j, raw in zip(u, raw_users, strict=True)]
        items = [self.items.raw[j] if j >= 0 else raw for j, raw in zip(i, raw_items, strict=True)]
        return pd.DataFrame({"user": users, "item": items, "score": scores, "known": known})

    def read(self, path):
        """A CSV/TSV of users (one column) or of user,item pairs: (users, items or None)."""
        import pandas as pd

        from nas_cli.data.ratings_read import DEFAULT_NAMES
        from nas_cli.data.table_read import resolve_delimiter

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such file (a CSV of users, or of user,item pairs)")
        head = path.read_text(encoding="utf-8", errors="replace")[:65536]
        if not head.strip():
            raise ConfigError(f"{path} is empty; it needs one user (or user,item pair) per line")
        sep = resolve_delimiter("auto", head)
        first = [f.strip().lower() for f in head.splitlines()[0].split(sep)]
        names = {role: {n.lower() for n in DEFAULT_NAMES[role]} for role in ("user", "item")}
        header = any(f in names["user"] | names["item"] for f in first)
        frame = pd.read_csv(path, sep=sep, header=0 if header else None, dtype=str, keep_default_na=False)
        cols = [str(c).strip().lower() for c in frame.columns]
        user = next((j for j, c in enumerate(cols) if c in names["user"]), 0)
        item = next((j for j, c in enumerate(cols) if c in names["item"]), None if header else (1 if len(cols) > 1
                                                                                                 else None))
        users = frame.iloc[:, user].str.strip().tolist()
        items = frame.iloc[:, item].str.strip().tolist() if item is not None else None
        if not users:
            raise ConfigError(f"{path} has no rows")
        return users, items
