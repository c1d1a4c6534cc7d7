"""Shared fixtures: compose the real root config, shrink it, point the run dir at tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Tiny but real: 2 trials of 2 epochs x 3 batches; fine-tune 1 model for 1 epoch.
TINY = ["study.n_trials=2", "train.epochs=2", "train.max_batches=3", "finetune.top_k=1", "finetune.epochs=1",
        "hardware=cpu", "verbosity=0"]


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    """Tests run beside each other on 2 cores: keep torch single-threaded."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def compose_cfg():
    """compose_cfg(overrides) -> DictConfig of the real root config (GlobalHydra cleared each time)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from nas_cli.commands.search import register_resolvers

    register_resolvers()

    def _compose(overrides=()):
        GlobalHydra.instance().clear()
        with initialize_config_module(config_module="nas_cli.configs", version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))

    yield _compose
    GlobalHydra.instance().clear()


def run_nas(args, cwd, env=None, timeout=600, input=None):
    """Run the `nas` console script (as a user would) in `cwd`; returns CompletedProcess."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    exe = Path(sys.executable).with_name("nas")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "nas_cli"]
    return subprocess.run([*cmd, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
                          input=input)


@pytest.fixture
def nas():
    return run_nas


def only_run_dir(root: Path) -> Path:
    dirs = [p for p in (root / "runs").iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]
