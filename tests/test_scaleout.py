"""One study, many processes: a single finisher per shared study, one GPU per worker, trusted
targets only from configs made elsewhere, and Hydra's joblib and SLURM launchers."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from tests.conftest import TINY, only_run_dir

QUICK = [*TINY, "study.n_trials=2", "robustness.enabled=false", "export.torch_export=false"]


def test_a_shared_study_is_fine_tuned_and_exported_once(compose_cfg, tmp_path):
    from nas_cli.study.runner import run_study

    shared = tmp_path / "shared.journal"
    assert run_study(compose_cfg([*QUICK, f"storage={shared}"]), tmp_path / "a") == 0
    assert (tmp_path / "a" / "export" / "model.onnx").is_file()
    assert run_study(compose_cfg([*QUICK, f"storage={shared}"]), tmp_path / "b") == 0  # a second finisher
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert "already being fine-tuned and exported" in summary["finish"]["skipped"]
    assert not (tmp_path / "b" / "export").exists() and "finetune" not in summary


def test_a_run_with_its_own_journal_always_finishes(compose_cfg, tmp_path):
    from nas_cli.study.finisher import shared_storage

    run = tmp_path / "run"
    assert shared_storage(str(run / "study.journal"), run) is False
    assert shared_storage(str(tmp_path / "elsewhere.journal"), run) is True
    assert shared_storage("postgresql://u@h/db", run) is True


def test_one_gpu_per_worker_round_robin_over_the_visible_ones(monkeypatch):
    from types import SimpleNamespace

    from nas_cli.hardware import gpu_assignment, resolve_n_jobs, visible_gpus
    from nas_cli.study.parallel import worker_gpus

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert visible_gpus() == ["2", "5"]
    assert resolve_n_jobs("auto", "cuda") == 2 and resolve_n_jobs("auto", "cpu") == 1 and resolve_n_jobs(3, "cuda") == 3
    assert gpu_assignment(3, ["2", "5"]) == ["2", "5", "2"] and gpu_assignment(2, []) == [None, None]
    cuda = SimpleNamespace(device=SimpleNamespace(type="cuda"))
    assert worker_gpus(2, cuda) == ["2", "5"]
    assert worker_gpus(2, SimpleNamespace(device=SimpleNamespace(type="cpu"))) == [None, None]


def test_n_jobs_auto_is_accepted_on_cpu(compose_cfg, tmp_path):
    from nas_cli.study.runner import run_study

    run = tmp_path / "run"
    assert run_study(compose_cfg([*QUICK, "hardware.n_jobs=auto", "finetune.enabled=false"]), run) == 0
    assert json.loads((run / "summary.json").read_text())["hardware"]["n_jobs"] == 1


def test_a_run_directory_from_elsewhere_instantiates_only_trusted_targets(nas, tmp_path):
    from nas_cli.study.trust import untrusted_targets

    run = tmp_path / "run"
    run.mkdir()
    config = {"study": {"n_trials": 1, "name": "nas"}, "strategy": {"name": "evil",
              "sampler": {"_target_": "os.system", "command": "touch pwned"}}, "pruner": {"pruner": {
              "_target_": "optuna.pruners.NopPruner"}}}
    (run / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    assert untrusted_targets(config) == [("strategy.sampler", "os.system")]
    for command in (["resume", str(run)], ["export", str(run)]):
        proc = nas(command, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "strategy.sampler._target_='os.system'" in proc.stderr and "--trust-config" in proc.stderr
    assert not (tmp_path / "pwned").exists()
    proc = nas(["resume", str(run), "--trust-config"], cwd=tmp_path)  # trusted: gets past the check
    assert "--trust-config" not in proc.stderr


needs_launchers = pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_joblib_launcher") is None
    or importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None,
    reason="hydra-joblib-launcher / hydra-submitit-launcher not installed (pip install nas-cli[launchers])")


@needs_launchers
def test_launcher_configs_compose(nas, tmp_path):
    for launcher, key in (("joblib", "n_jobs"), ("submitit_slurm", "timeout_min")):
        proc = nas(["search", f"hydra/launcher={launcher}", "--cfg", "hydra"], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert key in yaml.safe_load(proc.stdout)["hydra"]["launcher"]


@needs_launchers
def test_a_joblib_sweep_runs_its_jobs_in_parallel_processes(nas, tmp_path):
    proc = nas(["search", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1", *QUICK,
                "finetune.enabled=false"], cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    sweep = only_run_dir(tmp_path)
    seeds = sorted(json.loads((sweep / str(i) / "summary.json").read_text())["seed"] for i in (0, 1))
    assert seeds == [0, 1]
