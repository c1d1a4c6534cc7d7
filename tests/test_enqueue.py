"""study.enqueue: given parameter sets are the study's first trials, once each, also with worker processes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TINY

pytestmark = pytest.mark.filterwarnings("ignore")

BASE = {"n_layers": 1, "filters_0": 16, "kernel_0": 3, "pool_0": "max", "activation": "relu", "batch_norm": False,
        "dropout": 0.0, "dense_units": 0, "optimizer": "adam", "lr": 0.001, "weight_decay": 1e-5, "batch_size": 64}
SETS = [BASE, {**BASE, "filters_0": 32, "activation": "gelu"}, {**BASE, "kernel_0": 5, "optimizer": "sgd"},
        {**BASE, "dense_units": 64, "dropout": 0.25, "batch_size": 128}]


def _write(path, sets):
    path.write_text(json.dumps(sets))
    return path


def _study(run_dir):
    import optuna

    from nas_cli.study.storage import open_storage

    return optuna.load_study(study_name="nas", storage=open_storage(str(run_dir / "study.journal")))


def _key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def test_enqueued_sets_are_the_first_trials_in_order(compose_cfg, tmp_path):
    from nas_cli.study.runner import run_study

    src = _write(tmp_path / "sets.json", SETS[:2])
    cfg = compose_cfg([*TINY, "study.n_trials=3", "finetune.enabled=false", f"study.enqueue={src}"])
    assert run_study(cfg, tmp_path / "run") == 0
    trials = _study(tmp_path / "run").trials
    assert [t.params for t in trials[:2]] == SETS[:2]
    assert len(trials) == 3 and trials[2].params != SETS[0] and trials[2].params != SETS[1]  # then the sampler
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["enqueue"]["enqueued"] == 2 and summary["trials"]["complete"] == 3


def test_two_workers_evaluate_each_enqueued_set_exactly_once(compose_cfg, tmp_path):
    from nas_cli.study.runner import run_study

    src = _write(tmp_path / "sets.yaml", SETS)  # JSON is YAML: a .yaml name reads the same
    cfg = compose_cfg([*TINY, "study.n_trials=4", "hardware.n_jobs=2", "finetune.enabled=false",
                       f"study.enqueue={src}"])
    assert run_study(cfg, tmp_path / "run") == 0
    trials = _study(tmp_path / "run").trials
    assert sorted(_key(t.params) for t in trials) == sorted(_key(s) for s in SETS)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both processes took enqueued sets
    assert all(t.state.name == "COMPLETE" for t in trials)


def test_resume_does_not_enqueue_twice_and_a_run_dir_gives_its_best_first(compose_cfg, tmp_path):
    from nas_cli.study.runner import run_study

    src = _write(tmp_path / "sets.json", SETS[:3])
    over = [*TINY, "finetune.enabled=false", f"study.enqueue={src}"]
    assert run_study(compose_cfg([*over, "study.n_trials=2"]), tmp_path / "run") == 0
    first = json.loads((tmp_path / "run" / "summary.json").read_text())["enqueue"]
    assert (first["enqueued"], first["deferred"]) == (2, 1)  # no WAITING trial left behind
    assert len(_study(tmp_path / "run").trials) == 2
    assert run_study(compose_cfg([*over, "study.n_trials=4"]), tmp_path / "run") == 0  # same storage: resume
    again = json.loads((tmp_path / "run" / "summary.json").read_text())["enqueue"]
    assert (again["enqueued"], again["already_in_study"]) == (1, 2)
    study = _study(tmp_path / "run")
    keys = [_key(t.params) for t in study.trials]
    assert len(keys) == 4 and keys[:3] == [_key(s) for s in SETS[:3]]

    best = sorted(study.trials, key=lambda t: (-t.value, t.number))[0]
    cfg = compose_cfg([*TINY, "study.n_trials=1", "finetune.enabled=false", f"study.enqueue={tmp_path / 'run'}"])
    assert run_study(cfg, tmp_path / "from_run") == 0
    assert _study(tmp_path / "from_run").trials[0].params == best.params


@pytest.mark.parametrize("content, expect", [
    (None, "no such file"),
    ("{\"n_layers\": 1}", "list of parameter dicts"),
    ("[1, 2]", "list of parameter dicts"),
    ("[{\"n_layers\": 1, \"depth\": 3}]", "unknown parameter(s) ['depth']"),
    ("[{\"n_layers\": 9}]", "integer in [1, 4]"),
    ("[{\"n_layers\": 1, \"filters_0\": 17}]", "filters_0=17"),
    ("[{\"lr\": 5.0}]", "lr=5.0 is outside"),
    ("[{\"batch_norm\": 1.5}]", "batch_norm=1.5"),
    (": : [", "cannot be read as JSON or YAML"),
])
def test_bad_enqueue_input_is_a_config_error_naming_the_key_and_file(compose_cfg, tmp_path, content, expect):
    from nas_cli.study.runner import run_study

    src = tmp_path / "sets.json"
    if content is not None:
        src.write_text(content)
    cfg = compose_cfg([*TINY, "finetune.enabled=false", f"study.enqueue={src}"])
    assert run_study(cfg, tmp_path / "run") == 2
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "config_error"
    assert f"study.enqueue={src}" in summary["error"] and expect in summary["error"]
    assert not list((tmp_path / "run").glob("trials/*"))  # rejected before any trial ran


def test_cli_bad_enqueue_exits_2_without_traceback(nas, tmp_path):
    (tmp_path / "sets.json").write_text("[{\"n_layers\": 1, \"width\": 3}]")
    proc = nas(["search", *TINY, "study.enqueue=sets.json"], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "study.enqueue=sets.json" in proc.stderr and "width" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_tabular_search_evaluates_the_enqueued_cell_first(nas, tmp_path):
    import optuna

    from nas_cli.spaces.nb201 import EDGES
    from nas_cli.study.storage import open_storage
    from tests.test_tabular import BASE as TABULAR
    from tests.test_tabular import write_table

    write_table(tmp_path / "table.csv")
    cell = {f"edge_{tgt}_{src}": "nor_conv_3x3" if tgt == 3 else "none" for tgt, src in EDGES}
    (tmp_path / "cells.yaml").write_text(json.dumps([cell]))
    res = nas([*TABULAR, f"benchmark.table={tmp_path / 'table.csv'}", "study.n_trials=3", "strategy=random",
               "study.enqueue=cells.yaml"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    study = optuna.load_study(study_name="nas", storage=open_storage(str(run_dir / "study.journal")))
    assert study.trials[0].params == cell and len(study.trials) == 3
