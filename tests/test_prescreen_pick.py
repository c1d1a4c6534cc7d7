"""prescreen's pick: the cost-aware order (prescreen.cost_weight) and the fixed hyperparameters of the
kept trials (prescreen.hparams), unit by unit and end to end on digits."""

from __future__ import annotations

import math

import pytest

from nas_cli.study.prescreen_pick import cost_aware, default_hparams
from tests.test_reliability import load_trials, run_in_process

TRAIN = {"lr": None, "optimizer": None, "weight_decay": None, "batch_size": None,
         "search": {"batch_size": [32, 64, 128], "lr": [3e-4, 3e-2], "optimizer": ["adam", "sgd"],
                    "weight_decay": [1e-6, 1e-2]}}


def _rows(flops):
    return [{"proxies": {"flops": f}} for f in flops]


def test_cost_aware_puts_the_cheaper_of_two_equal_scores_first_and_weight_zero_changes_nothing():
    scores = [0.5, 0.5, 0.9, 0.1]
    rows = _rows([4e6, 1e6, 8e6, 2e6])
    picks = cost_aware(rows, scores, 1.0)
    assert picks[1] > picks[0]  # equal score, a quarter of the FLOPs
    # ranks /4: score (2.5/4, 2.5/4, 1, 1/4) minus FLOPs (3/4, 1/4, 1, 2/4)
    assert picks == pytest.approx([2.5 / 4 - 3 / 4, 2.5 / 4 - 1 / 4, 0.0, 1 / 4 - 2 / 4])
    assert cost_aware(rows, scores, 0.0) == scores
    heavy = cost_aware(rows, scores, 10.0)  # cost dominates: the cheapest first
    assert sorted(range(4), key=lambda i: -heavy[i]) == [1, 3, 0, 2]


def test_cost_aware_counts_a_missing_or_unusable_cost_as_the_most_costly():
    picks = cost_aware(_rows([1e6, "no forward pass", float("nan")]), [0.5, 0.5, 0.5], 1.0)
    assert picks[0] > picks[1] == picks[2]


def test_default_hparams_fixes_the_searched_hyperparameters_and_leaves_the_architecture():
    params = {"n_layers": 2, "filters_0": 64, "lr": 0.029, "optimizer": "sgd", "weight_decay": 0.009, "batch_size": 32}
    out = default_hparams(params, TRAIN, None)
    assert out == {"n_layers": 2, "filters_0": 64, "lr": 1e-3, "optimizer": "adam", "weight_decay": 1e-4, "batch_size": 64}
    assert params["lr"] == 0.029  # not modified in place
    only_arch = {"n_layers": 1}
    assert default_hparams(only_arch, TRAIN, None) == only_arch  # a hyperparameter fixed by train.* is not a param


def test_default_hparams_stay_inside_ranges_that_exclude_the_defaults():
    train = {**TRAIN, "search": {"batch_size": [256, 512], "lr": [0.05, 0.5], "optimizer": ["sgd"],
                                 "weight_decay": [1e-3, 1e-1]}}
    out = default_hparams({"lr": 0.3, "optimizer": "sgd", "weight_decay": 0.05, "batch_size": 512}, train, None)
    assert out["lr"] == pytest.approx(math.sqrt(0.05 * 0.5)) and out["weight_decay"] == pytest.approx(1e-2)
    assert out["optimizer"] == "sgd" and out["batch_size"] == 512  # the middle of [256, 512]


def test_prescreen_keeps_cheap_well_scored_candidates_with_fixed_hyperparameters(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=2", "prescreen.candidates=8", "prescreen.keep=2",
                                                       "zero_cost.batch_size=16"])
    assert code == 0, summary.get("error")
    pre = summary["prescreen"]
    assert pre["cost_weight"] == 1.0 and pre["hparams"] == "default"
    table = pre["table"]
    picks = [r["pick"] for r in table]
    assert picks == sorted(picks, reverse=True) and [r["kept"] for r in table] == [True, True] + [False] * 6
    flops = [r["proxies"]["flops"] for r in table]
    for r, f in zip(table, flops, strict=True):  # the pick is the score's rank minus the FLOPs' rank
        score_rank = (sum(x["score"] < r["score"] for x in table) + (1 + sum(x["score"] == r["score"] for x in table)) / 2) / 8
        flops_rank = (sum(x < f for x in flops) + (1 + sum(x == f for x in flops)) / 2) / 8
        assert r["pick"] == pytest.approx(score_rank - flops_rank, abs=1e-6)
    trials = load_trials(run / "study.journal")
    assert [t.state.name for t in trials] == ["COMPLETE"] * 2
    for t, row in zip(trials, table, strict=False):
        assert t.params == row["params"]
        assert (t.params["lr"], t.params["optimizer"], t.params["weight_decay"]) == (1e-3, "adam", 1e-4)


def test_prescreen_with_cost_weight_zero_and_sampled_hyperparameters_keeps_the_best_scores(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=2", "prescreen.candidates=8", "prescreen.keep=2",
                                                       "zero_cost.batch_size=16", "prescreen.cost_weight=0",
                                                       "prescreen.hparams=sampled"])
    assert code == 0, summary.get("error")
    table = summary["prescreen"]["table"]
    scores = [r["score"] for r in table]
    assert scores == sorted(scores, reverse=True)
    assert len({r["params"]["lr"] for r in table}) > 1  # as sampled, not fixed
    assert [t.params for t in load_trials(run / "study.journal")] == [r["params"] for r in table[:2]]


@pytest.mark.parametrize(("override", "message"), [
    ("prescreen.cost_weight=-1", "prescreen.cost_weight=-1 must be a number from 0 to 100"),
    ("prescreen.cost_weight=cheap", "prescreen.cost_weight='cheap' must be a number"),
    ("prescreen.hparams=tuned", "prescreen.hparams='tuned' is not allowed; choose one of: default, sampled"),
])
def test_bad_prescreen_pick_options_are_config_errors(compose_cfg, tmp_path, override, message):
    code, summary = run_in_process(compose_cfg, tmp_path / "run", ["prescreen.candidates=4", "prescreen.keep=1", override])
    assert code == 2 and message in summary["error"]
