"""One study on a real PostgreSQL server shared by many workers: the storage URL, heartbeats that
find a killed worker's trial (on any machine) and retry it once, and a lost connection that ends a
worker with one clear line while the study stays whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.postgres import free_port, postgres_server  # noqa: F401  (the fixture)

REPO = Path(__file__).resolve().parents[1]
FAST_RETRIES = {"retries": 1, "backoff": 0.05}


@pytest.fixture(autouse=True)
def _no_storage_env(monkeypatch):
    for name in ("NAS_HEARTBEAT_INTERVAL", "NAS_GRACE_PERIOD", "NAS_STORAGE_RETRIES", "NAS_STORAGE_BACKOFF"):
        monkeypatch.delenv(name, raising=False)


def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


# -- the URL -------------------------------------------------------------------------------------
def test_plain_postgres_urls_use_psycopg_3_and_hide_the_password():
    from nas_cli.study.storage import database_url, shown_url

    assert database_url("postgresql://u:pw@db:5432/nas") == "postgresql+psycopg://u:pw@db:5432/nas"
    assert database_url("postgres://u@db/nas") == "postgresql+psycopg://u@db/nas"
    assert database_url("postgresql+psycopg2://u@db/nas") == "postgresql+psycopg2://u@db/nas"  # a named driver stays
    assert database_url("sqlite:///nas.db") == "sqlite:///nas.db"
    assert shown_url("postgresql://u:secret@db:5432/nas") == "postgresql://u:***@db:5432/nas"
    assert shown_url("postgresql://db:5432/nas") == "postgresql://db:5432/nas"


def test_a_postgres_url_opens_a_shared_storage_with_heartbeats(postgres_server):  # noqa: F811
    optuna = _quiet_optuna()
    from nas_cli.study.storage import GRACE_PERIOD_S, HEARTBEAT_INTERVAL_S, open_storage

    url = postgres_server.create_database()
    storage = open_storage(url)
    assert isinstance(storage, optuna.storages.RDBStorage)
    assert storage.url.startswith("postgresql+psycopg://")
    assert (storage.heartbeat_interval, storage.grace_period) == (HEARTBEAT_INTERVAL_S, GRACE_PERIOD_S)
    assert storage.engine_kwargs["pool_pre_ping"] is True
    study = optuna.create_study(storage=storage, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    again = optuna.load_study(study_name="s", storage=open_storage(url.replace("postgresql://", "postgres://")))
    assert [t.state.name for t in again.trials] == ["COMPLETE"] * 3  # another process sees the same study
    short = open_storage(url, heartbeat_interval=1, grace_period=3)
    assert (short.heartbeat_interval, short.grace_period) == (1, 3)


def test_heartbeat_settings_come_from_arguments_or_the_environment(tmp_path, monkeypatch):
    from nas_cli.errors import ConfigError
    from nas_cli.study.storage import heartbeat_settings, open_storage

    monkeypatch.setenv("NAS_HEARTBEAT_INTERVAL", "5")
    monkeypatch.setenv("NAS_GRACE_PERIOD", "20")
    assert heartbeat_settings() == (5, 20)
    assert heartbeat_settings(2, 7) == (2, 7)
    sqlite = open_storage(f"sqlite:///{tmp_path / 'nas.db'}")  # SQLite gets heartbeats too
    assert (sqlite.heartbeat_interval, sqlite.grace_period) == (5, 20)
    monkeypatch.setenv("NAS_HEARTBEAT_INTERVAL", "0")
    assert heartbeat_settings() == (None, None)  # off
    with pytest.raises(ConfigError, match="longer than the heartbeat interval"):
        heartbeat_settings(10, 5)
    monkeypatch.setenv("NAS_GRACE_PERIOD", "soon")
    with pytest.raises(ConfigError, match="NAS_GRACE_PERIOD"):
        heartbeat_settings(1)


# -- errors a user sees --------------------------------------------------------------------------
def test_a_server_that_is_down_is_one_clear_error_within_seconds():
    pytest.importorskip("psycopg", reason="psycopg 3 not installed: pip install 'nas-cli[postgres]'")
    from nas_cli.errors import NasError
    from nas_cli.study.storage import open_storage

    url = f"postgresql://nas:secret@127.0.0.1:{free_port()}/nas"  # nothing listens there
    start = time.monotonic()
    with pytest.raises(NasError) as info:
        open_storage(url, **FAST_RETRIES)
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "\n" not in message and "secret" not in message
    assert "postgresql://nas:***@127.0.0.1" in message and "2 tries" in message and "refused" in message


def test_a_bad_url_or_an_unknown_database_is_a_config_error(postgres_server):  # noqa: F811
    from nas_cli.errors import ConfigError
    from nas_cli.study.storage import open_storage

    with pytest.raises(ConfigError, match="not a database URL"):
        open_storage("postgresql://u@db:notaport/nas")
    with pytest.raises(ConfigError, match="not a database URL"):
        open_storage("nosuchdb://u@db/nas")
    start = time.monotonic()
    with pytest.raises(ConfigError, match="does not exist") as info:  # refused for good: not retried
        open_storage(postgres_server.url("no_such_database"), retries=5, backoff=1.0)
    assert time.monotonic() - start < 5 and "\n" not in str(info.value)


def test_a_lost_connection_is_retried_then_ends_with_one_line_and_the_study_stays(postgres_server):  # noqa: F811
    optuna = _quiet_optuna()
    from nas_cli.errors import NasError
    from nas_cli.study.storage import open_storage

    url = postgres_server.create_database()
    study = optuna.create_study(storage=open_storage(url, retries=6, backoff=0.25), study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    postgres_server.stop()
    restart = threading.Timer(1.0, postgres_server.start)  # back within the backoff: nobody notices
    restart.start()
    try:
        assert len(study.get_trials()) == 2
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    finally:
        restart.join()
    impatient = optuna.load_study(study_name="s", storage=open_storage(url, **FAST_RETRIES))
    postgres_server.stop()
    with pytest.raises(NasError, match="no database connection after 2 tries") as info:
        impatient.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert "\n" not in str(info.value)
    postgres_server.start()
    back = optuna.load_study(study_name="s", storage=open_storage(url))
    assert [t.state.name for t in back.trials] == ["COMPLETE"] * 3  # nothing lost, nothing half-written


# -- heartbeats ----------------------------------------------------------------------------------
WORKER = textwrap.dedent("""
    import pathlib, sys, time
    import optuna
    from nas_cli.study.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = open_storage(sys.argv[1], heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(storage=storage, study_name="hb", load_if_exists=True)

    def objective(trial):
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        trial.suggest_int("width", 8, 64)
        pathlib.Path(sys.argv[2]).write_text(str(trial.number))
        time.sleep(120)  # killed long before

    study.optimize(objective, n_trials=1)
""")


def _fail_stale_trials(study) -> None:
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _kill_mid_trial(url: str, tmp_path: Path) -> None:
    """A worker (no `worker` attribute: as if on another machine) started a trial and was SIGKILLed."""
    marker = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", WORKER, url, str(marker)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < end, "the worker never started its trial"
            time.sleep(0.05)
        time.sleep(0.3)  # its first heartbeat is recorded as the trial starts
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("found_by", ["next_trial", "start_of_a_run"])
def test_a_killed_workers_trial_is_failed_by_heartbeat_and_retried_once(postgres_server, tmp_path, found_by):  # noqa: F811
    optuna = _quiet_optuna()
    from optuna.trial import TrialState

    from nas_cli.study.counting import counted_trials
    from nas_cli.study.heartbeat import HEARTBEAT_LOST_REASON
    from nas_cli.study.recovery import recover_trials
    from nas_cli.study.storage import open_storage

    url = postgres_server.create_database()
    _kill_mid_trial(url, tmp_path)
    study = optuna.load_study(study_name="hb", storage=open_storage(url, heartbeat_interval=1, grace_period=2))
    dead = study.trials[0]
    assert dead.state == TrialState.RUNNING
    time.sleep(2.5)  # the grace period passes without a heartbeat
    if found_by == "next_trial":  # what study.optimize does before each trial, in any worker
        _fail_stale_trials(study)
    else:
        assert recover_trials(study, url, tmp_path) == {"failed": [0], "retried": [0]}
    _fail_stale_trials(study)  # a second look, and a second recovering process: no second retry
    recover_trials(study, url, tmp_path)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[0].user_attrs["fail_reason"] == HEARTBEAT_LOST_REASON
    retry = trials[1]
    assert retry.user_attrs == {"retry_of": 0, "retries": 1}
    assert counted_trials(study) == 0  # interrupted: it does not use up study.n_trials
    seen = []

    def objective(trial):  # an enqueued trial's suggestions return its fixed parameters
        seen.append({"lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True), "width": trial.suggest_int("width", 8, 64)})
        return 0.0

    study.optimize(objective, n_trials=1)
    assert seen == [dead.params] and study.trials[1].state == TrialState.COMPLETE
    assert counted_trials(study) == 1


# -- end to end: three `nas search` workers on one study -------------------------------------------
E2E = ["hardware=cpu", "hardware.threads=1", "verbosity=0", "study.n_trials=6", "train.epochs=12", "train.max_batches=1",
       "finetune.enabled=false", "robustness.enabled=false", "strategy=random", "pruner=none",
       "++hardware.latency_runtime=torch", "++hardware.latency_repeats=1", "++hardware.latency_warmup=0",
       "++hardware.latency_batch_size=1"]


def _start_nas(args, cwd: Path, env: dict) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("nas")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "nas_cli"]
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([*cmd, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _running_trial_of(study, pid: int):
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if str(t.user_attrs.get("worker", "")).split(":")[1:2] == [str(pid)]:
            return t
    return None


def _trained_an_epoch(cwd: Path, number: int) -> bool:
    return any(m.stat().st_size > 0 for m in cwd.glob(f"runs/*/trials/{number}/metrics.jsonl"))


@pytest.mark.slow
def test_three_workers_one_postgres_study_one_killed(postgres_server, tmp_path):  # noqa: F811
    optuna = _quiet_optuna()
    from optuna.trial import TrialState

    from nas_cli.study.counting import counted_trials
    from nas_cli.study.storage import open_storage

    url = postgres_server.create_database()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "NAS_HEARTBEAT_INTERVAL": "1",
           "NAS_GRACE_PERIOD": "3", "NAS_STORAGE_BACKOFF": "0.2"}
    args = ["search", *E2E, f"storage={url}", "study.name=pg1"]
    procs = [_start_nas(args, tmp_path / f"w{i}", env) for i in range(3)]
    victim = procs[1]
    storage = open_storage(url)
    try:
        end, killed = time.monotonic() + 240, None
        while killed is None:
            assert time.monotonic() < end, "the victim never started a trial"
            assert victim.poll() is None, victim.communicate()
            try:
                study = optuna.load_study(study_name="pg1", storage=storage)
            except KeyError:  # not created yet
                time.sleep(0.2)
                continue
            killed = _running_trial_of(study, victim.pid)
            if killed is not None and not _trained_an_epoch(tmp_path / "w1", killed.number):
                killed = None  # mid-training, so every parameter of the trial is drawn
            time.sleep(0.1)
        victim.send_signal(signal.SIGKILL)
        outs = [p.communicate(timeout=400) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert victim.returncode == -signal.SIGKILL
    for i, p in enumerate(procs):
        if p is not victim:
            assert p.returncode == 0, outs[i]
            assert "Traceback" not in outs[i][0] + outs[i][1]
    study = optuna.load_study(study_name="pg1", storage=storage)
    trials = study.get_trials(deepcopy=False)
    assert counted_trials(study) == 6
    assert not [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    dead = trials[killed.number]
    assert dead.state == TrialState.FAIL and dead.user_attrs["fail_reason"].startswith("interrupted: process died")
    retries = [t for t in trials if "retry_of" in t.user_attrs]
    assert [(t.user_attrs["retry_of"], t.state) for t in retries] == [(killed.number, TrialState.COMPLETE)]
    assert retries[0].params == dead.params and dead.params
    params = [tuple(sorted(t.params.items())) for t in trials if t.number != killed.number]
    assert len(params) == len(set(params)), "a trial ran twice with the same parameters"
    assert len(trials) == 7  # 6 counted + the killed one


@pytest.mark.slow
def test_nas_search_ends_with_one_line_when_the_database_goes_away_and_resumes_after(postgres_server, tmp_path):  # noqa: F811
    optuna = _quiet_optuna()
    from optuna.trial import TrialState

    from nas_cli.study.counting import counted_trials
    from nas_cli.study.storage import open_storage

    url = postgres_server.create_database()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "NAS_STORAGE_RETRIES": "2",
           "NAS_STORAGE_BACKOFF": "0.2"}
    args = ["search", *E2E, "study.n_trials=3", "train.epochs=40", f"storage={url}", "study.name=gone"]
    proc = _start_nas(args, tmp_path / "a", env)
    end = time.monotonic() + 240
    while not _trained_an_epoch(tmp_path / "a", 0):
        assert proc.poll() is None and time.monotonic() < end, proc.communicate()
        time.sleep(0.05)
    postgres_server.stop()
    try:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err
        assert "Traceback" not in out + err
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "no database connection after 3 tries" in lines[0], err
        assert "postgres:***@127.0.0.1" in lines[0] and "the study in it is kept" in lines[0]
    finally:
        postgres_server.start()
    done = _start_nas([*args, "train.epochs=1"], tmp_path / "b", env)  # the same command, later: it continues
    out, err = done.communicate(timeout=400)
    assert done.returncode == 0, err
    study = optuna.load_study(study_name="gone", storage=open_storage(url))
    trials = study.trials
    assert trials[0].state == TrialState.FAIL and trials[0].user_attrs["fail_reason"].startswith("interrupted")
    assert trials[1].user_attrs["retry_of"] == 0 and trials[1].params == trials[0].params
    assert counted_trials(study) == 3
