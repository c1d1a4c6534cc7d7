"""Seeded negative sampling for implicit feedback, vectorised with numpy.

A user's interactions are given as `user_items` ({user index: set of item indices}) or, for logs of
millions of rows, as the sorted int64 keys of `interaction_keys` (user * n_items + item): membership is
then one `searchsorted` per round over every candidate, never a Python loop per row. Rejection sampling
runs in vectorised rounds; the few rows still short after them (users who saw nearly every item) are
finished exactly from their complement. Torch-free.
"""

from __future__ import annotations

from nas_cli.errors import ConfigError

ROUNDS = 16  # vectorised rejection rounds before the exact per-row fallback


def interaction_keys(users, items, n_items: int):
    """Sorted unique int64 keys user * n_items + item of the known pairs (index -1 ignored)."""
    import numpy as np

    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    known = (users >= 0) & (items >= 0)
    return np.unique(users[known] * int(n_items) + items[known])


def _keys(user_items, n_items: int):
    import numpy as np

    if isinstance(user_items, np.ndarray):
        return user_items
    pairs = [(u, i) for u, items in user_items.items() for i in items]
    users, items = zip(*pairs, strict=True) if pairs else ((), ())
    return interaction_keys(users, items, n_items)


def _seen(keys, users, items, n_items: int):
    """Boolean array: whether each (user, item) pair (broadcast) is among `keys`."""
    import numpy as np

    wanted = users * int(n_items) + items
    if len(keys) == 0:
        return np.zeros(wanted.shape, dtype=bool)
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return keys[at] == wanted


def _counts(keys, n_items: int, users):
    """How many items each user in `users` has interacted with."""
    import numpy as np

    starts = np.searchsorted(keys, users * int(n_items))
    return np.searchsorted(keys, (users + 1) * int(n_items)) - starts


def _complement(keys, n_items: int, user: int):
    import numpy as np

    lo, hi = np.searchsorted(keys, [user * n_items, (user + 1) * n_items])
    return np.setdiff1d(np.arange(n_items, dtype=np.int64), keys[lo:hi] - user * n_items, assume_unique=True)


def sample_eval_negatives(user_items, n_items: int, users, n: int = 99, seed: int = 0):
    """[len(users), n] int64: for each row's user, n distinct items it never interacted with.

    Pass the interactions of ALL splits (the NCF protocol: a negative is an item the user never rated).
    `n="all"` (full ranking) is the caller's: score every item and `mask_seen` the known ones.
    Raises ConfigError when a user has fewer than n items left.
    """
    import numpy as np

    if n == "all" or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r}: sample_eval_negatives draws a positive number of negatives; for full "
                         "ranking score every item and use mask_seen")
    keys, users = _keys(user_items, n_items), np.asarray(users, dtype=np.int64)
    _check_enough(keys, n_items, users, n, "dataset.eval_negatives")
    rng = np.random.default_rng(seed)
    out = np.full((len(users), n), -1, dtype=np.int64)
    pending = np.arange(len(users))
    for _ in range(ROUNDS):
        if len(pending) == 0:
            break
        draw = rng.integers(0, n_items, size=(len(pending), 2 * n + 8), dtype=np.int64)
        draw[_seen(keys, users[pending, None], draw, n_items)] = -1
        out[pending] = _first_distinct(np.concatenate([out[pending], draw], axis=1), n)
        pending = pending[(out[pending] < 0).any(axis=1)]
    for row in pending:  # nearly-saturated users: draw from what is left
        have = out[row][out[row] >= 0]
        left = np.setdiff1d(_complement(keys, n_items, int(users[row])), have)
        out[row] = np.concatenate([have, rng.choice(left, size=n - len(have), replace=False)])
    return out


def _first_distinct(candidates, n: int):
    """Per row, the first n distinct values >= 0 in order (-1 pads a row that has fewer)."""
    import numpy as np

    rows, width = candidates.shape
    order = np.argsort(candidates, axis=1, kind="stable")
    ranked = np.take_along_axis(candidates, order, axis=1)
    repeat = np.zeros_like(ranked, dtype=bool)
    repeat[:, 1:] = ranked[:, 1:] == ranked[:, :-1]  # stable sort: the first occurrence stays
    keep = np.zeros_like(repeat)
    np.put_along_axis(keep, order, ~repeat, axis=1)
    keep &= candidates >= 0
    slot = np.cumsum(keep, axis=1) - 1
    keep &= slot < n
    out = np.full((rows, n), -1, dtype=np.int64)
    r, c = np.nonzero(keep)
    out[r, slot[r, c]] = candidates[r, c]
    return out


def sample_train_negatives(user_items, n_items: int, users, k: int = 4, seed: int = 0):
    """[len(users), k] int64: for each positive row's user, k items it has not interacted with (drawn
    with replacement, as NCF's training does). Pass the training interactions."""
    import numpy as np

    keys, users = _keys(user_items, n_items), np.asarray(users, dtype=np.int64)
    _check_enough(keys, n_items, np.unique(users), 1, "train.negatives")
    rng = np.random.default_rng(seed)
    out = rng.integers(0, n_items, size=(len(users), int(k)), dtype=np.int64)
    bad = np.argwhere(_seen(keys, users[:, None], out, n_items))
    for _ in range(ROUNDS):
        if len(bad) == 0:
            break
        out[bad[:, 0], bad[:, 1]] = rng.integers(0, n_items, size=len(bad), dtype=np.int64)
        bad = bad[_seen(keys, users[bad[:, 0]], out[bad[:, 0], bad[:, 1]], n_items)]
    for r, c in bad:
        out[r, c] = rng.choice(_complement(keys, n_items, int(users[r])))
    return out


def mask_seen(scores, user_items, n_items: int, users, keep=None, fill=float("-inf")):
    """Full ranking: set `scores[row, item]` [len(users), n_items] to `fill` for every item the row's
    user interacted with, except `keep[row]` (the held-out positive). Modifies and returns `scores`."""
    import numpy as np

    keys, users = _keys(user_items, n_items), np.asarray(users, dtype=np.int64)
    starts = np.searchsorted(keys, users * int(n_items))
    counts = np.searchsorted(keys, (users + 1) * int(n_items)) - starts
    rows = np.repeat(np.arange(len(users)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    items = keys[np.repeat(starts, counts) + offsets] - users[rows] * int(n_items)
    if keep is not None:
        held = np.asarray(keep, dtype=np.int64)[rows] == items
        rows, items = rows[~held], items[~held]
    scores[rows, items] = fill
    return scores


def _check_enough(keys, n_items: int, users, n: int, key: str) -> None:
    import numpy as np

    left = int(n_items) - _counts(keys, n_items, users)
    if len(users) and left.min() < n:
        worst = int(np.argmin(left))
        raise ConfigError(f"user index {int(users[worst])} has interacted with {n_items - int(left[worst])} of "
                          f"{n_items} items, leaving {int(left[worst])}: fewer than the {n} negatives "
                          f"{key} asks for; lower it")
