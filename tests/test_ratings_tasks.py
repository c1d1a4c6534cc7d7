"""Ratings on the task seam: the loader's tensors (leave-last-out, 99 negatives, full ranking), HR@K and
NDCG@K on a hand-made log where they are known, the negative-sampling hook, the rating task's clipping
and the explicit fallback of every model, the options' errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nas_cli.errors import ConfigError


def hand_made_log(path: Path) -> Path:
    """Items 0..102, all in training through filler users (2 ratings each: train only). Users A and B
    have 4 interactions: train 101, 102; validation 100 (the one before last); test 0 (A) and 5 (B).
    Each then has exactly 99 items left, so the 99 negatives are all of them: the ranks are known."""
    lines = ["user,item,rating,timestamp"]
    for f in range(52):
        lines += [f"f{f},{2 * f % 103},3,1", f"f{f},{(2 * f + 1) % 103},3,2"]
    for user, test_item in (("A", 0), ("B", 5)):
        lines += [f"{user},101,4,10", f"{user},102,4,11", f"{user},100,4,12", f"{user},{test_item},5,13"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def score_by_item(x):
    """A fixed 'model': lower item index scores higher."""
    return -x[:, 1].float()


@pytest.mark.parametrize("negatives", [99, "all"])
def test_leave_last_out_and_the_ncf_evaluation_on_a_hand_made_log(tmp_path, negatives):
    from nas_cli.data import load_dataset
    from nas_cli.tasks import task_for

    data = load_dataset("ratings", path=str(hand_made_log(tmp_path / "log.csv")), feedback="implicit",
                        eval_negatives=negatives, ks=[1, 5, 10])
    assert data.info["split"] == "leave_last_out" and data.spec.task == "ranking"
    assert data.spec.ratings["n_items"] == 103
    width = 100 if negatives == 99 else 103
    test_x, test_y = data.test_x.reshape(2, width, 2), data.test_y.reshape(2, width)
    users = {int(r[0, 0]): r for r in test_x}
    assert len(users) == 2 and (test_y == 1).sum() == 2
    if negatives == 99:  # positive first, then every item the user never touched
        assert test_x[:, 0, 1].tolist() in ([0, 5], [5, 0])
        for row in test_x:
            assert set(row[1:, 1].tolist()) == set(range(103)) - {100, 101, 102, int(row[0, 1])}
    else:  # every item; the user's own other items masked with -1
        assert (test_y == -1).sum(1).tolist() == [3, 3]
    val = data.val_x.reshape(2, width, 2)
    assert sorted(val[:, :, 1][data.val_y.reshape(2, width) == 1].tolist()) == [100, 100]
    metrics = task_for(data.spec).evaluate(score_by_item(data.test_x), data.test_y)
    # A's positive ranks 0, B's ranks 5 (items 0..4 above it).
    assert metrics["hr@1"] == pytest.approx(0.5) and metrics["hr@5"] == pytest.approx(0.5)
    assert metrics["hr@10"] == pytest.approx(1.0)
    assert metrics["ndcg@10"] == pytest.approx((1 + 1 / math.log2(7)) / 2)
    assert metrics["ndcg@5"] == pytest.approx(0.5) and metrics["ndcg@1"] == pytest.approx(0.5)


def test_eval_negatives_are_seeded_and_skip_unknown_users(tmp_path):
    from nas_cli.data import load_dataset

    log = hand_made_log(tmp_path / "log.csv")
    test = tmp_path / "test.csv"
    test.write_text("user,item,rating,timestamp\nA,0,5,20\nNEW,3,4,20\nB,999,4,20\n", encoding="utf-8")
    a = load_dataset("ratings", path=str(log), test_path=str(test), feedback="implicit", eval_negatives=20,
                     val_fraction=0.1)
    b = load_dataset("ratings", path=str(log), test_path=str(test), feedback="implicit", eval_negatives=20,
                     val_fraction=0.1)
    assert a.info["split"] == "file" and a.test_x.shape == (21, 2)  # only A's row: NEW and item 999 skipped
    assert a.info["skipped"]["test"] == {"rows": 2, "unknown_users": 1, "unknown_items": 1}
    assert np.array_equal(a.test_x.numpy(), b.test_x.numpy())


def test_the_negative_sampling_hook_is_seeded_vectorised_and_avoids_training_positives():
    import torch

    from nas_cli.data.ratings_negatives import interaction_keys
    from nas_cli.data.ratings_sampler import NegativeSampler
    from nas_cli.trial.fit import Hparams

    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 50, 2000), rng.integers(0, 40, 2000)  # dense: ~64% of pairs are positives
    keys = torch.from_numpy(interaction_keys(users, items, 40))
    hook = NegativeSampler(keys, 40).bind(Hparams(lr=1e-3, negatives=3))
    batch = torch.from_numpy(np.stack([users[:256], items[:256]], 1))
    out = hook(batch, torch.Generator().manual_seed(1))
    assert out.shape == (256 * 4, 2) and torch.equal(out[:256], batch)
    assert torch.equal(out[256:, 0], batch[:, 0].repeat(3))
    assert torch.equal(out, hook(batch, torch.Generator().manual_seed(1)))
    hit = hook._seen(out[256:, 0], out[256:, 1]).float().mean()
    assert hit < 0.5  # one resample of the hits: ~0.64^2 = 0.41 instead of 0.64
    assert NegativeSampler(keys, 40).bind(Hparams(lr=1e-3)).k == 4  # unset: NCF's default ratio


def test_ranking_losses_read_positives_first():
    import torch

    from nas_cli.tasks.ranking import RankingTask

    task = RankingTask()
    good = torch.tensor([5.0, 5.0, -5.0, -5.0, -5.0, -5.0])  # 2 positives, then 2 negatives each
    bad = -good
    targets = torch.ones(2)
    for loss in ("bce", "bpr"):
        assert task.loss(good, targets, loss=loss) < 0.01 < task.loss(bad, targets, loss=loss)


def test_the_rating_task_clips_to_the_range_and_every_model_falls_back_for_unknown_ids():
    import torch

    from nas_cli.data import DataSpec
    from nas_cli.spaces import build_space
    from nas_cli.tasks import task_for

    ratings = {"n_users": 4, "n_items": 5, "global_mean": 3.0, "rating_range": [1.0, 5.0], "feedback": "explicit"}
    spec = DataSpec(name="ratings", input_shape=(2,), num_classes=1, task="rating", ratings=ratings)
    task = task_for(spec)
    metrics = task.evaluate(torch.tensor([7.0, 0.0]), torch.tensor([5.0, 1.0]))
    assert metrics["rmse"] == 0.0 and metrics["mae"] == 0.0 and metrics["loss"] == pytest.approx(2.5)
    space = build_space("ncf", spec=spec)
    for arch in ({"model": "mlp", "mlp_embedding": 8, "tower": "free", "widths": [8], "dropout": 0.0},
                 {"model": "gmf", "factors": 4}, {"model": "neumf", "factors": 4, "mlp_embedding": 4,
                                                  "tower": "pyramid", "widths": [4], "dropout": 0.0}):
        torch.manual_seed(0)
        net = space.build(arch, spec).eval()
        with torch.no_grad():
            for table in (net.user_bias, net.item_bias):
                table.weight.normal_()
            out = net(torch.tensor([-1, 2, -1]), torch.tensor([3, -1, -1]))
        want = torch.stack([net.offset + net.item_bias.weight[3, 0], net.offset + net.user_bias.weight[2, 0],
                            net.offset])
        assert torch.allclose(out, want), arch["model"]


def test_ratings_options_and_task_resolution():
    from nas_cli.data import load_dataset, resolve_task
    from nas_cli.tasks import task_of

    assert resolve_task({"name": "ratings", "feedback": "implicit"}) == "ranking"
    assert resolve_task({"name": "ratings"}) == "rating"
    task = task_of({"dataset": {"task": "ranking", "ks": [5, 20]}})
    assert set(task.objectives()) >= {"hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20"}
    for options, message in (({"feedback": "both"}, "dataset.feedback='both'"),
                             ({"eval_negatives": 0}, "dataset.eval_negatives=0"),
                             ({"ks": [0]}, "dataset.ks"),
                             ({"split": "time"}, "dataset.split='time'"),
                             ({}, "needs dataset.path")):
        with pytest.raises(ConfigError, match=message):
            load_dataset("ratings", **({"path": "x.csv"} if options else {}), **options)


def test_score_gates_of_the_ratings_tasks_are_hydra_keys():
    from nas_cli.deploy.gate import gates_for
    from nas_cli.tasks.ranking import RankingTask
    from nas_cli.tasks.rating import RatingTask

    assert gates_for(RankingTask())["min_ndcg_at_10"] == ("ndcg@10", ">=")
    assert gates_for(RatingTask())["max_rmse"] == ("rmse", "<=")
