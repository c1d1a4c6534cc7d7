"""Ratings logs: reading MovieLens-style files (CSV with a header, headerless u.data, `::` files), the
errors a user gets for bad ones, the splits (random, leave-last-out, file), id maps, unknown ids, and
seeded negative sampling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nas_cli.data.ratings_negatives import (
    interaction_keys,
    mask_seen,
    sample_eval_negatives,
    sample_train_negatives,
)
from nas_cli.data.ratings_read import read_ratings
from nas_cli.data.ratings_split import IdMap, split_ratings, to_implicit
from nas_cli.errors import ConfigError

MOVIELENS = Path("/work/shared/data/movielens_latest_small/ratings.csv")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def ratings_csv(tmp_path) -> Path:
    """MovieLens ratings.csv layout; user 1 rates movie 10 twice (the later one, 3.0, must win)."""
    return write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,100\n1,20,3.5,200\n"
                 "2,10,5.0,150\n2,30,1.0,50\n1,10,3.0,300\n3,20,2.5,120\n")


@pytest.fixture
def u_data(tmp_path) -> Path:
    """ML-100k u.data layout: headerless, tab-separated user, item, rating, timestamp."""
    return write(tmp_path / "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"
                 "244\t51\t2\t880606923\n")


def test_movielens_csv_with_header(ratings_csv):
    log = read_ratings(ratings_csv)
    frame = log.frame
    assert list(frame.columns) == ["user", "item", "rating", "timestamp"]
    assert log.header and log.delimiter == "," and log.duplicates_dropped == 1
    assert len(frame) == 5 and frame["user"].dtype == np.int64 and frame["rating"].dtype == np.float64
    again = frame[(frame.user == 1) & (frame.item == 10)]
    assert again["rating"].tolist() == [3.0] and again["timestamp"].tolist() == [300]  # latest kept
    assert log.rating_range == (1.0, 5.0)


def test_duplicates_without_timestamp_keep_the_last_in_file(tmp_path):
    log = read_ratings(write(tmp_path / "r.csv", "user,item,rating\na,x,1\na,y,2\nb,x,3\na,x,5\n"))
    assert log.duplicates_dropped == 1 and "timestamp" not in log.frame
    assert log.frame.set_index(["user", "item"]).loc[("a", "x"), "rating"] == 5.0
    assert log.frame["user"].tolist() == ["a", "b", "a"]  # file order; string ids stay strings


def test_headerless_u_data_and_double_colon(u_data, tmp_path):
    log = read_ratings(u_data)
    assert not log.header and log.delimiter == "\t"
    assert log.frame.iloc[0].tolist() == [196, 242, 3.0, 881250949]
    ml1m = read_ratings(write(tmp_path / "ratings.dat", "1::1193::5::978300760\n2::661::3::978302109\n"))
    assert ml1m.delimiter == "::" and ml1m.frame["item"].tolist() == [1193, 661]
    assert ml1m.frame["timestamp"].tolist() == [978300760, 978302109]


def test_columns_by_name_and_position_and_implicit_logs(tmp_path):
    path = write(tmp_path / "clicks.tsv", "when\tstars\tcustomer\tproduct\n2024-01-02\t4\tc1\tp1\n"
                 "2024-01-01\t5\tc2\tp1\n2024-01-03\t2\tc1\tp2\n")
    log = read_ratings(path, columns={"user": "Customer", "item": 3, "rating": "stars", "timestamp": "when"})
    assert log.frame["user"].tolist() == ["c1", "c2", "c1"] and log.frame["rating"].tolist() == [4.0, 5.0, 2.0]
    assert log.frame["timestamp"].tolist() == [1704153600, 1704067200, 1704240000]  # dates -> unix seconds
    clicks = read_ratings(path, columns={"user": 2, "item": 3, "rating": None, "timestamp": None})
    assert clicks.frame["rating"].tolist() == [1.0, 1.0, 1.0] and "timestamp" not in clicks.frame


def test_the_real_movielens_small_log():
    log = read_ratings(MOVIELENS)
    frame = log.frame
    assert len(frame) == 100_836 and frame["user"].nunique() == 610 and frame["item"].nunique() == 9_724
    assert log.duplicates_dropped == 0 and log.rating_range == (0.5, 5.0)
    split = split_ratings(frame, "leave_last_out")
    assert len(split.test) == len(split.val) == 610  # every user has >= 20 ratings
    assert split.n_users == 610 and split.unknown["test"]["unknown_users"] == 0


@pytest.mark.parametrize("text, columns, expected", [
    ("uid,movieId,rating\n1,2,3\n2,3,4\n", None, ["no user column", "dataset.columns.user", "uid, movieId, rating"]),
    ("userId,movieId,rating\n1,2,3\n2,3,4\n", {"item": "film"},
     ["no column 'film'", "dataset.columns.item", "userId, movieId, rating"]),
    ("userId,movieId,rating\n1,2,4\n\n2,3,x\n", None, ["ratings.csv", "line 4", "'x' is not a number",
                                                       "dataset.columns.rating"]),
    ("userId,movieId,rating\n1,2,4\n2,3,\n", None, ["line 3 has no rating"]),
    ("userId,movieId,rating\n1,2,4\n1,3,5\n", None, ["only one user (1)", "dataset.columns.user"]),
    ("", None, ["ratings.csv is empty"]),
    ("\n  \n", None, ["is empty"]),
    ("userId,movieId,rating\n", None, ["no data rows (only a header line)"]),
    ("1,2,4\n2,3,5\n", {"user": "userId"}, ["names a column", "no header line", "dataset.columns.user"]),
    ("1,2,4\n2,3,5\n", {"rating": 7}, ["dataset.columns.rating=7 is out of range", "3 columns"]),
    ("1,2\n2,3\n", None, ["2 column(s) per row", "dataset.columns.rating=null"]),
    ("1,2,4\n2,3,5\n", {"person": 0}, ["dataset.columns.person is not a role"]),
    ("1,2,4\n2,3,5\n", {"user": None}, ["dataset.columns.user cannot be null"]),
    ("userId,movieId,rating,timestamp\n1,2,4,100\n2,3,5,soon\n", None, ["line 3", "'soon'",
                                                                       "dataset.columns.timestamp"]),
])
def test_bad_logs_name_the_file_line_and_key(tmp_path, text, columns, expected):
    path = write(tmp_path / "ratings.csv", text)
    with pytest.raises(ConfigError) as err:
        read_ratings(path, columns=columns)
    message = str(err.value)
    assert "\n" not in message and f"dataset.path={path}" in message or "dataset.columns" in message
    for part in expected:
        assert part in message


def test_missing_file_and_bad_header_option(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_ratings(tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match="dataset.header='maybe'"):
        read_ratings(write(tmp_path / "r.csv", "1,2,3\n2,3,4\n"), header="maybe")


def _log(rows):
    import pandas as pd

    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


def test_leave_last_out_takes_each_users_latest_for_test_and_the_one_before_for_val():
    frame = _log([("a", "x", 4, 30), ("a", "y", 3, 10), ("a", "z", 5, 20), ("a", "w", 1, 5),
                  ("b", "x", 2, 7), ("b", "y", 5, 7),  # b: 2 interactions -> train only
                  ("c", "z", 4, 1), ("c", "x", 3, 3), ("c", "y", 2, 2)])
    split = split_ratings(frame, "leave_last_out")
    assert set(zip(split.test.user, split.test.item, strict=True)) == {("a", "x"), ("c", "x")}
    assert set(zip(split.val.user, split.val.item, strict=True)) == {("a", "z"), ("c", "y")}
    assert sorted(split.train.user) == ["a", "a", "b", "b", "c"]
    no_val = split_ratings(frame, "leave_last_out", val_fraction=0)
    assert len(no_val.val) == 0 and ("b", "y") in set(zip(no_val.test.user, no_val.test.item, strict=True))
    with pytest.raises(ConfigError, match="no timestamp column.*dataset.columns.timestamp"):
        split_ratings(frame.drop(columns="timestamp"), "leave_last_out")


def test_id_maps_come_from_train_and_unknown_ids_are_counted_not_dropped():
    frame = _log([("a", "x", 4, 1), ("a", "y", 3, 2), ("b", "x", 2, 1), ("b", "y", 4, 2),
                  ("a", "new", 5, 9), ("b", "z", 1, 8), ("b", "x2", 1, 9)])
    test = _log([("a", "x", 4, 10), ("stranger", "x", 3, 10), ("b", "nothing", 1, 10)])
    split = split_ratings(frame, "file", test_frame=test, val_fraction=0.0)
    assert split.users.raw == ["a", "b"] and "new" in split.items.raw and len(split.test) == 3
    x = split.items.to_index(["x"])[0]
    assert split.test["u"].tolist() == [0, -1, 1] and split.test["i"].tolist() == [x, x, -1]
    assert split.unknown["test"] == {"rows": 2, "unknown_users": 1, "unknown_items": 1}
    assert split.ratings_spec()["n_users"] == 2 and split.info()["unknown"] == split.unknown
    seen = split.user_items()
    assert seen[0] >= {split.items.to_index(["x"])[0], split.items.to_index(["new"])[0]}
    with pytest.raises(ConfigError, match="dataset.test_path"):
        split_ratings(frame, "file")
    with pytest.raises(ConfigError, match="dataset.split='kfold'.*leave_last_out"):
        split_ratings(frame, "kfold")


def test_id_map_round_trips_through_json_and_finds_ids_written_as_text():
    ids = IdMap.from_values(np.array([30, 10, 20, 10]))
    assert ids.raw == [10, 20, 30] and len(ids) == 3
    back = IdMap.from_json(json.loads(json.dumps(ids.to_json())))
    assert back.to_index([20, 99, 10]).tolist() == [1, -1, 0]
    assert back.to_index(["30", "abc"]).tolist() == [2, -1]
    assert back.to_raw([2, -1]) == [30, None]


def test_random_split_is_seeded_and_sized():
    rng = np.random.default_rng(0)
    frame = _log([(int(u), int(i), float(r), 0) for u, i, r in
                  zip(rng.integers(0, 30, 400), rng.integers(0, 50, 400), rng.integers(1, 6, 400), strict=True)])
    frame = frame.drop_duplicates(["user", "item"])
    one, two = split_ratings(frame, seed=3), split_ratings(frame, seed=3)
    assert one.test[["user", "item"]].equals(two.test[["user", "item"]])
    assert len(one.train) + len(one.val) + len(one.test) == len(frame)
    assert abs(len(one.test) - 0.1 * len(frame)) <= 1
    assert not one.test[["user", "item"]].equals(split_ratings(frame, seed=4).test[["user", "item"]])
    with pytest.raises(ConfigError, match="leaves no training rows"):
        split_ratings(frame, val_fraction=0.5, test_fraction=0.5)


def test_to_implicit_keeps_ratings_at_or_above_the_threshold():
    frame = _log([("a", "x", 4.5, 1), ("a", "y", 2.0, 2), ("b", "x", 3.5, 1)])
    assert len(to_implicit(frame)) == 3 and set(to_implicit(frame)["rating"]) == {1.0}
    assert to_implicit(frame, threshold=3.5)["item"].tolist() == ["x", "x"]
    with pytest.raises(ConfigError, match="threshold=6 keeps no ratings"):
        to_implicit(frame, threshold=6)


def test_eval_negatives_avoid_every_interaction_and_are_seeded():
    n_items = 40
    seen = {0: set(range(0, 30)), 1: {1, 2, 3}, 2: set(range(5, 40))}  # user 2 leaves 5 items
    users = np.array([0, 1, 2, 1])
    neg = sample_eval_negatives(seen, n_items, users, n=5, seed=7)
    assert neg.shape == (4, 5) and neg.dtype == np.int64
    for user, row in zip(users, neg, strict=True):
        assert len(set(row.tolist())) == 5 and not set(row.tolist()) & seen[user]
    assert sorted(neg[2].tolist()) == [0, 1, 2, 3, 4]  # saturated user: exactly what is left
    assert np.array_equal(neg, sample_eval_negatives(seen, n_items, users, n=5, seed=7))
    assert not np.array_equal(neg, sample_eval_negatives(seen, n_items, users, n=5, seed=8))
    keys = interaction_keys([u for u in seen for _ in seen[u]], [i for u in seen for i in seen[u]], n_items)
    assert np.array_equal(neg, sample_eval_negatives(keys, n_items, users, n=5, seed=7))
    with pytest.raises(ConfigError, match="fewer than the 6 negatives"):
        sample_eval_negatives(seen, n_items, users, n=6, seed=0)
    with pytest.raises(ValueError, match="mask_seen"):
        sample_eval_negatives(seen, n_items, users, n="all")


def test_train_negatives_are_vectorised_unseen_and_seeded():
    rng = np.random.default_rng(0)
    n_users, n_items = 200, 50
    users, items = rng.integers(0, n_users, 5000), rng.integers(0, n_items, 5000)
    keys = interaction_keys(users, items, n_items)
    rows = np.repeat(np.arange(n_users), 50)
    neg = sample_train_negatives(keys, n_items, rows, k=4, seed=1)
    assert neg.shape == (len(rows), 4)
    assert not np.isin(rows[:, None] * n_items + neg, keys).any()
    assert np.array_equal(neg, sample_train_negatives(keys, n_items, rows, k=4, seed=1))
    full = {0: set(range(n_items))}
    with pytest.raises(ConfigError, match="train.negatives"):
        sample_train_negatives(full, n_items, [0], k=1)


def test_mask_seen_hides_known_items_but_the_held_out_one():
    scores = np.zeros((2, 6))
    mask_seen(scores, {0: {1, 2}, 3: {0, 5}}, 6, [0, 3], keep=[2, 4])
    assert np.isinf(scores[0]).tolist() == [False, True, False, False, False, False]
    assert np.isinf(scores[1]).tolist() == [True, False, False, False, False, True]
