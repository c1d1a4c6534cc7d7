"""The core path: cnn space, objective, export round trip, `nas export`, Hydra features, packaging."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY, only_run_dir


def test_every_sampled_cnn_builds_and_trains_a_step():
    """No combination may crash: 60 random archs on an 8x8 input (pooling can never empty the map)."""
    import optuna
    import torch

    from nas_cli.data import DataSpec
    from nas_cli.spaces import build_space

    spec = DataSpec("digits", (1, 8, 8), 10)
    space = build_space("cnn", spec=spec)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(60):
        trial = study.ask()
        arch = space.sample(trial)
        pools = [layer["pool"] for layer in arch["layers"] if layer["pool"] != "none"]
        assert len(pools) <= 3  # 8 -> 4 -> 2 -> 1
        model = space.build(arch, spec)
        out = model(torch.randn(4, *spec.input_shape))
        assert out.shape == (4, 10)
        out.sum().backward()
        seen.add(len(arch["layers"]))
        study.tell(trial, 0.0)
    assert seen == {1, 2, 3, 4}


def test_conditional_parameters_exist_only_for_existing_layers():
    import optuna

    from nas_cli.data import DataSpec
    from nas_cli.spaces import build_space

    space = build_space("cnn", spec=DataSpec("d", (1, 8, 8), 10), min_layers=1, max_layers=1)
    trial = optuna.create_study().ask()
    space.sample(trial)
    assert "filters_0" in trial.params and "filters_1" not in trial.params


def test_objective_in_process_records_metrics(compose_cfg, tmp_path):
    from nas_cli.study.runner import run_study

    cfg = compose_cfg([*TINY, "finetune.enabled=false"])
    assert run_study(cfg, tmp_path) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    metrics = summary["best_trials"][0]["metrics"]
    for key in ("accuracy", "precision", "recall", "f1", "loss", "params", "flops", "train_seconds", "latency_ms"):
        assert key in metrics, key
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["params"] > 0 and metrics["flops"] > 0


def test_export_round_trip(tmp_path):
    import numpy as np
    import onnxruntime as ort
    import torch

    from nas_cli.data import load_dataset
    from nas_cli.deploy.export import export_all, load_checkpoint
    from nas_cli.spaces import build_space

    data = load_dataset("digits")
    space = build_space("cnn", spec=data.spec)
    arch = {"layers": [{"filters": 16, "kernel": 3, "pool": "max"}, {"filters": 32, "kernel": 5, "pool": "avg"}],
            "activation": "gelu", "batch_norm": True, "dropout": 0.1, "dense_units": 64}
    model = space.build(arch, data.spec).eval()
    res = export_all(model, space_name="cnn", arch=arch, hparams={"lr": 0.01}, spec=data.spec, config={},
                     inputs=data.test_x[:64], out_dir=tmp_path)
    assert res["onnx_max_abs_diff"] <= 1e-4 and res["pt2_max_abs_diff"] <= 1e-5
    loaded, ckpt = load_checkpoint(tmp_path / "model.pt")
    assert ckpt["space"] == "cnn" and ckpt["arch"] == arch
    x = data.test_x[:7]
    with torch.inference_mode():
        ref = model(x).numpy()
        assert np.allclose(loaded(x).numpy(), ref, atol=1e-6)
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"))
    assert np.allclose(sess.run(None, {"input": x.numpy()})[0], ref, atol=1e-4)  # dynamic batch of 7
    program = torch.export.load(str(tmp_path / "model.pt2")).module()
    assert np.allclose(program(x).detach().numpy(), ref, atol=1e-5)


def test_nas_export_reruns_finetune_and_export(nas, tmp_path):
    proc = nas(["search", *TINY, "export.enabled=false"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = only_run_dir(tmp_path)
    assert not (run / "export" / "model.onnx").exists()
    proc = nas(["export", str(run)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert (run / "export" / "model.onnx").is_file() and summary["export"]["onnx_max_abs_diff"] <= 1e-4


def test_cfg_job_prints_config_without_running(nas, tmp_path):
    proc = nas(["search", "--cfg", "job", "strategy=random"], cwd=tmp_path)
    assert proc.returncode == 0
    assert "_target_: optuna.samplers.RandomSampler" in proc.stdout
    assert not (tmp_path / "runs").exists()


def test_help_does_not_import_torch():
    code = "import sys; from nas_cli.cli import main; main(['--help']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_runs_started_together_get_distinct_directories(nas, tmp_path):
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda _: nas(["search", "-c", "all", "-p", "hydra.run.dir", "--resolve"], cwd=tmp_path), range(2)))
    names = {o.stdout.strip() for o in outs}
    assert len(names) == 2 and all(n.startswith("runs/") for n in names), names


@pytest.mark.slow
def test_multirun_sweep_makes_one_run_per_job(nas, tmp_path):
    proc = nas(["search", "-m", "seed=0,1", *TINY, "finetune.enabled=false"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    sweep = [p for p in (tmp_path / "runs").iterdir() if p.name.startswith("multirun_")]
    assert len(sweep) == 1
    for job in ("0", "1"):
        assert json.loads((sweep[0] / job / "summary.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    """Build a wheel, install it into a venv that reuses our packages, run `nas search` elsewhere."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(REPO)], check=True)
    wheel = next((tmp_path / "dist").glob("nas_cli-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    py = env_dir / "bin" / "python"
    site = next(Path(sys.prefix).glob("lib/python*/site-packages"))
    # Reuse the installed dependencies (no downloads here) but not the editable nas_cli.
    (next(env_dir.glob("lib/python*/site-packages")) / "deps.pth").write_text(str(site) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = subprocess.run([str(env_dir / "bin" / "nas"), "search", *TINY], cwd=work, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    run = only_run_dir(work)
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    import_path = subprocess.run([str(py), "-c", "import nas_cli; print(nas_cli.__file__)"], capture_output=True,
                                 text=True, cwd=work).stdout
    assert str(env_dir) in import_path
