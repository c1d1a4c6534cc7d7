"""Search strategies: Optuna's sampler contract, determinism, shared storage, and search quality on a
synthetic objective with a known optimum."""

from __future__ import annotations

import statistics

import optuna
import pytest
from optuna.testing.pytest_samplers import BasicSamplerTestCase, SingleOnlySamplerTestCase

from nas_cli.strategies.evolution import RegularizedEvolutionSampler
from nas_cli.strategies.local import LocalSearchSampler
from nas_cli.strategies.rl import ReinforceSampler
from nas_cli.strategies.thompson import ThompsonSampler

optuna.logging.set_verbosity(optuna.logging.ERROR)
CUSTOM = {"evolution": RegularizedEvolutionSampler, "rl": ReinforceSampler, "local": LocalSearchSampler,
          "thompson": ThompsonSampler}
STRATEGIES = ["random", "grid", "qmc", "tpe", "gp", "cmaes", "nsga2", "evolution", "rl", "local", "thompson"]


# -- Optuna's own sampler contract tests (optuna/testing/pytest_samplers.py) ----------------------------
def _small(cls):
    return lambda: cls(**({"population_size": 3, "tournament_size": 2} if cls is RegularizedEvolutionSampler
                          else {"n_startup_trials": 3} if cls in (LocalSearchSampler, ThompsonSampler) else {}),
                       seed=0)


