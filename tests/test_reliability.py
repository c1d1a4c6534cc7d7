"""Crash safety: failing trials, Ctrl-C, kill -9 and resume, concurrent workers, atomic files, determinism."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import doubles
from tests.conftest import TINY, only_run_dir

# In-process runs: no fine-tune/export, cheap latency measurement, one thread, no pruning.
FAST = [*TINY, "finetune.enabled=false", "strategy=random", "pruner=none", "hardware.threads=1",
        "++hardware.latency_runtime=torch", "++hardware.latency_repeats=1", "++hardware.latency_warmup=0",
        "++hardware.latency_batch_size=1"]


def run_in_process(compose_cfg, run_dir: Path, overrides=(), behaviours=None) -> tuple[int, dict]:
    """The real runner on the real composed config; `behaviours` swaps in the test-double space."""
    from omegaconf import OmegaConf

    from nas_cli.study.runner import run_study

    settings = OmegaConf.to_container(compose_cfg([*FAST, *overrides]), resolve=True)
    if behaviours is not None:
        doubles.register()
        settings["search_space"] = {"name": "double", "behaviours": list(behaviours)}
    code = run_study(OmegaConf.create(settings), run_dir)
    return code, json.loads((run_dir / "summary.json").read_text())


def load_trials(storage: Path, name: str = "nas"):
    import optuna

    from nas_cli.study.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(str(storage))).get_trials(deepcopy=False)


def journal_is_whole(path: Path) -> None:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    for line in data.splitlines():
        json.loads(line)


# -- 3. failing trials ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "behaviour, needle",
    [
        ("raise", "ValueError: double: this architecture cannot be trained"),
        ("nan", "training loss is nan"),
        ("inf", "training loss is"),
        ("cuda_oom", "out of memory: RuntimeError: CUDA out of memory"),
        ("cpu_oom", "out of memory: RuntimeError: [enforce fail"),
        ("memory_error", "out of memory: MemoryError"),
    ],
)
def test_a_failing_trial_is_recorded_and_the_study_goes_on(compose_cfg, tmp_path, behaviour, needle):
    code, summary = run_in_process(compose_cfg, tmp_path / "run", ["study.n_trials=2"], [behaviour, "ok"])
    assert code == 0, summary.get("error")
    assert summary["trials"] == {"total": 2, "complete": 1, "pruned": 0, "rejected": 0, "failed": 1, "running": 0}
    result = json.loads((tmp_path / "run" / "trials" / "0" / "result.json").read_text())
    assert result["state"] == "FAIL" and needle in result["reason"], result
    error = (tmp_path / "run" / "trials" / "0" / "error.txt").read_text()
    assert error.startswith(result["reason"]) and "Traceback" in error  # the details are kept for the user
    assert load_trials(tmp_path / "run" / "study.journal")[0].user_attrs["fail_reason"] == result["reason"]


def test_trial_timeout_fails_the_slow_trial_only(compose_cfg, tmp_path):
    code, summary = run_in_process(compose_cfg, tmp_path / "run", ["study.n_trials=2", "train.trial_timeout=0.1"],
                                   ["slow", "ok"])
    assert code == 0, summary.get("error")
    reason = json.loads((tmp_path / "run" / "trials" / "0" / "result.json").read_text())["reason"]
    assert "train.trial_timeout" in reason
    assert summary["trials"]["complete"] == 1


def test_max_failure_rate_stops_the_study_with_a_message(compose_cfg, tmp_path, capsys):
    code, summary = run_in_process(compose_cfg, tmp_path / "run",
                                   ["study.n_trials=20", "study.max_failure_rate=0.5"], ["raise"])
    assert code == 1
    assert summary["status"] == "failed"
    assert summary["trials"]["total"] == 5  # stopped at the first check (5 finished), not after 20
    assert "study.max_failure_rate=0.5" in summary["error"] and "cannot be trained" in summary["error"]
    assert "study.max_failure_rate=0.5" in capsys.readouterr().err


# -- 2. Ctrl-C, in process (first signal) -------------------------------------------------------
def test_first_sigint_stops_after_the_epoch_and_resume_retries(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=3", "train.epochs=3"],
                                   ["signal_self", "ok", "ok", "ok"])
    assert code == 130
    assert summary["status"] == "interrupted"
    assert summary["trials"]["total"] == 1  # no new trial started after the Ctrl-C
    first = load_trials(run / "study.journal")[0]
    reason = first.user_attrs["fail_reason"]
    # The trial checks for the signal every half second inside an epoch and after each one: this
    # 3-batch epoch usually ends first (a slow machine may stop it at a batch: tests/test_long_trials.py)
    assert first.state.name == "FAIL" and re.fullmatch(r"interrupted: SIGINT (after epoch 1|in epoch 1 at batch \d/3)", reason)
    kept = 1 if reason.endswith("after epoch 1") else 0
    metrics = run / "trials" / "0" / "metrics.jsonl"
    assert (len(metrics.read_text().splitlines()) if metrics.exists() else 0) == kept  # a finished epoch is kept
    journal_is_whole(run / "study.journal")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # our handler is gone again

    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=3", "train.epochs=3"],
                                   ["signal_self", "ok", "ok", "ok"])
    assert code == 0, summary.get("error")
    assert summary["recovered"] == {"failed": [], "retried": [0]}
    trials = load_trials(run / "study.journal")
    # 3 counted trials (the interrupted one does not count) + the interrupted record itself
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]
    retry = trials[1]
    assert retry.user_attrs["retry_of"] == 0 and retry.params == first.params


# -- 1. kill -9 and resume (real subprocesses) --------------------------------------------------
def _start(args, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    exe = Path(sys.executable).with_name("nas")
    return subprocess.Popen([str(exe), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_epoch(root: Path, trial: int, proc: subprocess.Popen, timeout: float = 120) -> Path:
    """Block until some run dir under `root` has an epoch of `trial` on disk; return that trial dir."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for metrics in root.glob(f"**/trials/{trial}/metrics.jsonl"):
            if metrics.stat().st_size > 0:
                return metrics.parent
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"trial {trial} never started an epoch")


