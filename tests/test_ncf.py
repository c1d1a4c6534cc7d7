"""Recommendation models and metrics: HR@K / NDCG@K against hand-computed cases and scikit-learn,
RMSE/MAE, the `ncf` space (only the choices a model uses are sampled), the networks' shapes, their
unknown-id fallback, a few training steps, and an ONNX export checked against onnxruntime."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import optuna
import pytest

from nas_cli.errors import ConfigError
from nas_cli.spaces.ncf import NCFSpace
from nas_cli.tasks.ranking_metrics import hit_rate, ndcg, ranking_metrics, rating_errors

RATINGS = {"n_users": 12, "n_items": 30, "global_mean": 3.5}
SPEC = SimpleNamespace(name="ratings", ratings=RATINGS)  # the DataSpec field the integrator adds


@pytest.fixture(autouse=True)
def _torch_one_thread():
    import torch

    torch.set_num_threads(1)


def test_hit_rate_and_ndcg_on_hand_computed_rows():
    scores = np.array([[0.9, 0.1, 0.5, 0.2], [0.2, 0.5, 0.9, 0.1]])  # positive ranks 0 and 2
    assert hit_rate(scores, k=1) == 0.5 and hit_rate(scores, k=3) == 1.0
    assert ndcg(scores, k=3) == pytest.approx((1.0 + 1 / math.log2(4)) / 2)
    assert ndcg(scores, k=2) == pytest.approx(0.5)
    assert ranking_metrics(scores, ks=(1, 3)) == pytest.approx({"hr@1": 0.5, "ndcg@1": 0.5, "hr@3": 1.0,
                                                                "ndcg@3": (1 + 0.5) / 2})


def test_ties_are_pessimistic_by_default_so_a_constant_model_scores_zero():
    tie = np.array([[1.0, 1.0, 0.0]])
    assert hit_rate(tie, k=1) == 0.0 and ndcg(tie, k=2) == pytest.approx(1 / math.log2(3))
    assert hit_rate(tie, k=1, ties="optimistic") == 1.0
    assert hit_rate(tie, k=1, ties="average") == 0.5
    assert ndcg(tie, k=2, ties="average") == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert ranking_metrics(np.zeros((5, 100)), ks=(10,)) == {"hr@10": 0.0, "ndcg@10": 0.0}
    assert hit_rate(np.array([[np.nan, 0.1, 0.2]]), k=2) == 0.0  # a NaN positive ranks last
    with pytest.raises(ValueError, match="ties="):
        hit_rate(tie, ties="random")


def test_ndcg_matches_scikit_learn_and_hit_rate_a_brute_force_ranking():
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=(300, 21)), 1)  # rounding makes ties common
    relevance = np.zeros_like(scores)
    relevance[:, 0] = 1
    # Brute force, pessimistic: sort descending with the positive after every negative it ties with.
    ranks = [sorted(range(21), key=lambda j, r=row: (-r[j], j == 0)).index(0) for row in scores]
    for k in (1, 5, 10):
        assert ndcg(scores, k=k, ties="average") == pytest.approx(ndcg_score(relevance, scores, k=k))
        assert hit_rate(scores, k=k) == pytest.approx(np.mean([r < k for r in ranks]))
        assert ndcg(scores, k=k) == pytest.approx(np.mean([1 / math.log2(r + 2) if r < k else 0 for r in ranks]))


def test_rating_errors_clip_predictions_to_the_rating_range():
    assert rating_errors([6.0, 0.0, 3.0], [5.0, 1.0, 3.0], rating_range=(1.0, 5.0)) == {"rmse": 0.0, "mae": 0.0}
    plain = rating_errors([6.0, 0.0, 3.0], [5.0, 1.0, 3.0])
    assert plain["rmse"] == pytest.approx(math.sqrt(2 / 3)) and plain["mae"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("params, expected", [
    ({"model": "gmf", "factors": 16}, {"model": "gmf", "factors": 16}),
    ({"model": "mf_bias", "factors": 64}, {"model": "mf_bias", "factors": 64}),
    ({"model": "mlp", "mlp_embedding": 32, "n_layers": 3, "tower": "pyramid", "dropout": 0.1},
     {"model": "mlp", "mlp_embedding": 32, "tower": "pyramid", "widths": [32, 16, 8], "dropout": 0.1}),
    ({"model": "neumf", "factors": 8, "mlp_embedding": 16, "n_layers": 2, "tower": "free", "width_0": 64,
      "width_1": 8, "dropout": 0.0},
     {"model": "neumf", "factors": 8, "mlp_embedding": 16, "tower": "free", "widths": [64, 8], "dropout": 0.0}),
])
def test_a_sample_asks_only_the_choices_its_model_uses(params, expected):
    """FixedTrial raises on a parameter it was not given: each model's sample asks exactly these."""
    import torch

    arch = NCFSpace(spec=SPEC, l2=None).sample(optuna.trial.FixedTrial(params))
    assert arch == expected
    assert NCFSpace(spec=SPEC).sample(optuna.trial.FixedTrial({**params, "l2": 0.01})) == {**expected, "l2": 0.01}
    torch.manual_seed(0)
    net = NCFSpace(spec=SPEC).build(arch, SPEC).eval()
    with torch.no_grad():
        out = net(torch.tensor([0, 5, 11]), torch.tensor([29, 0, 7]))
    assert out.shape == (3,) and out.dtype == torch.float32
    assert torch.allclose(out, torch.full((3,), 3.5), atol=1.0)  # the offset starts at the global mean


