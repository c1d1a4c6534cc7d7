"""`model: autorec` of the ncf space (I-AutoRec on the bias baseline's residuals): what a sample asks,
the buffers `observe` fills (damped biases, residual matrix), the unknown-id fallback, that nas's fit
loop trains it past the bias baseline on interaction-only ratings, ONNX parity, and a search through
export and `nas predict`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest

from nas_cli.errors import ConfigError
from nas_cli.spaces.ncf import NCFSpace

EXPLICIT = {"n_users": 6, "n_items": 5, "global_mean": 3.5, "feedback": "explicit"}


@pytest.fixture(autouse=True)
def _torch_one_thread():
    import torch

    torch.set_num_threads(1)


def test_a_sample_asks_hidden_and_its_own_l2_and_implicit_feedback_leaves_autorec_out():
    space = NCFSpace(spec=EXPLICIT)
    arch = space.sample(optuna.trial.FixedTrial({"model": "autorec", "hidden": 200, "autorec_l2": 1e-3}))
    assert arch == {"model": "autorec", "hidden": 200, "l2": 1e-3}
    assert NCFSpace(spec=EXPLICIT, autorec_l2=None).sample(
        optuna.trial.FixedTrial({"model": "autorec", "hidden": 100})) == {"model": "autorec", "hidden": 100}
    assert space.describe(arch) == "autorec hidden200 l2 0.001"
    implicit = NCFSpace(spec={**EXPLICIT, "feedback": "implicit"})
    assert "autorec" in space.models and "autorec" not in implicit.models
    with pytest.raises(ConfigError, match="autorec is for explicit ratings only"):
        NCFSpace(spec={**EXPLICIT, "feedback": "implicit"}, models=["autorec"])
    with pytest.raises(ConfigError, match="search_space.autorec_l2"):
        NCFSpace(autorec_l2=(0.1, 0.01))
    with pytest.raises(ConfigError, match="search_space.hidden"):
        NCFSpace(hidden=[0])


def _numpy_biases(users, items, ratings, n_users, n_items, damping=3.0, sweeps=10):
    mu = ratings.mean()
    b_u, b_i = np.zeros(n_users), np.zeros(n_items)
    for _ in range(sweeps):
        for i in range(n_items):
            rows = items == i
            b_i[i] = (ratings[rows] - mu - b_u[users[rows]]).sum() / (damping + rows.sum())
        for u in range(n_users):
            rows = users == u
            b_u[u] = (ratings[rows] - mu - b_i[items[rows]]).sum() / (damping + rows.sum())
    return mu, b_u, b_i


def test_observe_fills_the_damped_biases_and_the_residual_matrix_and_unknown_ids_fall_back():
    import torch

    users = np.array([0, 0, 1, 2, 2, 2, 4])
    items = np.array([0, 3, 3, 0, 1, 3, 2])
    ratings = np.array([5.0, 3.0, 4.0, 1.0, 2.0, 4.5, 3.0])
    net = NCFSpace().build({"model": "autorec", "hidden": 4}, EXPLICIT)
    net.observe(torch.from_numpy(np.stack([users, items], 1)), torch.tensor(ratings, dtype=torch.float32))
    mu, b_u, b_i = _numpy_biases(users, items, ratings, 6, 5)
    assert float(net.mean) == pytest.approx(mu, abs=1e-6)
    np.testing.assert_allclose(net.user_bias.numpy(), b_u, atol=1e-5)
    np.testing.assert_allclose(net.item_bias.numpy(), b_i, atol=1e-5)
    want = np.zeros((5, 6))
    want[items, users] = ratings - mu - b_u[users] - b_i[items]
    np.testing.assert_allclose(net.residuals.numpy(), want, atol=1e-5)
    net.eval()
    with torch.no_grad():
        out = net(torch.tensor([-1, 2, -1, 99]), torch.tensor([3, -1, -1, 3])).numpy()
    np.testing.assert_allclose(out, [mu + b_i[3], mu + b_u[2], mu, mu + b_i[3]], atol=1e-5)


def _interaction_log(path: Path, seed: int = 0) -> Path:
    """Ratings that only an interaction explains: 4.5 when user and item share a parity, else 1.5."""
    rng = np.random.default_rng(seed)
    lines = ["userId,movieId,rating,timestamp"]
    for u in range(40):
        for j, i in enumerate(rng.choice(60, 30, replace=False)):
            rating = 4.5 if u % 2 == i % 2 else 1.5
            lines.append(f"{u},{i},{rating},{u * 100 + j}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_nas_fit_trains_it_past_the_bias_baseline_on_interaction_only_ratings(tmp_path):
    import torch

    from nas_cli.data.ratings import load_ratings
    from nas_cli.tasks import task_for
    from nas_cli.trial.fit import Hparams, evaluate, fit

    data = load_ratings(_interaction_log(tmp_path / "ratings.csv"), feedback="explicit", split="random")
    task = task_for(data.spec)
    torch.manual_seed(0)
    net = NCFSpace(spec=data.spec).build({"model": "autorec", "hidden": 16, "l2": 1e-4}, data.spec)
    assert not net.residuals.any()
    history = fit(net, data, Hparams(lr=2e-2, batch_size=256), 15, task=task)  # fit calls net.observe first
    assert net.residuals.count_nonzero() == len(data.train_y)
    baseline = NCFSpace(spec=data.spec).build({"model": "autorec", "hidden": 16}, data.spec)
    baseline.observe(data.train_x, data.train_y)
    torch.nn.init.zeros_(baseline.decoder.weight)  # the bias baseline alone
    before = evaluate(baseline, data.val_x, data.val_y, task=task)["rmse"]
    assert before > 1.0  # biases cannot tell the parities apart
    assert history[-1]["val_rmse"] < 0.5 * before


@pytest.mark.slow  # the first dynamo export of a process takes ~10 s
def test_onnx_export_matches_pytorch_with_unknown_ids(tmp_path):
    import onnxruntime as ort
    import torch

    torch.manual_seed(0)
    net = NCFSpace().build({"model": "autorec", "hidden": 8, "l2": 1e-3}, EXPLICIT)
    pairs = torch.tensor([[0, 0], [1, 3], [2, 1], [5, 4], [3, 2]])
    net.observe(pairs, torch.tensor([5.0, 3.0, 1.0, 4.0, 2.5]))
    net.eval()
    batch = torch.export.Dim("batch", min=1, max=65536)
    path = tmp_path / "autorec.onnx"
    torch.onnx.export(net, (torch.tensor([0, 3]), torch.tensor([1, 2])), str(path), input_names=["user", "item"],
                      output_names=["score"], dynamic_shapes=({0: batch}, {0: batch}), external_data=False,
                      verbose=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    user, item = torch.randint(-1, 8, (64,)), torch.randint(-1, 7, (64,))  # unknown ids included
    got = session.run(None, {"user": user.numpy(), "item": item.numpy()})[0]
    with torch.no_grad():
        ref = net(user, item).numpy()
    assert got.shape == (64,) and np.abs(got - ref).max() < 1e-5


@pytest.mark.slow
def test_a_search_of_autorec_exports_its_matrix_and_predicts(compose_cfg, tmp_path, capsys):
    import io

    import pandas as pd

    from nas_cli.commands.predict import predict_command
    from nas_cli.deploy.export import load_checkpoint
    from tests.test_ratings_e2e import _onnx_equals_torch, _run

    log = _interaction_log(tmp_path / "ratings.csv")
    run = _run(compose_cfg, tmp_path, log, "dataset.feedback=explicit", "search_space.models=[autorec]",
               "dataset.split=random")
    model, ckpt = load_checkpoint(run / "export" / "model.pt")
    assert ckpt["arch"]["model"] == "autorec" and model.residuals.count_nonzero() > 0  # saved with the weights
    _onnx_equals_torch(run / "export", [0, 5, 39, -1, 3, -1], [0, 59, 7, 4, -1, -1])
    capsys.readouterr()
    assert predict_command([str(run), "--user", "1", "--top-k", "5"]) == 0
    recs = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(recs) == 5 and recs.score.between(1.5, 4.5).all()


def test_the_shipped_starting_points_fit_the_space_and_train_ratings():
    """configs/enqueue/ncf_*.yaml pass the check `study.enqueue` makes before a search (the hyperparameters a
    ranking trial searches, `negatives` included, as the objective samples them)."""
    from types import SimpleNamespace

    import yaml

    from nas_cli.study.enqueue import check_param_sets, load_param_sets, sample_trial_params
    from nas_cli.tasks.ranking import RankingTask
    from nas_cli.tasks.rating import RatingTask

    root = Path(__file__).resolve().parents[1]
    train = yaml.safe_load((root / "configs" / "train" / "ratings.yaml").read_text())
    for feedback, task, models in (("explicit", RatingTask(), ["autorec", "mf_bias"]),
                                   ("implicit", RankingTask(), ["mf_bias", "neumf"])):
        path = root / "configs" / "enqueue" / f"ncf_{feedback}.yaml"
        ctx = SimpleNamespace(space=NCFSpace(spec={**EXPLICIT, "feedback": feedback}), train=train, task=task)
        sets = check_param_sets(load_param_sets(path), sample_trial_params(ctx), path)
        assert [s["model"] for s in sets] == models
