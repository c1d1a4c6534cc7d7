"""No replayed proposals: every process that joins a study samples its own stream (issue: a resumed
run proposed exactly the parameters of its first trials again)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import TINY


def params_of(run, storage=None):
    import optuna

    from nas_cli.study.storage import open_storage

    path = storage or str(run / "study.journal")
    study = optuna.load_study(study_name="nas", storage=open_storage(path))
    return [t for t in study.get_trials(deepcopy=False)]


def test_a_resumed_run_does_not_replay_its_first_proposals(compose_cfg, tmp_path):
    from nas_cli.study.runner import run_study

    run = tmp_path / "run"
    base = [*TINY, "strategy=random", "finetune.enabled=false", "robustness.enabled=false", "export.onnx=false",
            "export.torch_export=false"]
    assert run_study(compose_cfg([*base, "study.n_trials=3"]), run) == 0
    first = json.loads((run / "summary.json").read_text())["sampler_stream"]
    assert first == {"join_index": 0, "seed": 0}  # a fresh study's first process keeps the plain seed
    assert run_study(compose_cfg([*base, "study.n_trials=6"]), run) == 0  # what nas resume does
    second = json.loads((run / "summary.json").read_text())["sampler_stream"]
    assert second["join_index"] == 1 and second["seed"] != 0
    trials = params_of(run)
    assert len(trials) == 6
    keys = [json.dumps(t.params, sort_keys=True) for t in trials]
    assert len(set(keys)) == 6, keys


def test_the_same_sequence_of_commands_gives_the_same_streams(compose_cfg, tmp_path):
    from nas_cli.study.runner import run_study

    base = [*TINY, "strategy=random", "finetune.enabled=false", "robustness.enabled=false"]
    got = []
    for name in ("a", "b"):
        run = tmp_path / name
        assert run_study(compose_cfg([*base, "study.n_trials=2"]), run) == 0
        assert run_study(compose_cfg([*base, "study.n_trials=4"]), run) == 0
        got.append([json.dumps(t.params, sort_keys=True) for t in params_of(run)])
    assert got[0] == got[1]


def test_two_processes_joining_one_study_at_once_get_different_join_indices(tmp_path):
    """Simultaneous opens of one journal study (two OS processes): distinct indices, recorded in it."""
    code = ("import sys, optuna; from nas_cli.study.streams import claim_join_index;"
            "from nas_cli.study.storage import open_storage;"
            "s = optuna.create_study(study_name='nas', storage=open_storage(sys.argv[1]), load_if_exists=True);"
            "print(claim_join_index(s))")
    journal = str(tmp_path / "study.journal")
    procs = [subprocess.Popen([sys.executable, "-c", code, journal], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    indices = sorted(int(p.communicate(timeout=120)[0].strip()) for p in procs)
    assert indices == [0, 1, 2, 3]