def test_a_real_study_samples_every_model_and_each_builds():
    import torch

    space = NCFSpace(spec=SPEC, max_layers=3)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    models = set()
    for _ in range(40):
        trial = study.ask()
        arch = space.sample(trial)
        models.add(arch["model"])
        assert ("factors" in arch) == (arch["model"] not in ("mlp", "autorec"))
        assert ("widths" in arch) == (arch["model"] in ("mlp", "neumf"))
        net = space.build(arch, RATINGS)  # a plain dict works as the spec too
        user, item = torch.zeros(4, dtype=torch.long), torch.arange(4)
        assert net(user, item).shape == (4,)
        assert torch.equal(net.eval()(torch.stack([user, item], 1)), net(user, item))  # packed [N, 2] too
        assert space.describe(arch).startswith(arch["model"])
        study.tell(trial, 0.0)
    assert models == {"gmf", "mlp", "neumf", "mf_bias", "autorec"}


def test_the_l2_penalty_adds_its_gradient_to_the_rows_a_batch_uses_and_nothing_at_inference():
    import torch

    arch = {"model": "mf_bias", "factors": 4}
    torch.manual_seed(0)
    plain = NCFSpace(spec=SPEC).build(arch, SPEC)
    penalised = NCFSpace(spec=SPEC).build({**arch, "l2": 0.5}, SPEC)
    penalised.load_state_dict(plain.state_dict())
    user, item = torch.tensor([0, 0, 3]), torch.tensor([1, 2, 2])
    for net in (plain, penalised):
        net.train()
        net(user, item).sum().backward()
    rows = plain.user_factors.weight.detach()
    extra = penalised.user_factors.weight.grad - plain.user_factors.weight.grad
    want = torch.zeros_like(rows)
    want[0] = 2 * (2 * 0.5 / 3) * rows[0]  # user 0 is used twice in the batch of 3
    want[3] = (2 * 0.5 / 3) * rows[3]
    assert torch.allclose(extra, want, atol=1e-7)
    plain.eval(), penalised.eval()
    assert torch.equal(plain(user, item), penalised(user, item))


def test_the_space_refuses_data_that_is_not_a_ratings_log_and_bad_options():
    from nas_cli.data import DataSpec

    with pytest.raises(ConfigError, match="search_space=ncf is for ratings logs"):
        NCFSpace(spec=DataSpec(name="digits", input_shape=(1, 8, 8), num_classes=10))
    with pytest.raises(ConfigError, match="search_space.models.*svd"):
        NCFSpace(models=["svd"])
    with pytest.raises(ConfigError, match="search_space.dropout"):
        NCFSpace(dropout=(0.5, 0.1))
    with pytest.raises(ConfigError, match="min_layers/max_layers"):
        NCFSpace(min_layers=3, max_layers=2)
    with pytest.raises(ConfigError, match="search_space.l2"):
        NCFSpace(l2=(0.0, 1.0))
    with pytest.raises(ConfigError, match="spec.ratings"):
        NCFSpace().build({"model": "gmf", "factors": 8}, SimpleNamespace(ratings={"n_items": 3}))


def test_biased_mf_falls_back_to_the_known_bias_for_an_unknown_id():
    import torch

    net = NCFSpace().build({"model": "mf_bias", "factors": 4}, SPEC).eval()
    with torch.no_grad():
        net.user_bias.weight[2] = 0.5
        net.item_bias.weight[7] = -0.25
        out = net(torch.tensor([-1, 2, -1, 99]), torch.tensor([7, -1, -1, 7]))
    assert out.tolist() == pytest.approx([3.25, 4.0, 3.5, 3.25])


@pytest.mark.parametrize("model", ["gmf", "mlp", "neumf", "mf_bias"])
def test_a_few_steps_fit_implicit_feedback(model):
    """Every model learns: 60 steps separate 40 positives from sampled negatives (training BCE falls)."""
    import torch

    torch.manual_seed(0)
    arch = {"model": model, "factors": 16, "mlp_embedding": 16, "tower": "pyramid", "widths": [16, 8],
            "dropout": 0.0}
    net = NCFSpace().build(arch, {"n_users": 10, "n_items": 20, "global_mean": 0.0})
    user = torch.randint(0, 10, (80,))
    item = torch.cat([user[:40] % 5, 10 + torch.randint(0, 10, (40,))])  # user u likes items u % 5
    label = torch.cat([torch.ones(40), torch.zeros(40)])
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.05, weight_decay=0.0)  # the house optimiser
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(user, item), label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.slow
def test_onnx_export_matches_pytorch_with_unknown_ids(tmp_path):
    """Inputs `user`, `item` int64 [N] with a dynamic batch, as deploy/export.py exports (dynamo)."""
    import onnxruntime as ort
    import torch

    arch = {"model": "neumf", "factors": 8, "mlp_embedding": 8, "tower": "pyramid", "widths": [8, 4],
            "dropout": 0.2}
    net = NCFSpace().build(arch, SPEC).eval()
    batch = torch.export.Dim("batch", min=1, max=65536)
    example = (torch.tensor([0, 3]), torch.tensor([1, 2]))
    path = tmp_path / "ncf.onnx"
    torch.onnx.export(net, example, str(path), input_names=["user", "item"], output_names=["score"],
                      dynamic_shapes=({0: batch}, {0: batch}), external_data=False, verbose=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in session.get_inputs()] == [("user", "tensor(int64)"), ("item", "tensor(int64)")]
    user, item = torch.randint(-1, 14, (64,)), torch.randint(-1, 32, (64,))  # unknown ids included
    got = session.run(None, {"user": user.numpy(), "item": item.numpy()})[0]
    with torch.no_grad():
        ref = net(user, item).numpy()
    assert got.shape == (64,) and np.abs(got - ref).max() < 1e-5
