"""Bad input never yields a traceback: fuzzed overrides, broken YAML, corrupted data, checkpoints and runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# Keys a user overrides; the runner's own placement keys (runs_dir, hydra.*, storage) are fixed below.
KEYS = ["seed", "study.n_trials", "study.timeout", "study.max_failure_rate", "study.name", "study.enqueue", "train.epochs",
        "train.batch_size", "train.lr", "train.weight_decay", "train.max_batches", "train.trial_timeout",
        "train.optimizer", "train.momentum", "train.search.lr", "train.search.batch_size", "finetune.top_k",
        "finetune.epochs", "export.tolerance", "hardware.device", "hardware.precision", "hardware.threads",
        "hardware.n_jobs", "objectives", "verbosity", "dataset.val_fraction", "dataset.test_fraction",
        "search_space.min_layers", "search_space.max_layers", "search_space.filters", "search_space.kernel_sizes",
        "search_space.activations", "strategy.sampler.n_startup_trials", "pruner.pruner.n_warmup_steps",
        "dataset", "search_space", "strategy", "pruner", "hardware"]
ODD = ["null", "[]", "[1,2]", "{a: 1}", "''", "${seed}", "${nope}", "${oc.env:HOME}", "1e400", "-1e400", "nan",
       "inf", "-0", "0x10", "true", "abc", "[accuracy:up]", "[params:min,params:max]", "\u202e\u0301", "ü",
       "😀", "a b", "'quoted'", "\\", "=", ",", "~", "-1", "0", "4294967296", "1" * 400]
VALUES = st.one_of(
    st.sampled_from(ODD),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)
UNKNOWN = st.from_regex(r"\A[a-z_]{1,10}(\.[a-z_]{1,8}){0,2}\Z")


@pytest.fixture
def search_in_process(monkeypatch, tmp_path_factory, capsys):
    """nas search's real path (Hydra, resolve, validate, hardware, data, space, study) without the trials."""
    import torch
    from hydra.core.global_hydra import GlobalHydra

    import nas_cli.study.runner as study_mod
    import nas_cli.study.setup as setup_mod
    from nas_cli.commands.search import search_command

    real_prepare = setup_mod.prepare

    def prepare_only(settings, objectives, run_dir, summary, reporter):
        try:
            real_prepare(settings, objectives, run_dir, summary, reporter)
        finally:
            torch.set_num_threads(1)  # a fuzzed hardware.threads must not slow the rest of the suite

    monkeypatch.setattr(study_mod, "run_search_job", prepare_only)
    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")
    runs = tmp_path_factory.mktemp("fuzzruns")

    def run(overrides: list[str]) -> tuple[int, str]:
        GlobalHydra.instance().clear()
        capsys.readouterr()
        code = search_command([*overrides, f"runs_dir={runs}", "finetune.enabled=false"])  # flags stay first
        out = capsys.readouterr()
        return code, out.out + out.err

    return run


def check_outcome(code: int, output: str) -> None:
    assert "Traceback" not in output, output
    assert code in (0, 2), (code, output)  # accepted, or a config error: never a crash (1)
    if code == 2:
        assert output.strip(), "a rejected override must say why"