class TestEvolutionContract(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return _small(RegularizedEvolutionSampler)


class TestReinforceContract(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return _small(ReinforceSampler)


class TestLocalSearchContract(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return _small(LocalSearchSampler)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
class TestDistinctQMCContract(BasicSamplerTestCase):  # qmc: Optuna's QMCSampler, skipping equivalent cells
    @pytest.fixture
    def sampler(self):
        from nas_cli.strategies.qmc import DistinctQMCSampler

        return lambda: DistinctQMCSampler(scramble=True, seed=0)


class TestThompsonContract(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return _small(ThompsonSampler)


# -- a synthetic NAS-like objective: 6 decisions x 5 choices, additive plus one interaction -------------
CHOICES = ["a", "b", "c", "d", "e"]
WEIGHTS = [[0.0, 0.3, 0.5, 1.0, 0.2], [0.1, 0.9, 0.4, 0.0, 0.3], [0.6, 0.0, 1.0, 0.2, 0.1],
           [0.2, 0.4, 0.0, 0.7, 1.0], [1.0, 0.5, 0.3, 0.1, 0.0], [0.3, 0.2, 0.8, 0.4, 1.0]]
OPTIMUM = sum(max(w) for w in WEIGHTS) + 0.5  # the interaction bonus is compatible with the per-edge best


def synthetic(trial) -> float:
    picks = [CHOICES.index(trial.suggest_categorical(f"x{i}", CHOICES)) for i in range(6)]
    bonus = 0.5 if (picks[0] == 3 and picks[5] == 4) else 0.0
    return sum(w[p] for w, p in zip(WEIGHTS, picks, strict=True)) + bonus


def make_sampler(compose_cfg, name: str, seed: int):
    from omegaconf import OmegaConf

    from nas_cli.study.setup import make_sampler_and_pruner

    cfg = compose_cfg([f"strategy={name}", f"seed={seed}", "search_space=nb201",
                       "pruner=none"]) if name in ("grid", "qmc") else compose_cfg([f"strategy={name}", f"seed={seed}"])
    return make_sampler_and_pruner(OmegaConf.to_container(cfg, resolve=True))[0]


def run_synthetic(sampler, n_trials: int, objective=synthetic) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return study


def grid_objective(trial) -> float:
    """The same function over the nb201 space's parameter names (the grid is read off that space)."""
    from nas_cli.spaces.nb201 import EDGES, OPS

    picks = [OPS.index(trial.suggest_categorical(f"edge_{t}_{s}", OPS)) for t, s in EDGES]
    return sum(w[p] for w, p in zip(WEIGHTS, picks, strict=True)) + (0.5 if (picks[0] == 3 and picks[5] == 4) else 0.0)


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_yaml_runs_and_is_deterministic_under_seed(compose_cfg, name):
    n = 8 if name == "gp" else 25
    objective = grid_objective if name == "grid" else synthetic
    first = run_synthetic(make_sampler(compose_cfg, name, 3), n, objective)
    again = run_synthetic(make_sampler(compose_cfg, name, 3), n, objective)
    assert [t.params for t in first.trials] == [t.params for t in again.trials]
    assert all(t.state.name == "COMPLETE" for t in first.trials)
    assert first.best_value <= OPTIMUM + 1e-9
    other = run_synthetic(make_sampler(compose_cfg, name, 4), n, objective)
    assert [t.params for t in other.trials] != [t.params for t in first.trials]


def test_grid_visits_distinct_architectures(compose_cfg):
    from nas_cli.strategies.surrogate import cell_key

    sampler = make_sampler(compose_cfg, "grid", 0)
    assert len(sampler._all_grids) == 9445  # of 5**6 = 15,625 points: one per distinct nb201 cell
    study = run_synthetic(sampler, 200, grid_objective)
    assert len({cell_key(t.params) for t in study.trials}) == 200


def test_qmc_skips_points_whose_architecture_was_evaluated(compose_cfg):
    """Plain QMCSampler repeats an equivalent nb201 cell in 7 or 8 of the first 100 trials (seeds 0-3)."""
    from nas_cli.strategies.qmc import DistinctQMCSampler
    from nas_cli.strategies.surrogate import cell_key

    for seed in range(2):
        sampler = make_sampler(compose_cfg, "qmc", seed)
        assert isinstance(sampler, DistinctQMCSampler)
        study = run_synthetic(sampler, 100, grid_objective)
        assert len({cell_key(t.params) for t in study.trials}) == 100


def test_parallel_workers_share_the_seed_of_one_sequence_samplers():
    from nas_cli.study.streams import stream_seed

    for target, seeds in [("nas_cli.strategies.grid.make_grid_sampler", [5, 5, 5]),
                          ("nas_cli.strategies.qmc.DistinctQMCSampler", [5, 5, 5]),
                          ("optuna.samplers.TPESampler", [5, 5 + 7919, 5 + 104729 * 3])]:
        got = [stream_seed({"_target_": target, "seed": 5}, index, joined) for index, joined in ((0, 0), (1, 0), (0, 3))]
        assert got == seeds, target


@pytest.mark.parametrize("name", ["evolution", "rl", "local", "thompson", "tpe"])
def test_model_based_and_evolutionary_beat_random_on_average(compose_cfg, name):
    seeds, n = range(4), 60
    random_best = statistics.fmean(run_synthetic(make_sampler(compose_cfg, "random", s), n).best_value for s in seeds)
    best = statistics.fmean(run_synthetic(make_sampler(compose_cfg, name, s), n).best_value for s in seeds)
    assert best > random_best, (name, best, random_best)


def test_local_search_finds_the_known_optimum():
    hits = [run_synthetic(LocalSearchSampler(seed=s), 120).best_value for s in range(2)]
    assert all(abs(h - OPTIMUM) < 1e-9 for h in hits), hits


@pytest.mark.parametrize("name", sorted(CUSTOM))
def test_state_comes_from_the_storage_not_from_memory(tmp_path, name):
    """A fresh sampler object per trial (as separate processes sharing a journal) proposes the same
    sequence as one long-lived sampler: nothing the algorithm needs lives only in memory."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    cls = CUSTOM[name]
    one = run_synthetic(cls(seed=7), 30)
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "shared.journal")))
    for _ in range(30):
        study = optuna.load_study(study_name="s", storage=storage, sampler=cls(seed=7)) if _ else \
            optuna.create_study(study_name="s", storage=storage, direction="maximize", sampler=cls(seed=7))
        study.optimize(synthetic, n_trials=1)
    assert [t.params for t in study.trials] == [t.params for t in one.trials]


@pytest.mark.parametrize("cls", [LocalSearchSampler, ThompsonSampler])
def test_model_based_search_never_repeats_a_configuration(cls):
    study = run_synthetic(cls(seed=1), 150)
    keys = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(keys)) == len(keys)


def test_thompson_finds_the_known_optimum():
    hits = [run_synthetic(ThompsonSampler(seed=s), 100).best_value for s in range(2)]
    assert all(abs(h - OPTIMUM) < 1e-9 for h in hits), hits


def test_model_based_search_evaluates_one_of_each_equivalent_nb201_cell():
    """nb201 cells that differ only on dead edges (off every input-to-output path) are one network."""
    from nas_cli.spaces.nb201 import EDGES, OPS
    from nas_cli.strategies.surrogate import cell_key

    for cls in (LocalSearchSampler, ThompsonSampler):
        study = run_synthetic(cls(seed=0, n_startup_trials=10), 80, grid_objective)
        keys = [cell_key(t.params) for t in study.trials]
        assert len(set(keys)) == len(keys), cls
    assert {f"edge_{t}_{s}" for t, s in EDGES} == set(study.trials[0].params) and "none" in OPS


def test_cell_key_merges_dead_edges_only():
    from nas_cli.strategies.surrogate import canonical, cell_key

    conv = "nor_conv_3x3"
    base = {"edge_1_0": conv, "edge_2_0": conv, "edge_2_1": conv, "edge_3_0": "skip_connect",
            "edge_3_1": conv, "edge_3_2": conv}
    # node 1 has no input: edges 2_1 and 3_1 leave a dead node, whatever their op
    dead = {**base, "edge_1_0": "none", "edge_2_1": "avg_pool_3x3", "edge_3_1": "skip_connect"}
    dead2 = {**dead, "edge_2_1": conv, "edge_3_1": "nor_conv_1x1"}
    assert cell_key(dead) == cell_key(dead2) != cell_key(base)
    assert canonical(dead)["edge_2_1"] == "none" and canonical(dead)["edge_2_0"] == conv
    # every edge live: a change anywhere is another network
    for name in base:
        assert cell_key({**base, name: "avg_pool_3x3"}) != cell_key(base)
    # no output input at all: node 3 unreachable, every edge dead, all such cells are one
    cut = {n: "none" for n in base}
    assert cell_key({**cut, "edge_1_0": conv}) == cell_key(cut)
    # other spaces: the plain parameters
    assert cell_key({"lr": 0.1, "layers": 2}) == (("layers", "2"), ("lr", "0.1"))


def test_cell_paths_and_features():
    from optuna.distributions import CategoricalDistribution

    from nas_cli.spaces.nb201 import EDGES, OPS
    from nas_cli.strategies.surrogate import Encoder, cell_paths

    names = [f"edge_{t}_{s}" for t, s in EDGES]
    assert cell_paths(names) == [("edge_3_0",), ("edge_1_0", "edge_3_1"), ("edge_2_0", "edge_3_2"),
                                 ("edge_1_0", "edge_2_1", "edge_3_2")]
    assert cell_paths(["lr", "x0"]) == []
    dists = {n: CategoricalDistribution(OPS) for n in names}
    plain, cells = Encoder(dists), Encoder(dists, cells=True)
    conv = {n: "nor_conv_3x3" for n in names}
    cut = {**conv, "edge_1_0": "none"}  # kills paths 2 and 4, and edges 2_1, 3_1
    x_conv, x_cut = cells.dense(cells.encode_many([conv, cut]))
    assert x_conv.sum() - plain.dense(plain.encode_many([conv]))[0].sum() == 4 + len(OPS)  # 4 paths, op counts
    assert x_cut.sum() - plain.dense(plain.encode_many([cut]))[0].sum() == 2 + len(OPS)
    # equivalent cells encode the same
    assert (cells.dense(cells.encode_many([{**cut, "edge_2_1": "skip_connect"}]))[0] == x_cut).all()


def test_posterior_sample_centres_on_the_ridge_fit():
    import numpy as np

    from nas_cli.strategies.surrogate import posterior_sample

    rng = np.random.RandomState(0)
    x = rng.binomial(1, 0.3, size=(40, 12)).astype(float)
    y = x @ rng.normal(size=12) + 0.1 * rng.normal(size=40)
    ridge = np.linalg.solve(x.T @ x + 2.0 * np.eye(12), x.T @ y)
    assert np.allclose(posterior_sample(x, y, 2.0, rng, scale=0.0), ridge)
    draws = np.array([posterior_sample(x, y, 2.0, rng) for _ in range(4000)])
    assert np.allclose(draws.mean(axis=0), ridge, atol=0.05)
    s2 = max(float(np.sum((y - x @ ridge) ** 2)) / 39, 0.05)
    cov = s2 * np.linalg.inv(x.T @ x + 2.0 * np.eye(12))
    assert np.allclose(np.cov(draws.T), cov, atol=0.15 * np.abs(cov).max())


def test_top_fraction_ranks_tell_apart_only_the_best():
    from nas_cli.strategies.surrogate import standardised_ranks

    y = standardised_ranks([5.0, 1.0, 3.0, 2.0, 4.0, 0.0, 9.0, 8.0, 7.0, 6.0, 10.0], top=0.3)
    assert len(set(y[[5, 1, 3, 2, 4, 0, 9, 8]].round(9))) == 1  # ranks 0..7 of 10: not in the top 30%
    assert y[10] > y[6] > y[7] > y[8]
    full = standardised_ranks([3.0, 1.0, 2.0])
    assert list(full.argsort()) == [1, 2, 0] and abs(full.mean()) < 1e-12


def test_evolution_mutates_one_decision_of_a_recent_parent():
    study = run_synthetic(RegularizedEvolutionSampler(population_size=5, tournament_size=2, seed=0), 30)
    trials = study.trials
    for child in trials[5:]:
        population = trials[child.number - 5:child.number]
        diffs = [sum(p.params[k] != child.params[k] for k in child.params) for p in population]
        assert 1 in diffs  # one member (the parent) differs in exactly one decision


def test_bad_strategy_arguments_are_config_errors(compose_cfg):
    from omegaconf import OmegaConf

    from nas_cli.errors import ConfigError
    from nas_cli.study.setup import make_sampler_and_pruner

    cfg = compose_cfg(["strategy=evolution", "strategy.sampler.tournament_size=50"])
    with pytest.raises(ConfigError, match="tournament_size"):
        make_sampler_and_pruner(OmegaConf.to_container(cfg, resolve=True))
    cfg = compose_cfg(["strategy=grid"])  # the cnn space has a continuous dropout: no grid
    with pytest.raises(ConfigError, match="strategy=grid"):
        make_sampler_and_pruner(OmegaConf.to_container(cfg, resolve=True))


# -- pruners ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["none", "median", "percentile", "successive_halving", "hyperband"])
def test_every_pruner_yaml_builds_and_the_guard_stops_nan(compose_cfg, name):
    from omegaconf import OmegaConf

    from nas_cli.study.setup import make_sampler_and_pruner

    cfg = OmegaConf.to_container(compose_cfg([f"pruner={name}", "pruner.nan_guard=true"]), resolve=True)
    pruner = make_sampler_and_pruner(cfg)[1]
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial = study.ask()
    trial.report(0.5, 0)
    assert not trial.should_prune()
    trial.report(float("nan"), 1)
    assert trial.should_prune()


def test_divergence_guard_wraps_another_pruner():
    from nas_cli.trial.pruners import GuardedPruner

    study = optuna.create_study(direction="minimize",
                                pruner=GuardedPruner(optuna.pruners.NopPruner(), nan_guard=True, divergence_factor=3))
    trial = study.ask()
    for step, loss in enumerate([2.0, 1.0, 2.5]):
        trial.report(loss, step)
        assert not trial.should_prune()
    trial.report(3.5, 3)
    assert trial.should_prune()
    assert "diverged" in study.trials[0].user_attrs["guard_reason"]
