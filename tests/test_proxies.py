"""Zero-cost proxies (`nas_cli.trial.proxies`) and their ensemble: the definitions checked against
hand computations and invariances on tiny networks, the promises (copies, determinism, NotApplicable),
and the real spaces' networks (NAS-Bench-201 cells, tabular MLPs, a text CNN)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nas_cli.data import DataSpec
from nas_cli.tasks import task_for
from nas_cli.trial.proxies import PROXIES, NotApplicable, compute_proxies, is_number
from nas_cli.trial.proxy_ensemble import ensemble_scores, fit_ensemble

IMAGE = DataSpec("tiny", (3, 8, 8), 4)
TABLE = DataSpec("t", (5,), 3, table={"n_numeric": 3, "cardinalities": [4, 6], "numeric_names": ["a", "b", "c"],
                                      "categorical_names": ["d", "e"]})
CLASSIFY = task_for(IMAGE)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Bit-for-bit comparisons hold for one thread count; the machine is shared: one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def relu_mlp(bias: bool = False, sizes=(5, 8, 6, 3), act=nn.ReLU) -> nn.Sequential:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b, bias=bias))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def batch(n=8, features=5, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, features), generator=g), torch.randint(0, classes, (n,), generator=g)


def proxy(model, name, x=None, y=None, task=CLASSIFY):
    if x is None:
        x, y = batch()
    return compute_proxies(model, x, y, task=task, names=[name]).values[name]


@pytest.mark.parametrize("bias", [False, True])
def test_synflow_is_invariant_to_rescaling_one_layer_and_inversely_the_next(bias):
    net = relu_mlp(bias=bias)
    before = proxy(net, "synflow")
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        if bias:
            net[0].bias.mul_(3.0)  # the bias scales with its layer's output
        net[2].weight.div_(3.0)
    assert proxy(net, "synflow") == pytest.approx(before, rel=1e-6)  # float32 rounding of the rescaled weights
    with torch.no_grad():
        net[2].weight.mul_(3.0)  # now only the first layer is rescaled: synflow must move
    assert proxy(net, "synflow") > 2 * before


def test_synflow_is_data_free_and_bypasses_batch_norm():
    torch.manual_seed(0)
    with_bn = nn.Sequential(nn.Linear(5, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3, bias=False))
    plain = nn.Sequential(with_bn[0], with_bn[2], with_bn[3])
    x, y = batch()
    a = compute_proxies(with_bn, x, y, task=CLASSIFY, names=["synflow"]).values["synflow"]
    b = compute_proxies(plain, 100 * x, y, task=CLASSIFY, names=["synflow"]).values["synflow"]
    assert a == b  # same weights, BN skipped, the input's values never read (only its shape)
    w1, w2 = with_bn[0].weight.abs().double(), with_bn[3].weight.abs().double()
    r = (w2 @ w1 @ torch.ones(5, dtype=torch.float64)).sum()  # R for the all-ones input
    assert a == pytest.approx(2 * float(r), rel=1e-12)  # each layer's Σ θ ∂R/∂θ is R (homogeneity)


def test_naswot_drops_when_samples_share_their_relu_patterns():
    net = relu_mlp(sizes=(5, 64, 64, 3))
    x, y = batch(8)
    distinct = proxy(net, "naswot", x, y)
    near = x[:1] + 0.01 * torch.randn(8, 5, generator=torch.Generator().manual_seed(1))
    assert proxy(net, "naswot", near, y) < distinct - 5  # near-identical samples: codes mostly shared
    duplicated = torch.cat([x[:4], x[:4]])
    assert proxy(net, "naswot", duplicated, y) == -math.inf  # identical codes: K is singular


def test_naswot_does_not_apply_without_relu():
    value = proxy(relu_mlp(act=nn.Tanh), "naswot")
    assert isinstance(value, NotApplicable) and "ReLU" in value.reason
    assert is_number(proxy(relu_mlp(act=nn.ReLU), "naswot"))


def _hand_gradient(net, x, y):
    """∂L/∂W of mean softmax cross-entropy for one linear layer, and the logits, without autograd."""
    with torch.no_grad():
        logits = x @ net.weight.T + net.bias
        p = torch.softmax(logits, 1)
        d_logits = (p - nn.functional.one_hot(y, p.shape[1]).float()) / len(y)
        return d_logits.T @ x, logits, d_logits


def test_grad_norm_snip_and_fisher_equal_hand_computations_on_a_linear_net():
    torch.manual_seed(0)
    net = nn.Linear(5, 3)
    x, y = batch()
    grad, logits, d_logits = _hand_gradient(net, x, y)
    values = compute_proxies(net, x, y, task=CLASSIFY, names=["grad_norm", "snip", "fisher"]).values
    assert values["grad_norm"] == pytest.approx(float(grad.norm()), rel=1e-5)
    assert values["snip"] == pytest.approx(float((net.weight.detach() * grad).abs().sum()), rel=1e-5)
    per_channel = 0.5 * (logits * d_logits).pow(2).mean(0)  # δ_k, then × 5 weights per output channel
    assert values["fisher"] == pytest.approx(float(per_channel.sum() * 5), rel=1e-5)


def test_grasp_equals_the_hand_hessian_of_a_linear_least_squares_net():
    torch.manual_seed(0)
    net = nn.Linear(4, 1, bias=False)
    x, _ = batch(16, 4)
    y = torch.randn(16)
    task = task_for(DataSpec("r", (4,), 1, task="regression"))
    w = net.weight.detach()[0]
    grad = 2 / 16 * x.T @ (x @ w - y)  # L = mean (xw - y)², H = 2/N XᵀX
    hessian = 2 / 16 * x.T @ x
    expected = float(-(w * (hessian @ grad)).sum())
    assert proxy(net, "grasp", x, y, task=task) == pytest.approx(expected, rel=1e-5)


def test_same_seed_same_values_bit_for_bit_and_the_callers_model_untouched():
    from nas_cli.spaces.nb201 import NB201Space

    torch.manual_seed(0)
    net = NB201Space().build({"cell": "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
                              "channels": 4, "cells_per_stage": 1}, IMAGE)
    net.eval()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = torch.randn(6, 3, 8, 8), torch.randint(0, 4, (6,))
    first = compute_proxies(net, x, y, task=CLASSIFY, seed=3)
    second = compute_proxies(net, x, y, task=CLASSIFY, seed=3)
    assert first.values == second.values
    assert all(is_number(v) for v in first.values.values()), first.values
    assert set(first.seconds) == set(PROXIES) and first.total_seconds > 0
    assert not net.training and all(p.grad is None and p.requires_grad for p in net.parameters())
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())  # BN running stats included


def test_a_subset_of_proxies_gives_the_values_of_the_full_run():
    net = relu_mlp(sizes=(5, 16, 3))
    x, y = batch()
    full = compute_proxies(net, x, y, task=CLASSIFY).values
    for name in ("snip", "naswot", "fisher"):
        assert proxy(net, name, x, y) == pytest.approx(full[name], rel=1e-6)


def test_dropout_is_off_so_scores_do_not_depend_on_a_dropout_draw():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))
    x, y = batch()
    a = compute_proxies(net, x, y, task=CLASSIFY, seed=0).values
    b = compute_proxies(net, x, y, task=CLASSIFY, seed=1).values
    assert a == b


def test_unknown_proxy_names_are_refused():
    from nas_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="synflow"):
        compute_proxies(relu_mlp(), *batch(), task=CLASSIFY, names=["synflo"])


def test_nb201_cell_whose_output_ignores_its_input_has_no_jacob_cov():
    from nas_cli.spaces.nb201 import NB201Space

    net = NB201Space().build({"cell": "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "channels": 4,
                              "cells_per_stage": 1}, IMAGE)
    values = compute_proxies(net, torch.randn(6, 3, 8, 8), torch.randint(0, 4, (6,)), task=CLASSIFY).values
    assert isinstance(values["jacob_cov"], NotApplicable) and "input" in values["jacob_cov"].reason
    assert values["synflow"] == 0.0 and is_number(values["naswot"])


@pytest.mark.parametrize("seed", range(3))
def test_works_on_tabular_mlp_and_resnet_networks(seed):
    import optuna

    from nas_cli.spaces import build_space

    space = build_space("mlp", spec=TABLE)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
    torch.manual_seed(seed)
    net = space.build(space.sample(trial), TABLE)
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.randn((16, 3), generator=g), torch.randint(0, 4, (16, 1), generator=g).float(),
                   torch.randint(0, 6, (16, 1), generator=g).float()], 1)
    result = compute_proxies(net, x, torch.randint(0, 3, (16,), generator=g), task=task_for(TABLE))
    for name, value in result.values.items():
        assert is_number(value) or (name == "naswot" and isinstance(value, NotApplicable)), (name, value)


def test_int64_token_inputs_have_no_jacob_cov_but_the_rest_scores():
    from nas_cli.spaces.text_nets import TextCNN

    spec = DataSpec("txt", (12,), 2, text={"vocab_size": 50, "max_length": 12, "pad_id": 0, "cls_id": 1})
    torch.manual_seed(0)
    net = TextCNN({"embedding_dim": 8, "kernels": "2,3", "filters": 4, "pool": "max", "dropout": 0.1}, spec)
    ids = torch.randint(1, 50, (8, 12))
    result = compute_proxies(net, ids, torch.randint(0, 2, (8,)), task=task_for(spec))
    assert isinstance(result.values["jacob_cov"], NotApplicable) and "int64" in result.values["jacob_cov"].reason
    assert all(is_number(result.values[n]) for n in ("synflow", "grad_norm", "snip", "grasp", "fisher", "params", "flops"))
    assert isinstance(result.values["naswot"], NotApplicable)  # torch.relu, not a ReLU module: no hook sees it
    import json

    assert json.loads(json.dumps(result.to_dict()))["values"]["jacob_cov"]["not_applicable"]


def test_rank_ensemble_beats_each_noisy_proxy_and_treats_not_applicable_as_worst():
    from scipy.stats import spearmanr

    g = torch.Generator().manual_seed(0)
    truth = torch.randn(400, generator=g)
    rows = [{"a": float(t + torch.randn((), generator=g)), "b": float(10 ** (t + torch.randn((), generator=g))),
             "c": NotApplicable("never applies")} for t in truth]
    scores = ensemble_scores(rows, names=("a", "b", "c"))
    rho = {n: spearmanr([r[n] for r in rows], truth).statistic for n in ("a", "b")}
    assert spearmanr(scores, truth).statistic > max(rho.values()) + 0.05  # "c" applies nowhere: left out
    rows[0]["a"] = NotApplicable("not here")
    rows[0]["b"] = None
    assert ensemble_scores(rows, names=("a", "b"))[0] == min(ensemble_scores(rows, names=("a", "b")))
    with pytest.raises(ValueError):
        ensemble_scores(rows, names=("c",))


def test_fitted_ensemble_learns_a_proxys_sign_and_ranks_new_rows():
    from scipy.stats import spearmanr

    g = torch.Generator().manual_seed(1)
    truth = torch.randn(300, generator=g)
    rows = [{"up": float(t + 0.5 * torch.randn((), generator=g)), "down": float(-t + 0.5 * torch.randn((), generator=g)),
             "noise": float(torch.randn((), generator=g))} for t in truth]
    fitted = fit_ensemble(rows[:200], truth[:200].tolist(), names=("up", "down", "noise"))
    w = fitted.weights()
    assert w["up"] > 0 > w["down"] and abs(w["noise"]) < min(w["up"], -w["down"])
    assert spearmanr(fitted.predict(rows[200:]), truth[200:]).statistic > 0.8