# Each example composes the real config through @hydra.main (about a second): a few in the fast tier,
# many more in the slow one (make test-slow).
QUICK = settings(max_examples=6, deadline=None, database=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
THOROUGH = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
UNKNOWN_KEYS = UNKNOWN.filter(lambda k: k.split(".")[0] not in {k.split(".")[0] for k in KEYS} | {"hydra", "runs_dir",
                                                                                                   "storage"})


def known_key_case(run, key, value) -> None:
    check_outcome(*run(["verbosity=-1", f"{key}={value}"]))


def unknown_key_case(run, key, value) -> None:
    code, output = run(["verbosity=-1", f"{key}={value}"])
    check_outcome(code, output)
    assert code == 2
    assert key.split(".")[0] in output or "override" in output.lower() or "parse" in output.lower(), output


@QUICK
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_fuzzed_known_key_is_accepted_or_rejected_clearly(search_in_process, key, value):
    known_key_case(search_in_process, key, value)


@QUICK
@given(key=UNKNOWN_KEYS, value=VALUES)
def test_fuzzed_unknown_key_is_rejected_naming_it(search_in_process, key, value):
    unknown_key_case(search_in_process, key, value)


@pytest.mark.slow
@THOROUGH
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_fuzzed_known_key_thoroughly(search_in_process, key, value):
    known_key_case(search_in_process, key, value)


@pytest.mark.slow
@THOROUGH
@given(key=UNKNOWN_KEYS, value=VALUES)
def test_fuzzed_unknown_key_thoroughly(search_in_process, key, value):
    unknown_key_case(search_in_process, key, value)


@pytest.mark.parametrize("override, needle", [
    ("seed=1e400", "seed"),
    ("study.n_trials=" + "9" * 40, "study.n_trials"),
    ("train.lr=nan", "train.lr"),
    ("train.lr=1e400", "train.lr"),
    ("study.max_failure_rate=-0.5", "study.max_failure_rate"),
    ("objectives=[ü:max]", "objectives"),
    ("train.optimizer=\u202eadam", "train.optimizer"),
    ("dataset.val_fraction=abc", "dataset=digits: bad option"),
    ("dataset.val_fraction=null", "dataset=digits: bad option"),
    ("search_space.min_layers=abc", "search_space=cnn: bad option"),
    ("objectives=3.5", "objectives"),
    ("dataset=null", "Config group override"),  # Hydra itself printed a traceback for this one
    ("search_space=[1.5]", "search_space"),
    ("dataset=[]", "dataset: no option chosen"),  # found by the fuzzer: an empty group was a KeyError (exit 1)
    ("train=[]", "train: no option chosen"),
    ("search_space.max_layers=1e400", "search_space=cnn: bad option"),
    ("hardware.device=tpu", "hardware.device"),
    ("study.name=${nope}", "nope"),
])
def test_specific_bad_values_name_the_key(search_in_process, override, needle):
    code, output = search_in_process([override])
    assert code == 2, output
    assert needle in output and "Traceback" not in output


@pytest.mark.parametrize("override", ["seed=1e400", "study.n_trials=" + "9" * 40, "dataset=../../etc/passwd",
                                      "objectives=[😀:max]", "train.lr=-inf"])
def test_bad_overrides_through_the_real_cli(nas, tmp_path, override):
    proc = nas(["search", override, "verbosity=0"], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() and "Traceback" not in proc.stderr + proc.stdout


# -- malformed files ---------------------------------------------------------------------------
def test_broken_yaml_in_a_user_config_dir(search_in_process, tmp_path):
    conf = tmp_path / "conf" / "search_space"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text("name: cnn\nmax_layers: [3, \n  : :\n")
    code, output = search_in_process(["--config-dir", str(tmp_path / "conf"), "search_space=mine"])
    assert code == 2, output
    assert "mine" in output and "Traceback" not in output


def test_broken_yaml_in_a_user_config_dir_through_the_cli(nas, tmp_path):
    conf = tmp_path / "conf" / "strategy"
    conf.mkdir(parents=True)
    (conf / "bad.yaml").write_text("name: bad\nsampler:\n  _target_: optuna.samplers.RandomSampler\n\tseed: 1\n")
    proc = nas(["search", "--config-dir", str(tmp_path / "conf"), "strategy=bad", "verbosity=0"], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "bad" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout


def test_a_user_config_with_a_target_that_does_not_exist(search_in_process, tmp_path):
    conf = tmp_path / "conf" / "strategy"
    conf.mkdir(parents=True)
    (conf / "ghost.yaml").write_text("name: ghost\nsampler:\n  _target_: optuna.samplers.NoSuchSampler\n")
    code, output = search_in_process(["--config-dir", str(tmp_path / "conf"), "strategy=ghost"])
    assert code == 2, output
    assert "strategy=ghost" in output and "NoSuchSampler" in output


def _needs_dataset(name: str) -> None:
    from nas_cli.data import DATASETS

    assert name in DATASETS, f"dataset {name} is not registered"


def test_truncated_image_in_an_image_folder(search_in_process, tmp_path):
    _needs_dataset("image_folder")
    from PIL import Image

    for cls in ("a", "b"):
        d = tmp_path / "imgs" / "train" / cls
        d.mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(d / f"{i}.png")
    broken = tmp_path / "imgs" / "train" / "b" / "3.png"
    broken.write_bytes(broken.read_bytes()[:20])
    code, output = search_in_process(["dataset=image_folder", f"dataset.root={tmp_path / 'imgs'}"])
    assert code == 2, output
    assert "3.png" in output and "Traceback" not in output
    assert len(broken.read_bytes()) == 20  # the user's file is left as it was


def test_truncated_mnist_files(search_in_process, tmp_path):
    _needs_dataset("mnist")
    import numpy as np

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 20), ("t10k", 10)):
        images = np.zeros((n, 28, 28), dtype=np.uint8).tobytes()
        labels = (np.arange(n) % 10).astype(np.uint8).tobytes()
        (raw / f"{split}-images-idx3-ubyte").write_bytes(
            np.array([2051, n, 28, 28], dtype=">i4").tobytes() + images[: len(images) // 2])  # cut in half
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(np.array([2049, n], dtype=">i4").tobytes() + labels)
    code, output = search_in_process(["dataset=mnist", f"dataset.root={tmp_path}"])
    assert code == 2, output
    assert "idx3-ubyte" in output and "Traceback" not in output


@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated", "not_a_checkpoint"])
def test_corrupted_checkpoint_is_a_clear_error_and_left_alone(tmp_path, damage):
    import torch

    from nas_cli.data import DataSpec
    from nas_cli.deploy.export import load_checkpoint, save_checkpoint
    from nas_cli.errors import NasError
    from nas_cli.spaces import build_space

    spec = DataSpec(name="digits", input_shape=(1, 8, 8), num_classes=10)
    arch = {"layers": [{"filters": 8, "kernel": 3, "pool": "none"}], "activation": "relu", "dense_units": 0,
            "dropout": 0.0, "batch_norm": False}
    path = tmp_path / "model.pt"
    model = build_space("cnn", spec=spec).build(arch, spec)
    save_checkpoint(path, model, "cnn", arch, {}, spec, {})
    good = path.read_bytes()
    bad = {"empty": b"", "garbage": b"\x00\xffnot a zip" * 10, "truncated": good[: len(good) // 2],
           "not_a_checkpoint": None}[damage]
    if bad is None:
        torch.save({"hello": 1}, path)
        bad = path.read_bytes()
    else:
        path.write_bytes(bad)
    with pytest.raises(NasError, match="not a readable nas checkpoint"):
        load_checkpoint(path)
    assert path.read_bytes() == bad
    with pytest.raises(NasError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_resume_with_a_damaged_journal_is_a_clear_error_and_nothing_changes(nas, tmp_path, compose_cfg):
    from tests.test_reliability import run_in_process

    run = tmp_path / "run"
    assert run_in_process(compose_cfg, run, ["study.n_trials=1"])[0] == 0
    journal = run / "study.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    damaged = b"".join(lines[:2]) + b"{this is not json}\n" + b"".join(lines[2:])
    journal.write_bytes(damaged)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    proc = nas(["resume", str(run), "study.n_trials=2"], cwd=tmp_path)
    assert proc.returncode != 0
    assert "study.journal" in proc.stderr and "cannot be read" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert journal.read_bytes() == damaged
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert after["config.yaml"] == before["config.yaml"]


def test_resume_usage_errors(nas, tmp_path):
    proc = nas(["resume"], cwd=tmp_path)
    assert proc.returncode == 2 and "usage: nas resume RUN_DIR" in proc.stderr
    proc = nas(["resume", str(tmp_path), "no-equals-sign"], cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_a_rejected_config_leaves_a_whole_summary(search_in_process):
    code, output = search_in_process(["study.n_trials=-3"])
    assert code == 2
    run = Path(output.rsplit("run directory: ", 1)[1].split()[0])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "config_error" and "study.n_trials" in summary["error"]
