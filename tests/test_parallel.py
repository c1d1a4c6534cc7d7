"""hardware.n_jobs > 1: worker processes share the study storage; every trial is accounted for."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TINY

pytestmark = pytest.mark.filterwarnings("ignore")


def test_workers_pull_from_one_pool_of_trials():
    from nas_cli.study.parallel import worker_caps

    assert worker_caps(5, 2) == [5, 5]  # no fixed share: the study's total stops them
    assert worker_caps(1, 3) == [1]  # never more workers than trials
    assert worker_caps(0, 2) == []


@pytest.mark.parametrize("start", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])
def test_two_workers_run_every_trial_once(compose_cfg, tmp_path, monkeypatch, start):
    import optuna

    monkeypatch.setenv("NAS_WORKER_START", start)  # fork (Linux default) or a fresh interpreter per worker

    from nas_cli.study.runner import run_study
    from nas_cli.study.storage import open_storage

    cfg = compose_cfg([*TINY, "study.n_trials=4", "hardware.n_jobs=2", "finetune.enabled=false"])
    assert run_study(cfg, tmp_path / "run") == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    counts = summary["trials"]
    # workers pull from one pool: the total may pass n_trials by at most workers - 1 (README)
    assert 4 <= counts["total"] <= 5 and counts["running"] == 0
    assert counts["complete"] + counts["pruned"] + counts["rejected"] + counts["failed"] == counts["total"]
    assert summary["hardware"]["n_jobs"] == 2 and summary["hardware"]["threads"] >= 1
    study = optuna.load_study(study_name="nas", storage=open_storage(summary["storage"]))
    workers = {t.user_attrs.get("worker") for t in study.trials}
    assert len(workers) == 2  # two processes really shared the study
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 4  # not the same samples twice
    for i in (0, 1):
        assert (tmp_path / "run" / f"worker_{i}.log").is_file()
    for t in study.trials:
        assert (tmp_path / "run" / "trials" / str(t.number) / "result.json").is_file()


def test_forked_workers_use_the_data_the_parent_loaded(compose_cfg, tmp_path, monkeypatch):
    """One copy of the dataset, shared copy-on-write: a forked worker neither loads it nor prepares again."""
    import os

    import nas_cli.data
    import nas_cli.study.setup as study_mod
    from nas_cli.study.runner import run_study

    monkeypatch.setenv("NAS_WORKER_START", "fork")
    calls = tmp_path / "calls.txt"

    def recorded(name, real):
        def wrapper(*args, **kwargs):
            with open(calls, "a") as f:
                f.write(f"{name} {os.getpid()}\n")
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(study_mod, "prepare", recorded("prepare", study_mod.prepare))
    monkeypatch.setattr(nas_cli.data, "load_dataset", recorded("load", nas_cli.data.load_dataset))
    cfg = compose_cfg([*TINY, "study.n_trials=4", "hardware.n_jobs=2", "finetune.enabled=false"])
    assert run_study(cfg, tmp_path / "run") == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["trials"]["complete"] >= 4
    assert calls.read_text().split() == ["prepare", str(os.getpid()), "load", str(os.getpid())]  # the parent's only


def test_workers_are_not_forked_once_cuda_is_initialised(monkeypatch):
    import torch

    from nas_cli.study.workers import can_fork

    monkeypatch.setenv("NAS_WORKER_START", "fork")
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    assert can_fork()
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # a forked child could not use CUDA
    assert not can_fork()
    monkeypatch.setenv("NAS_WORKER_START", "spawn")
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    assert not can_fork()


def test_a_trial_left_running_by_a_dead_worker_is_closed_as_failed(tmp_path):
    import optuna

    from nas_cli.study.parallel import close_orphans
    from nas_cli.study.storage import open_storage

    study = optuna.create_study(storage=open_storage(str(tmp_path / "s.journal")), study_name="s")
    study.ask()  # RUNNING, and no process will finish it
    done = study.ask()
    study.tell(done, 1.0)
    assert close_orphans(study) == 1
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    assert study.trials[0].user_attrs["fail_reason"].startswith("interrupted")