# Trials long enough (many 2-batch epochs) to be caught mid-training, short enough for a test.
LONG = ["study.n_trials=3", "train.epochs=25", "train.max_batches=1", "finetune.enabled=false", "strategy=random",
        "pruner=none", "hardware=cpu", "hardware.threads=1", "verbosity=1", "++hardware.latency_runtime=torch",
        "++hardware.latency_repeats=1", "++hardware.latency_warmup=0", "++hardware.latency_batch_size=1"]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["resume", "same_search"])
def test_kill_9_mid_trial_then_continue(nas, tmp_path, how):
    journal = tmp_path / "shared.journal"
    args = ["search", *LONG, f"storage={journal}", "study.name=killed"]
    proc = _start(args, tmp_path)
    tdir = _wait_for_epoch(tmp_path, 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = load_trials(journal, "killed")
    assert [t.state.name for t in before] == ["COMPLETE", "RUNNING"]  # killed mid-trial 1
    run = tdir.parents[1]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "running" and summary["storage"] == str(journal)  # written before any trial

    done = nas(["resume", str(run)] if how == "resume" else args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "recovered" in done.stdout
    trials = load_trials(journal, "killed")
    states = [t.state.name for t in trials]
    assert states == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"], states  # 3 counted + the dead one
    assert trials[1].user_attrs["fail_reason"] == "interrupted: process died"
    assert trials[0].params == before[0].params  # completed work kept as it was
    retry = trials[2]
    assert retry.user_attrs["retry_of"] == 1 and retry.params == before[1].params
    if how == "resume":  # same run dir: the dead trial's directory says what happened
        assert json.loads((tdir / "result.json").read_text())["reason"] == "interrupted: process died"
        assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    journal_is_whole(journal)


# -- 2. Ctrl-C on a real process ---------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_once_saves_and_exits_130(nas, tmp_path, sig):
    proc = _start(["search", *LONG], tmp_path)
    tdir = _wait_for_epoch(tmp_path, 0, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err  # 130 for Ctrl-C, 143 for a scheduler's SIGTERM
    assert "Traceback" not in out + err and "stopping the running trial within seconds" in err
    run = tdir.parents[1]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["trials"]["total"] == 1
    journal_is_whole(run / "study.journal")
    epochs = len((tdir / "metrics.jsonl").read_text().splitlines())
    assert 1 <= epochs < 25  # stopped after an epoch, not at the end of the trial
    reason = load_trials(run / "study.journal")[0].user_attrs["fail_reason"]
    name = signal.Signals(sig).name  # these 1-batch epochs: stopped after an epoch or at its batch
    assert reason in (f"interrupted: {name} after epoch {epochs}", f"interrupted: {name} in epoch {epochs + 1} at batch 1/1")

    done = nas(["resume", str(run), "train.epochs=2"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [t.state.name for t in load_trials(run / "study.journal")] == ["FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]


@pytest.mark.slow
def test_sigint_twice_exits_at_once_storage_whole(nas, tmp_path):
    proc = _start(["search", *LONG, "train.epochs=100000"], tmp_path)
    tdir = _wait_for_epoch(tmp_path, 0, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in out + err
    run = tdir.parents[1]
    journal_is_whole(run / "study.journal")
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    trial = load_trials(run / "study.journal")[0]
    assert trial.state.name == "FAIL" and trial.user_attrs["fail_reason"].startswith("interrupted")

    done = nas(["resume", str(run), "train.epochs=2"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    states = [t.state.name for t in load_trials(run / "study.journal")]
    assert states == ["FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]


# -- 5. two workers on one journal -------------------------------------------------------------
@pytest.mark.slow
def test_two_workers_share_one_journal_without_loss_or_duplicates(tmp_path):
    journal = tmp_path / "shared.journal"
    args = ["search", *FAST, "study.n_trials=6", f"storage={journal}", "study.name=pair"]
    procs = [_start(args, tmp_path) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    trials = load_trials(journal, "pair")
    assert all(t.state.name == "COMPLETE" for t in trials)
    # The study total is shared: 6, plus at most one a second worker had already started.
    assert 6 <= len(trials) <= 7
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))
    on_disk = sorted(int(p.parent.name) for p in tmp_path.glob("runs/*/trials/*/result.json"))
    assert on_disk == numbers  # every trial's files exist in exactly one worker's run dir
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers did work
    journal_is_whole(journal)


# -- 4. atomic files ---------------------------------------------------------------------------
def test_a_writer_that_dies_leaves_the_old_file_whole(tmp_path):
    from nas_cli.rundir import atomic_save_with, atomic_write_json

    path = atomic_write_json(tmp_path / "summary.json", {"status": "completed"})

    def half_then_die(tmp):
        Path(tmp).write_text('{"status": "runn')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_save_with(path, half_then_die)
    assert json.loads(path.read_text()) == {"status": "completed"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]  # no temporary left behind


@pytest.mark.slow
def test_run_files_are_whole_and_no_temporaries_remain(nas, tmp_path):
    proc = nas(["search", *TINY, "++hardware.latency_runtime=torch"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = only_run_dir(tmp_path)
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]
    json.loads((run / "summary.json").read_text())
    from nas_cli.deploy.export import load_checkpoint

    model, ckpt = load_checkpoint(run / "export" / "model.pt")
    selected = json.loads((run / "summary.json").read_text())["finetune"]["selected_trial"]
    assert ckpt["arch"] == json.loads((run / "trials" / str(selected) / "arch.json").read_text())["arch"]

    # A damaged checkpoint is a clear error for a reader, and `nas export RUN_DIR` writes a whole one again.
    checkpoint = run / "export" / "model.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    from nas_cli.errors import NasError

    with pytest.raises(NasError, match="not a readable nas checkpoint"):
        load_checkpoint(checkpoint)
    again = nas(["export", str(run)], cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert load_checkpoint(checkpoint)[1]["arch"] == ckpt["arch"]
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]


def test_the_package_writes_files_only_through_the_atomic_helpers():
    """A direct write_text/torch.save/open(..., "w") could leave half a file behind after a crash."""
    import re

    import nas_cli

    direct = re.compile(r"\.write_text\(|\.write_bytes\(|torch\.save\(|open\([^)]*[\"'][wx]b?\+?[\"']")
    offenders = []
    for path in Path(nas_cli.__file__).parent.rglob("*.py"):
        if path.name == "rundir.py":  # the atomic helpers themselves
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if direct.search(line) and "lambda tmp" not in line:
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "write through nas_cli.rundir (atomic_write_*, atomic_save_with):\n" + "\n".join(offenders)


def test_torn_journal_tail_is_repaired_before_appending(tmp_path):
    from nas_cli.study.recovery import repair_journal

    journal = tmp_path / "study.journal"
    journal.write_bytes(b'{"op_code":0}\n{"op_code":4,"trial_id":0,"va')
    assert repair_journal(str(journal))
    assert journal.read_bytes() == b'{"op_code":0}\n'
    assert [p.read_bytes() for p in tmp_path.glob("study.journal.torn-*")] == [b'{"op_code":4,"trial_id":0,"va']
    assert not repair_journal(str(journal))  # a whole journal is left alone


def test_a_journal_torn_by_a_crash_still_resumes(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, _ = run_in_process(compose_cfg, run, ["study.n_trials=1"])
    assert code == 0
    with open(run / "study.journal", "ab") as fh:
        fh.write(b'{"op_code":5,"worker_id":"x","trial_id":0,"user_a')  # a write cut by a power loss
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=2"])
    assert code == 0, summary.get("error")
    assert summary["trials"]["complete"] == 2
    journal_is_whole(run / "study.journal")


# -- resume's own errors -----------------------------------------------------------------------
@pytest.mark.parametrize("setup, needle", [
    (lambda d: None, "no such run directory"),
    (lambda d: d.mkdir(), "not a nas run directory"),
    (lambda d: (d.mkdir(), (d / "config.yaml").write_text("study: [unclosed\n")), "not a readable run config"),
    (lambda d: (d.mkdir(), (d / "config.yaml").write_text("- just a list\n")), "not a nas run config"),
])
def test_resume_of_something_that_is_not_a_run(nas, tmp_path, setup, needle):
    target = tmp_path / "target"
    setup(target)
    before = sorted((p.name, p.read_bytes()) for p in target.iterdir()) if target.exists() else None
    for command in ("resume", "export"):
        proc = nas([command, str(target)], cwd=tmp_path)
        assert proc.returncode == 2, (command, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
        after = sorted((p.name, p.read_bytes()) for p in target.iterdir()) if target.exists() else None
        assert after == before  # nothing written into what the user pointed at


def test_resume_of_a_complete_run_says_so(compose_cfg, tmp_path, capsys):
    from nas_cli.commands.resume import resume_command

    run = tmp_path / "run"
    code, _ = run_in_process(compose_cfg, run, ["study.n_trials=1"])
    assert code == 0
    size = (run / "study.journal").stat().st_size
    assert resume_command([str(run)]) == 0
    assert "nothing to resume" in capsys.readouterr().out
    assert (run / "study.journal").stat().st_size == size
    assert resume_command([str(run), "study.n_trials=abc"]) == 2
    assert "study.n_trials must be an integer" in capsys.readouterr().err


def test_resume_finds_the_journal_after_the_run_dir_moved(compose_cfg, tmp_path, capsys):
    from nas_cli.commands.resume import resume_command

    code, _ = run_in_process(compose_cfg, tmp_path / "a", ["study.n_trials=1"])
    assert code == 0
    moved = tmp_path / "elsewhere" / "b"
    moved.parent.mkdir()
    (tmp_path / "a").rename(moved)
    assert resume_command([str(moved), "study.n_trials=2"]) == 0, capsys.readouterr().err
    assert [t.state.name for t in load_trials(moved / "study.journal")] == ["COMPLETE", "COMPLETE"]
    assert "storage: null" in (moved / "config.yaml").read_text()  # still portable


def test_resume_of_a_run_older_than_a_config_key_can_set_that_key(compose_cfg, tmp_path, capsys):
    """A run whose config.yaml predates `constraints` and `study.enqueue` (keys added later) takes them as
    overrides on resume; a key this version does not know is still refused."""
    import yaml

    from nas_cli.commands.resume import resume_command

    run = tmp_path / "run"
    code, _ = run_in_process(compose_cfg, run, ["study.n_trials=1"])
    assert code == 0
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    del cfg["constraints"], cfg["study"]["enqueue"]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert resume_command([str(run), "study.n_trials=2", "study.no_such_key=1"]) == 2
    assert "no config key 'study.no_such_key'" in capsys.readouterr().err
    overrides = ["study.n_trials=2", "constraints.max_params=10", "constraints.max_rejected=3", "study.enqueue=null"]
    assert resume_command([str(run), *overrides]) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["constraints"]["max_params"] == 10 and saved["study"]["enqueue"] is None
    trials = load_trials(run / "study.journal")
    assert trials[0].state.name == "COMPLETE" and len(trials) > 1
    assert all("max_params" in t.user_attrs["infeasible"] for t in trials[1:])  # the new limit was applied


# -- 7. determinism ----------------------------------------------------------------------------
def _trial_record(trials) -> list:
    keep = ("accuracy", "loss", "f1", "precision", "recall", "params", "flops")
    return [(t.state.name, t.params, {k: t.user_attrs["metrics"][k] for k in keep}) for t in trials]


def test_same_seed_same_params_and_metrics_in_process(compose_cfg, tmp_path):
    records = []
    for name in ("a", "b"):
        code, _ = run_in_process(compose_cfg, tmp_path / name, ["study.n_trials=2", "strategy=tpe", "seed=7"])
        assert code == 0
        records.append(_trial_record(load_trials(tmp_path / name / "study.journal")))
    assert records[0] == records[1]
    other = tmp_path / "c"
    assert run_in_process(compose_cfg, other, ["study.n_trials=2", "strategy=tpe", "seed=8"])[0] == 0
    assert _trial_record(load_trials(other / "study.journal")) != records[0]  # the seed matters


@pytest.mark.slow
def test_same_seed_same_results_across_processes(nas, tmp_path):
    records = []
    for i, hashseed in enumerate(("1", "2")):
        cwd = tmp_path / str(i)
        cwd.mkdir()
        proc = nas(["search", *FAST, "study.n_trials=3", "strategy=tpe", "seed=3"], cwd=cwd,
                   env={"PYTHONHASHSEED": hashseed})
        assert proc.returncode == 0, proc.stderr
        records.append(_trial_record(load_trials(only_run_dir(cwd) / "study.journal")))
    assert records[0] == records[1]


@pytest.fixture
def another_thread():
    """A second thread, as a real run has (torch's pool, the progress display): a process-directed
    signal may be received by it, which is why holding signals back cannot rely on a signal mask."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    yield thread
    stop.set()
    thread.join()


def test_a_signal_during_a_journal_append_waits_until_the_lock_is_released(tmp_path, another_thread):
    """A second Ctrl-C raises KeyboardInterrupt at the next bytecode; inside Optuna's multi-step lock
    it used to leave the lock half released. Now it arrives after the append, with the lock gone."""
    import optuna

    from nas_cli.study.storage import open_storage

    path = tmp_path / "study.journal"
    storage = open_storage(str(path))
    lock = storage._backend._lock
    real_acquire, sent = lock.acquire, []

    def acquire_then_signal():
        got = real_acquire()
        if not sent:  # the lock file exists now: a signal here used to interrupt the locked section
            sent.append(1)
            os.kill(os.getpid(), signal.SIGINT)
        return got

    lock.acquire = acquire_then_signal
    with pytest.raises(KeyboardInterrupt):
        optuna.create_study(study_name="s", storage=storage)
    assert sent and [p.name for p in tmp_path.iterdir()] == ["study.journal"]  # no lock or .rename left
    journal_is_whole(path)
    assert path.read_text(encoding="utf-8").count("\n") == 1  # the interrupted record was written whole


def _first_ctrl_c_then_second_in(where: str, tmp_path):
    """A study whose first trial sends Ctrl-C; the second Ctrl-C comes inside the trial or inside Optuna's
    `tell` (what CI caught: Optuna's `finally` then raised UnboundLocalError and the trial stayed RUNNING)."""
    import optuna

    from nas_cli import signals
    from nas_cli.study.storage import open_storage

    study = optuna.create_study(study_name="s", storage=open_storage(str(tmp_path / "study.journal")))
    storage = study._storage
    real_set_state = storage.set_trial_state_values

    def set_state_after_a_second_ctrl_c(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return real_set_state(*args, **kwargs)

    def objective(trial):
        os.kill(os.getpid(), signal.SIGINT)  # the first: stop after this trial
        if where == "trial":
            os.kill(os.getpid(), signal.SIGINT)  # the second: at once
            time.sleep(5)
        storage.set_trial_state_values = set_state_after_a_second_ctrl_c
        return 1.0

    outcome = "returned"
    with signals.graceful_stop():
        try:
            signals.optimize(study, objective, n_trials=3, callbacks=[signals.stop_callback])
        except KeyboardInterrupt:
            outcome = "interrupted"
    assert signals.stop_requested()
    return outcome, [t.state.name for t in study.get_trials(deepcopy=False)]


def test_a_second_ctrl_c_inside_a_trial_stops_at_once_and_records_the_trial(tmp_path, another_thread):
    started = time.monotonic()
    outcome, states = _first_ctrl_c_then_second_in("trial", tmp_path)
    assert outcome == "interrupted" and time.monotonic() - started < 4  # did not sleep the 5 s out
    assert states == ["FAIL"]


def test_a_second_ctrl_c_inside_optunas_tell_waits_until_the_trial_is_recorded(tmp_path, another_thread):
    outcome, states = _first_ctrl_c_then_second_in("tell", tmp_path)
    assert outcome == "returned"  # the study stops after this trial, as the first Ctrl-C asked
    assert states == ["COMPLETE"]  # not left RUNNING


def test_a_second_ctrl_c_while_the_stopping_trial_records_why_still_records_it(compose_cfg, tmp_path, monkeypatch,
                                                                               another_thread):
    """First Ctrl-C during an epoch: the trial ends after it and records "interrupted". A second Ctrl-C
    that lands while it records that (what CI caught: the reason was lost, the trial FAIL without one)
    is held back for those milliseconds; the study stops right after either way."""
    import nas_cli.trial.objective as trial_mod

    real_append, real_record = trial_mod.append_jsonl, trial_mod._record_failure
    sent = []

    def epoch_saved_then_ctrl_c(path, record):
        real_append(path, record)
        if not sent:
            sent.append("first")
            os.kill(os.getpid(), signal.SIGINT)

    def second_ctrl_c_while_recording(trial, tdir, reason, tb):
        if sent == ["first"]:
            sent.append("second")
            os.kill(os.getpid(), signal.SIGINT)
        return real_record(trial, tdir, reason, tb)

    monkeypatch.setattr(trial_mod, "append_jsonl", epoch_saved_then_ctrl_c)
    monkeypatch.setattr(trial_mod, "_record_failure", second_ctrl_c_while_recording)
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=2", "train.epochs=3"], ["ok"])
    assert sent == ["first", "second"]
    assert code == 130 and summary["status"] == "interrupted"
    trials = load_trials(run / "study.journal")
    assert [t.state.name for t in trials] == ["FAIL"]
    assert trials[0].user_attrs["fail_reason"].startswith("interrupted")


def test_the_installed_nas_script_is_the_entry_point_that_exits_quietly():
    import tomllib

    root = Path(__file__).resolve().parents[1]
    assert tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]["nas"] == "nas_cli.cli:run"


def test_a_ctrl_c_during_interpreter_shutdown_exits_quietly_with_the_commands_code():
    """What CI caught: the second of two Ctrl-Cs 10 ms apart landed after the search had saved everything
    and returned 130, while Python shut down, and printed a KeyboardInterrupt traceback from
    threading._shutdown. The console entry point `run` ends such a process at once, output flushed."""
    code = ("import atexit, os, signal, sys, time\n"
            "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(2), print('not reached')))\n"
            "sys.argv = ['nas', '--version']\n"
            "from nas_cli.cli import run\n"
            "run()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr  # `nas --version` succeeded: its code, not a signal's
    assert proc.stdout.startswith("nas ") and "not reached" not in proc.stdout
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr, proc.stderr


def test_an_error_raised_while_ctrl_c_unwinds_is_an_interruption(compose_cfg, tmp_path, monkeypatch):
    """Library code can replace a KeyboardInterrupt with its own error from a `finally`: exit 130, not 1."""
    import nas_cli.study.runner as study_mod

    def search_then_library_cleanup_fails(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        finally:
            raise UnboundLocalError("cannot access local variable 'updated_state'")

    monkeypatch.setattr(study_mod, "run_search_job", search_then_library_cleanup_fails)
    code, summary = run_in_process(compose_cfg, tmp_path / "run")
    assert code == 130 and summary["status"] == "interrupted" and "error" not in summary


def test_a_ctrl_c_during_the_last_summary_write_waits_until_it_is_written(compose_cfg, tmp_path, monkeypatch,
                                                                         another_thread):
    import nas_cli.study.runner as study_mod

    real_write = study_mod.atomic_write_json

    def write_after_a_ctrl_c(path, obj):
        if Path(path).name == "summary.json" and obj.get("status") != "running":
            os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the write
        return real_write(path, obj)

    monkeypatch.setattr(study_mod, "atomic_write_json", write_after_a_ctrl_c)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):  # delivered right after the write (the CLI exits 130)
        run_in_process(compose_cfg, run, ["study.n_trials=1"], ["ok"])
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    assert not list(run.glob(".summary.json.*"))
