"""Ratings end to end: a search on tiny logs in both layouts (MovieLens ratings.csv, headerless u.data),
explicit and implicit feedback, the export (ONNX `user`/`item` int64 equal to PyTorch, id maps in
preprocess.json, seen.npz), `nas predict` with raw ids (--user, a CSV of users, a CSV of pairs) and
`nas evaluate` on a newer log with unseen users and items; bad logs as one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY


def write_log(path: Path, *, users=range(1, 31), items=range(100, 140), per_user=12, seed=0, tsv=False,
              start=1000) -> Path:
    """A small log whose ratings depend on user and item (learnable), with timestamps."""
    rng = np.random.default_rng(seed)
    lines = [] if tsv else ["userId,movieId,rating,timestamp"]
    for u in users:
        for j, i in enumerate(rng.choice(list(items), per_user, replace=False)):
            rating = float(np.clip(round(1 + (u % 5) / 2 + (i % 7) / 2 + rng.random()), 1, 5))
            row = (u, int(i), rating if not tsv else int(rating), start + u * 50 + j)
            lines.append(("\t" if tsv else ",").join(map(str, row)))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def ratings_csv(tmp_path) -> Path:
    return write_log(tmp_path / "ratings.csv")


@pytest.fixture
def u_data(tmp_path) -> Path:
    return write_log(tmp_path / "u.data", tsv=True, seed=1)


def _run(compose_cfg, tmp_path, log: Path, *extra: str) -> Path:
    from nas_cli.study.runner import run_study

    run = tmp_path / "run"
    cfg = compose_cfg([*TINY, "dataset=ratings", f"dataset.path={log}", "train=ratings", "train.batch_size=64",
                       *extra])
    assert run_study(cfg, run) == 0
    return run


def _onnx_equals_torch(export: Path, users, items) -> np.ndarray:
    import onnxruntime as ort
    import torch

    from nas_cli.deploy.export import load_checkpoint

    model, _ = load_checkpoint(export / "model.pt")
    session = ort.InferenceSession(str(export / "model.onnx"), providers=["CPUExecutionProvider"])
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    got = session.run(["score"], {"user": users, "item": items})[0]
    with torch.inference_mode():
        want = model(torch.from_numpy(users), torch.from_numpy(items)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    return got


def test_explicit_ratings_search_export_predict_evaluate(compose_cfg, tmp_path, ratings_csv, capsys):
    from nas_cli.commands.evaluate import evaluate_command
    from nas_cli.commands.predict import predict_command

    run = _run(compose_cfg, tmp_path, ratings_csv)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["search_space"] == "ncf" and summary["objectives"] == ["rmse:min"]
    test = summary["finetune"]["test"]
    assert set(test) >= {"rmse", "mae"} and 0 < test["rmse"] < 4
    export = run / "export"
    info = json.loads((export / "preprocess.json").read_text())
    assert info["input"] == {"kind": "ratings", "names": ["user", "item"]}
    assert info["ratings"]["feedback"] == "explicit" and info["ratings"]["users"] == list(range(1, 31))
    lo, hi = info["ratings"]["rating_range"]
    # -1 (an unknown id) included: the fallback is in the graph, ONNX and PyTorch agree on it too.
    _onnx_equals_torch(export, [0, 5, 29, -1, 3, -1], [0, 39, 7, 4, -1, -1])

    capsys.readouterr()
    assert predict_command([str(run), "--user", "1", "--user", "777", "--top-k", "5"]) == 0
    out = capsys.readouterr()
    import io

    import pandas as pd

    recs = pd.read_csv(io.StringIO(out.out))
    assert list(recs.columns) == ["user", "rank", "item", "score", "known_user"]
    assert recs.groupby("user").size().to_dict() == {1: 5, 777: 5}
    assert "1 of 2 user(s) unknown" in out.err and "777" in out.err
    rated = pd.read_csv(ratings_csv)
    assert not set(recs[recs.user == 1].item) & set(rated[rated.userId == 1].movieId)  # already rated: left out
    assert recs.score.between(lo, hi).all()
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("user,item\n1,100\n2,101\n999,100\n", encoding="utf-8")
    assert predict_command([str(run), str(pairs)]) == 0
    scored = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert scored["known"].tolist() == [True, True, False] and scored.score.notna().all()

    newer = write_log(tmp_path / "newer.csv", users=range(20, 41), seed=5, start=9000)  # users 31..40 are new
    assert evaluate_command([str(run), f"dataset.path={newer}"]) == 0
    record = json.loads(next((run / "evaluations").glob("*/evaluation.json")).read_text())
    result = record["result"]
    assert result["count"] == 21 * 12 and set(result["metrics"]) >= {"rmse", "mae"}
    assert result["unseen"]["unknown_users"] == 10 and result["unseen"]["users"] == 21
    assert result["unseen"]["fallback_rows"] >= 10 * 12 and "10 of 21 users" in result["drift_note"]


def test_implicit_feedback_on_u_data_search_export_predict_evaluate(compose_cfg, tmp_path, u_data, capsys):
    from nas_cli.commands.evaluate import evaluate_command
    from nas_cli.commands.predict import predict_command

    run = _run(compose_cfg, tmp_path, u_data, "dataset.feedback=implicit", "dataset.eval_negatives=20",
               "dataset.ks=[5,10]", "objectives=[hr@10:max]")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["data"]["split"] == "leave_last_out" and summary["data"]["test"] == 30
    test = summary["finetune"]["test"]
    assert set(test) >= {"hr@5", "hr@10", "ndcg@5", "ndcg@10"} and 0 <= test["ndcg@10"] <= test["hr@10"] <= 1
    hparams = summary["best_trials"][0]["hparams"]
    assert hparams["negatives"] in (1, 2, 4, 8) and hparams["loss"] in ("bce", "bpr")  # searched
    export = run / "export"
    _onnx_equals_torch(export, [0, 1, 2, 29], [0, 5, 39, 3])

    users = tmp_path / "users.csv"
    users.write_text("1\n2\n555\n", encoding="utf-8")
    capsys.readouterr()
    assert predict_command([str(run), str(users), "--top-k", "3", "--format", "jsonl"]) == 0
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert sorted({r["user"] for r in rows}) == [1, 2] and len(rows) == 6  # 555 skipped
    assert "skipped (implicit feedback)" in out.err

    # The run's own test split through the export: the same rows and negatives as the search's test.
    assert evaluate_command([str(run)]) == 0
    record = json.loads(next((run / "evaluations").glob("*/evaluation.json")).read_text())
    for key in ("hr@10", "ndcg@10", "hr@5"):
        assert record["result"]["metrics"][key] == pytest.approx(test[key], abs=1e-6)
    # A newer log (tab-separated, headerless, like u.data) with 10 users the model never saw: skipped, counted.
    newer = write_log(tmp_path / "newer.data", users=range(21, 41), tsv=True, seed=7, start=9000)
    for old in (run / "evaluations").iterdir():
        import shutil

        shutil.rmtree(old)
    assert evaluate_command([str(run), f"dataset.path={newer}", "dataset.split=random", "dataset.eval_negatives=10"]) == 0
    result = json.loads(next((run / "evaluations").glob("*/evaluation.json")).read_text())["result"]
    unseen = result["unseen"]
    assert unseen["unknown_users"] == 10 and unseen["users"] == 20 and unseen["skipped_rows"] >= 10 * 12
    assert result["count"] == 20 * 12 - unseen["skipped_rows"] and 0 <= result["metrics"]["hr@10"] <= 1


def test_full_ranking_masks_known_items(compose_cfg, tmp_path, ratings_csv):
    run = _run(compose_cfg, tmp_path, ratings_csv, "dataset.feedback=implicit", "dataset.eval_negatives=all",
               "finetune.enabled=false")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["data"]["eval_negatives"] == "all"
    assert 0 <= summary["best_trials"][0]["metrics"]["ndcg@10"] <= 1


@pytest.mark.parametrize("text, expected", [
    ("userId,movieId,score\n1,2,3\n2,3,4\n", "no rating column"),
    ("userId,movieId,rating\n1,2,4\n2,3,five\n", "line 3: rating 'five' is not a number"),
    ("userId,movieId,rating\n1,2,4\n1,3,5\n1,4,2\n", "only one user (1)"),
])
def test_bad_logs_are_one_line_and_exit_2(tmp_path, text, expected, capsys):
    from nas_cli.commands.search import search_command

    log = tmp_path / "bad.csv"
    log.write_text(text, encoding="utf-8")
    code = search_command(["dataset=ratings", f"dataset.path={log}", f"runs_dir={tmp_path / 'runs'}", "verbosity=0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len([line for line in err if line.startswith("error:")]) == 1
    assert expected in err[0] and "Traceback" not in "\n".join(err)


def test_duplicate_rows_are_counted_and_warned(tmp_path, capsys):
    import pandas as pd

    from nas_cli.data import load_dataset

    log = write_log(tmp_path / "ratings.csv")
    before = pd.read_csv(log)
    already = int(((before.userId == 1) & (before.movieId == 100)).any())
    with log.open("a") as handle:
        handle.write("1,100,5.0,999999\n1,100,1.0,1\n")  # (1, 100): the later one (5.0) wins
    data = load_dataset("ratings", path=str(log), split="random")
    assert data.info["duplicates_dropped"] == 1 + already
    assert f"{1 + already} repeated (user, item) row(s)" in capsys.readouterr().err
    frame = pd.concat([data.raw["train"], data.raw["val"], data.raw["test"]])
    assert frame[(frame.user == 1) & (frame.item == 100)]["rating"].tolist() == [5.0]
